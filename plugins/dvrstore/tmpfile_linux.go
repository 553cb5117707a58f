package dvrstore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// Anonymous temp files (O_TMPFILE) for batch writes: a segment's bytes go
// to a file with no name at all, and linkat gives it its final name once
// they are durable. Nothing is ever visible under a temp name, a kill
// leaves nothing behind (the kernel frees an unlinked file when its last
// descriptor closes), and a segment costs no directory entry in .tmp and
// no rename.

// linkHow is how this process gives an O_TMPFILE file a name.
type linkHow int

const (
	linkUnknown   linkHow = iota
	linkEmptyPath         // linkat(fd, "", AT_EMPTY_PATH): needs CAP_DAC_READ_SEARCH
	linkProcFD            // linkat("/proc/self/fd/N", AT_SYMLINK_FOLLOW): needs /proc
	linkNone              // neither works: batches use named temp files
)

var (
	linkMu sync.Mutex
	link   linkHow
	// noTmpFile makes batches use named temp files (tests of that path).
	noTmpFile bool
)

// tmpFileLink reports how to link O_TMPFILE files made in dir, probing
// once per process (the capability and /proc are the process's); it
// returns linkNone, without deciding for other directories, when dir's
// filesystem has no O_TMPFILE.
func tmpFileLink(dir string) linkHow {
	if noTmpFile {
		return linkNone
	}
	linkMu.Lock()
	defer linkMu.Unlock()
	if link != linkUnknown {
		return link
	}
	f, err := openTmpFile(dir)
	if err != nil {
		return linkNone
	}
	defer f.Close()
	probe := filepath.Join(dir, "probe-"+strconv.Itoa(unix.Getpid()))
	link = linkNone
	for _, how := range []linkHow{linkEmptyPath, linkProcFD} {
		_ = unix.Unlink(probe)
		if linkTmpFile(f, probe, how) == nil {
			link = how
			break
		}
	}
	_ = unix.Unlink(probe)
	return link
}

// openTmpFile opens a new file without a name on dir's filesystem, for
// writing. It fails (EOPNOTSUPP, EISDIR or EINVAL) where the filesystem or
// the kernel has no O_TMPFILE.
func openTmpFile(dir string) (*os.File, error) {
	fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), filepath.Join(dir, "(nameless)")), nil
}

// tmpFileUnsupported tells the errors of a filesystem without O_TMPFILE
// from others (no space, ...).
func tmpFileUnsupported(err error) bool {
	return errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EISDIR) || errors.Is(err, unix.EINVAL)
}

// linkTmpFile gives the O_TMPFILE file f the name path. A file already
// there (an unlisted leftover of a killed batch: the caller reserved the
// segment, so no listed segment has that name) is replaced.
func linkTmpFile(f *os.File, path string, how linkHow) error {
	fd := int(f.Fd())
	do := func() error {
		if how == linkEmptyPath {
			return unix.Linkat(fd, "", unix.AT_FDCWD, path, unix.AT_EMPTY_PATH)
		}
		return unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(fd), unix.AT_FDCWD, path, unix.AT_SYMLINK_FOLLOW)
	}
	err := do()
	if errors.Is(err, unix.EEXIST) {
		if err = unix.Unlink(path); err == nil || errors.Is(err, unix.ENOENT) {
			err = do()
		}
	}
	if err != nil {
		return fmt.Errorf("link %s: %w", path, err)
	}
	return nil
}

package dvrstore

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback asks the kernel to start writing f's dirty pages now,
// without waiting, so that the fdatasync of a batch's files finds them
// mostly written.
func startWriteback(f *os.File) {
	_ = unix.SyncFileRange(int(f.Fd()), 0, 0, unix.SYNC_FILE_RANGE_WRITE)
}

// syncData flushes f's data and the metadata needed to read it back.
func syncData(f *os.File) error { return unix.Fdatasync(int(f.Fd())) }

// syncFS flushes the whole filesystem that holds f (syncfs): one flush for
// all the files of a batch instead of one each. Since Linux 5.8 it reports
// a writeback error of any file on it. It reports whether it ran, and its error.
func syncFS(f *os.File) (ran bool, err error) { return true, unix.Syncfs(int(f.Fd())) }

// renameFile renames a batch's temp file onto its segment's path
// (replacing a file there). rename(2) directly: os.Rename first stats the
// target to refuse a directory, and a segment's path is never one.
func renameFile(from, to string) error { return unix.Rename(from, to) }

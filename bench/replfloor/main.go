//go:build linux

// Command replfloor copies a directory tree the way replication stores a
// batch (plugins/dvrstore/batch.go), in one process with nothing between
// reading and writing: for each batch of files, write each to a file
// without a name (O_TMPFILE), one syncfs, link each into place, one more
// syncfs, then append and fsync one index line per file in each directory
// that gained one. With -named, the path dvrstore takes where O_TMPFILE is
// missing: write each to a named temp file and start its writeback
// (sync_file_range), one syncfs, rename each into place, fsync each
// directory that gained a file, then the index lines. Its time is the
// floor of durable replication writes on that disk, for bench/replicate.sh
// to compare with.
//
//	replfloor -from DIR -to DIR [-batch 256] [-named]
package main

import (
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	from := flag.String("from", "", "tree to copy")
	to := flag.String("to", "", "destination (created)")
	batch := flag.Int("batch", 256, "files per flush")
	flag.BoolVar(&named, "named", false, "named temp files and rename, as where O_TMPFILE is missing")
	flag.Parse()
	if *from == "" || *to == "" || *batch <= 0 {
		fmt.Fprintln(os.Stderr, "replfloor: need -from, -to and a positive -batch")
		os.Exit(2)
	}
	t0 := time.Now()
	if err := copyTree(*from, *to, *batch); err != nil {
		fmt.Fprintln(os.Stderr, "replfloor:", err)
		os.Exit(1)
	}
	fmt.Printf("%.2f\n", time.Since(t0).Seconds())
}

var named bool

func copyTree(from, to string, batch int) error {
	var files []string
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		files = append(files, rel)
		return nil
	})
	if err != nil {
		return err
	}
	tmp := filepath.Join(to, ".floor-tmp")
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	for len(files) > 0 {
		n := min(batch, len(files))
		if err := copyBatch(from, to, tmp, files[:n]); err != nil {
			return err
		}
		files = files[n:]
	}
	return os.Remove(tmp)
}

func copyBatch(from, to, tmp string, rels []string) error {
	fds := make([]int, len(rels))
	for i := range fds {
		fds[i] = -1
	}
	defer func() {
		for _, fd := range fds {
			if fd >= 0 {
				unix.Close(fd)
			}
		}
	}()
	for i, rel := range rels {
		data, err := os.ReadFile(filepath.Join(from, rel))
		if err != nil {
			return err
		}
		if named {
			fds[i], err = unix.Open(filepath.Join(tmp, fmt.Sprint(i)), unix.O_CREAT|unix.O_TRUNC|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
		} else {
			fds[i], err = unix.Open(tmp, unix.O_TMPFILE|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
		}
		if err != nil {
			return err
		}
		if _, err := unix.Write(fds[i], data); err != nil {
			return err
		}
		if named {
			_ = unix.SyncFileRange(fds[i], 0, 0, unix.SYNC_FILE_RANGE_WRITE)
		}
	}
	if err := unix.Syncfs(fds[0]); err != nil {
		return err
	}
	lines := map[string]int{}
	for i, rel := range rels {
		dst := filepath.Join(to, rel)
		var err error
		if named {
			err = unix.Rename(filepath.Join(tmp, fmt.Sprint(i)), dst)
		} else {
			err = unix.Linkat(fds[i], "", unix.AT_FDCWD, dst, unix.AT_EMPTY_PATH)
			if err != nil {
				err = unix.Linkat(unix.AT_FDCWD, fmt.Sprintf("/proc/self/fd/%d", fds[i]), unix.AT_FDCWD, dst, unix.AT_SYMLINK_FOLLOW)
			}
		}
		if err != nil {
			return err
		}
		lines[filepath.Dir(dst)]++
	}
	if !named {
		if err := unix.Syncfs(fds[0]); err != nil {
			return err
		}
	}
	for dir, n := range lines {
		if named {
			d, err := os.Open(dir)
			if err != nil {
				return err
			}
			err = d.Sync()
			d.Close()
			if err != nil {
				return err
			}
		}
		idx, err := os.OpenFile(filepath.Join(dir, ".floor-index"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return err
		}
		_, err = idx.Write(make([]byte, 64*n)) // about an index line each
		if err == nil {
			err = idx.Sync()
		}
		idx.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

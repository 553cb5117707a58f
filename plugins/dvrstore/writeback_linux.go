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

//go:build !linux

package dvrstore

import "os"

// startWriteback does nothing where sync_file_range does not exist.
func startWriteback(*os.File) {}

// syncData flushes f (fsync).
func syncData(f *os.File) error { return f.Sync() }

// syncFS does nothing where syncfs does not exist: each file is synced.
func syncFS(*os.File) (ran bool, err error) { return false, nil }

// renameFile renames a batch's temp file onto its segment's path.
func renameFile(from, to string) error { return os.Rename(from, to) }

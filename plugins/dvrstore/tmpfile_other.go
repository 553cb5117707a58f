//go:build !linux

package dvrstore

import "errors"

// Without O_TMPFILE, batches use named temp files.

type linkHow int

const linkNone linkHow = 3

var noTmpFile bool

var errNoTmpFile = errors.New("no O_TMPFILE on this system")

func tmpFileLink(string) linkHow             { return linkNone }
func openTmpFile(string) (int, error)        { return -1, errNoTmpFile }
func tmpFileUnsupported(error) bool          { return true }
func linkTmpFile(int, string, linkHow) error { return errNoTmpFile }
func writeFD(int, []byte) error              { return errNoTmpFile }
func closeFD(int) error                      { return errNoTmpFile }
func syncFSFD(int) error                     { return errNoTmpFile }
func syncDataFD(int) error                   { return errNoTmpFile }

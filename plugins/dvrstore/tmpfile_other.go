//go:build !linux

package dvrstore

import (
	"errors"
	"os"
)

// Without O_TMPFILE, batches use named temp files.

type linkHow int

const linkNone linkHow = 3

var noTmpFile bool

var errNoTmpFile = errors.New("no O_TMPFILE on this system")

func tmpFileLink(string) linkHow                  { return linkNone }
func openTmpFile(string) (*os.File, error)        { return nil, errNoTmpFile }
func tmpFileUnsupported(error) bool               { return true }
func linkTmpFile(*os.File, string, linkHow) error { return errNoTmpFile }

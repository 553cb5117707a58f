package sdk

import "github.com/edgedvr/edge/config/names"

// MaxStreamNameLen is the longest stream name accepted.
const MaxStreamNameLen = names.MaxStreamLen

// CheckStreamName reports whether name is a safe stream name: 1 to 128
// characters of ASCII letters, digits, '_', '-' and '.', not starting with
// '.'. Names are used as directory names under archive roots and as URL path
// segments, so nothing that could escape a directory ('/', '\', "..") is
// accepted. It is names.CheckStream, which config/ uses too.
func CheckStreamName(name string) error { return names.CheckStream(name) }

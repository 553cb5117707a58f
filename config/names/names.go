// Package names checks the stream names that topologies, URLs and plugins
// use; it imports only the standard library so that config/ and sdk/ can
// both sit above it.
package names

import "fmt"

// MaxStreamLen is the longest stream name accepted.
const MaxStreamLen = 128

// CheckStream reports whether name is a safe stream name: 1 to 128
// characters of ASCII letters, digits, '_', '-' and '.', not starting with
// '.'. Names are used as directory names under archive roots and as URL path
// segments, so nothing that could escape a directory ('/', '\', "..") is
// accepted.
func CheckStream(name string) error {
	if name == "" {
		return fmt.Errorf("empty stream name")
	}
	if len(name) > MaxStreamLen {
		return fmt.Errorf("stream name longer than %d characters", MaxStreamLen)
	}
	if name[0] == '.' {
		return fmt.Errorf("stream name %q starts with '.'", name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-', c == '.':
		default:
			return fmt.Errorf("stream name %q has character %q; use letters, digits, '_', '-' and '.'", name, c)
		}
	}
	return nil
}

package m4f

import (
	"fmt"
	"strings"

	"github.com/edgedvr/edge/config/inputurl"
)

// Remote DVR modes of an m4f:// input (docs: remote_dvr).
const (
	RemoteDVRNoChain = inputurl.RemoteDVRNoChain // ask the source for its own archive only (the default)
	RemoteDVRChain   = inputurl.RemoteDVRChain   // let the source ask its own sources in turn
	RemoteDVRNone    = inputurl.RemoteDVRNone    // ask the source only while it is the input in use
)

// Source is a parsed m4f:// input URL: m4f://HOST:PORT/STREAM[?remote_dvr=MODE].
// The host has already resolved node names to HOST:PORT and removed any key.
type Source struct {
	// Addr is the node's HOST:PORT.
	Addr string
	// Stream is the stream name on that node.
	Stream string
	// RemoteDVR is the remote_dvr mode. By default, "nochain".
	RemoteDVR string
}

// String returns the URL of s in canonical form. It never holds a key, so
// it is what logs show.
func (s Source) String() string {
	u := "m4f://" + s.Addr + "/" + s.Stream
	if s.RemoteDVR != "" && s.RemoteDVR != RemoteDVRNoChain {
		u += "?remote_dvr=" + s.RemoteDVR
	}
	return u
}

// ParseURL parses an m4f:// input URL with inputurl.Parse, the parser
// `edge check` uses. Unknown, repeated or malformed options are errors, and
// so are a URL without a port (the host resolves node names) and a key=
// option (the host strips it): the error never repeats an option's value.
func ParseURL(raw string) (Source, error) {
	if !strings.HasPrefix(raw, inputurl.M4F+"://") {
		shown, _, _ := strings.Cut(raw, "?")
		return Source{}, fmt.Errorf("m4f: input url %.120q: scheme must be m4f://", shown)
	}
	u, err := inputurl.Parse(raw)
	if err != nil {
		return Source{}, fmt.Errorf("m4f: %w", err)
	}
	switch {
	case u.Port == 0:
		return Source{}, fmt.Errorf("m4f: input url %q: want HOST:PORT after m4f:// (node names are resolved by the host)", u.String())
	case u.Key != "":
		return Source{}, fmt.Errorf("m4f: input url %q: key= must be removed by the host before capture", u.String())
	}
	return Source{Addr: u.Addr(), Stream: u.Stream, RemoteDVR: u.RemoteDVR}, nil
}

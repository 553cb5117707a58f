package m4f

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/edgedvr/edge/sdk"
)

// Remote DVR modes of an m4f:// input (docs: remote_dvr).
const (
	RemoteDVRNoChain = "nochain" // ask the source for its own archive only (the default)
	RemoteDVRChain   = "chain"   // let the source ask its own sources in turn
	RemoteDVRNone    = "none"    // ask the source only while it is the input in use
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

// ParseURL parses an m4f:// input URL. Unknown, repeated or malformed
// options are errors, and so is a key= option (the host strips it): the
// error never repeats an option's value.
func ParseURL(raw string) (Source, error) {
	if len(raw) > 2048 {
		return Source{}, fmt.Errorf("m4f: input url of %d bytes is too long", len(raw))
	}
	// Errors quote the URL without its query, which might hold a secret.
	shown, _, _ := strings.Cut(raw, "?")
	u, err := url.Parse(raw)
	if err != nil {
		return Source{}, fmt.Errorf("m4f: input url %.120q does not parse", shown)
	}
	if u.Scheme != "m4f" {
		return Source{}, fmt.Errorf("m4f: input url %.120q: scheme must be m4f://", shown)
	}
	if u.User != nil || u.Opaque != "" || u.Fragment != "" || strings.Contains(raw, "#") {
		return Source{}, fmt.Errorf("m4f: input url %.120q: want m4f://HOST:PORT/STREAM", shown)
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil || host == "" {
		return Source{}, fmt.Errorf("m4f: input url %.120q: want HOST:PORT after m4f:// (node names are resolved by the host)", shown)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 || port[0] == '0' || port[0] == '+' {
		return Source{}, fmt.Errorf("m4f: input url %.120q: port %.8q is not a number from 1 to 65535", shown, port)
	}
	if u.RawPath != "" || strings.Contains(u.EscapedPath(), "%") {
		return Source{}, fmt.Errorf("m4f: input url %.120q: escapes are not allowed in the stream name", shown)
	}
	stream, ok := strings.CutPrefix(u.Path, "/")
	if !ok || stream == "" || strings.Contains(stream, "/") {
		return Source{}, fmt.Errorf("m4f: input url %.120q: want exactly one stream name after HOST:PORT/", shown)
	}
	if err := sdk.CheckStreamName(stream); err != nil {
		return Source{}, fmt.Errorf("m4f: input url %.120q: %v", shown, err)
	}
	s := Source{Addr: u.Host, Stream: stream, RemoteDVR: RemoteDVRNoChain}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return Source{}, fmt.Errorf("m4f: input url %.120q: malformed query", shown)
	}
	for k, v := range q {
		switch {
		case k == "key":
			return Source{}, fmt.Errorf("m4f: input url %.120q: key= must be removed by the host before capture", shown)
		case k != "remote_dvr":
			return Source{}, fmt.Errorf("m4f: input url %.120q: unknown option %.32q", shown, k)
		case len(v) > 1:
			return Source{}, fmt.Errorf("m4f: input url %.120q: option remote_dvr given %d times", shown, len(v))
		}
		switch v[0] {
		case RemoteDVRChain, RemoteDVRNoChain, RemoteDVRNone:
			s.RemoteDVR = v[0]
		default:
			return Source{}, fmt.Errorf("m4f: input url %.120q: remote_dvr: want chain, nochain or none", shown)
		}
	}
	return s, nil
}

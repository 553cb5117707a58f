package config

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/edgedvr/edge/sdk"
)

// Input schemes.
const (
	SchemeUDP  = "udp"
	SchemeFile = "file"
	SchemeM4F  = "m4f"
)

// Input is a parsed stream input or source URL.
//
//	udp://HOST:PORT[?iface=NAME&source=IP&program=N]
//	file://PATH
//	m4f://NODE_OR_HOST[:PORT]/STREAM[?remote_dvr=chain|nochain|none&key=KEY]
type Input struct {
	// Raw is the URL as written.
	Raw    string
	Scheme string
	// Host is the udp group or address, or the m4f node name or host. For
	// udp an empty host means every local address.
	Host string
	// Port is 0 when an m4f URL names a node without a port.
	Port int
	// Path is the file of a file:// input as written; resolve it with
	// (*Topology).ResolvePath.
	Path string
	// Stream is the remote stream of an m4f input.
	Stream string
	// Query holds the URL's query parameters.
	Query url.Values
	// RemoteDVR is the m4f remote_dvr mode. By default, "nochain".
	RemoteDVR string
	// Key overrides cluster_key for an m4f input.
	Key string
	// Iface is the udp interface that joins a multicast group.
	Iface string
	// Source is the udp source address filter (source-specific multicast).
	Source string
	// Program selects one MPEG-TS program of a udp input; 0 takes the first.
	Program int
}

// Addr returns Host:Port, bracketing IPv6 hosts.
func (in Input) Addr() string { return net.JoinHostPort(in.Host, strconv.Itoa(in.Port)) }

// ParseInput parses a stream input URL: udp://, file:// or m4f://.
func ParseInput(raw string) (Input, error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return Input{}, fmt.Errorf("input %q: not a URL; want udp://, file:// or m4f://", raw)
	}
	in := Input{Raw: raw, Scheme: scheme}
	switch scheme {
	case SchemeFile:
		if rest == "" {
			return Input{}, fmt.Errorf("input %q: empty file path", raw)
		}
		if strings.ContainsRune(rest, 0) {
			return Input{}, fmt.Errorf("input %q: file path has a NUL byte", raw)
		}
		in.Path = rest
		return in, nil
	case SchemeUDP:
		return parseUDP(in)
	case SchemeM4F:
		return parseM4F(in, true)
	default:
		return Input{}, fmt.Errorf("input %q: unknown scheme %q; want udp, file or m4f", raw, scheme)
	}
}

// ParseSourceURL parses a [[node.source]] url: m4f://NODE_OR_HOST[:PORT].
func ParseSourceURL(raw string) (Input, error) {
	scheme, _, ok := strings.Cut(raw, "://")
	if !ok {
		return Input{}, fmt.Errorf("source url %q: not a URL; want m4f://NODE or m4f://HOST:PORT", raw)
	}
	if scheme != SchemeM4F {
		return Input{}, fmt.Errorf("source url %q: unknown scheme %q; want m4f", raw, scheme)
	}
	return parseM4F(Input{Raw: raw, Scheme: scheme}, false)
}

func parseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if asURLError(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("input %q: %v", raw, err)
	}
	if u.User != nil {
		return nil, fmt.Errorf("input %q: user info is not allowed", raw)
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return nil, fmt.Errorf("input %q: fragment is not allowed", raw)
	}
	if u.Opaque != "" {
		return nil, fmt.Errorf("input %q: want SCHEME://HOST...", raw)
	}
	return u, nil
}

func asURLError(err error, target **url.Error) bool {
	ue, ok := err.(*url.Error)
	if ok {
		*target = ue
	}
	return ok
}

func parsePort(raw, p string, required bool) (int, error) {
	if p == "" {
		if required {
			return 0, fmt.Errorf("input %q: missing port", raw)
		}
		return 0, nil
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 || p[0] == '+' || p[0] == '0' {
		return 0, fmt.Errorf("input %q: bad port %q; want 1 to 65535", raw, p)
	}
	return n, nil
}

func parseUDP(in Input) (Input, error) {
	raw := in.Raw
	u, err := parseURL(raw)
	if err != nil {
		return Input{}, err
	}
	if u.Path != "" && u.Path != "/" {
		return Input{}, fmt.Errorf("input %q: udp URL takes no path", raw)
	}
	in.Host = u.Hostname()
	if in.Host != "" && !validHost(in.Host) {
		return Input{}, fmt.Errorf("input %q: bad host %q", raw, in.Host)
	}
	if in.Port, err = parsePort(raw, u.Port(), true); err != nil {
		return Input{}, err
	}
	if strings.HasSuffix(u.Host, ":") {
		return Input{}, fmt.Errorf("input %q: missing port", raw)
	}
	in.Query, err = url.ParseQuery(u.RawQuery)
	if err != nil {
		return Input{}, fmt.Errorf("input %q: bad query: %v", raw, err)
	}
	for k, v := range in.Query {
		if len(v) != 1 {
			return Input{}, fmt.Errorf("input %q: %s given %d times", raw, k, len(v))
		}
		switch k {
		case "iface":
			in.Iface = v[0]
			if in.Iface == "" || strings.ContainsAny(in.Iface, "/ \t\x00") {
				return Input{}, fmt.Errorf("input %q: bad iface %q", raw, in.Iface)
			}
		case "source":
			in.Source = v[0]
			if net.ParseIP(in.Source) == nil {
				return Input{}, fmt.Errorf("input %q: source %q is not an IP address", raw, in.Source)
			}
		case "program":
			n, err := strconv.Atoi(v[0])
			if err != nil || n < 1 || n > 65535 {
				return Input{}, fmt.Errorf("input %q: bad program %q; want 1 to 65535", raw, v[0])
			}
			in.Program = n
		default:
			return Input{}, fmt.Errorf("input %q: unknown parameter %q; udp takes iface, source and program", raw, k)
		}
	}
	return in, nil
}

// parseM4F parses m4f://NODE_OR_HOST[:PORT]/STREAM[?query] when withStream,
// else m4f://NODE_OR_HOST[:PORT].
func parseM4F(in Input, withStream bool) (Input, error) {
	raw := in.Raw
	u, err := parseURL(raw)
	if err != nil {
		return Input{}, err
	}
	in.Host = u.Hostname()
	if in.Host == "" {
		return Input{}, fmt.Errorf("input %q: missing node or host", raw)
	}
	if !validHost(in.Host) {
		return Input{}, fmt.Errorf("input %q: bad node or host %q", raw, in.Host)
	}
	if in.Port, err = parsePort(raw, u.Port(), false); err != nil {
		return Input{}, err
	}
	if strings.HasSuffix(u.Host, ":") {
		return Input{}, fmt.Errorf("input %q: missing port after ':'", raw)
	}
	if !withStream {
		if u.Path != "" && u.Path != "/" {
			return Input{}, fmt.Errorf("source url %q: takes no stream path; use only/except", raw)
		}
		if u.RawQuery != "" || u.ForceQuery {
			return Input{}, fmt.Errorf("source url %q: takes no query; use remote_dvr and key", raw)
		}
		return in, nil
	}
	in.Stream = strings.TrimPrefix(u.Path, "/")
	if in.Stream == "" {
		return Input{}, fmt.Errorf("input %q: missing stream name: m4f://NODE/STREAM", raw)
	}
	if err := sdk.CheckStreamName(in.Stream); err != nil {
		return Input{}, fmt.Errorf("input %q: %v", raw, err)
	}
	in.Query, err = url.ParseQuery(u.RawQuery)
	if err != nil {
		return Input{}, fmt.Errorf("input %q: bad query: %v", raw, err)
	}
	in.RemoteDVR = RemoteDVRNoChain
	for k, v := range in.Query {
		if len(v) != 1 {
			return Input{}, fmt.Errorf("input %q: %s given %d times", raw, k, len(v))
		}
		switch k {
		case "remote_dvr":
			if !validRemoteDVR(v[0]) {
				return Input{}, fmt.Errorf("input %q: bad remote_dvr %q; want chain, nochain or none", raw, v[0])
			}
			in.RemoteDVR = v[0]
		case "key":
			in.Key = v[0]
		default:
			return Input{}, fmt.Errorf("input %q: unknown parameter %q; m4f takes remote_dvr and key", raw, k)
		}
	}
	return in, nil
}

func validRemoteDVR(s string) bool {
	return s == RemoteDVRChain || s == RemoteDVRNoChain || s == RemoteDVRNone
}

// validHost accepts an IP address or a DNS-style host name (letters, digits,
// '-', '_' and '.').
func validHost(h string) bool {
	if net.ParseIP(h) != nil {
		return true
	}
	if h == "" || len(h) > 253 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(isBare(c) || c == '.') {
			return false
		}
	}
	return true
}

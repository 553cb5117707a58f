// Package inputurl parses the input URLs of streams and sources (udp://,
// file://, m4f://): config/ checks a topology with it and the ingest plugins
// read their capture URLs with it, so a URL that `edge check` accepts is one
// that the plugin can capture.
//
// It sits at the bottom of the dependency order, under config/ (which
// imports it) and beside config/names, and imports only the standard
// library and config/names: plugins may import it without pulling in the
// TOML decoder or anything above.
package inputurl

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/edgedvr/edge/config/names"
)

// Input schemes.
const (
	UDP  = "udp"
	File = "file"
	M4F  = "m4f"
)

// Remote DVR modes of an m4f:// input or a [[node.source]].
const (
	RemoteDVRNoChain = "nochain" // ask the source for its own archive only (the default)
	RemoteDVRChain   = "chain"   // let the source ask its own sources in turn
	RemoteDVRNone    = "none"    // ask the source only while it is the input in use
)

// MaxLen is the longest URL accepted, in bytes.
const MaxLen = 2048

// maxIfaceName is IFNAMSIZ-1 on Linux.
const maxIfaceName = 15

// URL is a parsed input URL:
//
//	udp://[IPV4]:PORT[?iface=NAME&source=IPV4&program=N]
//	file://PATH[?program=N]
//	m4f://NODE_OR_HOST[:PORT]/STREAM[?remote_dvr=chain|nochain|none&key=KEY]
//
// Only the fields of its scheme are set.
type URL struct {
	// Scheme is UDP, File or M4F.
	Scheme string

	// UDPAddr is the address a udp input receives on: a multicast group, a
	// local unicast address, or 0.0.0.0 (every address) when the URL has no
	// host. It is always an IPv4 address: a receiver binds or joins an
	// address, so a host name is refused rather than resolved.
	UDPAddr netip.AddrPort
	// Iface is the interface that joins a udp multicast group (or, for
	// unicast, that the socket binds to). By default, empty: the kernel
	// chooses.
	Iface string
	// Source keeps only udp datagrams sent from this unicast IPv4 address
	// (a source-specific multicast join). By default, invalid: any sender.
	Source netip.Addr
	// Program selects one MPEG-TS program of a udp or file input, 1 to
	// 65535. By default, 0: the first program of the PAT.
	Program int

	// Path is a file input's path as written: everything between file://
	// and the first '?', not percent-decoded. It may be relative.
	Path string

	// Host is the m4f node name or host (an IPv6 host without brackets).
	Host string
	// Port is 0 when an m4f URL has no port (it then names a node of the
	// topology).
	Port int
	// Stream is the remote stream of an m4f input.
	Stream string
	// RemoteDVR is the m4f remote_dvr mode. By default, RemoteDVRNoChain.
	RemoteDVR string
	// Key overrides cluster_key for an m4f input. It is a secret: String
	// leaves it out and errors never repeat it.
	Key string
}

// Addr returns Host:Port of an m4f URL, bracketing an IPv6 host.
func (u URL) Addr() string { return net.JoinHostPort(u.Host, strconv.Itoa(u.Port)) }

// Multicast reports whether u is a udp input on a multicast group.
func (u URL) Multicast() bool { return u.Scheme == UDP && u.UDPAddr.Addr().IsMulticast() }

// String returns the canonical URL of u, without its key: Parse(u.String())
// returns u with Key empty. It is what logs may show.
func (u URL) String() string {
	q := url.Values{}
	if u.Program != 0 {
		q.Set("program", strconv.Itoa(u.Program))
	}
	var s string
	switch u.Scheme {
	case UDP:
		s = "udp://" + u.UDPAddr.String()
		if u.Iface != "" {
			q.Set("iface", u.Iface)
		}
		if u.Source.IsValid() {
			q.Set("source", u.Source.String())
		}
	case File:
		s = "file://" + u.Path
	case M4F:
		host := u.Host
		if u.Port != 0 {
			host = u.Addr()
		} else if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
		s = "m4f://" + host
		if u.Stream != "" {
			s += "/" + u.Stream
		}
		if u.RemoteDVR != "" && u.RemoteDVR != RemoteDVRNoChain {
			q.Set("remote_dvr", u.RemoteDVR)
		}
	}
	if len(q) > 0 {
		s += "?" + q.Encode()
	}
	return s
}

// Error is a URL that does not parse. Its message quotes the URL without
// its query, which may hold a key.
type Error struct {
	What string // "input" or "source url"
	URL  string // the URL as shown: no query, at most 200 bytes
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("%s %q: %s", e.What, e.URL, e.Msg) }

type parser struct {
	what, raw string
}

func (p parser) errorf(format string, args ...any) error {
	shown, _, _ := strings.Cut(p.raw, "?")
	if len(shown) > 200 {
		shown = shown[:200] + "..."
	}
	return &Error{What: p.what, URL: shown, Msg: fmt.Sprintf(format, args...)}
}

// Parse parses a stream input URL: udp://, file:// or m4f://. Unknown,
// repeated and malformed parameters are errors.
func Parse(raw string) (URL, error) {
	p := parser{what: "input", raw: raw}
	scheme, rest, query, err := p.split("want udp://, file:// or m4f://")
	if err != nil {
		return URL{}, err
	}
	switch scheme {
	case UDP:
		return p.udp(rest, query)
	case File:
		return p.file(rest, query)
	case M4F:
		return p.m4f(rest, query, true)
	default:
		return URL{}, p.errorf("unknown scheme %q; want udp, file or m4f", scheme)
	}
}

// ParseSource parses a [[node.source]] url: m4f://NODE_OR_HOST[:PORT],
// with no stream path and no query.
func ParseSource(raw string) (URL, error) {
	p := parser{what: "source url", raw: raw}
	scheme, rest, query, err := p.split("want m4f://NODE or m4f://HOST:PORT")
	if err != nil {
		return URL{}, err
	}
	if scheme != M4F {
		return URL{}, p.errorf("unknown scheme %q; want m4f", scheme)
	}
	return p.m4f(rest, query, false)
}

// split checks what every input URL must satisfy and cuts it into scheme,
// the part between "://" and '?', and the raw query (nil without '?').
func (p parser) split(want string) (scheme, rest string, query *string, err error) {
	if len(p.raw) > MaxLen {
		return "", "", nil, p.errorf("longer than %d bytes", MaxLen)
	}
	for i := 0; i < len(p.raw); i++ {
		if c := p.raw[i]; c < 0x20 || c == 0x7f {
			return "", "", nil, p.errorf("control character %q", c)
		}
	}
	scheme, rest, ok := strings.Cut(p.raw, "://")
	if !ok {
		return "", "", nil, p.errorf("not a URL; %s", want)
	}
	if strings.Contains(p.raw, "#") {
		return "", "", nil, p.errorf("fragment is not allowed")
	}
	if r, q, ok := strings.Cut(rest, "?"); ok {
		return scheme, r, &q, nil
	}
	return scheme, rest, nil, nil
}

// params decodes a query; a parameter given twice is an error. Values are
// not repeated in errors.
func (p parser) params(query *string) (url.Values, error) {
	if query == nil {
		return nil, nil
	}
	q, err := url.ParseQuery(*query)
	if err != nil {
		return nil, p.errorf("malformed query")
	}
	for k, v := range q {
		if len(v) != 1 {
			return nil, p.errorf("%s given %d times", k, len(v))
		}
	}
	return q, nil
}

func (p parser) udp(rest string, query *string) (URL, error) {
	u := URL{Scheme: UDP}
	authority, path, _ := strings.Cut(rest, "/")
	if path != "" {
		return URL{}, p.errorf("udp URL takes no path")
	}
	// "udp://@239.1.2.3:1234" (VLC's spelling) is accepted; any other user info is not.
	authority = strings.TrimPrefix(authority, "@")
	if strings.Contains(authority, "@") {
		return URL{}, p.errorf("user info is not allowed")
	}
	host, port, err := net.SplitHostPort(authority)
	if err != nil {
		if !strings.Contains(authority, ":") || strings.HasSuffix(authority, "]") {
			return URL{}, p.errorf("missing port")
		}
		return URL{}, p.errorf("want udp://IPV4:PORT")
	}
	if port == "" {
		return URL{}, p.errorf("missing port")
	}
	n, err := p.port(port)
	if err != nil {
		return URL{}, err
	}
	addr := netip.IPv4Unspecified()
	if host != "" {
		if addr, err = netip.ParseAddr(host); err != nil {
			return URL{}, p.errorf("host %q is not an IP address; a udp input names the multicast group or local address it receives on, as an IPv4 address", host)
		}
		if !addr.Is4() {
			return URL{}, p.errorf("host %s: only IPv4 is supported", host)
		}
	}
	u.UDPAddr = netip.AddrPortFrom(addr, uint16(n))
	q, err := p.params(query)
	if err != nil {
		return URL{}, err
	}
	for k, v := range q {
		switch val := v[0]; k {
		case "iface":
			if val == "" || len(val) > maxIfaceName || strings.ContainsAny(val, "/ \t\n\x00%") {
				return URL{}, p.errorf("bad iface %q; want an interface name of 1 to %d characters", val, maxIfaceName)
			}
			u.Iface = val
		case "source":
			ip, err := netip.ParseAddr(val)
			if err != nil || !ip.Is4() || ip.IsUnspecified() || ip.IsMulticast() || ip == netip.IPv4Unspecified() {
				return URL{}, p.errorf("source %q is not a unicast IPv4 address", val)
			}
			u.Source = ip
		case "program":
			if u.Program, err = p.program(val); err != nil {
				return URL{}, err
			}
		default:
			return URL{}, p.errorf("unknown parameter %q; udp takes iface, source and program", k)
		}
	}
	return u, nil
}

func (p parser) file(rest string, query *string) (URL, error) {
	u := URL{Scheme: File, Path: rest}
	if rest == "" {
		return URL{}, p.errorf("empty file path")
	}
	if strings.HasSuffix(rest, "/") {
		return URL{}, p.errorf("file path ends in '/'; name a file")
	}
	q, err := p.params(query)
	if err != nil {
		return URL{}, err
	}
	for k, v := range q {
		switch k {
		case "program":
			if u.Program, err = p.program(v[0]); err != nil {
				return URL{}, err
			}
		default:
			return URL{}, p.errorf("unknown parameter %q; file takes program", k)
		}
	}
	return u, nil
}

// m4f parses NODE_OR_HOST[:PORT]/STREAM[?query] when withStream, else
// NODE_OR_HOST[:PORT] with no path and no query.
func (p parser) m4f(rest string, query *string, withStream bool) (URL, error) {
	u := URL{Scheme: M4F}
	authority, path, _ := strings.Cut(rest, "/")
	if strings.Contains(authority, "@") {
		return URL{}, p.errorf("user info is not allowed")
	}
	host, port := authority, ""
	if strings.HasPrefix(authority, "[") && strings.HasSuffix(authority, "]") {
		host = authority[1 : len(authority)-1]
		if net.ParseIP(host) == nil {
			return URL{}, p.errorf("bad host %q", host)
		}
	} else if strings.Contains(authority, ":") {
		var err error
		if host, port, err = net.SplitHostPort(authority); err != nil {
			return URL{}, p.errorf("want NODE, HOST or HOST:PORT after m4f://")
		}
		if port == "" {
			return URL{}, p.errorf("missing port after ':'")
		}
	}
	if host == "" {
		return URL{}, p.errorf("missing node or host")
	}
	if !ValidHost(host) {
		return URL{}, p.errorf("bad node or host %q", host)
	}
	u.Host = host
	if port != "" {
		n, err := p.port(port)
		if err != nil {
			return URL{}, err
		}
		u.Port = n
	}
	if !withStream {
		if path != "" {
			return URL{}, p.errorf("takes no stream path; use only/except")
		}
		if query != nil {
			return URL{}, p.errorf("takes no query; use remote_dvr and key")
		}
		return u, nil
	}
	if path == "" {
		return URL{}, p.errorf("missing stream name: m4f://NODE/STREAM")
	}
	if err := names.CheckStream(path); err != nil {
		return URL{}, p.errorf("%v", err)
	}
	u.Stream = path
	u.RemoteDVR = RemoteDVRNoChain
	q, err := p.params(query)
	if err != nil {
		return URL{}, err
	}
	for k, v := range q {
		switch k {
		case "remote_dvr":
			if !ValidRemoteDVR(v[0]) {
				return URL{}, p.errorf("bad remote_dvr; want chain, nochain or none")
			}
			u.RemoteDVR = v[0]
		case "key":
			if v[0] == "" {
				return URL{}, p.errorf("empty key")
			}
			u.Key = v[0]
		default:
			return URL{}, p.errorf("unknown parameter %q; m4f takes remote_dvr and key", k)
		}
	}
	return u, nil
}

func (p parser) port(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 || s[0] == '+' || s[0] == '0' {
		return 0, p.errorf("bad port %q; want 1 to 65535", s)
	}
	return n, nil
}

func (p parser) program(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 || s[0] == '+' || s[0] == '0' {
		return 0, p.errorf("bad program %q; want 1 to 65535", s)
	}
	return n, nil
}

// ValidRemoteDVR reports whether s is a remote_dvr mode.
func ValidRemoteDVR(s string) bool {
	return s == RemoteDVRChain || s == RemoteDVRNoChain || s == RemoteDVRNone
}

// ValidHost accepts an IP address or a DNS-style host name (letters,
// digits, '-', '_' and '.'), at most 253 bytes.
func ValidHost(h string) bool {
	if net.ParseIP(h) != nil {
		return true
	}
	if h == "" || len(h) > 253 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

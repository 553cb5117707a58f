package udp

import (
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// Source is a parsed input URL: udp://HOST:PORT[?iface=NAME&source=IP&program=N]
// or file://PATH[?program=N].
type Source struct {
	// Scheme is "udp" or "file".
	Scheme string
	// Addr is the address to listen on (udp): a local address, 0.0.0.0, or a
	// multicast group in 224.0.0.0/4.
	Addr netip.AddrPort
	// Iface is the interface to join the group on (udp multicast) or to bind
	// to (udp unicast). By default, empty: the kernel chooses.
	Iface string
	// SourceIP keeps only datagrams sent from this address (source-specific
	// multicast join; for unicast a filter). By default, invalid: any sender.
	SourceIP netip.Addr
	// Program is the MPEG-TS program number to take. By default (0), the
	// first program in the PAT.
	Program int
	// Path is the MPEG-TS file (file).
	Path string
}

// Multicast reports whether s is a udp input on a multicast group.
func (s Source) Multicast() bool { return s.Scheme == "udp" && s.Addr.Addr().IsMulticast() }

// maxIfaceName is IFNAMSIZ-1 on Linux.
const maxIfaceName = 15

// ParseURL parses an input URL of this plugin. Unknown options, repeated
// options and malformed values are errors.
func ParseURL(raw string) (Source, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Source{}, fmt.Errorf("udp: parse input url: %w", err)
	}
	if u.Fragment != "" || u.RawFragment != "" || strings.Contains(raw, "#") {
		return Source{}, fmt.Errorf("udp: input url %q: fragment not allowed", raw)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return Source{}, fmt.Errorf("udp: input url %q: bad query: %w", raw, err)
	}
	for k, v := range q {
		if len(v) > 1 {
			return Source{}, fmt.Errorf("udp: input url %q: option %q given %d times", raw, k, len(v))
		}
	}
	switch u.Scheme {
	case "udp":
		return parseUDP(raw, u, q)
	case "file":
		return parseFile(raw, u, q)
	default:
		return Source{}, fmt.Errorf("udp: input url %q: scheme must be udp or file", raw)
	}
}

func parseUDP(raw string, u *url.URL, q url.Values) (Source, error) {
	s := Source{Scheme: "udp"}
	if u.Opaque != "" {
		return s, fmt.Errorf("udp: input url %q: want udp://HOST:PORT", raw)
	}
	// "udp://@239.1.2.3:1234" (VLC's spelling) is accepted; any other userinfo is not.
	if u.User != nil && u.User.String() != "" {
		return s, fmt.Errorf("udp: input url %q: userinfo not allowed", raw)
	}
	if u.Path != "" && u.Path != "/" {
		return s, fmt.Errorf("udp: input url %q: path not allowed", raw)
	}
	host, portStr := u.Hostname(), u.Port()
	if portStr == "" {
		return s, fmt.Errorf("udp: input url %q: port missing", raw)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil || port == 0 {
		return s, fmt.Errorf("udp: input url %q: bad port %q", raw, portStr)
	}
	addr := netip.IPv4Unspecified()
	if host != "" {
		addr, err = netip.ParseAddr(host)
		if err != nil {
			return s, fmt.Errorf("udp: input url %q: host must be an IPv4 address: %q", raw, host)
		}
		if !addr.Is4() {
			return s, fmt.Errorf("udp: input url %q: only IPv4 is supported", raw)
		}
	}
	s.Addr = netip.AddrPortFrom(addr, uint16(port))
	for k, v := range q {
		val := v[0]
		switch k {
		case "iface":
			if val == "" || len(val) > maxIfaceName || strings.ContainsAny(val, "/ \t\n\x00") {
				return s, fmt.Errorf("udp: input url %q: bad iface %q", raw, val)
			}
			s.Iface = val
		case "source":
			ip, err := netip.ParseAddr(val)
			if err != nil || !ip.Is4() || ip.IsUnspecified() || ip.IsMulticast() || ip == netip.IPv4Unspecified() {
				return s, fmt.Errorf("udp: input url %q: source must be a unicast IPv4 address: %q", raw, val)
			}
			s.SourceIP = ip
		case "program":
			p, err := parseProgram(val)
			if err != nil {
				return s, fmt.Errorf("udp: input url %q: %w", raw, err)
			}
			s.Program = p
		default:
			return s, fmt.Errorf("udp: input url %q: unknown option %q (want iface, source, program)", raw, k)
		}
	}
	return s, nil
}

func parseFile(raw string, u *url.URL, q url.Values) (Source, error) {
	s := Source{Scheme: "file"}
	if u.User != nil {
		return s, fmt.Errorf("udp: input url %q: userinfo not allowed", raw)
	}
	if u.Host != "" && u.Host != "localhost" {
		return s, fmt.Errorf("udp: input url %q: want file:///ABSOLUTE/PATH (host %q not allowed)", raw, u.Host)
	}
	s.Path = u.Path
	if u.Opaque != "" {
		// file:relative.ts: the host resolves relative paths; pass it on.
		p, err := url.PathUnescape(u.Opaque)
		if err != nil {
			return s, fmt.Errorf("udp: input url %q: bad path: %w", raw, err)
		}
		s.Path = p
	}
	if s.Path == "" || s.Path == "/" || strings.HasSuffix(s.Path, "/") {
		return s, fmt.Errorf("udp: input url %q: file path missing", raw)
	}
	if strings.ContainsRune(s.Path, 0) {
		return s, fmt.Errorf("udp: input url %q: NUL in file path", raw)
	}
	for k, v := range q {
		switch k {
		case "program":
			p, err := parseProgram(v[0])
			if err != nil {
				return s, fmt.Errorf("udp: input url %q: %w", raw, err)
			}
			s.Program = p
		default:
			return s, fmt.Errorf("udp: input url %q: unknown option %q (want program)", raw, k)
		}
	}
	return s, nil
}

func parseProgram(v string) (int, error) {
	p, err := strconv.ParseUint(v, 10, 16)
	if err != nil || p == 0 {
		return 0, fmt.Errorf("bad program %q (want 1 to 65535)", v)
	}
	return int(p), nil
}

// String returns the canonical URL of s; ParseURL(s.String()) returns s.
func (s Source) String() string {
	q := url.Values{}
	if s.Program != 0 {
		q.Set("program", strconv.Itoa(s.Program))
	}
	u := url.URL{Scheme: s.Scheme}
	switch s.Scheme {
	case "udp":
		u.Host = s.Addr.String()
		if s.Iface != "" {
			q.Set("iface", s.Iface)
		}
		if s.SourceIP.IsValid() {
			q.Set("source", s.SourceIP.String())
		}
	case "file":
		if strings.HasPrefix(s.Path, "/") {
			u.Path = s.Path
		} else {
			u.Opaque = url.PathEscape(s.Path)
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

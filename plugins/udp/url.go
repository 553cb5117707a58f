package udp

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/edgedvr/edge/config/inputurl"
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

// ParseURL parses an input URL of this plugin with inputurl.Parse, the
// parser `edge check` uses, so every udp:// or file:// input the topology
// accepts is one this plugin captures. Unknown options, repeated options
// and malformed values are errors.
func ParseURL(raw string) (Source, error) {
	if scheme, _, _ := strings.Cut(raw, "://"); scheme == inputurl.M4F {
		return Source{}, fmt.Errorf("udp: input url: scheme must be udp or file, not m4f")
	}
	u, err := inputurl.Parse(raw)
	if err != nil {
		return Source{}, fmt.Errorf("udp: %w", err)
	}
	return Source{Scheme: u.Scheme, Addr: u.UDPAddr, Iface: u.Iface, SourceIP: u.Source, Program: u.Program, Path: u.Path}, nil
}

// String returns the canonical URL of s; ParseURL(s.String()) returns s.
func (s Source) String() string {
	return inputurl.URL{Scheme: s.Scheme, UDPAddr: s.Addr, Iface: s.Iface, Source: s.SourceIP, Program: s.Program, Path: s.Path}.String()
}

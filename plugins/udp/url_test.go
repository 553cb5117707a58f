package udp

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		url     string
		want    Source
		wantErr string
	}{
		{url: "udp://239.1.2.3:1234", want: Source{Scheme: "udp", Addr: netip.MustParseAddrPort("239.1.2.3:1234")}},
		{url: "udp://@239.1.2.3:1234", want: Source{Scheme: "udp", Addr: netip.MustParseAddrPort("239.1.2.3:1234")}},
		{url: "udp://:5000", want: Source{Scheme: "udp", Addr: netip.MustParseAddrPort("0.0.0.0:5000")}},
		{url: "udp://0.0.0.0:5000/", want: Source{Scheme: "udp", Addr: netip.MustParseAddrPort("0.0.0.0:5000")}},
		{url: "udp://239.1.2.3:1234?iface=eth0&source=10.0.0.1&program=3", want: Source{
			Scheme: "udp", Addr: netip.MustParseAddrPort("239.1.2.3:1234"), Iface: "eth0",
			SourceIP: netip.MustParseAddr("10.0.0.1"), Program: 3}},
		{url: "udp://127.0.0.1:1234?source=127.0.0.2", want: Source{Scheme: "udp",
			Addr: netip.MustParseAddrPort("127.0.0.1:1234"), SourceIP: netip.MustParseAddr("127.0.0.2")}},
		{url: "file:///var/video/a.ts", want: Source{Scheme: "file", Path: "/var/video/a.ts"}},
		{url: "file://localhost/var/video/a.ts?program=2", want: Source{Scheme: "file", Path: "/var/video/a.ts", Program: 2}},
		{url: "file:///var/my%20video/a%3Fb.ts", want: Source{Scheme: "file", Path: "/var/my video/a?b.ts"}},
		{url: "file:rel/a.ts", want: Source{Scheme: "file", Path: "rel/a.ts"}},

		{url: "udp://239.1.2.3", wantErr: "port missing"},
		{url: "udp://239.1.2.3:0", wantErr: "bad port"},
		{url: "udp://239.1.2.3:70000", wantErr: "bad port"},
		{url: "udp://example.com:1234", wantErr: "IPv4 address"},
		{url: "udp://[::1]:1234", wantErr: "only IPv4"},
		{url: "udp://user@239.1.2.3:1234", wantErr: "userinfo"},
		{url: "udp://239.1.2.3:1234/x", wantErr: "path not allowed"},
		{url: "udp://239.1.2.3:1234?ttl=3", wantErr: `unknown option "ttl"`},
		{url: "udp://239.1.2.3:1234?iface=a&iface=b", wantErr: "given 2 times"},
		{url: "udp://239.1.2.3:1234?iface=", wantErr: "bad iface"},
		{url: "udp://239.1.2.3:1234?iface=averyveryverylongname", wantErr: "bad iface"},
		{url: "udp://239.1.2.3:1234?source=239.0.0.1", wantErr: "unicast IPv4"},
		{url: "udp://239.1.2.3:1234?source=0.0.0.0", wantErr: "unicast IPv4"},
		{url: "udp://239.1.2.3:1234?source=host", wantErr: "unicast IPv4"},
		{url: "udp://239.1.2.3:1234?program=0", wantErr: "bad program"},
		{url: "udp://239.1.2.3:1234?program=x", wantErr: "bad program"},
		{url: "udp://239.1.2.3:1234#frag", wantErr: "fragment"},
		{url: "udp:239.1.2.3:1234", wantErr: "want udp://HOST:PORT"},
		{url: "rtp://239.1.2.3:1234", wantErr: "scheme must be udp or file"},
		{url: "file://host/a.ts", wantErr: "host \"host\" not allowed"},
		{url: "file://", wantErr: "file path missing"},
		{url: "file:///var/", wantErr: "file path missing"},
		{url: "file:///a.ts?loop=1", wantErr: `unknown option "loop"`},
		{url: "://x", wantErr: "parse input url"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			got, err := ParseURL(tt.url)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseURL(%q) error = %v, want one containing %q", tt.url, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseURL(%q): %v", tt.url, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseURL(%q) = %+v, want %+v", tt.url, got, tt.want)
			}
			again, err := ParseURL(got.String())
			if err != nil || !reflect.DeepEqual(again, got) {
				t.Fatalf("ParseURL(%q) = %+v, %v; want %+v", got.String(), again, err, got)
			}
		})
	}
}

func FuzzParseURL(f *testing.F) {
	for _, s := range []string{
		"udp://239.1.2.3:1234",
		"udp://@239.1.2.3:1234?iface=eth0&source=10.0.0.1&program=3",
		"udp://127.0.0.1:5000?source=127.0.0.2",
		"udp://:5000",
		"file:///var/video/a.ts?program=2",
		"file:rel/a%20b.ts",
		"file://localhost/x.ts",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		s, err := ParseURL(raw)
		if err != nil {
			return
		}
		if s.Scheme != "udp" && s.Scheme != "file" {
			t.Fatalf("ParseURL(%q): scheme %q", raw, s.Scheme)
		}
		if s.Scheme == "udp" && (!s.Addr.Addr().Is4() || s.Addr.Port() == 0) {
			t.Fatalf("ParseURL(%q): bad addr %v", raw, s.Addr)
		}
		if s.Scheme == "file" && s.Path == "" {
			t.Fatalf("ParseURL(%q): empty path", raw)
		}
		again, err := ParseURL(s.String())
		if err != nil {
			t.Fatalf("ParseURL(%q) = %+v, but its String %q does not parse: %v", raw, s, s.String(), err)
		}
		if !reflect.DeepEqual(again, s) {
			t.Fatalf("round trip of %q: %+v != %+v (via %q)", raw, again, s, s.String())
		}
	})
}

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
		{url: "file:///var/video/a.ts?program=2", want: Source{Scheme: "file", Path: "/var/video/a.ts", Program: 2}},
		{url: "file:///var/my%20video/a.ts", want: Source{Scheme: "file", Path: "/var/my%20video/a.ts"}},

		{url: "udp://239.1.2.3", wantErr: "missing port"},
		{url: "udp://239.1.2.3:0", wantErr: "bad port"},
		{url: "udp://239.1.2.3:70000", wantErr: "bad port"},
		{url: "udp://example.com:1234", wantErr: "not an IP address"},
		{url: "udp://[::1]:1234", wantErr: "only IPv4"},
		{url: "udp://user@239.1.2.3:1234", wantErr: "user info"},
		{url: "udp://239.1.2.3:1234/x", wantErr: "takes no path"},
		{url: "udp://239.1.2.3:1234?ttl=3", wantErr: `unknown parameter "ttl"`},
		{url: "udp://239.1.2.3:1234?iface=a&iface=b", wantErr: "given 2 times"},
		{url: "udp://239.1.2.3:1234?iface=", wantErr: "bad iface"},
		{url: "udp://239.1.2.3:1234?iface=averyveryverylongname", wantErr: "bad iface"},
		{url: "udp://239.1.2.3:1234?source=239.0.0.1", wantErr: "not a unicast IPv4 address"},
		{url: "udp://239.1.2.3:1234?source=0.0.0.0", wantErr: "not a unicast IPv4 address"},
		{url: "udp://239.1.2.3:1234?source=host", wantErr: "not a unicast IPv4 address"},
		{url: "udp://239.1.2.3:1234?program=0", wantErr: "bad program"},
		{url: "udp://239.1.2.3:1234?program=x", wantErr: "bad program"},
		{url: "udp://239.1.2.3:1234#frag", wantErr: "fragment"},
		{url: "udp:239.1.2.3:1234", wantErr: "not a URL"},
		{url: "rtp://239.1.2.3:1234", wantErr: "unknown scheme"},
		{url: "m4f://h:80/s", wantErr: "scheme must be udp or file"},
		{url: "file://", wantErr: "empty file path"},
		{url: "file:///var/", wantErr: "ends in '/'"},
		{url: "file:///a.ts?loop=1", wantErr: `unknown parameter "loop"`},
		{url: "://x", wantErr: "unknown scheme"},
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

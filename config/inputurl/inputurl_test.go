package inputurl

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	ap := netip.MustParseAddrPort
	for _, tc := range []struct {
		raw  string
		want URL
		err  string // the whole message
	}{
		{raw: "udp://239.1.2.3:1234", want: URL{Scheme: UDP, UDPAddr: ap("239.1.2.3:1234")}},
		{raw: "udp://@239.1.2.3:1234", want: URL{Scheme: UDP, UDPAddr: ap("239.1.2.3:1234")}},
		{raw: "udp://:1234", want: URL{Scheme: UDP, UDPAddr: ap("0.0.0.0:1234")}},
		{raw: "udp://0.0.0.0:5000/", want: URL{Scheme: UDP, UDPAddr: ap("0.0.0.0:5000")}},
		{raw: "udp://239.1.2.3:1234?iface=eth0&source=10.0.0.1&program=3", want: URL{Scheme: UDP, UDPAddr: ap("239.1.2.3:1234"),
			Iface: "eth0", Source: netip.MustParseAddr("10.0.0.1"), Program: 3}},
		{raw: "udp://127.0.0.1:1234?source=127.0.0.2", want: URL{Scheme: UDP, UDPAddr: ap("127.0.0.1:1234"), Source: netip.MustParseAddr("127.0.0.2")}},
		{raw: "file://sample.ts", want: URL{Scheme: File, Path: "sample.ts"}},
		{raw: "file:///var/media/a b.ts", want: URL{Scheme: File, Path: "/var/media/a b.ts"}},
		{raw: "file:///var/my%20video.ts?program=2", want: URL{Scheme: File, Path: "/var/my%20video.ts", Program: 2}},
		{raw: "m4f://origin/example", want: URL{Scheme: M4F, Host: "origin", Stream: "example", RemoteDVR: "nochain"}},
		{raw: "m4f://10.0.0.5:8081/cam.1?remote_dvr=chain&key=s3cret", want: URL{Scheme: M4F, Host: "10.0.0.5", Port: 8081,
			Stream: "cam.1", RemoteDVR: "chain", Key: "s3cret"}},
		{raw: "m4f://secondary/replica_example?remote_dvr=none", want: URL{Scheme: M4F, Host: "secondary", Stream: "replica_example", RemoteDVR: "none"}},
		{raw: "m4f://[::1]:9000/a.b-c", want: URL{Scheme: M4F, Host: "::1", Port: 9000, Stream: "a.b-c", RemoteDVR: "nochain"}},
		{raw: "m4f://origin.example:80/x", want: URL{Scheme: M4F, Host: "origin.example", Port: 80, Stream: "x", RemoteDVR: "nochain"}},

		{raw: "239.1.2.3:1234", err: `input "239.1.2.3:1234": not a URL; want udp://, file:// or m4f://`},
		{raw: "http://x/y", err: `input "http://x/y": unknown scheme "http"; want udp, file or m4f`},
		{raw: "udp:239.1.2.3:1234", err: `input "udp:239.1.2.3:1234": not a URL; want udp://, file:// or m4f://`},
		// The case of issue 14: edge check used to accept it, and the plugin refused it at run time.
		{raw: "udp://cam.example.com:1234", err: `input "udp://cam.example.com:1234": host "cam.example.com" is not an IP address; a udp input names the multicast group or local address it receives on, as an IPv4 address`},
		{raw: "udp://[ff02::1]:5000", err: `input "udp://[ff02::1]:5000": host ff02::1: only IPv4 is supported`},
		{raw: "udp://239.1.2.3", err: `input "udp://239.1.2.3": missing port`},
		{raw: "udp://239.1.2.3:", err: `input "udp://239.1.2.3:": missing port`},
		{raw: "udp://239.1.2.3:0", err: `input "udp://239.1.2.3:0": bad port "0"; want 1 to 65535`},
		{raw: "udp://239.1.2.3:070", err: `input "udp://239.1.2.3:070": bad port "070"; want 1 to 65535`},
		{raw: "udp://239.1.2.3:70000", err: `input "udp://239.1.2.3:70000": bad port "70000"; want 1 to 65535`},
		{raw: "udp://239.1.2.3:1234/path", err: `input "udp://239.1.2.3:1234/path": udp URL takes no path`},
		{raw: "udp://user@239.1.2.3:1234", err: `input "udp://user@239.1.2.3:1234": user info is not allowed`},
		{raw: "udp://239.1.2.3:1234?source=host", err: `input "udp://239.1.2.3:1234": source "host" is not a unicast IPv4 address`},
		{raw: "udp://239.1.2.3:1234?source=239.0.0.1", err: `input "udp://239.1.2.3:1234": source "239.0.0.1" is not a unicast IPv4 address`},
		{raw: "udp://239.1.2.3:1234?source=0.0.0.0", err: `input "udp://239.1.2.3:1234": source "0.0.0.0" is not a unicast IPv4 address`},
		{raw: "udp://239.1.2.3:1234?program=0", err: `input "udp://239.1.2.3:1234": bad program "0"; want 1 to 65535`},
		{raw: "udp://239.1.2.3:1234?program=x", err: `input "udp://239.1.2.3:1234": bad program "x"; want 1 to 65535`},
		{raw: "udp://239.1.2.3:1234?iface=a&iface=b", err: `input "udp://239.1.2.3:1234": iface given 2 times`},
		{raw: "udp://239.1.2.3:1234?iface=", err: `input "udp://239.1.2.3:1234": bad iface ""; want an interface name of 1 to 15 characters`},
		{raw: "udp://239.1.2.3:1234?iface=averyveryverylongname", err: `input "udp://239.1.2.3:1234": bad iface "averyveryverylongname"; want an interface name of 1 to 15 characters`},
		{raw: "udp://239.1.2.3:1234?ttl=3", err: `input "udp://239.1.2.3:1234": unknown parameter "ttl"; udp takes iface, source and program`},
		{raw: "udp://239.1.2.3:1234#frag", err: `input "udp://239.1.2.3:1234#frag": fragment is not allowed`},
		{raw: "udp://bad host:1234", err: `input "udp://bad host:1234": host "bad host" is not an IP address; a udp input names the multicast group or local address it receives on, as an IPv4 address`},
		{raw: "file://", err: `input "file://": empty file path`},
		{raw: "file:///var/", err: `input "file:///var/": file path ends in '/'; name a file`},
		{raw: "file:///a.ts?loop=1", err: `input "file:///a.ts": unknown parameter "loop"; file takes program`},
		{raw: "file:///a\x00.ts", err: `input "file:///a\x00.ts": control character '\x00'`},
		{raw: "m4f://origin", err: `input "m4f://origin": missing stream name: m4f://NODE/STREAM`},
		{raw: "m4f:///s", err: `input "m4f:///s": missing node or host`},
		{raw: "m4f://:80/s", err: `input "m4f://:80/s": missing node or host`},
		{raw: "m4f://h:/s", err: `input "m4f://h:/s": missing port after ':'`},
		{raw: "m4f://h:080/s", err: `input "m4f://h:080/s": bad port "080"; want 1 to 65535`},
		{raw: "m4f://u:pw@h:80/s", err: `input "m4f://u:pw@h:80/s": user info is not allowed`},
		{raw: "m4f://origin/a/b", err: `input "m4f://origin/a/b": stream name "a/b" has character '/'; use letters, digits, '_', '-' and '.'`},
		{raw: "m4f://origin/a%2Fb", err: `input "m4f://origin/a%2Fb": stream name "a%2Fb" has character '%'; use letters, digits, '_', '-' and '.'`},
		{raw: "m4f://origin/.hidden", err: `input "m4f://origin/.hidden": stream name ".hidden" starts with '.'`},
		{raw: "m4f://origin/s?remote_dvr=maybe", err: `input "m4f://origin/s": bad remote_dvr; want chain, nochain or none`},
		{raw: "m4f://origin/s?remote_dvr=chain&remote_dvr=none", err: `input "m4f://origin/s": remote_dvr given 2 times`},
		{raw: "m4f://origin/s?x=1", err: `input "m4f://origin/s": unknown parameter "x"; m4f takes remote_dvr and key`},
		{raw: "m4f://origin/s?key=", err: `input "m4f://origin/s": empty key`},
		{raw: "m4f://origin/s?a=%zz", err: `input "m4f://origin/s": malformed query`},
		{raw: "m4f://origin/s#frag", err: `input "m4f://origin/s#frag": fragment is not allowed`},
		{raw: "m4f://" + strings.Repeat("a", MaxLen) + "/s", err: `input "m4f://` + strings.Repeat("a", 194) + `...": longer than 2048 bytes`},
	} {
		got, err := Parse(tc.raw)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("Parse(%q) error = %v\nwant %s", tc.raw, err, tc.err)
			}
			var ue *Error
			if err != nil && !errors.As(err, &ue) {
				t.Errorf("Parse(%q) error %T is not an *Error", tc.raw, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Parse(%q) = %+v, %v\nwant %+v", tc.raw, got, err, tc.want)
			continue
		}
		want := tc.want
		want.Key = ""
		if again, err := Parse(got.String()); err != nil || again != want {
			t.Errorf("Parse(%q.String() = %q) = %+v, %v; want %+v", tc.raw, got.String(), again, err, want)
		}
		if strings.Contains(got.String(), "s3cret") {
			t.Errorf("String() %q holds the key", got.String())
		}
	}
}

func TestParseSource(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		host string
		port int
		err  string
	}{
		{raw: "m4f://origin", host: "origin"},
		{raw: "m4f://origin/", host: "origin"},
		{raw: "m4f://streamer.example.com:8081", host: "streamer.example.com", port: 8081},
		{raw: "m4f://[::1]", host: "::1"},
		{raw: "m4f://origin/s", err: `source url "m4f://origin/s": takes no stream path; use only/except`},
		{raw: "m4f://origin?remote_dvr=chain", err: `source url "m4f://origin": takes no query; use remote_dvr and key`},
		{raw: "file://x", err: `source url "file://x": unknown scheme "file"; want m4f`},
		{raw: "origin", err: `source url "origin": not a URL; want m4f://NODE or m4f://HOST:PORT`},
	} {
		got, err := ParseSource(tc.raw)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("ParseSource(%q) error = %v, want %s", tc.raw, err, tc.err)
			}
			continue
		}
		if err != nil || got.Host != tc.host || got.Port != tc.port || got.Scheme != M4F {
			t.Errorf("ParseSource(%q) = %+v, %v; want host %q port %d", tc.raw, got, err, tc.host, tc.port)
		}
		if again, err := ParseSource(got.String()); err != nil || again != got {
			t.Errorf("ParseSource(%q) = %+v, %v; want %+v", got.String(), again, err, got)
		}
	}
}

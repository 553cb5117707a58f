package config

import (
	"net/url"
	"reflect"
	"testing"
)

func TestParseInput(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		want Input
		err  string
	}{
		{raw: "udp://239.1.2.3:1234", want: Input{Scheme: "udp", Host: "239.1.2.3", Port: 1234, Query: url.Values{}}},
		{raw: "udp://:1234", want: Input{Scheme: "udp", Port: 1234, Query: url.Values{}}},
		{raw: "udp://[ff02::1]:5000?iface=eth0&source=10.0.0.1&program=3", want: Input{Scheme: "udp", Host: "ff02::1", Port: 5000,
			Iface: "eth0", Source: "10.0.0.1", Program: 3,
			Query: url.Values{"iface": {"eth0"}, "source": {"10.0.0.1"}, "program": {"3"}}}},
		{raw: "file://sample.ts", want: Input{Scheme: "file", Path: "sample.ts"}},
		{raw: "file:///var/media/a b.ts", want: Input{Scheme: "file", Path: "/var/media/a b.ts"}},
		{raw: "m4f://origin/example", want: Input{Scheme: "m4f", Host: "origin", Stream: "example", RemoteDVR: "nochain", Query: url.Values{}}},
		{raw: "m4f://10.0.0.5:8081/cam.1?remote_dvr=chain&key=s3cret", want: Input{Scheme: "m4f", Host: "10.0.0.5", Port: 8081,
			Stream: "cam.1", RemoteDVR: "chain", Key: "s3cret", Query: url.Values{"remote_dvr": {"chain"}, "key": {"s3cret"}}}},
		{raw: "m4f://secondary/replica_example?remote_dvr=none", want: Input{Scheme: "m4f", Host: "secondary",
			Stream: "replica_example", RemoteDVR: "none", Query: url.Values{"remote_dvr": {"none"}}}},

		{raw: "239.1.2.3:1234", err: `input "239.1.2.3:1234": not a URL; want udp://, file:// or m4f://`},
		{raw: "http://x/y", err: `input "http://x/y": unknown scheme "http"; want udp, file or m4f`},
		{raw: "udp://239.1.2.3", err: `input "udp://239.1.2.3": missing port`},
		{raw: "udp://239.1.2.3:", err: `input "udp://239.1.2.3:": missing port`},
		{raw: "udp://239.1.2.3:0", err: `input "udp://239.1.2.3:0": bad port "0"; want 1 to 65535`},
		{raw: "udp://239.1.2.3:70000", err: `input "udp://239.1.2.3:70000": bad port "70000"; want 1 to 65535`},
		{raw: "udp://239.1.2.3:1234/path", err: `input "udp://239.1.2.3:1234/path": udp URL takes no path`},
		{raw: "udp://239.1.2.3:1234?source=host", err: `input "udp://239.1.2.3:1234?source=host": source "host" is not an IP address`},
		{raw: "udp://239.1.2.3:1234?program=0", err: `input "udp://239.1.2.3:1234?program=0": bad program "0"; want 1 to 65535`},
		{raw: "udp://239.1.2.3:1234?iface=a&iface=b", err: `input "udp://239.1.2.3:1234?iface=a&iface=b": iface given 2 times`},
		{raw: "udp://user@239.1.2.3:1234", err: `input "udp://user@239.1.2.3:1234": user info is not allowed`},
		{raw: "udp://bad host:1234", err: `input "udp://bad host:1234": invalid character " " in host name`},
		{raw: "file://", err: `input "file://": empty file path`},
		{raw: "m4f://origin", err: `input "m4f://origin": missing stream name: m4f://NODE/STREAM`},
		{raw: "m4f:///s", err: `input "m4f:///s": missing node or host`},
		{raw: "m4f://origin/a/b", err: `input "m4f://origin/a/b": stream name "a/b" has character '/'; use letters, digits, '_', '-' and '.'`},
		{raw: "m4f://origin/s?remote_dvr=maybe", err: `input "m4f://origin/s?remote_dvr=maybe": bad remote_dvr "maybe"; want chain, nochain or none`},
		{raw: "m4f://origin/s?x=1", err: `input "m4f://origin/s?x=1": unknown parameter "x"; m4f takes remote_dvr and key`},
		{raw: "m4f://origin/s#frag", err: `input "m4f://origin/s#frag": fragment is not allowed`},
	} {
		got, err := ParseInput(tc.raw)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("ParseInput(%q) error = %v, want %s", tc.raw, err, tc.err)
			}
			continue
		}
		tc.want.Raw = tc.raw
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseInput(%q) = %+v, %v\nwant %+v", tc.raw, got, err, tc.want)
		}
	}
}

func TestParseSourceURL(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		host string
		port int
		err  string
	}{
		{raw: "m4f://origin", host: "origin"},
		{raw: "m4f://origin/", host: "origin"},
		{raw: "m4f://streamer.example.com:8081", host: "streamer.example.com", port: 8081},
		{raw: "m4f://origin/s", err: `source url "m4f://origin/s": takes no stream path; use only/except`},
		{raw: "m4f://origin?remote_dvr=chain", err: `source url "m4f://origin?remote_dvr=chain": takes no query; use remote_dvr and key`},
		{raw: "file://x", err: `source url "file://x": unknown scheme "file"; want m4f`},
		{raw: "origin", err: `source url "origin": not a URL; want m4f://NODE or m4f://HOST:PORT`},
	} {
		got, err := ParseSourceURL(tc.raw)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("ParseSourceURL(%q) error = %v, want %s", tc.raw, err, tc.err)
			}
			continue
		}
		if err != nil || got.Host != tc.host || got.Port != tc.port || got.Scheme != "m4f" {
			t.Errorf("ParseSourceURL(%q) = %+v, %v; want host %q port %d", tc.raw, got, err, tc.host, tc.port)
		}
	}
}

func TestCheckNodeName(t *testing.T) {
	for name, ok := range map[string]bool{
		"origin": true, "s01": true, "edge-1": true, "a_b": true, "1": true,
		"": false, "-a": false, "_a": false, "a.b": false, "a:b": false, "a b": false,
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa": false,
	} {
		if err := CheckNodeName(name); (err == nil) != ok {
			t.Errorf("CheckNodeName(%q) = %v, want ok=%v", name, err, ok)
		}
	}
}

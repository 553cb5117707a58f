package config

import (
	"net/netip"
	"reflect"
	"testing"

	"github.com/edgedvr/edge/config/inputurl"
)

// TestParseInput checks that config.ParseInput is inputurl.Parse with the
// raw URL kept (the cases of the parser itself are in package inputurl).
func TestParseInput(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		want Input
		err  string
	}{
		{raw: "udp://239.1.2.3:1234?program=2", want: Input{URL: inputurl.URL{Scheme: "udp", UDPAddr: netip.MustParseAddrPort("239.1.2.3:1234"), Program: 2}}},
		{raw: "file://sample.ts", want: Input{URL: inputurl.URL{Scheme: "file", Path: "sample.ts"}}},
		{raw: "m4f://10.0.0.5:8081/cam.1?remote_dvr=chain&key=s3cret", want: Input{URL: inputurl.URL{Scheme: "m4f", Host: "10.0.0.5", Port: 8081,
			Stream: "cam.1", RemoteDVR: "chain", Key: "s3cret"}}},
		{raw: "udp://cam.example.com:1234", err: `input "udp://cam.example.com:1234": host "cam.example.com" is not an IP address; a udp input names the multicast group or local address it receives on, as an IPv4 address`},
		{raw: "m4f://origin/s?key=s3cret&x=1", err: `input "m4f://origin/s": unknown parameter "x"; m4f takes remote_dvr and key`},
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
	got, err := ParseSourceURL("m4f://streamer.example.com:8081")
	if err != nil || got.Host != "streamer.example.com" || got.Port != 8081 || got.Raw != "m4f://streamer.example.com:8081" {
		t.Errorf("ParseSourceURL = %+v, %v", got, err)
	}
	if _, err := ParseSourceURL("m4f://origin/s"); err == nil {
		t.Errorf("ParseSourceURL accepts a stream path")
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

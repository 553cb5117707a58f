package m4f

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// validName stands in for sdk.CheckStreamName (sdk_test.go uses the real one).
func validName(s string) error {
	if strings.ContainsAny(s, "!") {
		return fmt.Errorf("stream name %q has character '!'", s)
	}
	return nil
}

func TestPathsRoundTrip(t *testing.T) {
	tests := []struct {
		path string
		want Route
	}{
		{StreamsPath, Route{Endpoint: EndpointStreams}},
		{LivePath("cam.1"), Route{Endpoint: EndpointLive, Stream: "cam.1"}},
		{RangesPath("cam", 1, 2), Route{Endpoint: EndpointRanges, Stream: "cam"}},
		{SegmentsPath("cam", 0, 9), Route{Endpoint: EndpointSegments, Stream: "cam"}},
		{SegmentPath("cam", 1_700_000_000_123), Route{Endpoint: EndpointSegment, Stream: "cam", Start: 1_700_000_000_123}},
		{InitPath("cam", "0123456789abcdef"), Route{Endpoint: EndpointInit, Stream: "cam", Hash: "0123456789abcdef"}},
		{BulkPath("cam", 0, 9), Route{Endpoint: EndpointBulk, Stream: "cam"}},
	}
	for _, tc := range tests {
		u, err := url.Parse(tc.path)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParsePath(u.Path, validName)
		if err != nil || got != tc.want {
			t.Errorf("ParsePath(%q) = %+v, %v; want %+v", u.Path, got, err, tc.want)
		}
		if got.Endpoint == EndpointRanges || got.Endpoint == EndpointSegments {
			from, to, err := ParseWindow(u.Query().Get)
			if err != nil || from > to {
				t.Errorf("ParseWindow(%q) = %d, %d, %v", u.RawQuery, from, to, err)
			}
		}
	}
}

func TestParsePathErrors(t *testing.T) {
	tests := []struct {
		path    string
		unknown bool // errors.Is(err, ErrUnknownPath): 404 rather than 400
		msg     string
	}{
		{"/", true, "is not under /m4f/v1/"},
		{"/m4f/v2/streams", true, "is not under"},
		{"/m4f/v1/", true, "names no endpoint"},
		{"/m4f/v1/streams/x", true, "names no endpoint"},
		{"/m4f/v1/bogus/x", true, "names no endpoint"},
		{"/m4f/v1/live/a/b", true, "want /m4f/v1/live/{stream}"},
		{"/m4f/v1/segment/a", true, "want /m4f/v1/segment/{stream}/{arg}"},
		{"/m4f/v1/init/a/b/c", true, "want"},
		{"/m4f/v1/live/", false, "no stream name"},
		{"/m4f/v1/live/..", false, "no stream name"},
		{"/m4f/v1/live/bad!", false, "has character '!'"},
		{"/m4f/v1/segment/a/", false, "want 1 to 15 decimal digits"},
		{"/m4f/v1/segment/a/-5", false, "decimal digits only"},
		{"/m4f/v1/segment/a/1234567890123456", false, "want 1 to 15"},
		{"/m4f/v1/init/a/ABCD", false, "lowercase hex"},
		{"/m4f/v1/init/a/" + strings.Repeat("a", 65), false, "1 to 64"},
	}
	for _, tc := range tests {
		_, err := ParsePath(tc.path, validName)
		if err == nil {
			t.Errorf("ParsePath(%q) succeeded", tc.path)
			continue
		}
		if errors.Is(err, ErrUnknownPath) != tc.unknown || !strings.Contains(err.Error(), tc.msg) || !strings.HasPrefix(err.Error(), "m4f: ") {
			t.Errorf("ParsePath(%q): %v; want unknown=%v and %q", tc.path, err, tc.unknown, tc.msg)
		}
	}
}

func TestParseWindowErrors(t *testing.T) {
	tests := []struct{ query, msg string }{
		{"", "needs from and to"},
		{"from=1", "needs from and to"},
		{"from=x&to=2", `from "x"`},
		{"from=1&to=2.5", `to "2.5"`},
		{"from=5&to=2", "from 5 is after to 2"},
		{"from=-1&to=2", "decimal digits only"},
	}
	for _, tc := range tests {
		q, _ := url.ParseQuery(tc.query)
		if _, _, err := ParseWindow(q.Get); err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("ParseWindow(%q): %v, want %q", tc.query, err, tc.msg)
		}
	}
}

func TestEndpointString(t *testing.T) {
	if EndpointSegment.String() != "segment" || Endpoint(99).String() != "endpoint(99)" {
		t.Fatal(EndpointSegment.String(), Endpoint(99).String())
	}
}

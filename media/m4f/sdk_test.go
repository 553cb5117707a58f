package m4f_test

import (
	"testing"

	"github.com/edgedvr/edge/media/m4f"
	"github.com/edgedvr/edge/sdk"
)

// The caps here must agree with the plugin boundary's.
func TestCapsMatchSDK(t *testing.T) {
	if m4f.DefaultMaxSegment != sdk.MaxSegmentSize {
		t.Fatalf("m4f.DefaultMaxSegment %d != sdk.MaxSegmentSize %d", m4f.DefaultMaxSegment, sdk.MaxSegmentSize)
	}
}

// With sdk.CheckStreamName, paths refuse every name the rest of edge refuses.
func TestParsePathWithCheckStreamName(t *testing.T) {
	for _, name := range []string{"cam-1_a.b", "x"} {
		r, err := m4f.ParsePath(m4f.LivePath(name), sdk.CheckStreamName)
		if err != nil || r.Stream != name {
			t.Errorf("%q: %+v, %v", name, r, err)
		}
	}
	for _, p := range []string{"/m4f/v1/live/.hidden", "/m4f/v1/live/a b", "/m4f/v1/live/a\\b", "/m4f/v1/segment/é/1"} {
		if _, err := m4f.ParsePath(p, sdk.CheckStreamName); err == nil {
			t.Errorf("%q accepted", p)
		}
	}
}

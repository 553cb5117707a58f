package udp

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/edgedvr/edge/sdk"
	"github.com/edgedvr/edge/sdk/sdktest"
)

// TestConformance runs the SDK's ingest conformance suite on a looping
// file:// input of the committed sample.
func TestConformance(t *testing.T) {
	sample, err := filepath.Abs("../../examples/topologies/sample.ts")
	if err != nil {
		t.Fatal(err)
	}
	sdktest.RunIngest(t, sdktest.IngestHarness{
		Ingest: func(t *testing.T) sdk.Ingest { return New(nil) },
		Request: func(t *testing.T) sdk.CaptureRequest {
			return sdk.CaptureRequest{Stream: "conformance", URL: "file://" + sample, SegmentDuration: time.Second}
		},
		Segments: 3,
	})
}

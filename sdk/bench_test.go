package sdk

import (
	"context"
	"testing"

	"github.com/edgedvr/edge/media"
)

// BenchmarkCaptureSegment1MiB measures one 1 MiB segment through the plugin
// boundary: marshal in the plugin, gRPC over the local socket, unmarshal in
// the host, and the emit callback.
func BenchmarkCaptureSegment1MiB(b *testing.B) {
	s := startSupervisor(b, &Supervisor{Name: "udp", Kind: KindIngest, Command: helperCommand("ingest")})
	ing, err := s.Ingest(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(b.Context())
	defer cancel()
	b.SetBytes(1 << 20)
	b.ReportAllocs()
	n := 0
	b.ResetTimer()
	err = ing.Capture(ctx, CaptureRequest{Stream: "bench", URL: "test://repeat?size=1048576"}, func(e Event) error {
		if e.Segment == nil {
			return nil
		}
		if n++; n == b.N {
			cancel()
		}
		return nil
	})
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkStoreSmallCall measures one small unary call (Ranges) to a store
// plugin.
func BenchmarkStoreSmallCall(b *testing.B) {
	s := startSupervisor(b, &Supervisor{Name: "dvrstore", Kind: KindDVRStore, Command: helperCommand("both")})
	ctx := b.Context()
	st, err := s.Store(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if err := st.OpenStream(ctx, StreamConfig{Stream: "cam1", Root: "/a"}); err != nil {
		b.Fatal(err)
	}
	for i := range 10 {
		if _, err := st.WriteSegment(ctx, "cam1", media.Segment{Start: int64(i) * 2000, Duration: 2000, Data: []byte{1}}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := st.Ranges(ctx, "cam1", 0, 1e9); err != nil {
			b.Fatal(err)
		}
	}
}

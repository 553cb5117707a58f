package sdk

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/edgedvr/edge/media"
	"github.com/edgedvr/edge/sdk/internal/pb"
)

// FuzzDecodeEvent feeds arbitrary bytes to the host's decoding of a Capture
// event, as a misbehaving plugin could send them: decoding never panics,
// and an event it accepts survives a round trip unchanged.
func FuzzDecodeEvent(f *testing.F) {
	in := testInit()
	seeds := []Event{
		{Init: &in, Stats: media.Stats{Packets: 1}},
		{Segment: &media.Segment{Start: 1_700_000_000_000, Duration: 2000, InitHash: in.Hash, Data: []byte("moofmdat")}, Stats: media.Stats{Segments: 1}},
	}
	for _, e := range seeds {
		ev, err := eventToPB(e)
		if err != nil {
			f.Fatal(err)
		}
		b, err := proto.Marshal(ev)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		var ev pb.Event
		if err := proto.Unmarshal(b, &ev); err != nil {
			return
		}
		e, err := eventFromPB(&ev)
		if err != nil {
			return
		}
		if e.Init != nil && e.Segment != nil {
			t.Fatalf("decoded event has both an init and a segment")
		}
		back, err := eventToPB(e)
		if err != nil {
			t.Fatalf("re-encode accepted event: %v", err)
		}
		e2, err := eventFromPB(back)
		if err != nil {
			t.Fatalf("decode re-encoded event: %v", err)
		}
		if e.Stats != e2.Stats {
			t.Fatalf("stats changed: %+v != %+v", e.Stats, e2.Stats)
		}
		switch {
		case e.Init != nil:
			a, c := e.Init, e2.Init
			if a.Hash != c.Hash || a.Codecs != c.Codecs || a.Width != c.Width || a.Height != c.Height || !bytes.Equal(a.Data, c.Data) {
				t.Fatalf("init changed: %+v != %+v", a, c)
			}
		case e.Segment != nil:
			a, c := e.Segment, e2.Segment
			if a.Start != c.Start || a.Duration != c.Duration || a.InitHash != c.InitHash || !bytes.Equal(a.Data, c.Data) {
				t.Fatalf("segment changed: %+v != %+v", a, c)
			}
		default:
			if e2.Init != nil || e2.Segment != nil {
				t.Fatalf("a stats-only event came back carrying media")
			}
		}
	})
}

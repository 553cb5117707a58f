package media

import (
	"testing"
	"time"
)

// FuzzSegmenter feeds arbitrary bytes, in chunks sized by the first byte,
// and checks that the segmenter neither panics nor breaks its promises:
// segments follow their init, and starts strictly increase.
func FuzzSegmenter(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0x47, 0x40, 0x00, 0x10, 0x00})
	f.Fuzz(fuzzSegmenter)
}

func fuzzSegmenter(t *testing.T, data []byte) {
	chunk := 188
	if len(data) > 0 {
		chunk = 1 + int(data[0])*7
	}
	var lastHash string
	var lastStart int64
	var n int
	clock := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	s := NewSegmenter(SegmenterConfig{
		TargetDuration: time.Millisecond,
		Now:            func() time.Time { return clock },
		OnInit: func(in Init) {
			if in.Hash != InitHash(in.Data) || len(in.Data) == 0 {
				t.Fatalf("init hash %s does not match its data", in.Hash)
			}
			lastHash = in.Hash
		},
		OnSegment: func(sg Segment) {
			if sg.InitHash != lastHash {
				t.Fatalf("segment refers to init %s, last init was %s", sg.InitHash, lastHash)
			}
			if n > 0 && sg.Start <= lastStart {
				t.Fatalf("segment start %d after %d", sg.Start, lastStart)
			}
			if sg.Duration < 0 || len(sg.Data) == 0 {
				t.Fatalf("segment duration %d, %d bytes", sg.Duration, len(sg.Data))
			}
			lastStart = sg.Start
			n++
		},
	})
	for i := 0; i < 2; i++ { // twice: the second pass is a timestamp jump
		for p := data; len(p) > 0; {
			c := min(chunk, len(p))
			if _, err := s.Write(p[:c]); err != nil {
				t.Fatal(err)
			}
			p = p[c:]
		}
		if i == 0 {
			s.Reanchor()
		}
	}
	s.Flush()
	st := s.Stats()
	if st.Segments != uint64(n) {
		t.Fatalf("stats say %d segments, %d emitted", st.Segments, n)
	}
}

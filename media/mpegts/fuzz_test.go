package mpegts

import (
	"bytes"
	"testing"

	"github.com/edgedvr/edge/media"
)

// fuzzSeeds adds the golden input, whole and cut, to f. The committed
// corpus under testdata/fuzz holds more (truncations and patched sizes).
func fuzzSeeds(f *testing.F) (media.Init, [][]byte) {
	init, segs := goldenInput(f)
	return init, segs
}

// maxOut bounds the TS of an input: every byte of sample data makes at
// most one PES (a packet or two) plus the parameter sets of the init.
func maxOut(init, seg []byte) int {
	return (len(seg)+1)*(len(init)+2*188) + 8192
}

// FuzzRemux feeds arbitrary init and segment bytes to Remux: no panic, and
// what comes out is whole TS packets starting with the PAT, no larger than
// the input can justify.
func FuzzRemux(f *testing.F) {
	init, segs := fuzzSeeds(f)
	f.Add(init.Data, segs[0])
	f.Add(init.Data, segs[0][:1000])
	f.Add(init.Data[:500], segs[0])
	f.Add([]byte{}, []byte{})
	f.Fuzz(func(t *testing.T, initData, seg []byte) {
		ts, err := Remux(media.Init{Data: initData}, seg)
		if err != nil {
			if ts != nil {
				t.Fatal("an error with output")
			}
			return
		}
		if len(ts) == 0 || len(ts)%188 != 0 || ts[0] != 0x47 || ts[1]&0x1f != 0 || ts[2] != 0 {
			t.Fatalf("ts of %d bytes does not start with a PAT packet", len(ts))
		}
		if len(ts) > maxOut(initData, seg) {
			t.Fatalf("ts of %d bytes from %d+%d bytes of input", len(ts), len(initData), len(seg))
		}
	})
}

// FuzzWriteSegment feeds an arbitrary segment between two real ones
// through one Muxer: the real ones are written, the arbitrary one is taken
// or refused as a whole, and the continuity counters never jump.
func FuzzWriteSegment(f *testing.F) {
	init, segs := fuzzSeeds(f)
	f.Add(segs[1])
	f.Add(segs[1][:2000])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, seg []byte) {
		var ts bytes.Buffer
		m := NewMuxer(&ts)
		if err := m.WriteSegment(init, segs[0]); err != nil {
			t.Fatal(err)
		}
		n := ts.Len()
		if err := m.WriteSegment(init, seg); err != nil && ts.Len() != n {
			t.Fatalf("a refused segment wrote %d bytes", ts.Len()-n)
		}
		if ts.Len()-n > maxOut(init.Data, seg) {
			t.Fatalf("ts of %d bytes from a segment of %d", ts.Len()-n, len(seg))
		}
		if err := m.WriteSegment(init, segs[1]); err != nil {
			t.Fatal(err)
		}
		checkContinuity(t, parsePackets(t, ts.Bytes()))
	})
}

package mpegts

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"github.com/edgedvr/edge/media"
)

// boxAt returns the offset of the first box of type typ in b (its size
// field), found by its name.
func boxAt(t testing.TB, b []byte, typ string) int {
	t.Helper()
	i := bytes.Index(b, []byte(typ))
	if i < 4 {
		t.Fatalf("no %s box", typ)
	}
	return i - 4
}

// firstSampleSizeAt returns the offset of the first sample_size field of
// the first trun of seg.
func firstSampleSizeAt(t testing.TB, seg []byte) int {
	t.Helper()
	trun := boxAt(t, seg, "trun")
	flags := binary.BigEndian.Uint32(seg[trun+8:]) & 0xffffff
	if flags&0x200 == 0 {
		t.Fatalf("trun flags %#x: no sample sizes", flags)
	}
	off := trun + 16 // size, type, version+flags, sample_count
	if flags&0x1 != 0 {
		off += 4 // data_offset
	}
	if flags&0x4 != 0 {
		off += 4 // first_sample_flags
	}
	if flags&0x100 != 0 {
		off += 4 // sample_duration
	}
	return off
}

func patched(b []byte, off int, v uint32) []byte {
	c := bytes.Clone(b)
	binary.BigEndian.PutUint32(c[off:], v)
	return c
}

func renamed(t testing.TB, b []byte, from, to string) []byte {
	t.Helper()
	c := bytes.Clone(b)
	i := bytes.Index(c, []byte(from))
	if i < 0 {
		t.Fatalf("no %s", from)
	}
	copy(c[i:], to)
	return c
}

// TestBadInput: broken inits and segments are errors, never panics, and a
// Muxer that saw one writes nothing for it and goes on continuously.
func TestBadInput(t *testing.T) {
	r := sampleSegments(t)
	good, seg := r.init, r.segs[0].Data
	rng := rand.New(rand.NewPCG(1, 2))
	garbage := make([]byte, 5000)
	for i := range garbage {
		garbage[i] = byte(rng.Uint32())
	}
	mdat := boxAt(t, seg, "mdat")
	tests := []struct {
		name    string
		init    []byte
		seg     []byte
		errText string
	}{
		{"empty init", nil, seg, "no moov"},
		{"garbage init", garbage, seg, "parse init"},
		{"truncated init", good.Data[:len(good.Data)/2], seg, "parse init"},
		{"avc1 without avcC", renamed(t, good.Data, "avcC", "xxxx"), seg, "without avcC"},
		{"aac without esds", renamed(t, good.Data, "esds", "xxxx"), seg, "without esds"},
		{"empty segment", good.Data, nil, "no moof+mdat"},
		{"garbage segment", good.Data, garbage, "parse segment"},
		{"moof only", good.Data, seg[:mdat], "moof without mdat"},
		{"mdat only", good.Data, seg[mdat:], "mdat at 0 without moof"},
		{"truncated mdat", good.Data, seg[:len(seg)-100], "truncated"},
		{"sample size past mdat", good.Data, patched(seg, firstSampleSizeAt(t, seg), 0x00ffffff), "outside mdat"},
		{"nal length past sample", good.Data, patched(seg, mdat+8, 0xffffff00), "nal unit length"},
	}
	var ts bytes.Buffer
	m := NewMuxer(&ts)
	if err := m.WriteSegment(r.init, r.segs[0].Data); err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := media.Init{Data: tc.init}
			if _, err := Remux(in, tc.seg); err == nil || !strings.Contains(err.Error(), tc.errText) {
				t.Errorf("Remux: error %v, want one saying %q", err, tc.errText)
			}
			n := ts.Len()
			if err := m.WriteSegment(in, tc.seg); err == nil {
				t.Errorf("WriteSegment: no error")
			}
			if ts.Len() != n {
				t.Errorf("a failed WriteSegment wrote %d bytes", ts.Len()-n)
			}
		})
	}
	if err := m.WriteSegment(r.init, r.segs[1].Data); err != nil {
		t.Fatal(err)
	}
	checkContinuity(t, parsePackets(t, ts.Bytes()))
	var zero Muxer
	if err := zero.WriteSegment(r.init, seg); err == nil {
		t.Error("a zero Muxer wrote")
	}
	// Every truncation of a segment is an error, whatever the cut.
	for cut := 0; cut < len(seg); cut += 1 + cut/8 {
		if _, err := Remux(r.init, seg[:cut]); err == nil {
			t.Errorf("segment cut at %d of %d: no error", cut, len(seg))
		}
	}
}

// TestMemoryGuard: sizes declared by the input never turn into
// allocations; what a call allocates stays near the size of its input.
func TestMemoryGuard(t *testing.T) {
	r := sampleSegments(t)
	seg := r.segs[0].Data
	mdat := boxAt(t, seg, "mdat")
	moov := boxAt(t, r.init.Data, "moov")
	largeMdat := append(bytes.Clone(seg[:mdat]), 0, 0, 0, 1, 'm', 'd', 'a', 't', 0x40, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3)
	tests := []struct {
		name       string
		init, seg  []byte
		allocLimit uint64
	}{
		{"mdat declares 4 GiB", r.init.Data, patched(seg, mdat, 0xfffffff0), 1 << 20},
		{"mdat declares 2^62 bytes", r.init.Data, largeMdat, 1 << 20},
		{"trun declares 2^31 samples", r.init.Data, patched(seg, boxAt(t, seg, "trun")+12, 0x80000000), 1 << 20},
		{"sample declares 2 GiB", r.init.Data, patched(seg, firstSampleSizeAt(t, seg), 0x7fffffff), 1 << 20},
		{"moov declares 2 GiB", patched(r.init.Data, moov, 0x7fffffff), seg, 1 << 20},
		{"real segment", r.init.Data, seg, 4 * uint64(len(seg))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, err := Remux(media.Init{Data: tc.init}, tc.seg)
			runtime.ReadMemStats(&after)
			if (err == nil) != (tc.name == "real segment") {
				t.Errorf("error %v", err)
			}
			if got := after.TotalAlloc - before.TotalAlloc; got > tc.allocLimit {
				t.Errorf("allocated %d bytes, limit %d", got, tc.allocLimit)
			}
		})
	}
}

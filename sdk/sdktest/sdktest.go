// Package sdktest holds the conformance suites that store and ingest plugin authors run against their plugin: the rules docs/plugins.md states, checked with real calls.
//
// A store author calls RunStore from a test with a harness that opens the
// store (in process, or through an sdk.Supervisor to test the real plugin
// boundary); an ingest author calls RunIngest with an input their plugin
// captures. The expected values come from the suite, never from the
// store under test.
package sdktest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/edgedvr/edge/media"
	"github.com/edgedvr/edge/sdk"
)

// StoreHarness gives the suite a store to test.
type StoreHarness struct {
	// Open returns the store under test. The suite calls it again after
	// Close to check that an archive comes back from OpenStream alone, as
	// after a plugin restart.
	Open func(t *testing.T) sdk.Store
	// Close ends a store that Open returned (stops the plugin process, or
	// closes the in-process store). Nil when there is nothing to close.
	Close func(t *testing.T, st sdk.Store)
	// Root returns a fresh, empty archive root for one subtest: a
	// directory, an s3:// URL, whatever the store reads.
	Root func(t *testing.T) string
}

const hourMs = int64(time.Hour / time.Millisecond)

// ctx bounds each call as the host does (10 s).
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

// Init returns a synthetic init segment; seed varies its bytes.
func Init(seed byte) media.Init {
	data := append([]byte("ftyp-moov-"), bytes.Repeat([]byte{seed}, 200)...)
	return media.Init{Hash: media.InitHash(data), Data: data}
}

// Data returns reproducible segment bytes for a start time.
func Data(start int64) []byte {
	r := rand.New(rand.NewPCG(uint64(start), 7))
	b := make([]byte, 500+int(uint64(start)%1500))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

type fixture struct {
	h      StoreHarness
	st     sdk.Store
	root   string
	stream string
	init   media.Init
}

func (f *fixture) open(t *testing.T, depth time.Duration, maxSize int64) {
	t.Helper()
	if err := f.st.OpenStream(ctx(t), sdk.StreamConfig{Stream: f.stream, Root: f.root, Depth: depth, MaxSize: maxSize}); err != nil {
		t.Fatalf("OpenStream: %v", err)
	}
}

func (f *fixture) reopen(t *testing.T, depth time.Duration, maxSize int64) {
	t.Helper()
	if f.h.Close != nil {
		f.h.Close(t, f.st)
	}
	f.st = f.h.Open(t)
	f.open(t, depth, maxSize)
}

func (f *fixture) write(t *testing.T, start, dur int64) sdk.SegmentInfo {
	t.Helper()
	data := Data(start)
	info, err := f.st.WriteSegment(ctx(t), f.stream, media.Segment{Start: start, Duration: dur, InitHash: f.init.Hash, Data: data})
	if err != nil {
		t.Fatalf("WriteSegment(%d): %v", start, err)
	}
	want := sdk.SegmentInfo{Start: start, Duration: dur, Size: int64(len(data)), InitHash: f.init.Hash, Checksum: media.Checksum(data), Path: info.Path}
	if info != want {
		t.Fatalf("WriteSegment(%d) = %+v, want %+v", start, info, want)
	}
	return info
}

func (f *fixture) segments(t *testing.T, from, to int64) []sdk.SegmentInfo {
	t.Helper()
	segs, err := f.st.Segments(ctx(t), f.stream, from, to)
	if err != nil {
		t.Fatalf("Segments: %v", err)
	}
	return segs
}

func (f *fixture) ranges(t *testing.T, from, to int64) []sdk.Range {
	t.Helper()
	rs, err := f.st.Ranges(ctx(t), f.stream, from, to)
	if err != nil {
		t.Fatalf("Ranges: %v", err)
	}
	return rs
}

// checkSegment checks a listed segment against the bytes written: its
// info, ReadSegment, and its Path when it has one.
func (f *fixture) checkSegment(t *testing.T, info sdk.SegmentInfo, dur int64) {
	t.Helper()
	data := Data(info.Start)
	if info.Duration != dur || info.Size != int64(len(data)) || info.Checksum != media.Checksum(data) || info.InitHash != f.init.Hash {
		t.Fatalf("segment %d listed as %+v; want duration %d, size %d, checksum %s, init %s",
			info.Start, info, dur, len(data), media.Checksum(data), f.init.Hash)
	}
	b, err := f.st.ReadSegment(ctx(t), f.stream, info.Start)
	if err != nil || !bytes.Equal(b, data) {
		t.Fatalf("ReadSegment(%d): %d bytes, %v; want the %d bytes written", info.Start, len(b), err, len(data))
	}
	if info.Path != "" {
		b, err := os.ReadFile(info.Path)
		if err != nil || !bytes.Equal(b, data) {
			t.Fatalf("segment %d: Path %s does not hold exactly its bytes (%v)", info.Start, info.Path, err)
		}
	}
}

func starts(segs []sdk.SegmentInfo) []int64 {
	out := make([]int64, len(segs))
	for i, s := range segs {
		out[i] = s.Start
	}
	return out
}

// RunStore runs the store conformance suite. Timestamps are recent (the
// last hours before now), so that a store whose retention runs at
// OpenStream and on a timer keeps them.
func RunStore(t *testing.T, h StoreHarness) {
	// base is the start of the hour two hours ago: the suite's segments
	// cross one hour boundary.
	now := time.Now().UnixMilli()
	base := now - now%hourMs - 2*hourMs
	setup := func(t *testing.T) *fixture {
		f := &fixture{h: h, st: h.Open(t), root: h.Root(t), stream: "conformance", init: Init(1)}
		t.Cleanup(func() {
			if h.Close != nil {
				h.Close(t, f.st)
			}
		})
		f.open(t, 0, 0)
		if err := f.st.WriteInit(ctx(t), f.stream, f.init); err != nil {
			t.Fatalf("WriteInit: %v", err)
		}
		return f
	}

	t.Run("init round trip", func(t *testing.T) {
		f := setup(t)
		if err := f.st.WriteInit(ctx(t), f.stream, f.init); err != nil {
			t.Fatalf("WriteInit of an init that exists must be a no-op, got %v", err)
		}
		got, err := f.st.ReadInit(ctx(t), f.stream, f.init.Hash)
		if err != nil || got.Hash != f.init.Hash || !bytes.Equal(got.Data, f.init.Data) {
			t.Fatalf("ReadInit = %v, %v; want the init written", got.Hash, err)
		}
		if _, err := f.st.ReadInit(ctx(t), f.stream, Init(2).Hash); !errors.Is(err, sdk.ErrNotFound) {
			t.Fatalf("ReadInit of an unknown hash: %v, want sdk.ErrNotFound", err)
		}
	})

	t.Run("segments round trip across an hour", func(t *testing.T) {
		f := setup(t)
		var want []int64
		for s := base + hourMs - 6000; s < base+hourMs+6000; s += 2000 {
			f.write(t, s, 2000)
			want = append(want, s)
		}
		segs := f.segments(t, 0, 1<<62)
		if !slices.Equal(starts(segs), want) {
			t.Fatalf("Segments = %v, want %v", starts(segs), want)
		}
		for _, s := range segs {
			f.checkSegment(t, s, 2000)
		}
		// [from, to) selects by start.
		if got := starts(f.segments(t, base+hourMs-4000, base+hourMs+2000)); !slices.Equal(got, want[1:4]) {
			t.Fatalf("Segments over [from, to) = %v, want %v", got, want[1:4])
		}
		names, err := f.st.Streams(ctx(t))
		if err != nil || !slices.Contains(names, f.stream) {
			t.Fatalf("Streams = %v, %v; want it to list %q", names, err, f.stream)
		}
	})

	t.Run("ranges join touching segments and split at gaps", func(t *testing.T) {
		f := setup(t)
		for s := base; s < base+10000; s += 2000 {
			f.write(t, s, 2000)
		}
		// 5 s gap, then a run that crosses the hour.
		for s := base + 15000; s < base+21000; s += 2000 {
			f.write(t, s, 2000)
		}
		all := []sdk.Range{{From: base, To: base + 10000}, {From: base + 15000, To: base + 21000}}
		if got := f.ranges(t, 0, 1<<62); fmt.Sprint(got) != fmt.Sprint(all) {
			t.Fatalf("Ranges = %v, want %v", got, all)
		}
		// Clipped to the whole segments that overlap [from, to).
		if got, want := f.ranges(t, base+3000, base+16000), []sdk.Range{{From: base + 2000, To: base + 10000}, {From: base + 15000, To: base + 17000}}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("Ranges over [from, to) = %v, want %v", got, want)
		}
		if got := f.ranges(t, base+10000, base+15000); len(got) != 0 {
			t.Fatalf("Ranges in the gap = %v, want none", got)
		}
	})

	t.Run("refuses a segment that overlaps a stored one", func(t *testing.T) {
		f := setup(t)
		f.write(t, base+4000, 2000)
		_, err := f.st.WriteSegment(ctx(t), f.stream, media.Segment{Start: base + 3000, Duration: 2000, InitHash: f.init.Hash, Data: Data(base + 3000)})
		if err == nil || errors.Is(err, sdk.ErrNotFound) || !sdk.IsPermanent(err) {
			t.Fatalf("WriteSegment overlapping the last segment: %v, want an error wrapping sdk.ErrRefused", err)
		}
		if got := starts(f.segments(t, 0, 1<<62)); !slices.Equal(got, []int64{base + 4000}) {
			t.Fatalf("after the refused write: %v", got)
		}
	})

	t.Run("refusals are permanent, and recording goes on", func(t *testing.T) {
		f := setup(t)
		f.write(t, base, 2000)
		if _, err := f.st.WriteSegment(ctx(t), f.stream, media.Segment{Start: base + 2000, Duration: 0, InitHash: f.init.Hash, Data: Data(base + 2000)}); !sdk.IsPermanent(err) {
			t.Fatalf("WriteSegment of 0 ms: %v, want an error wrapping sdk.ErrRefused", err)
		}
		bad := Init(3)
		bad.Hash = Init(4).Hash
		if err := f.st.WriteInit(ctx(t), f.stream, bad); !sdk.IsPermanent(err) {
			t.Fatalf("WriteInit of an init whose hash is not its bytes': %v, want an error wrapping sdk.ErrRefused", err)
		}
		f.write(t, base+2000, 2000)
		if got := starts(f.segments(t, 0, 1<<62)); !slices.Equal(got, []int64{base, base + 2000}) {
			t.Fatalf("after the refused writes: %v", got)
		}
	})

	t.Run("batch writes store each segment as WriteSegment would", func(t *testing.T) {
		f := setup(t)
		f.write(t, base+2000, 2000)
		seg := func(start, dur int64) media.Segment {
			return media.Segment{Start: start, Duration: dur, InitHash: f.init.Hash, Data: Data(start)}
		}
		// In order of start, after the stored segment: a store that only
		// appends takes them too.
		batch := []media.Segment{
			seg(base+3000, 2000),        // overlaps the stored segment
			seg(base+4000, 2000),        // ok
			seg(base+hourMs-2000, 2000), // ok, or refused for the next one
			seg(base+hourMs-1000, 500),  // overlaps the one before it in the batch
			seg(base+hourMs, 3000),      // ok, across the hour
		}
		res, err := sdk.WriteSegments(ctx(t), f.st, f.stream, batch)
		if err != nil {
			t.Fatalf("WriteSegments: %v", err)
		}
		if len(res) != len(batch) {
			t.Fatalf("WriteSegments returned %d results for %d segments", len(res), len(batch))
		}
		for k, r := range res {
			b := batch[k]
			okWant := k == 1 || k == 4 || ((k == 2 || k == 3) && r.Err == nil)
			if (r.Err == nil) != okWant {
				t.Fatalf("segment %d (start %d): result %+v, want stored=%v", k, b.Start, r, okWant)
			}
			if r.Err != nil {
				continue
			}
			want := sdk.SegmentInfo{Start: b.Start, Duration: b.Duration, Size: int64(len(b.Data)), InitHash: f.init.Hash, Checksum: media.Checksum(b.Data), Path: r.Info.Path}
			if r.Info != want {
				t.Fatalf("segment %d: info %+v, want %+v", k, r.Info, want)
			}
		}
		if (res[2].Err == nil) == (res[3].Err == nil) {
			t.Fatalf("of two overlapping segments of a batch, exactly one must be stored: %v, %v", res[2].Err, res[3].Err)
		}
		mid := batch[2].Start
		if res[2].Err != nil {
			mid = batch[3].Start
		}
		want := []int64{base + 2000, base + 4000, mid, base + hourMs}
		check := func(when string) {
			segs := f.segments(t, 0, 1<<62)
			if got := starts(segs); !slices.Equal(got, want) {
				t.Fatalf("%s: segments %v, want %v", when, got, want)
			}
			for _, info := range segs {
				f.checkSegment(t, info, info.Duration)
			}
		}
		check("after the batch")
		f.reopen(t, 0, 0)
		check("after reopening")
	})

	t.Run("not found", func(t *testing.T) {
		f := setup(t)
		f.write(t, base, 2000)
		if _, err := f.st.ReadSegment(ctx(t), f.stream, base+1); !errors.Is(err, sdk.ErrNotFound) {
			t.Fatalf("ReadSegment of no segment: %v, want sdk.ErrNotFound", err)
		}
		if _, err := f.st.Segments(ctx(t), "never-opened", 0, 1<<62); !errors.Is(err, sdk.ErrNotFound) {
			t.Fatalf("Segments of a stream never opened: %v, want sdk.ErrNotFound", err)
		}
	})

	t.Run("everything comes back from OpenStream", func(t *testing.T) {
		f := setup(t)
		var want []int64
		for s := base; s < base+8000; s += 2000 {
			f.write(t, s, 2000)
			want = append(want, s)
		}
		f.reopen(t, 0, 0)
		segs := f.segments(t, 0, 1<<62)
		if !slices.Equal(starts(segs), want) {
			t.Fatalf("after a restart: Segments = %v, want %v", starts(segs), want)
		}
		for _, s := range segs {
			f.checkSegment(t, s, 2000)
		}
		if _, err := f.st.ReadInit(ctx(t), f.stream, f.init.Hash); err != nil {
			t.Fatalf("after a restart: ReadInit: %v", err)
		}
		// Recording goes on after the last segment.
		f.write(t, base+8000, 2000)
	})

	t.Run("retention by depth", func(t *testing.T) {
		f := setup(t)
		old := base - 3*hourMs
		for s := old; s < old+6000; s += 2000 {
			f.write(t, s, 2000)
		}
		recent := now - 60000
		f.write(t, recent, 2000)
		f.reopen(t, time.Hour, 0)
		if got := starts(f.segments(t, 0, 1<<62)); !slices.Equal(got, []int64{recent}) {
			t.Fatalf("depth 1h: Segments = %v, want only %d", got, recent)
		}
		if got := f.ranges(t, 0, 1<<62); len(got) != 1 || got[0].From != recent {
			t.Fatalf("depth 1h: Ranges = %v", got)
		}
	})

	t.Run("retention by size", func(t *testing.T) {
		f := setup(t)
		var sizes []int64
		for s := base; s < base+20000; s += 2000 {
			sizes = append(sizes, f.write(t, s, 2000).Size)
		}
		// Room for the last three segments only.
		limit := sizes[7] + sizes[8] + sizes[9]
		f.reopen(t, 0, limit)
		if got, want := starts(f.segments(t, 0, 1<<62)), []int64{base + 14000, base + 16000, base + 18000}; !slices.Equal(got, want) {
			t.Fatalf("max size %d: Segments = %v, want %v", limit, got, want)
		}
	})
}

package dvrstore

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/edgedvr/edge/media"
	"github.com/edgedvr/edge/sdk"
)

// t0 is 2024-03-10T05:00:00Z, the start of an hour.
const t0 = int64(1710046800000)

var ctx = context.Background()

// newStore returns a Store that skips fsyncs, for tests that write
// thousands of segments (fsync costs milliseconds here).
func newStore(t testing.TB) *Store {
	t.Helper()
	s := New(nil)
	s.noSync = true
	t.Cleanup(func() { s.Close() })
	return s
}

func open(t testing.TB, s *Store, root, name string) {
	t.Helper()
	if err := s.OpenStream(ctx, sdk.StreamConfig{Stream: name, Root: root}); err != nil {
		t.Fatal(err)
	}
}

func testInit(t testing.TB, seed byte) media.Init {
	t.Helper()
	data := bytes.Repeat([]byte{'i', seed}, 100)
	return media.Init{Hash: media.InitHash(data), Data: data, Codecs: "avc1.64001f,mp4a.40.2", Width: 1280, Height: 720}
}

func segData(start int64, size int) []byte {
	r := rand.New(rand.NewPCG(uint64(start), uint64(size)))
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func write(t testing.TB, s *Store, name string, start, dur int64, hash string) sdk.SegmentInfo {
	t.Helper()
	info, err := s.WriteSegment(ctx, name, media.Segment{Start: start, Duration: dur, InitHash: hash, Data: segData(start, 100+int(start%997))})
	if err != nil {
		t.Fatal(err)
	}
	return info
}

func segOf(start int64, hash string) media.Segment {
	return media.Segment{Start: start, Duration: 3000, InitHash: hash, Data: segData(start, 100)}
}

// allSegments lists every segment of a stream.
func allSegments(t testing.TB, s *Store, name string) []sdk.SegmentInfo {
	t.Helper()
	segs, err := s.Segments(ctx, name, 0, maxStart+1)
	if err != nil {
		t.Fatal(err)
	}
	return segs
}

// checkSegments reads every listed segment's file and checks it against its
// size and checksum.
func checkSegments(t testing.TB, s *Store, name string, segs []sdk.SegmentInfo) {
	t.Helper()
	for _, si := range segs {
		data, err := os.ReadFile(si.Path)
		if err != nil {
			t.Fatalf("segment %d: %v", si.Start, err)
		}
		if int64(len(data)) != si.Size || media.Checksum(data) != si.Checksum {
			t.Fatalf("segment %d: %d bytes with checksum %s, index says %d and %s", si.Start, len(data), media.Checksum(data), si.Size, si.Checksum)
		}
		got, err := s.ReadSegment(ctx, name, si.Start)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("read segment %d: %v", si.Start, err)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	root := t.TempDir()
	s := New(nil)
	defer s.Close()
	open(t, s, root, "cam1")
	init := testInit(t, 1)
	for range 2 { // the second write is a no-op
		if err := s.WriteInit(ctx, "cam1", init); err != nil {
			t.Fatal(err)
		}
	}
	var written []sdk.SegmentInfo
	var datas [][]byte
	for i := range int64(5) {
		data := segData(i, 1000+int(i))
		info, err := s.WriteSegment(ctx, "cam1", media.Segment{Start: t0 + i*3000, Duration: 3000, InitHash: init.Hash, Data: data})
		if err != nil {
			t.Fatal(err)
		}
		if info.Checksum != media.Checksum(data) || info.Size != int64(len(data)) || !filepath.IsAbs(info.Path) {
			t.Fatalf("info %+v", info)
		}
		written = append(written, info)
		datas = append(datas, data)
	}
	if got := allSegments(t, s, "cam1"); !slices.Equal(got, written) {
		t.Fatalf("segments\n got %+v\nwant %+v", got, written)
	}
	for i, w := range written {
		got, err := s.ReadSegment(ctx, "cam1", w.Start)
		if err != nil || !bytes.Equal(got, datas[i]) {
			t.Fatalf("read segment %d: %v", w.Start, err)
		}
	}
	wantPath := filepath.Join(root, "cam1", "2024", "03", "10", "05", "00-03.000_3000_"+init.Hash+".m4s")
	if written[1].Path != wantPath {
		t.Fatalf("path %s, want %s", written[1].Path, wantPath)
	}
	gotInit, err := s.ReadInit(ctx, "cam1", init.Hash)
	if err != nil || !bytes.Equal(gotInit.Data, init.Data) || gotInit.Codecs != init.Codecs || gotInit.Width != 1280 || gotInit.Height != 720 || gotInit.Hash != init.Hash {
		t.Fatalf("read init: %+v, %v", gotInit, err)
	}
	if r, err := s.Ranges(ctx, "cam1", 0, maxStart); err != nil || !slices.Equal(r, []sdk.Range{{From: t0, To: t0 + 15000}}) {
		t.Fatalf("ranges %v, %v", r, err)
	}
	names, _ := s.Streams(ctx)
	if !slices.Equal(names, []string{"cam1"}) {
		t.Fatalf("streams %v", names)
	}

	notFound := []struct {
		name string
		err  error
	}{
		{"segment at a missing start", func() error { _, err := s.ReadSegment(ctx, "cam1", t0+1); return err }()},
		{"segment in a missing hour", func() error { _, err := s.ReadSegment(ctx, "cam1", t0-hourMs); return err }()},
		{"unknown init", func() error { _, err := s.ReadInit(ctx, "cam1", "0123456789abcdef"); return err }()},
		{"init hash with a path", func() error { _, err := s.ReadInit(ctx, "cam1", "../../cam1/.lock"); return err }()},
		{"stream not open", func() error { _, err := s.ReadSegment(ctx, "cam2", t0); return err }()},
		{"ranges of stream not open", func() error { _, err := s.Ranges(ctx, "cam2", 0, 1); return err }()},
	}
	for _, tc := range notFound {
		if !errors.Is(tc.err, sdk.ErrNotFound) {
			t.Errorf("%s: %v, want ErrNotFound", tc.name, tc.err)
		}
	}
	// A wrong hash for the data is refused.
	bad := init
	bad.Hash = "0123456789abcdef"
	if err := s.WriteInit(ctx, "cam1", bad); err == nil {
		t.Fatal("write init with a wrong hash succeeded")
	}
}

func TestWriteRejects(t *testing.T) {
	root := t.TempDir()
	s := newStore(t)
	open(t, s, root, "cam1")
	h := testInit(t, 1).Hash
	write(t, s, "cam1", t0, 3000, h)
	tests := []struct {
		name   string
		stream string
		seg    media.Segment
		want   string
		// refused for good (sdk.IsPermanent), not a temporary failure
		refused bool
	}{
		{"start before last end", "cam1", media.Segment{Start: t0 + 2999, Duration: 3000, InitHash: h, Data: []byte{1}}, "overlaps the stored segment", true},
		{"same start", "cam1", media.Segment{Start: t0, Duration: 3000, InitHash: h, Data: []byte{1}}, "overlaps the stored segment", true},
		{"earlier, overlapping", "cam1", media.Segment{Start: t0 - 1000, Duration: 3000, InitHash: h, Data: []byte{1}}, "overlaps the stored segment", true},
		{"zero duration", "cam1", media.Segment{Start: t0 + 9000, Duration: 0, InitHash: h, Data: []byte{1}}, "duration", true},
		{"over an hour", "cam1", media.Segment{Start: t0 + 9000, Duration: hourMs + 1, InitHash: h, Data: []byte{1}}, "duration", true},
		{"negative start", "cam1", media.Segment{Start: -5, Duration: 1, InitHash: h, Data: []byte{1}}, "start out of range", true},
		{"hash with slash", "cam1", media.Segment{Start: t0 + 9000, Duration: 3000, InitHash: "../../x", Data: []byte{1}}, "init hash", true},
		{"uppercase hash", "cam1", media.Segment{Start: t0 + 9000, Duration: 3000, InitHash: "ABCDEF", Data: []byte{1}}, "init hash", true},
		{"no data", "cam1", media.Segment{Start: t0 + 9000, Duration: 3000, InitHash: h}, "no data", true},
		{"stream not open", "cam2", media.Segment{Start: t0 + 9000, Duration: 3000, InitHash: h, Data: []byte{1}}, "not open", false},
		{"traversal name", "../cam1", media.Segment{Start: t0 + 9000, Duration: 3000, InitHash: h, Data: []byte{1}}, "stream name", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.WriteSegment(ctx, tc.stream, tc.seg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error with %q", err, tc.want)
			}
			if sdk.IsPermanent(err) != tc.refused {
				t.Fatalf("IsPermanent(%v) = %v, want %v", err, sdk.IsPermanent(err), tc.refused)
			}
		})
	}
	// Touching the previous end is fine.
	write(t, s, "cam1", t0+3000, 3000, h)
	if n := len(allSegments(t, s, "cam1")); n != 2 {
		t.Fatalf("%d segments, want 2", n)
	}
}

func TestStreamNamesCannotEscapeRoot(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "root")
	s := newStore(t)
	for _, name := range []string{"", "..", "../x", "a/b", `a\b`, ".hidden", "/abs", "x\x00", strings.Repeat("a", 129), "a b"} {
		if err := s.OpenStream(ctx, sdk.StreamConfig{Stream: name, Root: root}); err == nil {
			t.Errorf("open stream %q succeeded", name)
		}
		if _, err := s.WriteSegment(ctx, name, media.Segment{Start: t0, Duration: 1, InitHash: "ab", Data: []byte{1}}); err == nil {
			t.Errorf("write segment to %q succeeded", name)
		}
		if err := s.WriteInit(ctx, name, testInit(t, 1)); err == nil {
			t.Errorf("write init to %q succeeded", name)
		}
	}
	entries, _ := os.ReadDir(base)
	if len(entries) != 0 {
		t.Fatalf("something was created: %v", entries)
	}
}

func TestRestartKeepsDataAndRanges(t *testing.T) {
	root := t.TempDir()
	s := newStore(t)
	open(t, s, root, "cam1")
	h := testInit(t, 1).Hash
	// Three hours of 10 s segments with two gaps, one just after an hour boundary.
	start := t0
	for i := 0; i < 1080; i++ {
		if i == 100 {
			start += 60000
		}
		if i == 354 {
			start += 45000
		}
		write(t, s, "cam1", start, 10000, h)
		start += 10000
	}
	want := allSegments(t, s, "cam1")
	wantRanges, err := s.Ranges(ctx, "cam1", 0, maxStart)
	if err != nil {
		t.Fatal(err)
	}
	if len(wantRanges) != 3 {
		t.Fatalf("ranges %v, want 3", wantRanges)
	}
	s.Close()

	for round := range 2 { // the second open reads the summaries the first wrote
		s2 := newStore(t)
		open(t, s2, root, "cam1")
		if got := allSegments(t, s2, "cam1"); !slices.Equal(got, want) {
			t.Fatalf("round %d: %d segments after reopen, want %d", round, len(got), len(want))
		}
		if got, _ := s2.Ranges(ctx, "cam1", 0, maxStart); !slices.Equal(got, wantRanges) {
			t.Fatalf("round %d: ranges %v, want %v", round, got, wantRanges)
		}
		last := want[len(want)-1]
		if _, err := s2.WriteSegment(ctx, "cam1", media.Segment{Start: last.Start + 1000, Duration: 3000, InitHash: h, Data: []byte{1}}); err == nil {
			t.Fatal("overlapping write after reopen succeeded")
		}
		s2.Close()
	}
	if _, err := os.Stat(filepath.Join(hourDir(filepath.Join(root, "cam1"), t0), summaryName)); err != nil {
		t.Fatalf("no summary for a full hour: %v", err)
	}
}

// rs builds ranges from from, to pairs.
func rs(v ...int64) []sdk.Range {
	var out []sdk.Range
	for i := 0; i+1 < len(v); i += 2 {
		out = append(out, sdk.Range{From: v[i], To: v[i+1]})
	}
	return out
}

// naiveRanges is the definition of Ranges, applied to every segment.
func naiveRanges(segs []sdk.SegmentInfo, tol, from, to int64) []sdk.Range {
	var out []sdk.Range
	var lastDur int64
	for _, sg := range segs {
		if sg.Start >= to || sg.End() <= from {
			continue
		}
		if n := len(out); n > 0 && sg.Start-out[n-1].To <= max(tol, lastDur/10) {
			out[n-1].To = sg.End()
		} else {
			out = append(out, sdk.Range{From: sg.Start, To: sg.End()})
		}
		lastDur = sg.Duration
	}
	return out
}

func TestRanges(t *testing.T) {
	root := t.TempDir()
	s := newStore(t)
	open(t, s, root, "cam1")
	h := testInit(t, 1).Hash
	// start, duration
	layout := [][2]int64{
		{t0, 3000},
		{t0 + 3000 + 250, 3000}, // gap 250: joins (tolerance)
		{t0 + 6250 + 300, 3000}, // gap 300: joins (10% of 3000)
		{t0 + 9550 + 301, 3000}, // gap 301: splits
		{t0 + 12851, 3000},
		{t0 + hourMs - 1000, 2000}, // crosses into the next hour
		{t0 + hourMs + 1000, 3000}, // touches it
		{t0 + 3*hourMs, 3000},      // far later
	}
	for _, l := range layout {
		write(t, s, "cam1", l[0], l[1], h)
	}
	tests := []struct {
		name     string
		from, to int64
		want     []sdk.Range
	}{
		{"all", 0, maxStart, rs(t0, t0+9550, t0+9851, t0+15851, t0+hourMs-1000, t0+hourMs+4000, t0+3*hourMs, t0+3*hourMs+3000)},
		{"inside one segment", t0 + 100, t0 + 200, rs(t0, t0+3000)},
		{"middle of first range", t0 + 4000, t0 + 7000, rs(t0+3250, t0+9550)},
		{"across a split", t0 + 9000, t0 + 10000, rs(t0+6550, t0+9550, t0+9851, t0+12851)},
		{"in the gap", t0 + 9550, t0 + 9851, nil},
		{"segment crossing the hour, asked in the next hour", t0 + hourMs, t0 + hourMs + 500, rs(t0+hourMs-1000, t0+hourMs+1000)},
		{"empty hours", t0 + 2*hourMs, t0 + 3*hourMs, nil},
		{"empty query", t0 + 5, t0 + 5, nil},
		{"backwards query", t0 + 10, t0, nil},
		{"before everything", 0, t0, nil},
		{"exclusive end", t0 + 3*hourMs - 10, t0 + 3*hourMs, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Ranges(ctx, "cam1", tc.from, tc.to)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
	segs, err := s.Segments(ctx, "cam1", t0+3000, t0+hourMs)
	if err != nil || len(segs) != 5 || segs[0].Start != t0+3250 || segs[4].Start != t0+hourMs-1000 {
		t.Fatalf("segments %+v, %v", segs, err)
	}
}

// TestRangesMatchDefinition compares Ranges, which uses hour summaries, with
// the definition applied to every segment, on a random archive, before and
// after a reopen.
func TestRangesMatchDefinition(t *testing.T) {
	root := t.TempDir()
	s := newStore(t)
	open(t, s, root, "cam1")
	h := testInit(t, 1).Hash
	r := rand.New(rand.NewPCG(1, 2))
	start := t0
	for range 1500 {
		dur := 1000 + r.Int64N(14000)
		write(t, s, "cam1", start, dur, h)
		start += dur
		switch r.IntN(20) {
		case 0:
			start += r.Int64N(2 * hourMs)
		case 1, 2:
			start += r.Int64N(700)
		}
	}
	end := start
	check := func(s *Store) {
		all := allSegments(t, s, "cam1")
		for range 300 {
			from := t0 - hourMs + r.Int64N(end-t0+2*hourMs)
			to := from + r.Int64N(6*hourMs)
			got, err := s.Ranges(ctx, "cam1", from, to)
			if err != nil {
				t.Fatal(err)
			}
			if want := naiveRanges(all, 250, from, to); !slices.Equal(got, want) {
				t.Fatalf("ranges(%d, %d)\n got %v\nwant %v", from, to, got, want)
			}
			segs, _ := s.Segments(ctx, "cam1", from, to)
			var want []sdk.SegmentInfo
			for _, sg := range all {
				if sg.Start >= from && sg.Start < to {
					want = append(want, sg)
				}
			}
			if !slices.Equal(segs, want) {
				t.Fatalf("segments(%d, %d): %d, want %d", from, to, len(segs), len(want))
			}
		}
	}
	check(s)
	s.Close()
	s2 := newStore(t)
	open(t, s2, root, "cam1")
	check(s2)
}

// TestCorruptIndex damages index and summary files and checks what a reopen
// makes of them.
func TestCorruptIndex(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "cam1")
	s := newStore(t)
	open(t, s, root, "cam1")
	h := testInit(t, 1).Hash
	for hour := range int64(4) {
		for i := range int64(10) {
			write(t, s, "cam1", t0+hour*hourMs+i*3000, 3000, h)
		}
	}
	want := allSegments(t, s, "cam1")
	s.Close()

	newest := hourDir(dir, t0+3*hourMs)
	idx := filepath.Join(newest, indexName)
	data, _ := os.ReadFile(idx)
	lines := strings.SplitAfter(string(data), "\n")
	// Newest hour: one line garbled, one missing, the last torn.
	lines[2] = "garbage\n"
	lines = slices.Delete(lines, 4, 5)
	damaged := strings.Join(lines[:len(lines)-2], "") + lines[len(lines)-2][:10]
	os.WriteFile(idx, []byte(damaged), 0o644)
	// A middle hour: a stale summary and a bad line in its index.
	mid := hourDir(dir, t0+hourMs)
	os.WriteFile(filepath.Join(mid, summaryName), []byte("dvrstore-summary 1 5 250 1 1 1\n1 2 1\n00000000\n"), 0o644)
	// Leftovers of an interrupted write.
	os.WriteFile(filepath.Join(dir, tmpDirName, "w-123"), []byte("torn"), 0o644)

	s2 := newStore(t)
	open(t, s2, root, "cam1")
	got := allSegments(t, s2, "cam1")
	if !slices.Equal(got, want) {
		t.Fatalf("%d segments after repair, want %d", len(got), len(want))
	}
	checkSegments(t, s2, "cam1", got)
	if names, _ := readDirNames(filepath.Join(dir, tmpDirName)); len(names) != 0 {
		t.Fatalf(".tmp not emptied: %v", names)
	}
	rewritten, _ := os.ReadFile(idx)
	if !bytes.Equal(rewritten, data) {
		t.Fatalf("newest index not rebuilt:\n%s\nwant\n%s", rewritten, data)
	}
	// The next write appends cleanly after the repaired index.
	write(t, s2, "cam1", t0+3*hourMs+30000, 3000, h)
	s2.Close()

	// A bad line in an hour that is not reconciled only loses that line.
	idx = filepath.Join(mid, indexName)
	data, _ = os.ReadFile(idx)
	os.WriteFile(idx, bytes.Replace(data, []byte(" 3000 "), []byte(" 3x00 "), 1), 0o644)
	s3 := newStore(t)
	open(t, s3, root, "cam1")
	if got := allSegments(t, s3, "cam1"); len(got) != len(want) {
		t.Fatalf("%d segments, want %d (one lost line)", len(got), len(want))
	}
}

func TestConcurrentReadersAndWriter(t *testing.T) {
	root := t.TempDir()
	s := newStore(t)
	open(t, s, root, "cam1")
	h := testInit(t, 1).Hash
	const n = 300
	var wg sync.WaitGroup
	done := make(chan struct{})
	for r := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				segs, err := s.Segments(ctx, "cam1", 0, maxStart)
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := s.Ranges(ctx, "cam1", t0+int64(r)*1000, t0+hourMs*3); err != nil {
					t.Error(err)
					return
				}
				if len(segs) > 0 {
					if _, err := s.ReadSegment(ctx, "cam1", segs[len(segs)/2].Start); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	for i := range int64(n) {
		write(t, s, "cam1", t0+i*20000, 3000, h) // crosses hours every 180 segments
	}
	close(done)
	wg.Wait()
	if got := len(allSegments(t, s, "cam1")); got != n {
		t.Fatalf("%d segments, want %d", got, n)
	}
}

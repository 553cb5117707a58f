package dvrstore

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/edgedvr/edge/internal/tmpfs"
	"github.com/edgedvr/edge/media"
	"github.com/edgedvr/edge/sdk"
)

// checkArchive checks the stream's archive on disk: no temp file is
// left, every index line is whole and parses, every listed segment file
// holds its bytes, and the listing is want.
func checkArchive(t *testing.T, s *Store, root string, want []int64) {
	t.Helper()
	dir := filepath.Join(root, "cam1")
	if names, err := readDirNames(filepath.Join(dir, tmpDirName)); err != nil || len(names) != 0 {
		t.Fatalf("temp files left: %v %v", names, err)
	}
	keys, err := scanHours(dir)
	if err != nil {
		t.Fatal(err)
	}
	lines := 0
	for _, key := range keys {
		segs, bad, torn, _, err := loadIndex(hourDir(dir, key), key)
		if err != nil || bad > 0 || torn {
			t.Fatalf("index of hour %d: %d bad lines, torn %v, %v", key, bad, torn, err)
		}
		lines += len(segs)
		for _, e := range segs {
			if _, err := os.Stat(filepath.Join(hourDir(dir, key), segmentName(e.start, e.dur, e.hash))); err != nil {
				t.Fatalf("index lists %d but its file: %v", e.start, err)
			}
		}
	}
	segs := allSegments(t, s, "cam1")
	var got []int64
	for _, si := range segs {
		got = append(got, si.Start)
	}
	if !slices.Equal(got, want) || lines != len(want) {
		t.Fatalf("listed %v (%d index lines), want %v", got, lines, want)
	}
	checkSegments(t, s, "cam1", segs)
}

// TestDiskFull fills a real (tmpfs) filesystem under the store: a write
// then fails with an error that is sdk.ErrNoSpace-like and temporary,
// leaves no temp file, segment file or partial index line behind (also
// when the disk fills in the middle of the index line), and the same
// write succeeds once space is freed; a reopened store lists exactly what
// was acknowledged.
func TestDiskFull(t *testing.T) {
	root := tmpfs.Mount(t, 4<<20)
	s := New(nil)
	t.Cleanup(func() { s.Close() })
	open(t, s, root, "cam1")
	init := testInit(t, 1)
	if err := s.WriteInit(ctx, "cam1", init); err != nil {
		t.Fatal(err)
	}
	seg := func(start int64) media.Segment {
		return media.Segment{Start: start, Duration: 3000, InitHash: init.Hash, Data: segData(start, 1000)}
	}
	// Write until the next index line would cross a page: the disk then
	// fills in the middle of that line.
	st, _ := s.stream("cam1")
	indexPath := filepath.Join(hourDir(st.dir, hourOf(t0)), indexName)
	_, page := tmpfs.FreeBlocks(t, root)
	var want []int64
	start := t0
	for {
		if _, err := s.WriteSegment(ctx, "cam1", seg(start)); err != nil {
			t.Fatal(err)
		}
		want = append(want, start)
		start += 3000
		fi, err := os.Stat(indexPath)
		if err != nil {
			t.Fatal(err)
		}
		next := len(appendIndexLine(nil, segEntry{start: start, dur: 3000, size: 1000, hash: init.Hash}))
		if room := page - fi.Size()%page; room < int64(next) && room > 1 {
			break
		}
	}
	filler := tmpfs.Fill(t, root)

	// 1. No room at all: the segment's temp file cannot be written.
	_, err := s.WriteSegment(ctx, "cam1", seg(start))
	if !sdk.IsNoSpace(err) || sdk.IsPermanent(err) {
		t.Fatalf("write on a full disk: %v; want a temporary no-space error", err)
	}
	checkArchive(t, s, root, want)

	// 2. Room for the segment's file only: the disk fills in the middle of
	// its index line, which must be cut back and the file removed.
	for {
		free, _ := tmpfs.FreeBlocks(t, root)
		if free >= 1 {
			break
		}
		fi, err := os.Stat(filler)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(filler, max(fi.Size()-page, 0)); err != nil {
			t.Fatal(err)
		}
	}
	if free, _ := tmpfs.FreeBlocks(t, root); free != 1 {
		t.Fatalf("%d free blocks, want exactly 1", free)
	}
	before, err := os.Stat(indexPath)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.WriteSegment(ctx, "cam1", seg(start))
	if !sdk.IsNoSpace(err) || sdk.IsPermanent(err) {
		t.Fatalf("write that fills the disk in its index line: %v; want a temporary no-space error", err)
	}
	if after, err := os.Stat(indexPath); err != nil || after.Size() != before.Size() {
		t.Fatalf("index %d bytes after the failed append, was %d (%v)", after.Size(), before.Size(), err)
	}
	checkArchive(t, s, root, want)

	// 3. Space freed: the same segment is written, and recording goes on.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := s.WriteSegment(ctx, "cam1", seg(start)); err != nil {
			t.Fatalf("write after space was freed: %v", err)
		}
		want = append(want, start)
		start += 3000
	}
	checkArchive(t, s, root, want)

	// 4. What was acknowledged comes back after a restart.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = New(nil)
	t.Cleanup(func() { s.Close() })
	open(t, s, root, "cam1")
	checkArchive(t, s, root, want)
}

// TestTornIndexTailCutBeforeAppend leaves a torn line at the end of the
// open hour's index (as an append that failed and could not be cut back
// would): the next append cuts it first, so no line is lost or merged.
func TestTornIndexTailCutBeforeAppend(t *testing.T) {
	root := t.TempDir()
	s := newStore(t)
	open(t, s, root, "cam1")
	h := testInit(t, 1).Hash
	var want []int64
	for i := range int64(3) {
		write(t, s, "cam1", t0+i*3000, 3000, h)
		want = append(want, t0+i*3000)
	}
	st, _ := s.stream("cam1")
	path := filepath.Join(hourDir(st.dir, hourOf(t0)), indexName)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("1710046809000 30"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	st.writeMu.Lock()
	st.closeIndex() // as after a failed append
	st.writeMu.Unlock()
	write(t, s, "cam1", t0+9000, 3000, h)
	want = append(want, t0+9000)
	checkArchive(t, s, root, want)
}

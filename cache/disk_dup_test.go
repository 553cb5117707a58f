package cache

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgedvr/edge/media"
)

// writeSegFile writes a segment file for stream under root as Put names it
// and returns its path.
func writeSegFile(t *testing.T, root, stream string, start, dur int64, data []byte, mtime time.Time) string {
	t.Helper()
	name, err := SegmentName{Start: start, Duration: dur, Size: int64(len(data)), InitHash: "abcdef0123456789", Checksum: media.Checksum(data)}.Format()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, stream)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestDiskTwoFilesOneStart: two cached files for one start (a segment cached
// from two sources that cut it with different durations, left by a delete
// that failed) are one entry: the bytes are counted once, the newer file is
// kept and the other deleted, and removing the entry later neither panics
// nor leaves the byte count off.
func TestDiskTwoFilesOneStart(t *testing.T) {
	root := t.TempDir()
	old := time.Unix(1_700_000_000, 0)
	older := writeSegFile(t, root, "cam1", base, 3000, segData(base, 1000), old)
	newer := writeSegFile(t, root, "cam1", base, 4000, segData(base+1, 700), old.Add(time.Minute))
	writeSegFile(t, root, "cam1", base+4000, 3000, segData(base+4000, 500), old.Add(2*time.Minute))

	clock := &fakeClock{}
	clock.Set(time.UnixMilli(base))
	d := openDisk(t, DiskConfig{Root: root, Depth: time.Hour, Now: clock.Now})
	if st := d.Stats(); st.Bytes != 1200 || st.Entries != 2 {
		t.Errorf("after open: bytes %d entries %d, want 1200 and 2 (one file per start)", st.Bytes, st.Entries)
	}
	info, ok := d.Get("cam1", base)
	if !ok || info.Path != newer || info.Duration != 4000 {
		t.Errorf("get: %+v %v, want the newer file %s", info, ok, newer)
	}
	if _, err := os.Stat(older); !os.IsNotExist(err) {
		t.Errorf("older duplicate still on disk: %v", err)
	}
	if l := d.List("cam1", base, base+10000); len(l) != 2 || l[0].Start != base || l[1].Start != base+4000 {
		t.Errorf("list: %+v", l)
	}

	// Age everything out: removal must not panic and must end at zero.
	clock.Add(2 * time.Hour)
	d.Trim()
	if st := d.Stats(); st.Bytes != 0 || st.Entries != 0 {
		t.Fatalf("after trim: bytes %d entries %d, want 0 and 0", st.Bytes, st.Entries)
	}
	for _, p := range []string{older, newer} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Fatalf("%s still on disk after trim: %v", p, err)
		}
	}
}

// TestDiskTwoFilesOneStartMaxSize: the same duplicate evicted by size (the
// LRU path) must not panic either.
func TestDiskTwoFilesOneStartMaxSize(t *testing.T) {
	root := t.TempDir()
	old := time.Unix(1_700_000_000, 0)
	writeSegFile(t, root, "cam1", base, 3000, segData(base, 1000), old)
	writeSegFile(t, root, "cam1", base, 4000, segData(base+1, 700), old.Add(time.Minute))
	d := openDisk(t, DiskConfig{Root: root, MaxSize: 1000})
	if st := d.Stats(); st.Bytes != 700 || st.Entries != 1 {
		t.Errorf("after open: bytes %d entries %d, want 700 and 1", st.Bytes, st.Entries)
	}
	// A Put past MaxSize evicts the least recently used: the duplicate's start.
	if err := d.Put("cam1", segInfo(base+4000, 3000), segData(base+4000, 600)); err != nil {
		t.Fatal(err)
	}
	if st := d.Stats(); st.Bytes != 600 || st.Entries != 1 {
		t.Fatalf("after put: bytes %d entries %d, want 600 and 1", st.Bytes, st.Entries)
	}
	if _, ok := d.Get("cam1", base); ok {
		t.Fatal("evicted start still served")
	}
	if _, ok := d.Get("cam1", base+4000); !ok {
		t.Fatal("new segment not served")
	}
}

// TestDiskUnlinkOutsideLock: deleting an evicted file does not hold the
// index lock, so reads and other writes go on while it runs; and the path
// being deleted is not written again until the delete is done (it would
// otherwise delete the fresh file behind the index's back). The eviction
// that makes room for b comes before b is written (its room is reserved
// first), so during the delete b is pending, not yet indexed.
func TestDiskUnlinkOutsideLock(t *testing.T) {
	d := openDisk(t, DiskConfig{MaxSize: 1500})
	a, b, c := base, base+3000, base+6000
	if err := d.Put("cam1", segInfo(a, 3000), segData(a, 1000)); err != nil {
		t.Fatal(err)
	}
	aInfo, _ := d.Get("cam1", a)
	entered, release := make(chan string, 1), make(chan struct{})
	d.remove = func(p string) error {
		entered <- p
		<-release
		return os.Remove(p)
	}
	putB := make(chan error, 1)
	go func() { putB <- d.Put("cam1", segInfo(b, 3000), segData(b, 1000)) }()
	if p := <-entered; p != aInfo.Path {
		t.Fatalf("unlinking %s, want the evicted %s", p, aInfo.Path)
	}
	// The unlink of a is blocked: reads and writes of the index must not be.
	done := make(chan struct{})
	go func() {
		defer close(done)
		if _, ok := d.Get("cam1", b); ok {
			t.Error("get b during the unlink of a, before b is written: hit")
		}
		if data, _, ok := d.Pending("cam1", b); !ok || !bytes.Equal(data, segData(b, 1000)) {
			t.Errorf("pending b during the unlink of a: %v", ok)
		}
		if _, ok := d.Get("cam1", a); ok {
			t.Error("get a during its unlink: hit")
		}
		if l := d.List("cam1", a, c+3000); len(l) != 0 {
			t.Errorf("list during the unlink: %+v", l)
		}
		// a again, same bytes, same file name: skipped while it is deleted.
		if err := d.Put("cam1", segInfo(a, 3000), segData(a, 1000)); err != nil {
			t.Errorf("put a during its unlink: %v", err)
		}
		if _, ok := d.Get("cam1", a); ok {
			t.Error("put a during its unlink indexed it")
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("index calls blocked behind a file delete")
	}
	close(release)
	if err := <-putB; err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(aInfo.Path); !os.IsNotExist(err) {
		t.Fatalf("evicted file still on disk: %v", err)
	}
	if _, ok := d.Get("cam1", b); !ok {
		t.Fatal("b not cached after its put returned")
	}
	// The delete is done: a can be cached again (evicting b) and its file is there.
	d.remove = os.Remove
	if err := d.Put("cam1", segInfo(a, 3000), segData(a, 1000)); err != nil {
		t.Fatal(err)
	}
	got, ok := d.Get("cam1", a)
	if !ok {
		t.Fatal("a not cached after its delete finished")
	}
	if _, err := os.Stat(got.Path); err != nil {
		t.Fatalf("cached a has no file: %v", err)
	}
	if st := d.Stats(); st.Bytes != 1000 || st.Entries != 1 {
		t.Fatalf("bytes %d entries %d, want 1000 and 1", st.Bytes, st.Entries)
	}
}

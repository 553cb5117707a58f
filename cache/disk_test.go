package cache

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgedvr/edge/media"
	"github.com/edgedvr/edge/sdk"
)

// fakeClock is a settable clock for Depth.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) Now() time.Time        { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Set(t time.Time)       { c.ns.Store(t.UnixNano()) }
func (c *fakeClock) Add(d time.Duration)   { c.ns.Add(int64(d)) }
func quietLogger() *slog.Logger            { return slog.New(slog.DiscardHandler) }
func segData(start int64, size int) []byte { return bytes.Repeat([]byte{byte(start / 3000)}, size) }
func segInfo(start, dur int64) sdk.SegmentInfo {
	return sdk.SegmentInfo{Start: start, Duration: dur, InitHash: "abcdef0123456789"}
}

// base is a UTC ms used as the start of test timelines.
const base = int64(1_700_000_000_000)

func openDisk(t *testing.T, cfg DiskConfig) *Disk {
	t.Helper()
	if cfg.Root == "" {
		cfg.Root = t.TempDir()
	}
	d, err := OpenDisk(cfg, quietLogger())
	if err != nil {
		t.Fatalf("open disk cache: %v", err)
	}
	return d
}

func TestDiskPutGetList(t *testing.T) {
	d := openDisk(t, DiskConfig{})
	// Put out of order: List must still be sorted.
	for _, i := range []int64{2, 0, 1, 3} {
		start := base + i*3000
		if err := d.Put("cam1", segInfo(start, 3000), segData(start, 1000)); err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
	}
	info, ok := d.Get("cam1", base+3000)
	if !ok {
		t.Fatal("get: miss for a cached segment")
	}
	b, err := os.ReadFile(info.Path)
	if err != nil {
		t.Fatalf("read cached file: %v", err)
	}
	if !bytes.Equal(b, segData(base+3000, 1000)) || info.Size != 1000 || info.Checksum != media.Checksum(b) || info.Duration != 3000 {
		t.Fatalf("get: info %+v does not describe the bytes", info)
	}
	if !filepath.IsAbs(info.Path) || filepath.Dir(filepath.Dir(info.Path)) != d.Root() {
		t.Fatalf("path %q is not under the cache root %q", info.Path, d.Root())
	}
	if _, ok := d.Get("cam1", base+1); ok {
		t.Fatal("get: hit for a start that is not cached")
	}
	if _, ok := d.Get("cam2", base); ok {
		t.Fatal("get: hit for another stream")
	}
	l := d.List("cam1", base+3000, base+12000)
	if len(l) != 3 || l[0].Start != base+3000 || l[1].Start != base+6000 || l[2].Start != base+9000 {
		t.Fatalf("list: got %+v", l)
	}
	// Putting it again is a no-op.
	if err := d.Put("cam1", segInfo(base, 3000), segData(base, 1000)); err != nil {
		t.Fatalf("put again: %v", err)
	}
	if s := d.Stats(); s.Entries != 4 || s.Bytes != 4000 || s.Hits != 1 || s.Misses != 2 {
		t.Fatalf("stats: %+v", s)
	}
}

func TestDiskPutRejects(t *testing.T) {
	d := openDisk(t, DiskConfig{})
	good := segData(base, 100)
	tests := []struct {
		name   string
		stream string
		info   sdk.SegmentInfo
		data   []byte
	}{
		{"traversal", "../evil", segInfo(base, 3000), good},
		{"slash", "a/b", segInfo(base, 3000), good},
		{"backslash", `a\b`, segInfo(base, 3000), good},
		{"dot start", ".tmp", segInfo(base, 3000), good},
		{"empty stream", "", segInfo(base, 3000), good},
		{"no data", "cam", segInfo(base, 3000), nil},
		{"bad checksum", "cam", sdk.SegmentInfo{Start: base, Duration: 3000, InitHash: "ab", Checksum: "00000000"}, good},
		{"bad size", "cam", sdk.SegmentInfo{Start: base, Duration: 3000, InitHash: "ab", Size: 7}, good},
		{"no duration", "cam", sdk.SegmentInfo{Start: base, InitHash: "ab"}, good},
		{"init hash with slash", "cam", sdk.SegmentInfo{Start: base, Duration: 3000, InitHash: "../x"}, good},
		{"init hash with underscore", "cam", sdk.SegmentInfo{Start: base, Duration: 3000, InitHash: "a_b"}, good},
		{"negative start", "cam", sdk.SegmentInfo{Start: -1, Duration: 3000, InitHash: "ab"}, good},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := d.Put(tt.stream, tt.info, tt.data); err == nil {
				t.Fatal("put accepted it")
			}
		})
	}
	if s := d.Stats(); s.Entries != 0 {
		t.Fatalf("rejected puts left %d entries", s.Entries)
	}
	// Nothing was written outside the root.
	parent := filepath.Dir(d.Root())
	if _, err := os.Stat(filepath.Join(parent, "evil")); err == nil {
		t.Fatal("a file escaped the cache root")
	}
	if _, ok := d.GetInit("cam", "../../etc/passwd"); ok {
		t.Fatal("get init accepted a traversal hash")
	}
	if _, ok := d.GetInit("../cam", "ab"); ok {
		t.Fatal("get init accepted a traversal stream")
	}
}

func TestDiskMaxSize(t *testing.T) {
	const segSize, maxSize = 1000, 10_500
	d := openDisk(t, DiskConfig{MaxSize: maxSize})
	for i := int64(0); i < 40; i++ {
		start := base + i*3000
		if err := d.Put("cam", segInfo(start, 3000), segData(start, segSize)); err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
		// Keep segment 0 recently used: it must survive.
		if _, ok := d.Get("cam", base); !ok {
			t.Fatalf("after put %d: recently used segment 0 was evicted", i)
		}
		if s := d.Stats(); s.Bytes > maxSize {
			t.Fatalf("after put %d: %d bytes, over max size %d", i, s.Bytes, maxSize)
		}
	}
	s := d.Stats()
	if s.Bytes < maxSize-segSize {
		t.Fatalf("%d bytes held: more than one segment under max size %d", s.Bytes, maxSize)
	}
	if s.Evictions != 30 {
		t.Fatalf("evictions: got %d, want 30", s.Evictions)
	}
	// The files on disk match the index.
	files, _ := filepath.Glob(filepath.Join(d.Root(), "cam", "*.m4s"))
	if int64(len(files)) != s.Entries {
		t.Fatalf("%d files on disk, %d entries", len(files), s.Entries)
	}
	// The newest ones are kept, the oldest unused gone.
	if _, ok := d.Get("cam", base+39*3000); !ok {
		t.Fatal("newest segment evicted")
	}
	if _, ok := d.Get("cam", base+3000); ok {
		t.Fatal("oldest unused segment kept")
	}
	// A segment larger than the whole cache is not stored.
	if err := d.Put("cam", segInfo(base+1e6, 3000), segData(0, maxSize+1)); err != nil {
		t.Fatalf("put of a too-large segment: %v", err)
	}
	if _, ok := d.Get("cam", base+1e6); ok {
		t.Fatal("too-large segment stored")
	}
}

func TestDiskDepth(t *testing.T) {
	var clock fakeClock
	now := time.UnixMilli(base + 3600_000)
	clock.Set(now)
	d := openDisk(t, DiskConfig{Depth: time.Hour, Now: clock.Now})
	// Segments from 1 h ago to now, one every 10 minutes.
	for i := int64(0); i <= 6; i++ {
		start := base + i*600_000
		if err := d.Put("cam", segInfo(start, 3000), segData(start, 100)); err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
	}
	// Older than depth: not stored.
	if err := d.Put("cam", segInfo(base-10_000, 3000), segData(0, 100)); err != nil {
		t.Fatalf("put old: %v", err)
	}
	if _, ok := d.Get("cam", base-10_000); ok {
		t.Fatal("a segment older than depth was stored")
	}
	if n := len(d.List("cam", 0, base*2)); n != 7 {
		t.Fatalf("list: %d segments, want 7", n)
	}
	path := d.List("cam", base, base+1)[0].Path
	clock.Add(25 * time.Minute) // segments 0, 1 and 2 fall out
	if n := len(d.List("cam", 0, base*2)); n != 4 {
		t.Fatalf("list after 25 min: %d segments, want 4", n)
	}
	if _, ok := d.Get("cam", base); ok {
		t.Fatal("get: expired segment served")
	}
	d.Trim()
	if s := d.Stats(); s.Entries != 4 {
		t.Fatalf("after trim: %d entries, want 4", s.Entries)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("expired file still on disk: %v", err)
	}
}

func TestDiskMisses(t *testing.T) {
	tests := []struct {
		misses int
		want   []bool
	}{
		{0, []bool{true, true}},
		{1, []bool{true, true}},
		{3, []bool{false, false, true, false, false, true}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.misses), func(t *testing.T) {
			d := openDisk(t, DiskConfig{Misses: tt.misses})
			for i, w := range tt.want {
				if got := d.Want("cam", base); got != w {
					t.Fatalf("request %d: want %v, got %v", i+1, w, got)
				}
			}
			// Counts are per segment.
			if tt.misses == 3 && d.Want("cam", base+3000) {
				t.Fatal("first request of another segment wanted with misses=3")
			}
		})
	}
}

func TestDiskRestart(t *testing.T) {
	root := t.TempDir()
	d := openDisk(t, DiskConfig{Root: root})
	for i := int64(0); i < 5; i++ {
		start := base + i*3000
		if err := d.Put("cam", segInfo(start, 3000), segData(start, 500)); err != nil {
			t.Fatal(err)
		}
	}
	init := media.Init{Data: []byte("ftyp-moov-bytes"), Codecs: "avc1.64001f", Width: 640, Height: 360}
	init.Hash = media.InitHash(init.Data)
	if err := d.PutInit("cam", init); err != nil {
		t.Fatalf("put init: %v", err)
	}
	// Leftovers of a crash: a temp file of an interrupted write, a torn
	// file under a final name (size differs from its name), junk.
	if err := os.WriteFile(filepath.Join(root, ".tmp", "put-123"), []byte("half"), 0o644); err != nil {
		t.Fatal(err)
	}
	torn := SegmentName{Start: base + 99_000, Duration: 3000, Size: 1000, InitHash: "ab", Checksum: "01234567"}
	tornName, _ := torn.Format()
	if err := os.WriteFile(filepath.Join(root, "cam", tornName), []byte("short"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, "cam", "notes.txt"), []byte("x"), 0o644)
	os.Mkdir(filepath.Join(root, "bad name"), 0o755)

	d2 := openDisk(t, DiskConfig{Root: root})
	if s := d2.Stats(); s.Entries != 5 || s.Bytes != 2500 {
		t.Fatalf("after restart: %+v, want 5 entries of 2500 bytes", s)
	}
	for i := int64(0); i < 5; i++ {
		start := base + i*3000
		info, ok := d2.Get("cam", start)
		if !ok {
			t.Fatalf("segment %d lost on restart", i)
		}
		b, err := os.ReadFile(info.Path)
		if err != nil || !bytes.Equal(b, segData(start, 500)) || info.Duration != 3000 || info.InitHash != "abcdef0123456789" {
			t.Fatalf("segment %d after restart: %+v %v", i, info, err)
		}
	}
	if _, ok := d2.Get("cam", torn.Start); ok {
		t.Fatal("torn file served")
	}
	if _, err := os.Stat(filepath.Join(root, "cam", tornName)); !os.IsNotExist(err) {
		t.Fatal("torn file not deleted")
	}
	if left, _ := os.ReadDir(filepath.Join(root, ".tmp")); len(left) != 0 {
		t.Fatalf("temp leftovers not deleted: %v", left)
	}
	got, ok := d2.GetInit("cam", init.Hash)
	if !ok || !bytes.Equal(got.Data, init.Data) || got.Codecs != init.Codecs || got.Width != 640 {
		t.Fatalf("init after restart: %+v %v", got, ok)
	}
}

func TestDiskInit(t *testing.T) {
	d := openDisk(t, DiskConfig{})
	init := media.Init{Data: []byte("init-bytes")}
	init.Hash = media.InitHash(init.Data)
	if _, ok := d.GetInit("cam", init.Hash); ok {
		t.Fatal("init found before put")
	}
	bad := init
	bad.Hash = "0000000000000000"
	if err := d.PutInit("cam", bad); err == nil {
		t.Fatal("put init accepted a wrong hash")
	}
	if err := d.PutInit("../x", init); err == nil {
		t.Fatal("put init accepted a traversal stream")
	}
	if err := d.PutInit("cam", init); err != nil {
		t.Fatal(err)
	}
	// A corrupted init file is not served.
	os.WriteFile(filepath.Join(d.Root(), "cam", "init_"+init.Hash+".json"), []byte(`{"Hash":"`+init.Hash+`","Data":"AAAA"}`), 0o644)
	if _, ok := d.GetInit("cam", init.Hash); ok {
		t.Fatal("corrupted init served")
	}
}

func TestDiskConcurrent(t *testing.T) {
	const maxSize = 20_000
	d := openDisk(t, DiskConfig{MaxSize: maxSize, Misses: 2})
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int64(0); i < 60; i++ {
				start := base + (i%30)*3000
				if info, ok := d.Get("cam", start); ok {
					if b, err := os.ReadFile(info.Path); err == nil && media.Checksum(b) != info.Checksum {
						t.Errorf("segment %d: file does not match its checksum", start)
					}
					continue
				}
				if d.Want("cam", start) {
					if err := d.Put("cam", segInfo(start, 3000), segData(start, 1000)); err != nil {
						t.Errorf("put: %v", err)
					}
				}
			}
		}()
	}
	wg.Wait()
	if s := d.Stats(); s.Bytes > maxSize || s.Bytes <= 0 {
		t.Fatalf("bytes %d not within (0, %d]", s.Bytes, maxSize)
	}
}

// FuzzParseSegmentName checks that the file-name parser never panics, that
// what it accepts is canonical (formats back to the same name) and can
// never name a path outside the stream directory.
func FuzzParseSegmentName(f *testing.F) {
	for _, s := range []string{
		"1700000000000_3000_1000_abcdef0123456789_0badf00d.m4s",
		"0_1_1_a_b.m4s",
		"01_3000_1000_ab_cd.m4s",
		"1_3000_1000_ab_cd.mp4",
		"1_3000_1000_../x_cd.m4s",
		"init_abcdef0123456789.json",
		"-5_3000_1000_ab_cd.m4s",
		"9223372036854775807_3000_1_ab_cd.m4s",
		"99999999999999999999_3000_1_ab_cd.m4s",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		n, err := ParseSegmentName(name)
		if err == nil {
			back, ferr := n.Format()
			if ferr != nil || back != name {
				t.Fatalf("parsed %q to %+v, formats to %q (%v)", name, n, back, ferr)
			}
			if filepath.Base(name) != name || name == "." || name == ".." {
				t.Fatalf("accepted %q, which is not a plain file name", name)
			}
			if n.Duration <= 0 || n.Size <= 0 || n.Start < 0 {
				t.Fatalf("accepted %q with non-positive fields %+v", name, n)
			}
		}
		if h, err := ParseInitName(name); err == nil {
			if "init_"+h+".json" != name || filepath.Base(name) != name {
				t.Fatalf("init name %q parsed to %q", name, h)
			}
		}
	})
}

package media

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSegmenterReuseMemory: with ReuseData a stream with audio holds in
// memory no more than one full segment, plus the start of the next one
// while a cut one waits for its audio (not two full ones), and an emitted
// segment's memory goes back: between segments the stream holds much less
// than one: a buffer waiting for the next segment while another one is
// open holds no pages (the open one moved into the pages of the segment
// just emitted).
func TestSegmenterReuseMemory(t *testing.T) {
	// 12 s at 4 Mbit/s with AAC, a keyframe every 2 s: segments of
	// about 1 MB, as a broadcast feed's.
	ff := needTool(t, "ffmpeg")
	path := filepath.Join(t.TempDir(), "in.ts")
	if out, err := exec.Command(ff, "-v", "error", "-nostdin", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25",
		"-f", "lavfi", "-i", "sine=frequency=440", "-t", "12", "-c:v", "libx264", "-preset", "ultrafast",
		"-b:v", "4M", "-minrate", "4M", "-maxrate", "4M", "-bufsize", "2M", "-g", "50", "-pix_fmt", "yuv420p",
		"-c:a", "aac", "-f", "mpegts", path).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	ts, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, mapped := range []bool{true, false} {
		name := map[bool]string{true: "mapped", false: "go memory"}[mapped]
		t.Run(name, func(t *testing.T) { reuseMemory(t, ts, mapped) })
	}
}

// reuseMemory feeds ts to a segmenter with ReuseData, its segments built
// in mappings or (as where the system refuses them) in Go memory.
func reuseMemory(t *testing.T, ts []byte, mapped bool) {
	var segs, largest, held, waiting int
	s := NewSegmenter(SegmenterConfig{
		ReuseData:      true,
		TargetDuration: time.Second,
		Now:            fixedClock(),
		OnSegment: func(sg Segment) {
			segs++
			largest = max(largest, len(sg.Data))
		},
	})
	s.noPages = !mapped
	for p := ts; len(p) > 0; {
		c := min(len(p), 1316)
		if _, err := s.Write(p[:c]); err != nil {
			t.Fatal(err)
		}
		p = p[c:]
		if segs > 2 { // past the first segments, which size the buffers
			held = max(held, s.heldBytes())
			for _, g := range s.free {
				if g.pages != nil {
					idle := g.pages.Resident() * os.Getpagesize()
					if s.open != nil {
						waiting++
					}
					if s.open != nil && idle > 0 {
						t.Fatalf("a buffer waiting for the next segment holds %d bytes while one is open, want none", idle)
					}
				}
			}
		}
	}
	s.Flush()
	if segs < 4 || s.audioPID < 0 || largest < 500<<10 {
		t.Fatalf("%d segments of up to %d bytes, audio PID %d: the input must have audio and enough large segments", segs, largest, s.audioPID)
	}
	// One buffer of the stream's segments and an eighth, a quarter of that
	// for the next segment's start (or a little more, when it grew), and
	// their headers' room; two full buffers would be over 2 × largest.
	limit := largest*3/2 + 2*minGap + 64<<10
	t.Logf("segments up to %d bytes; buffers hold up to %d bytes (limit %d)", largest, held, limit)
	if held > limit {
		t.Errorf("buffers hold %d bytes for segments of up to %d, want at most %d", held, largest, limit)
	}
	if !mapped {
		return // one buffer sized to the stream, kept between segments
	}
	if waiting == 0 {
		t.Error("no buffer was ever seen waiting for a segment while one was open: the check above saw nothing")
	}
	s.Flush()
	if h := s.heldBytes(); h > 2*populateStep {
		t.Errorf("%d bytes held after the last segment was flushed, want at most %d", h, 2*populateStep)
	}
}

// heldBytes is the memory of the segment buffers the segmenter holds: the
// resident pages of a mapped buffer, the capacity of one in Go memory.
func (s *Segmenter) heldBytes() int {
	n := 0
	for _, g := range append([]*segBuilder{s.open, s.closing}, s.free...) {
		if g == nil {
			continue
		}
		if g.pages != nil && g.pages.Holds(g.vdata) {
			n += g.pages.Resident() * os.Getpagesize()
		} else {
			n += cap(g.vdata)
		}
		n += cap(g.adata)
	}
	return n
}

// vmSize is the process's mapped address space, from /proc/self/status.
func vmSize(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status")
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmSize:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("VmSize %q: %v", v, err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmSize in /proc/self/status")
	return 0
}

// TestSegmenterMappingsFreed: a Segmenter that is dropped gives its
// segment mappings back (an input that restarts makes a new one each
// time), without any call.
func TestSegmenterMappingsFreed(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("segments are built in mappings on Linux only")
	}
	ts, err := os.ReadFile(filepath.Join("testdata", "edge.ts"))
	if err != nil {
		t.Fatal(err)
	}
	const n = 20
	before := vmSize(t)
	var made int64
	func() {
		var keep []*Segmenter
		for range n {
			var segs int
			s := NewSegmenter(SegmenterConfig{ReuseData: true, Now: fixedClock(), OnSegment: func(Segment) { segs++ }})
			if _, err := s.Write(ts); err != nil {
				t.Fatal(err)
			}
			s.Flush()
			if segs == 0 || s.noPages {
				t.Fatalf("%d segments, mappings refused: %v; the test needs both", segs, s.noPages)
			}
			keep = append(keep, s)
		}
		made = vmSize(t) - before
		runtime.KeepAlive(keep)
	}()
	if made < n*mapBytes {
		t.Fatalf("address space grew by %d bytes for %d segmenters, want at least %d: were mappings made?", made, n, n*mapBytes)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		runtime.GC()
		left := vmSize(t) - before
		if left < 2*mapBytes {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d bytes of address space still mapped 10 s after %d segmenters were dropped (%d right after)", left, n, made)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

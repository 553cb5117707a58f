package media

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestSegmenterReuseMemory: with ReuseData a stream with audio holds in
// memory no more than one full segment, plus the start of the next one
// while a cut one waits for its audio (not two full ones), and an emitted
// segment's memory goes back: between segments the stream holds much less
// than one.
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
	var segs, largest, held int
	least := -1
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
			h := s.heldBytes()
			held = max(held, h)
			if least < 0 || h < least {
				least = h
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
	t.Logf("least held between segments: %d bytes", least)
	if least > largest/2 {
		t.Errorf("buffers held at least %d bytes at every point past the first segments, want under half a segment (%d) right after one is emitted", least, largest/2)
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

package media

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestSegmenterReuseMemory: with ReuseData a stream with audio keeps one
// buffer sized to its segments, plus a small one for the start of the next
// segment while a cut one waits for its audio (not two full ones).
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
	var segs, largest, held int
	s := NewSegmenter(SegmenterConfig{
		ReuseData:      true,
		TargetDuration: time.Second,
		Now:            fixedClock(),
		OnSegment: func(sg Segment) {
			segs++
			largest = max(largest, len(sg.Data))
		},
	})
	for p := ts; len(p) > 0; {
		c := min(len(p), 1316)
		if _, err := s.Write(p[:c]); err != nil {
			t.Fatal(err)
		}
		p = p[c:]
		if segs > 2 { // past the first segments, which size the buffers
			held = max(held, s.heldBytes())
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
}

// heldBytes is the capacity of the segment buffers the segmenter holds.
func (s *Segmenter) heldBytes() int {
	n := 0
	for _, g := range append([]*segBuilder{s.open, s.closing}, s.free...) {
		if g != nil {
			n += cap(g.vdata) + cap(g.adata)
		}
	}
	return n
}

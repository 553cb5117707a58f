package mpegts

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkRemux remuxes a real 3 s segment (H.264 480x270 + AAC, from the
// committed sample) into a standalone TS: MB/s of fMP4 input, allocations
// per segment.
func BenchmarkRemux(b *testing.B) {
	r := sampleSegments(b)
	seg := r.segs[1].Data
	b.SetBytes(int64(len(seg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Remux(r.init, seg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMuxerWriteSegment writes the same 3 s segment again and again
// through one long-lived Muxer, as the live MPEG-TS output does.
func BenchmarkMuxerWriteSegment(b *testing.B) {
	r := sampleSegments(b)
	seg := r.segs[1].Data
	m := NewMuxer(io.Discard)
	b.SetBytes(int64(len(seg)))
	b.ReportAllocs()
	for b.Loop() {
		if err := m.WriteSegment(r.init, seg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRemux4M remuxes a 3 s segment of a 4 Mbit/s 1280x720 H.264 +
// AAC stream (made once by ffmpeg into the temp dir, then cut by the
// segmenter), the bitrate of a broadcast channel.
func BenchmarkRemux4M(b *testing.B) {
	path := filepath.Join(os.TempDir(), "edge-mpegts-bench-4m-v1.ts")
	ts, err := os.ReadFile(path)
	if err != nil {
		args := []string{"-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
			"-t", "8", "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "3900k", "-minrate", "3900k", "-maxrate", "3900k", "-bufsize", "2000k",
			"-g", "25", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "96k", "-f", "mpegts", path + ".tmp"}
		if out, err := exec.Command(needTool(b, "ffmpeg"), args...).CombinedOutput(); err != nil {
			b.Fatalf("ffmpeg: %v\n%s", err, out)
		}
		if err := os.Rename(path+".tmp", path); err != nil {
			b.Fatal(err)
		}
		if ts, err = os.ReadFile(path); err != nil {
			b.Fatal(err)
		}
	}
	r, err := segmentTS(ts, 3*time.Second, sampleStart)
	if err != nil {
		b.Fatal(err)
	}
	seg := r.segs[1].Data
	m := NewMuxer(io.Discard)
	b.SetBytes(int64(len(seg)))
	b.ReportAllocs()
	for b.Loop() {
		if err := m.WriteSegment(r.init, seg); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N)/(float64(r.segs[1].Duration)/1000), "ms-per-stream-s")
}

package media

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the segmenter's golden output under testdata/golden")

// TestSegmenterGolden: the segmenter's output for committed TS inputs is
// the committed output, byte for byte, so every change in what is recorded
// shows in review. For each input, testdata/golden/NAME.txt lists the
// stats, every init (hash, codecs, size, bytes, SHA-256) and every segment
// (start, duration, init hash, bytes, SHA-256) in the order they were
// emitted, and NAME.mp4 holds all their bytes in that order. Rewrite them
// with go test ./media -run TestSegmenterGolden -update. With ReuseData the
// output is the same bytes.
func TestSegmenterGolden(t *testing.T) {
	tests := []struct {
		name  string
		input string
		check func(t *testing.T, st Stats) // the input exercises what it is for
	}{
		{"sample", filepath.Join("..", "examples", "topologies", "sample.ts"), func(t *testing.T, st Stats) {
			if st.GarbageBytes != 0 || st.CCErrors != 0 || st.Discontinuities != 0 {
				t.Errorf("a clean input: stats %+v", st)
			}
		}},
		// edge.ts (made by testdata/mkedge.sh): garbage, a PTS wrap,
		// garbage, a timestamp jump and a lost packet.
		{"edge", filepath.Join("testdata", "edge.ts"), func(t *testing.T, st Stats) {
			if st.GarbageBytes < 1333 || st.CCErrors == 0 || st.PTSWraps == 0 || st.Discontinuities == 0 {
				t.Errorf("stats %+v: want garbage, a continuity error, a wrap and a jump", st)
			}
		}},
	}
	for _, tc := range tests {
		for _, reuse := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/reuse=%v", tc.name, reuse), func(t *testing.T) {
				if reuse && *update {
					t.Skip("the golden files are written without ReuseData")
				}
				goldenCase(t, tc.name, tc.input, reuse, tc.check)
			})
		}
	}
}

func goldenCase(t *testing.T, name, input string, reuse bool, check func(t *testing.T, st Stats)) {
	ts, err := os.ReadFile(input)
	if err != nil {
		t.Fatal(err)
	}
	var list bytes.Buffer
	var data []byte
	var segs int
	bufs := map[*byte]bool{} // the buffers segments were built in
	s := NewSegmenter(SegmenterConfig{
		ReuseData:      reuse,
		TargetDuration: time.Second,
		Now:            fixedClock(),
		OnInit: func(in Init) {
			fmt.Fprintf(&list, "init hash=%s codecs=%s size=%dx%d bytes=%d sha256=%s\n",
				in.Hash, in.Codecs, in.Width, in.Height, len(in.Data), sha(in.Data))
			data = append(data, in.Data...)
		},
		OnSegment: func(sg Segment) {
			fmt.Fprintf(&list, "segment start=%d duration=%d init=%s bytes=%d sha256=%s\n",
				sg.Start, sg.Duration, sg.InitHash, len(sg.Data), sha(sg.Data))
			data = append(data, sg.Data...)
			segs++
			// The end of Data's capacity is the end of the buffer it was built in.
			bufs[&sg.Data[:cap(sg.Data)][cap(sg.Data)-1]] = true
		},
	})
	for p := ts; len(p) > 0; { // UDP-sized chunks, as an input hands them
		c := min(len(p), 1316)
		if _, err := s.Write(p[:c]); err != nil {
			t.Fatal(err)
		}
		p = p[c:]
	}
	s.Flush()
	st := s.Stats()
	fmt.Fprintf(&list, "stats %+v\n", st)
	if segs < 3 {
		t.Fatalf("%d segments, stats %+v", segs, st)
	}
	check(t, st)
	// With ReuseData an open and a closing segment's buffers serve
	// the whole stream (a third when one header outgrew its room).
	if reuse && len(bufs) > 3 {
		t.Errorf("ReuseData: %d segments in %d buffers, want at most 3", segs, len(bufs))
	}
	if !reuse && len(bufs) != segs {
		t.Errorf("%d segments in %d buffers: each segment's Data must be its own", segs, len(bufs))
	}
	compareGolden(t, name+".txt", list.Bytes())
	compareGolden(t, name+".mp4", data)
}

func sha(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// compareGolden compares got with testdata/golden/name, or writes it there
// with -update.
func compareGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if bytes.Equal(got, want) {
		return
	}
	at := 0
	for at < min(len(want), len(got)) && want[at] == got[at] {
		at++
	}
	msg := fmt.Sprintf("%s: %d bytes differ from the golden %d bytes from byte %d", name, len(got), len(want), at)
	if strings.HasSuffix(name, ".txt") {
		line := strings.Count(string(want[:at]), "\n")
		msg += fmt.Sprintf(" (line %d)\ngot:  %s\nwant: %s", line+1, lineAt(got, line), lineAt(want, line))
	}
	t.Errorf("%s; review and rerun with -update", msg)
}

func lineAt(b []byte, n int) string {
	lines := strings.Split(string(b), "\n")
	if n < len(lines) {
		return lines[n]
	}
	return ""
}

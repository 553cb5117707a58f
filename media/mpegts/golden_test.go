package mpegts

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgedvr/edge/media"
)

var update = flag.Bool("update", false, "rewrite the golden TS under testdata/golden")

var goldenDir = filepath.Join("testdata", "golden")

// goldenInput returns the committed fMP4 input of the golden test: the init
// and the first two 1 s segments the segmenter made of the sample. When
// the files are missing (delete them to remake them) they are made from the
// sample and written.
func goldenInput(t testing.TB) (media.Init, [][]byte) {
	t.Helper()
	names := []string{"init.mp4", "seg0.m4s", "seg1.m4s"}
	var files [][]byte
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(goldenDir, n))
		if err != nil {
			files = nil
			break
		}
		files = append(files, b)
	}
	if files == nil {
		ts, err := os.ReadFile(samplePath)
		if err != nil {
			t.Fatal(err)
		}
		r, err := segmentTS(ts, time.Second, sampleStart)
		if err != nil {
			t.Fatal(err)
		}
		files = [][]byte{r.init.Data, r.segs[0].Data, r.segs[1].Data}
		if err := os.MkdirAll(goldenDir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, n := range names {
			if err := os.WriteFile(filepath.Join(goldenDir, n), files[i], 0o644); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("wrote the golden input under %s", goldenDir)
	}
	return media.Init{Data: files[0]}, files[1:]
}

// TestGolden: the TS of the committed input is the committed TS, byte for
// byte, so every change in the output shows in review. Rewrite it with
// go test ./media/mpegts -run TestGolden -update.
func TestGolden(t *testing.T) {
	init, segs := goldenInput(t)
	var ts bytes.Buffer
	m := NewMuxer(&ts)
	for i, seg := range segs {
		if err := m.WriteSegment(init, seg); err != nil {
			t.Fatalf("segment %d: %v", i, err)
		}
	}
	standalone, err := Remux(init, segs[1])
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range []struct {
		name string
		got  []byte
	}{{"muxer.ts", ts.Bytes()}, {"remux1.ts", standalone}} {
		path := filepath.Join(goldenDir, g.name)
		if *update {
			if err := os.WriteFile(path, g.got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run with -update to write it)", err)
		}
		if !bytes.Equal(g.got, want) {
			at := 0
			for at < min(len(want), len(g.got)) && want[at] == g.got[at] {
				at++
			}
			t.Errorf("%s: %d bytes differ from the golden %d bytes from byte %d (packet %d); review and rerun with -update",
				g.name, len(g.got), len(want), at, at/188)
		}
	}
}

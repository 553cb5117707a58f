package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgedvr/edge/internal/testkit"
	"github.com/edgedvr/edge/sdk"
	"github.com/edgedvr/edge/sdk/sdktest"
)

// buildExamplePlugin builds examples/plugins/flatstore, a module of its own
// that imports only the SDK, the way its author would.
func buildExamplePlugin(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../../examples/plugins/flatstore")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "flatstore")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build the example plugin: %v\n%s", err, out)
	}
	return bin
}

// TestExamplePluginConformance runs the SDK's store conformance suite
// against the example plugin through the real plugin boundary: each
// store is a process started by an sdk.Supervisor, as the host does.
func TestExamplePluginConformance(t *testing.T) {
	t.Parallel()
	bin := buildExamplePlugin(t)
	sups := map[sdk.Store]*sdk.Supervisor{}
	sdktest.RunStore(t, sdktest.StoreHarness{
		Open: func(t *testing.T) sdk.Store {
			s := &sdk.Supervisor{Name: "flatstore", Kind: sdk.KindDVRStore, Logger: slog.New(slog.DiscardHandler),
				Command: func() *exec.Cmd { return exec.Command(bin) }}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := s.Start(ctx); err != nil {
				t.Fatal(err)
			}
			st, err := s.Store(ctx)
			if err != nil {
				t.Fatal(err)
			}
			sups[st] = s
			return st
		},
		Close: func(t *testing.T, st sdk.Store) {
			if s := sups[st]; s != nil {
				s.Close()
				delete(sups, st)
			}
		},
		Root: func(t *testing.T) string { return t.TempDir() },
	})
}

// TestExamplePluginRecordsAndPlays points a topology's dvrstore at the
// example plugin, records a live stream through it, and plays the
// archive back from the node.
func TestExamplePluginRecordsAndPlays(t *testing.T) {
	t.Parallel()
	testkit.Need(t, "ffmpeg", "ffprobe")
	bin := buildExamplePlugin(t)
	tp := newTopo(t)
	// [plugins] must come before the first [[node]].
	body := tp.body.String()
	tp.body.Reset()
	fmt.Fprintf(&tp.body, "[plugins]\ndvrstore = %q\n\n%s", bin, body)
	port := testkit.FreeUDPPort(t)
	tp.stream("cam", []string{fmt.Sprintf("udp://127.0.0.1:%d", port)}, `segment_duration = "2s"`, tp.dvr(""))
	node := testkit.StartNode(t, tp.write(t), "origin", tp.listen)
	const seconds = 12
	sender := testkit.Send(t, fmt.Sprintf("udp://127.0.0.1:%d?pkt_size=1316", port), testkit.SenderOptions{Seconds: seconds})
	testkit.Eventually(t, 40*time.Second, "the sender to finish", sender.Exited)

	var rs []struct {
		Ranges []struct{ From, Duration int64 } `json:"ranges"`
	}
	testkit.Eventually(t, 20*time.Second, "the recording in the archive", func() bool {
		return testkit.JSON(node.URL+"/cam/recording_status.json", &rs) && len(rs) == 1 &&
			len(rs[0].Ranges) == 1 && rs[0].Ranges[0].Duration >= seconds-3
	})
	r := rs[0].Ranges[0]
	pl := fmt.Sprintf("%s/cam/archive-%d-%d.m3u8", node.URL, r.From, r.Duration)
	if d := testkit.FFprobe(t, pl).Duration(); d < seconds-4 {
		t.Errorf("ffprobe reads %.1f s from %s", d, pl)
	}
	mp4 := filepath.Join(t.TempDir(), "export.mp4")
	code, body2 := testkit.Get(t, fmt.Sprintf("%s/cam/archive-%d-%d.mp4", node.URL, r.From, r.Duration))
	if code != 200 {
		t.Fatalf("mp4 export: %d", code)
	}
	if err := os.WriteFile(mp4, body2, 0o644); err != nil {
		t.Fatal(err)
	}
	if out := testkit.Decode(t, mp4); strings.TrimSpace(out) != "" {
		t.Errorf("ffmpeg decode errors:\n%s", out)
	}
	// The segments are the plugin's own files, one per segment.
	files, _ := filepath.Glob(filepath.Join(tp.root, "cam", "*.m4s"))
	if len(files) < seconds/2-2 {
		t.Errorf("%d segment files in %s, want about %d", len(files), tp.root, seconds/2)
	}
}

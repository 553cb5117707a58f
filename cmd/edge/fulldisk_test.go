package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgedvr/edge/internal/testkit"
	"github.com/edgedvr/edge/internal/tmpfs"
)

// checkIndexesWhole reads every hour index of a stream's archive as the
// node left it (before a store opens it and repairs anything) and checks
// that each line is whole: five fields and a newline.
func checkIndexesWhole(t *testing.T, streamDir string) (lines int) {
	t.Helper()
	err := filepath.WalkDir(streamDir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "index" {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if len(data) > 0 && data[len(data)-1] != '\n' {
			t.Errorf("%s ends in a half-written line %q", path, data[strings.LastIndexByte(string(data), '\n')+1:])
		}
		for _, l := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
			if l == "" {
				continue
			}
			if len(strings.Fields(l)) != 5 {
				t.Errorf("%s: bad line %q", path, l)
			}
			lines++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return lines
}

// TestRecordThroughFullDisk records a live ffmpeg feed into an archive on
// a small tmpfs, fills the filesystem, then frees the space. While the
// disk is full the node says so once in its log and in edge_dvr_disk_full,
// keeps serving live and writes nothing; once the filler is deleted it
// resumes by itself and writes the segments it kept queued, so the archive
// is one gap-free range, every index line whole and every segment decoded
// by ffmpeg.
func TestRecordThroughFullDisk(t *testing.T) {
	testkit.Need(t, "ffmpeg", "ffprobe")
	root := tmpfs.Mount(t, 32<<20)
	tp := newTopo(t)
	tp.root = filepath.Join(root, "archive")
	port := testkit.FreeUDPPort(t)
	tp.stream("cam", []string{fmt.Sprintf("udp://127.0.0.1:%d", port)}, `segment_duration = "1s"`, tp.dvr(""))
	node := testkit.StartNode(t, tp.write(t), "origin", tp.listen)
	sender := testkit.Send(t, fmt.Sprintf("udp://127.0.0.1:%d?pkt_size=1316", port), testkit.SenderOptions{})

	metric := func(name string) float64 { return testkit.Metric(t, node.URL, name, "stream=cam") }
	written := func() float64 { return metric("edge_dvr_segments_written_total") }
	testkit.Eventually(t, 30*time.Second, "5 segments recorded", func() bool { return written() >= 5 })

	filler := tmpfs.Fill(t, root)
	testkit.Eventually(t, 20*time.Second, "edge_dvr_disk_full to be 1", func() bool { return metric("edge_dvr_disk_full") == 1 })
	full := written()
	in := metric("edge_ingest_segments_total")
	testkit.Eventually(t, 30*time.Second, "5 more segments captured while the disk is full", func() bool {
		return metric("edge_ingest_segments_total") >= in+5
	})
	if got := written(); got != full {
		t.Fatalf("%v segments written on a full disk", got-full)
	}
	if code, body := testkit.Get(t, node.URL+"/cam/index.m3u8"); code != 200 || !strings.Contains(string(body), "#EXTINF") {
		t.Fatalf("live playlist while the disk is full: %d\n%s", code, body)
	}
	if n := strings.Count(node.Output(), "archive disk full, recording paused until space is freed"); n != 1 {
		t.Fatalf("%d log lines about the full disk, want 1", n)
	}
	if metric("edge_dvr_refused_segments_total") != 0 || metric("edge_dvr_dropped_segments_total") != 0 {
		t.Fatal("segments were refused or dropped because the disk was full")
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 30*time.Second, "recording to resume", func() bool {
		return metric("edge_dvr_disk_full") == 0 && written() >= full+8
	})
	if !strings.Contains(node.Output(), "archive writes resumed") {
		t.Error("no log line says the archive writes resumed")
	}
	sender.Kill()
	if !node.Term(20 * time.Second) {
		t.Fatal("node did not stop on SIGTERM")
	}

	streamDir := filepath.Join(tp.root, "cam")
	lines := checkIndexesWhole(t, streamDir)
	if tmp, err := os.ReadDir(filepath.Join(streamDir, ".tmp")); err != nil || len(tmp) != 0 {
		t.Errorf("temp files left in the archive: %v %v", tmp, err)
	}
	segs, ranges, st := testkit.Archive(t, tp.root, "cam")
	if len(segs) != lines {
		t.Errorf("%d segments listed, %d index lines on disk", len(segs), lines)
	}
	checkTimeline(t, segs)
	if len(ranges) != 1 {
		t.Errorf("archive ranges %v, want one: the segments captured while the disk was full must be written after", ranges)
	}
	checkPlayable(t, st, "cam", segs, 320, 240, 25)
}

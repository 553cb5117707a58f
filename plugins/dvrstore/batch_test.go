package dvrstore

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/edgedvr/edge/media"
)

// TestWriteSegmentsPaths stores batches through both ways of writing a
// batch's files (nameless files linked into place, named temp files
// renamed into place), each with and without fsyncs, over a leftover file
// at one segment's final name (what a kill between naming and indexing
// leaves in an hour that is not reconciled): every segment is listed with
// its bytes, the leftover is replaced, and .tmp is empty afterwards.
func TestWriteSegmentsPaths(t *testing.T) {
	if runtime.GOOS == "linux" && tmpFileLink(t.TempDir()) == linkNone {
		t.Fatal("no O_TMPFILE link on this Linux filesystem: the batch path under test would not run")
	}
	for _, tc := range []struct {
		name          string
		named, noSync bool
	}{
		{"nameless", false, false},
		{"nameless without fsync", false, true},
		{"named", true, false},
		{"named without fsync", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func(v bool) { noTmpFile = v }(noTmpFile)
			noTmpFile = tc.named
			root := t.TempDir()
			s := New(nil)
			s.noSync = tc.noSync
			defer s.Close()
			open(t, s, root, "cam1")
			init := testInit(t, 1)
			if err := s.WriteInit(ctx, "cam1", init); err != nil {
				t.Fatal(err)
			}
			// Three hours' worth, newest batch first, as replication does.
			var segs []media.Segment
			for k := range 40 {
				start := t0 + int64(k)*5*60000
				segs = append(segs, media.Segment{Start: start, Duration: 3000, InitHash: init.Hash, Data: segData(start, 1000+k*37)})
			}
			leftover := filepath.Join(hourDir(filepath.Join(root, "cam1"), hourOf(segs[3].Start)), segmentName(segs[3].Start, 3000, init.Hash))
			if err := os.MkdirAll(filepath.Dir(leftover), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(leftover, []byte("torn"), 0o644); err != nil {
				t.Fatal(err)
			}
			for _, b := range [][]media.Segment{segs[20:], segs[:20]} {
				res, err := s.WriteSegments(ctx, "cam1", b)
				if err != nil {
					t.Fatal(err)
				}
				for k, r := range res {
					if r.Err != nil {
						t.Fatalf("segment %d: %v", b[k].Start, r.Err)
					}
					if r.Info.Checksum != media.Checksum(b[k].Data) {
						t.Fatalf("segment %d: stored with checksum %s", b[k].Start, r.Info.Checksum)
					}
				}
			}
			got := allSegments(t, s, "cam1")
			if len(got) != len(segs) {
				t.Fatalf("%d segments listed, want %d", len(got), len(segs))
			}
			checkSegments(t, s, "cam1", got)
			for k, si := range got {
				data, _ := os.ReadFile(si.Path)
				if si.Start != segs[k].Start || !bytes.Equal(data, segs[k].Data) {
					t.Fatalf("segment %d: not the bytes written", segs[k].Start)
				}
			}
			if names, _ := readDirNames(filepath.Join(root, "cam1", tmpDirName)); len(names) != 0 {
				t.Fatalf("temp files left: %v", names)
			}
			// Reopened, the same.
			s.Close()
			s2 := New(nil)
			defer s2.Close()
			open(t, s2, root, "cam1")
			if again := allSegments(t, s2, "cam1"); len(again) != len(segs) {
				t.Fatalf("after reopening, %d segments listed, want %d", len(again), len(segs))
			}
		})
	}
}

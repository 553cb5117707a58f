package cache

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/edgedvr/edge/media"
)

// TestLiveStored: once the archive holds a segment in a file, the window
// drops its bytes and serves the file; a report that does not match the
// segment changes nothing, and a file that went makes Bytes fail.
func TestLiveStored(t *testing.T) {
	in := media.Init{Hash: "aaaaaaaaaaaaaaaa", Data: []byte("A")}
	l := NewLive(3)
	data := bytes.Repeat([]byte("segment-bytes "), 100)
	l.Push(in, media.Segment{Start: 1_000_000, Duration: 3000, InitHash: in.Hash, Data: data})
	l.Push(in, media.Segment{Start: 1_003_000, Duration: 3000, InitHash: in.Hash, Data: []byte("next")})
	path := filepath.Join(t.TempDir(), "seg.m4s")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	before := l.Snapshot()

	for _, c := range []struct {
		name  string
		start int64
		path  string
		size  int64
	}{
		{"unknown start", 1_001_000, path, int64(len(data))},
		{"wrong size", 1_000_000, path, int64(len(data)) + 1},
		{"no path", 1_000_000, "", int64(len(data))},
	} {
		l.Stored(c.start, c.path, c.size, "sum")
		if s, _ := l.Segment(1_000_000); s.Data == nil || s.Path != "" {
			t.Errorf("%s: segment changed: data %d bytes, path %q", c.name, len(s.Data), s.Path)
		}
	}

	l.Stored(1_000_000, path, int64(len(data)), "sum")
	s, ok := l.Segment(1_000_000)
	if !ok || s.Data != nil || s.Path != path || s.Size != int64(len(data)) || s.Checksum != "sum" {
		t.Fatalf("after Stored: ok %v data %d bytes path %q size %d sum %q", ok, len(s.Data), s.Path, s.Size, s.Checksum)
	}
	if s.Len() != int64(len(data)) || s.Index != 1 || s.Seq != before.Segments[0].Seq {
		t.Errorf("after Stored: len %d index %d seq %d, want %d 1 %d", s.Len(), s.Index, s.Seq, len(data), before.Segments[0].Seq)
	}
	if b, err := s.Bytes(); err != nil || !bytes.Equal(b, data) {
		t.Errorf("Bytes() = %d bytes, %v; want the file's %d", len(b), err, len(data))
	}
	// The earlier snapshot is immutable: it still holds the bytes.
	if before.Segments[0].Data == nil {
		t.Error("Stored modified an earlier snapshot")
	}
	// The other segment keeps its bytes.
	if n, _ := l.Segment(1_003_000); string(n.Data) != "next" {
		t.Errorf("neighbour segment data = %q", n.Data)
	}

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Bytes(); err == nil {
		t.Error("Bytes() of a removed file succeeded")
	}
}

package proxy

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/edgedvr/edge/media"
	"github.com/edgedvr/edge/media/m4f"
)

// TestLiveSegmentFromFile: a live segment that the archive holds in a file
// (cache.Live.Stored) is served from that file on the viewer route, the M4F
// segment call (with the store's checksum) and the M4F live push; when the
// file has gone and the archive does not have it, the viewer gets 404.
func TestLiveSegmentFromFile(t *testing.T) {
	w := newM4FWorld(t, nil)
	var segs []media.Segment
	for i := 20; i < 23; i++ {
		segs = append(segs, w.push(i))
	}
	s := segs[1]
	// The file holds other bytes of the same size than the window had:
	// what comes back proves which one was served.
	onDisk := bytes.Clone(s.Data)
	onDisk[len(onDisk)-1] ^= 0xff
	path := filepath.Join(t.TempDir(), "seg.m4s")
	if err := os.WriteFile(path, onDisk, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := media.Checksum(onDisk)
	w.live.Stored(s.Start, path, int64(len(onDisk)), sum)
	if ls, _ := w.live.Segment(s.Start); ls.Data != nil {
		t.Fatal("the window kept the bytes after Stored")
	}

	resp, body := get(t, "GET", fmt.Sprintf("%s/cam/s-%d.m4s", w.url, s.Start))
	if resp.StatusCode != 200 || !bytes.Equal(body, onDisk) {
		t.Errorf("viewer segment: %d, %d bytes, file's bytes %v", resp.StatusCode, len(body), bytes.Equal(body, onDisk))
	}
	resp, body = get(t, "GET", fmt.Sprintf("%s/cam/s-%d.m4s", w.url, s.Start), "Range", "bytes=10-19")
	if resp.StatusCode != 206 || !bytes.Equal(body, onDisk[10:20]) {
		t.Errorf("viewer segment range: %d, %q", resp.StatusCode, body)
	}

	resp, body = w.do(t, fmt.Sprintf("/m4f/v1/segment/cam/%d", s.Start))
	if resp.StatusCode != 200 || !bytes.Equal(body, onDisk) || resp.Header.Get(m4f.HeaderChecksum) != sum {
		t.Errorf("m4f segment: %d, %d bytes, checksum %q want %q", resp.StatusCode, len(body), resp.Header.Get(m4f.HeaderChecksum), sum)
	}

	c := w.openLive(t, "cam")
	c.wantInit(t, w.in)
	c.wantSegment(t, segs[0])
	fromFile := s
	fromFile.Data = onDisk
	c.wantSegment(t, fromFile)
	c.wantSegment(t, segs[2])
	c.resp.Body.Close()

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if resp, _ := get(t, "GET", fmt.Sprintf("%s/cam/s-%d.m4s", w.url, s.Start)); resp.StatusCode != 404 {
		t.Errorf("segment whose file went: status %d, want 404", resp.StatusCode)
	}
	// Its neighbours, whose bytes the window keeps, are still served.
	if resp, body := get(t, "GET", fmt.Sprintf("%s/cam/s-%d.m4s", w.url, segs[2].Start)); resp.StatusCode != 200 || !bytes.Equal(body, segs[2].Data) {
		t.Errorf("neighbour segment: %d", resp.StatusCode)
	}
}

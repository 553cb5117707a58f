package proxy

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/edgedvr/edge/media/m4f"
)

// TestM4FBulk: the bulk endpoint answers the segments of a window, from
// archive files ("cam") and from an archive without files ("mem"), with
// their init, byte for byte, in the live frame format that m4f.Reader
// checks; a stream without archive answers an empty body; a bad window is
// a 400.
func TestM4FBulk(t *testing.T) {
	w := newM4FWorld(t, nil)
	from := w.baseMs
	for _, stream := range []string{"cam", "mem"} {
		t.Run(stream, func(t *testing.T) {
			resp, body := w.do(t, m4f.BulkPath(stream, from+2000, from+8001))
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != m4f.ContentType {
				t.Fatalf("bulk: %d %q", resp.StatusCode, body)
			}
			r := m4f.NewReader(bytes.NewReader(body), m4f.Limits{})
			f, err := r.Next()
			if err != nil || f.Type != m4f.TypeInit || !bytes.Equal(f.Init.Data, w.in.Data) || f.Init.Hash != w.in.Hash {
				t.Fatalf("first frame %+v, %v; want the init", f, err)
			}
			for i := 1; i <= 4; i++ {
				want := w.m.segment(i, w.baseMs)
				f, err := r.Next()
				if err != nil || f.Type != m4f.TypeSegment || f.Segment.Start != want.Start || f.Segment.Duration != want.Duration ||
					f.Segment.InitHash != w.in.Hash || !bytes.Equal(f.Segment.Data, want.Data) {
					t.Fatalf("frame %d: %v, %v; want segment %d", i, f.Type, err, want.Start)
				}
			}
			if f, err := r.Next(); err != nil || f.Type != m4f.TypeError || f.Err != "" {
				t.Fatalf("after the segments: %+v, %v; want a normal end frame", f, err)
			}
			if _, err := r.Next(); err != io.EOF {
				t.Fatalf("after the end frame: %v, want io.EOF", err)
			}
		})
	}
	if n := testutil.ToFloat64(w.srv.m4fm.bulkSegments); n != 8 {
		t.Errorf("edge_m4f_bulk_segments_sent_total = %v, want 8", n)
	}
	resp, body := w.do(t, m4f.BulkPath("idle", from, from+10_000))
	if resp.StatusCode != 200 || string(body) != m4f.Magic+"E\x00\x0c{\"error\":\"\"}\x00\x00\x00\x00" {
		t.Errorf("idle: %d %q, want the magic and an end frame", resp.StatusCode, body)
	}
	if resp, body := w.do(t, m4f.PathPrefix+"bulk/cam?from=9&to=1"); resp.StatusCode != 400 {
		t.Errorf("bad window: %d %q, want 400", resp.StatusCode, body)
	}
	if resp, _ := w.do(t, m4f.BulkPath("nosuch", from, from+1)); resp.StatusCode != 404 {
		t.Errorf("unknown stream: %d, want 404", resp.StatusCode)
	}
}

// TestReadSized: a bulk answer reads each file into one reused buffer; a
// file of other than the listed size is refused, a larger leftover buffer
// never leaks bytes of the previous file, and a missing file is
// os.ErrNotExist (left out of the answer).
func TestReadSized(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "seg")
	if err := os.WriteFile(path, []byte("abcdef"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := bytes.Repeat([]byte("x"), 64)
	tests := []struct {
		name    string
		path    string
		size    int64
		buf     []byte
		want    string
		wantErr bool
	}{
		{"exact, new buffer", path, 6, nil, "abcdef", false},
		{"exact, reused larger buffer", path, 6, old, "abcdef", false},
		{"exact, reused smaller buffer", path, 6, old[:2:2], "abcdef", false},
		{"listed larger than the file", path, 7, nil, "", true},
		{"listed smaller than the file", path, 5, old, "", true},
		{"listed empty", path, 0, nil, "", true},
		{"negative size", path, -1, nil, "", true},
		{"missing file", filepath.Join(dir, "none"), 6, nil, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readSized(tc.path, tc.size, tc.buf)
			if (err != nil) != tc.wantErr || (err == nil && string(got) != tc.want) {
				t.Fatalf("readSized = %q, %v; want %q (error: %v)", got, err, tc.want, tc.wantErr)
			}
		})
	}
	if _, err := readSized(filepath.Join(dir, "none"), 6, nil); !os.IsNotExist(err) {
		t.Errorf("missing file: %v, want os.ErrNotExist", err)
	}
}

package proxy

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// TestLiveSegmentFileSendfile: a live segment served from its archive
// file (sendfile at an explicit offset, corked with the header) arrives
// whole and in order for a body far larger than the socket buffer read
// slowly, for ranges, and for several requests on one keep-alive
// connection, none disturbing the next; HEAD sends no body.
func TestLiveSegmentFileSendfile(t *testing.T) {
	w := newM4FWorld(t, nil)
	big := make([]byte, 9<<20+123) // many times a loopback socket buffer
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range big {
		big[i] = byte(rng.Uint32())
	}
	s := w.m.segment(20, w.baseMs)
	s.Data = bytes.Clone(big) // the window's copy; the file's bytes are served
	w.live.Push(w.in, s)
	big[0] ^= 0xff
	path := filepath.Join(t.TempDir(), "seg.m4s")
	if err := os.WriteFile(path, big, 0o644); err != nil {
		t.Fatal(err)
	}
	w.live.Stored(s.Start, path, int64(len(big)), "x")
	if ls, _ := w.live.Segment(s.Start); ls.Path != path {
		t.Fatalf("segment not served from the file: %q", ls.Path)
	}

	conn, err := net.Dial("tcp", w.url[len("http://"):])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReaderSize(conn, 512) // a slow, small reader
	uri := fmt.Sprintf("/cam/s-%d.m4s", s.Start)
	n := int64(len(big))
	cases := []struct {
		method, rng string
		status      int
		want        []byte
	}{
		{"GET", "", 200, big},
		{"GET", "bytes=1000-", 206, big[1000:]},
		{"HEAD", "", 200, nil},
		{"GET", fmt.Sprintf("bytes=%d-%d", n/2, n/2+99), 206, big[n/2 : n/2+100]},
		{"GET", "bytes=-7", 206, big[n-7:]},
		{"GET", "", 200, big},
	}
	for i, c := range cases {
		req := c.method + " " + uri + " HTTP/1.1\r\nHost: x\r\n"
		if c.rng != "" {
			req += "Range: " + c.rng + "\r\n"
		}
		if _, err := io.WriteString(conn, req+"\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, &http.Request{Method: c.method})
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("case %d: body: %v", i, err)
		}
		if resp.StatusCode != c.status || !bytes.Equal(body, c.want) {
			t.Errorf("case %d (%s %q): status %d, %d bytes, want %d and %d bytes equal to the file's",
				i, c.method, c.rng, resp.StatusCode, len(body), c.status, len(c.want))
		}
		if c.method == "HEAD" && resp.ContentLength != n {
			t.Errorf("HEAD: Content-Length %d, want %d", resp.ContentLength, n)
		}
	}
}

// TestFileBodyNotTCP: on a connection that is not TCP (TLS, a pipe) the
// body is copied through the writer, from its offset, and the header the
// writer holds goes first.
func TestFileBodyNotTCP(t *testing.T) {
	data := []byte("0123456789abcdefghij")
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	c1, c2 := net.Pipe()
	defer c1.Close()
	defer c2.Close()
	var out bytes.Buffer
	bw := bufio.NewWriter(&out)
	bw.WriteString("HDR ")
	b := &fileBody{f: f, off: 5, n: 10, conn: c1}
	n, err := b.WriteTo(bw)
	if err != nil || n != 10 {
		t.Fatalf("WriteTo: %d, %v", n, err)
	}
	bw.Flush()
	if got := out.String(); got != "HDR 56789abcde" {
		t.Errorf("got %q", got)
	}
	if err := b.Close(); err != nil {
		t.Error(err)
	}
}

package m4f

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/edgedvr/edge/cluster"
	"github.com/edgedvr/edge/media"
	mm "github.com/edgedvr/edge/media/m4f"
)

// bodyCase is one segment answer a peer may send: the bytes, the length it
// declares and the checksum it claims.
type bodyCase struct {
	body     []byte
	declared int
	sum      string
}

// bodyServer answers GET /m4f/v1/segment/... with the case registered
// under the request's start.
type bodyServer struct {
	mu    sync.Mutex
	cases map[int64]bodyCase
	next  int64
	srv   *httptest.Server
}

func newBodyServer(t testing.TB) *bodyServer {
	s := &bodyServer{cases: map[int64]bodyCase{}}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start, _ := strconv.ParseInt(r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:], 10, 64)
		s.mu.Lock()
		c, ok := s.cases[start]
		s.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set(mm.HeaderChecksum, c.sum)
		w.Header().Set(mm.HeaderDuration, "3000")
		w.Header().Set("Content-Length", strconv.Itoa(c.declared))
		w.Write(c.body) // beyond the declared length net/http refuses the rest
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *bodyServer) add(c bodyCase) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next++
	s.cases[t0+s.next] = c
	return t0 + s.next
}

// checkBody opens a case and reads it through SegmentBody: the body ends in
// io.EOF, with exactly the sent bytes, only when they are the declared
// length and match the checksum; otherwise in an error.
func checkBody(t *testing.T, c *Client, s *bodyServer, bc bodyCase) {
	t.Helper()
	start := s.add(bc)
	body, info, err := c.OpenSegment(context.Background(), "cam", start, Chain{})
	if err != nil {
		return // refused from its headers
	}
	defer body.Close()
	if info.Size != int64(bc.declared) || body.Size() != info.Size {
		t.Fatalf("size %d (%d), declared %d", info.Size, body.Size(), bc.declared)
	}
	got, err := io.ReadAll(body)
	whole := bc.declared == len(bc.body) && strings.EqualFold(bc.sum, media.Checksum(bc.body))
	switch {
	case whole && err != nil:
		t.Fatalf("a whole matching body read as %v", err)
	case whole && !bytes.Equal(got, bc.body):
		t.Fatalf("a whole body read as other bytes")
	case !whole && err == nil:
		t.Fatalf("a body of %d bytes declaring %d, checksum %q (bytes %q), read as whole", len(bc.body), bc.declared, bc.sum, media.Checksum(bc.body))
	case !whole && int64(len(got)) > info.Size:
		t.Fatalf("read %d bytes, more than the declared %d", len(got), info.Size)
	}
	if !whole && int64(len(got)) == info.Size && !errors.Is(err, mm.ErrChecksum) {
		t.Fatalf("a whole-length corrupt body ended in %v, want ErrChecksum", err)
	}
}

func TestOpenSegmentBody(t *testing.T) {
	s := newBodyServer(t)
	c := NewClient(strings.TrimPrefix(s.srv.URL, "http://"), cluster.Signer{Node: testNode, Key: testKey})
	data := testSegment(testInit(1), 1, 300_000).Data
	sum := media.Checksum(data)
	bad := bytes.Clone(data)
	bad[len(bad)/2] ^= 1
	for _, tc := range []struct {
		name string
		c    bodyCase
	}{
		{"whole", bodyCase{data, len(data), sum}},
		{"corrupt", bodyCase{bad, len(bad), sum}},
		{"short", bodyCase{data[:len(data)-1], len(data), sum}},
		{"long", bodyCase{data, len(data) - 1, media.Checksum(data[:len(data)-1])}},
		{"empty", bodyCase{nil, 0, media.Checksum(nil)}},
		{"upper-case checksum", bodyCase{data, len(data), strings.ToUpper(sum)}},
	} {
		t.Run(tc.name, func(t *testing.T) { checkBody(t, c, s, tc.c) })
	}
}

// A peer's segment answer, whatever its bytes, length and checksum, reads
// as whole only when it is.
func FuzzOpenSegmentBody(f *testing.F) {
	s := newBodyServer(f)
	c := NewClient(strings.TrimPrefix(s.srv.URL, "http://"), cluster.Signer{Node: testNode, Key: testKey})
	seg := []byte("a segment's bytes")
	f.Add(seg, 0, false)
	f.Add(seg, -1, false)
	f.Add(seg, 1, false)
	f.Add(seg, 0, true)
	f.Add([]byte{}, 0, false)
	f.Fuzz(func(t *testing.T, body []byte, delta int, flip bool) {
		if len(body) > 1<<20 || delta < -len(body) || delta > 1<<10 {
			return
		}
		sum := media.Checksum(body)
		if flip {
			sum = media.Checksum(append(bytes.Clone(body), 0))
		}
		checkBody(t, c, s, bodyCase{body, len(body) + delta, sum})
	})
}

package chain

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/edgedvr/edge/internal/warmbuf"
	"github.com/edgedvr/edge/media"
	"github.com/edgedvr/edge/sdk"
)

// streamStore is a fakeStore as a StreamRemote. Its bodies behave like the
// M4F client's: they declare the listed size and checksum, pass the bytes
// in pieces (each piece waits for pieces when set) and end in io.EOF only
// when all the declared bytes arrived and match the checksum.
type streamStore struct {
	*fakeStore
	opens  chan struct{} // receives once per OpenSegment, when set
	pieces chan struct{} // each piece of a body waits for a value, when set
	// bad, when set, rewrites the bytes sent (corrupt or truncated body).
	bad func([]byte) []byte
}

func (s *streamStore) OpenSegment(ctx context.Context, stream string, start int64, via, hops string) (io.ReadCloser, sdk.SegmentInfo, error) {
	b, err := s.Segment(ctx, stream, start, via, hops)
	if err != nil {
		return nil, sdk.SegmentInfo{}, err
	}
	l := s.list(start, start+1)
	if len(l) == 0 {
		return nil, sdk.SegmentInfo{}, sdk.ErrNotFound
	}
	if s.opens != nil {
		s.opens <- struct{}{}
	}
	info := l[0]
	info.Path = ""
	sent := b
	if s.bad != nil {
		sent = s.bad(bytes.Clone(b))
	}
	return &checkingBody{r: bytes.NewReader(sent), size: info.Size, sum: info.Checksum, pieces: s.pieces}, info, nil
}

// checkingBody checks length and checksum as media/m4f's client body does.
type checkingBody struct {
	r      *bytes.Reader
	size   int64
	sum    string
	got    []byte
	pieces chan struct{}
}

func (c *checkingBody) Read(p []byte) (int, error) {
	if c.pieces != nil {
		<-c.pieces
	}
	p = p[:min(len(p), 100)]
	n, err := c.r.Read(p)
	c.got = append(c.got, p[:n]...)
	if err == io.EOF || int64(len(c.got)) == c.size {
		switch {
		case int64(len(c.got)) != c.size:
			return n, io.ErrUnexpectedEOF
		case media.Checksum(c.got) != c.sum:
			return n, errors.New("checksum mismatch")
		}
		return n, io.EOF
	}
	return n, err
}

func (c *checkingBody) Close() error { return nil }

// flow lets the bodies of s pass freely until ctx ends.
func (s *streamStore) flow(ctx context.Context) {
	go func() {
		for {
			select {
			case s.pieces <- struct{}{}:
			case <-ctx.Done():
				return
			}
		}
	}()
}

// A fetched segment reaches the reader while its body is still arriving,
// whole and checked at the end, and then goes to the disk cache.
func TestOpenSegmentStreams(t *testing.T) {
	for _, warm := range []bool{false, true} {
		t.Run(fmt.Sprintf("warm=%v", warm), func(t *testing.T) { testOpenSegmentStreams(t, warm) })
	}
}

// useWarmFills gives the test a pool of warm fill buffers of its own: with
// warm, one buffer for segments of size is ready before the test goes on.
// It returns the pool's hits so far.
func useWarmFills(t *testing.T, warm bool, size int) func() int {
	t.Helper()
	old := warmFills
	t.Cleanup(func() { warmFills = old })
	warmFills = warmbuf.New(1, 32<<20)
	if warm {
		warmFills.Get(size)
		warmFills.Refill()
		deadline := time.Now().Add(10 * time.Second)
		for warmFills.Warm() == 0 {
			if time.Now().After(deadline) {
				t.Fatal("no warm buffer made")
			}
			time.Sleep(time.Millisecond)
		}
	} else {
		warmFills = warmbuf.New(0, 32<<20) // never holds one
	}
	return warmFills.Hits
}

func testOpenSegmentStreams(t *testing.T, warm bool) {
	ctx := testCtx(t)
	remote := &streamStore{fakeStore: newStore("r").add(0, 5, 0), pieces: make(chan struct{})}
	disk := openDisk(t, cacheCfg())
	arch := newArchive(t, Config{Self: "edge", Disk: disk, Sources: []Source{{Name: "r", Remote: remote}}})
	want := payload("r", at(2))
	hits := useWarmFills(t, warm, len(want))
	done := make(chan struct{})
	var r io.ReadCloser
	var size int64
	var err error
	go func() {
		defer close(done)
		r, size, err = arch.OpenSegment(ctx, at(2))
	}()
	<-done
	if err != nil || size != int64(len(want)) {
		t.Fatalf("open: size %d, %v; want %d", size, err, len(want))
	}
	// One piece of the body is in: the reader has it before the rest.
	got := make([]byte, 0, len(want))
	remote.pieces <- struct{}{}
	p := make([]byte, 4096)
	n, err := r.Read(p)
	if err != nil || n == 0 || n >= len(want) {
		t.Fatalf("first read: %d bytes, %v; want the first piece", n, err)
	}
	got = append(got, p[:n]...)
	if _, ok := disk.Get("cam", at(2)); ok {
		t.Fatal("disk cache has the segment before its body ended")
	}
	remote.flow(ctx)
	rest, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, rest...)
	if !bytes.Equal(got, want) {
		t.Fatalf("read %d bytes, not the segment's %d", len(got), len(want))
	}
	if b, ok := r.(interface{ Bytes() ([]byte, bool) }).Bytes(); !ok || !bytes.Equal(b, want) {
		t.Fatal("Bytes after the end is not the segment")
	}
	disk.Wait()
	if info, ok := disk.Get("cam", at(2)); !ok || info.Checksum != media.Checksum(want) {
		t.Fatalf("disk cache: %+v %v", info, ok)
	}
	if h := hits(); h != map[bool]int{false: 0, true: 1}[warm] {
		t.Fatalf("%d warm buffers used, want %v", h, warm)
	}
}

// Viewers of one cold segment, and a ReadSegment meanwhile, make one
// upstream fetch and all get the same bytes.
func TestOpenSegmentCoalesced(t *testing.T) {
	ctx := testCtx(t)
	remote := &streamStore{fakeStore: newStore("r").add(0, 5, 0), opens: make(chan struct{}, 16)}
	remote.gate = make(chan struct{})
	arch := newArchive(t, Config{Self: "edge", Sources: []Source{{Name: "r", Remote: remote}}})
	want := payload("r", at(3))
	const viewers = 6
	var wg sync.WaitGroup
	errs := make(chan error, viewers+1)
	for range viewers {
		wg.Go(func() {
			r, _, err := arch.OpenSegment(ctx, at(3))
			if err != nil {
				errs <- err
				return
			}
			b, err := io.ReadAll(r)
			if err == nil && !bytes.Equal(b, want) {
				err = fmt.Errorf("viewer got %d bytes, not the segment", len(b))
			}
			errs <- err
		})
	}
	pollUntil(t, "a fetch in flight", func() bool { return remote.nSegment.Load() == 1 })
	pollUntil(t, "the viewers to join it", func() bool {
		return testutil.ToFloat64(arch.m.coalesced.WithLabelValues("segment")) == viewers-1
	})
	wg.Go(func() {
		b, err := arch.ReadSegment(ctx, at(3))
		if err == nil && !bytes.Equal(b, want) {
			err = errors.New("ReadSegment got other bytes")
		}
		errs <- err
	})
	pollUntil(t, "ReadSegment to join", func() bool {
		return testutil.ToFloat64(arch.m.coalesced.WithLabelValues("segment")) == viewers
	})
	close(remote.gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := remote.nSegment.Load(); n != 1 {
		t.Fatalf("%d upstream fetches, want 1", n)
	}
}

// A body that turns out corrupt or short is never whole for a reader: the
// reader ends in an error before the declared size, nothing is cached, the
// abort is counted, and the next read asks again (after NegativeTTL).
func TestOpenSegmentBadBody(t *testing.T) {
	for _, tc := range []struct {
		name string
		bad  func([]byte) []byte
	}{
		{"corrupt last byte", func(b []byte) []byte { b[len(b)-1] ^= 0xff; return b }},
		{"corrupt first byte", func(b []byte) []byte { b[0] ^= 0xff; return b }},
		{"truncated", func(b []byte) []byte { return b[:len(b)-7] }},
		{"one byte short", func(b []byte) []byte { return b[:len(b)-1] }},
	} {
		for _, warm := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/warm=%v", tc.name, warm), func(t *testing.T) {
				ctx := testCtx(t)
				useWarmFills(t, warm, len(payload("r", at(1))))
				// The body fails after the viewer's answer has begun.
				remote := &streamStore{fakeStore: newStore("r").add(0, 5, 0), bad: tc.bad, pieces: make(chan struct{})}
				disk := openDisk(t, cacheCfg())
				arch := newArchive(t, Config{Self: "edge", Disk: disk, Sources: []Source{{Name: "r", Remote: remote}}})
				want := payload("r", at(1))
				r, size, err := arch.OpenSegment(ctx, at(1))
				if err != nil {
					t.Fatal(err)
				}
				if size != int64(len(want)) {
					t.Fatalf("size %d, want the declared %d", size, len(want))
				}
				remote.flow(ctx)
				var got bytes.Buffer
				n, err := io.Copy(&got, r)
				if err == nil || n >= size {
					t.Fatalf("reader gave %d of %d bytes, err %v: a bad body read as whole", n, size, err)
				}
				if !errors.Is(err, ErrUnavailable) {
					t.Fatalf("err %v, want unavailable", err)
				}
				disk.Wait()
				if _, ok := disk.Get("cam", at(1)); ok {
					t.Fatal("a bad body went to the disk cache")
				}
				if _, _, ok := disk.Pending("cam", at(1)); ok {
					t.Fatal("a bad body is pending on disk")
				}
				if v := testutil.ToFloat64(arch.m.aborts.WithLabelValues("r")); v != 1 {
					t.Fatalf("aborts %v, want 1", v)
				}
				if _, err := arch.ReadSegment(ctx, at(1)); err == nil {
					t.Fatal("ReadSegment right after a bad body succeeded (it should be remembered as failed)")
				}
			})
		}
	}
}

// A segment larger than the first buffer of a fill (it moves to a buffer of
// the whole size) reads whole for viewers that start before and after the
// move.
func TestOpenSegmentLarge(t *testing.T) {
	ctx := testCtx(t)
	store := newStore("r")
	big := make([]byte, 3*fillChunk+17)
	useWarmFills(t, false, 0)
	for i := range big {
		big[i] = byte(i*7 + i>>9)
	}
	store.data[at(0)] = big
	store.segs = []sdk.SegmentInfo{{Start: at(0), Duration: segDur, Size: int64(len(big)), InitHash: testInit.Hash, Checksum: media.Checksum(big)}}
	remote := &streamStore{fakeStore: store, pieces: make(chan struct{})}
	arch := newArchive(t, Config{Self: "edge", Sources: []Source{{Name: "r", Remote: remote}}})
	first, _, err := arch.OpenSegment(ctx, at(0))
	if err != nil {
		t.Fatal(err)
	}
	// Part of the body in, past the first buffer, then a second viewer joins.
	for range fillChunk/100 + 10 { // past the first buffer
		remote.pieces <- struct{}{}
	}
	second, _, err := arch.OpenSegment(ctx, at(0))
	if err != nil {
		t.Fatal(err)
	}
	remote.flow(ctx)
	for i, r := range []io.Reader{first, second} {
		b, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(b, big) {
			t.Fatalf("viewer %d: %d bytes, %v; want the %d-byte segment", i, len(b), err, len(big))
		}
	}
	if n := remote.nSegment.Load(); n != 1 {
		t.Fatalf("%d fetches, want 1", n)
	}
}

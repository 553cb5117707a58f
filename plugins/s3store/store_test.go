package s3store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/edgedvr/edge/internal/testkit"
	"github.com/edgedvr/edge/media"
	"github.com/edgedvr/edge/sdk"
)

// t0 is 2024-03-10T05:00:00Z, the start of an hour.
const t0 = int64(1710046800000)

var ctx = context.Background()

// counter is a RoundTripper that counts requests by method and key part.
type counter struct {
	mu   sync.Mutex
	reqs []string // "METHOD /bucket/key?query"
}

func (c *counter) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.reqs = append(c.reqs, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
	c.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

func (c *counter) count(method, part string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, r := range c.reqs {
		if strings.HasPrefix(r, method+" ") && strings.Contains(r, part) {
			n++
		}
	}
	return n
}

func (c *counter) reset() { c.mu.Lock(); c.reqs = nil; c.mu.Unlock() }

func newStore(t testing.TB, srv *testkit.S3) (*Store, *counter) {
	t.Helper()
	s := New(nil)
	env := srv.Env()
	s.Env = func(k string) string { return env[k] }
	c := &counter{}
	s.Transport = c
	t.Cleanup(func() { s.Close() })
	return s, c
}

func open(t testing.TB, s *Store, root, name string, depth time.Duration, maxSize int64) {
	t.Helper()
	if err := s.OpenStream(ctx, sdk.StreamConfig{Stream: name, Root: root, Depth: depth, MaxSize: maxSize}); err != nil {
		t.Fatal(err)
	}
}

func testInit(seed byte) media.Init {
	data := bytes.Repeat([]byte{'i', seed}, 100)
	return media.Init{Hash: media.InitHash(data), Data: data}
}

func segData(start int64, size int) []byte {
	r := rand.New(rand.NewPCG(uint64(start), uint64(size)))
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func writeSeg(t testing.TB, s *Store, name string, start, dur int64, hash string) sdk.SegmentInfo {
	t.Helper()
	data := segData(start, 200+int(start%997))
	info, err := s.WriteSegment(ctx, name, media.Segment{Start: start, Duration: dur, InitHash: hash, Data: data})
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != int64(len(data)) || info.Checksum != media.Checksum(data) || info.Path != "" {
		t.Fatalf("info %+v for %d bytes", info, len(data))
	}
	return info
}

func TestRoundTripAcrossHoursAndReopen(t *testing.T) {
	srv := testkit.StartS3(t, "edge-rt")
	s, _ := newStore(t, srv)
	root := srv.Root("site/a")
	open(t, s, root, "cam", 0, 0)
	in := testInit(1)
	if err := s.WriteInit(ctx, "cam", in); err != nil {
		t.Fatal(err)
	}
	// 2 s segments from 05:59:50 to 06:00:10, a gap, then 06:30:00 to 06:30:06.
	var starts []int64
	for st := t0 + hourMs - 10000; st < t0+hourMs+10000; st += 2000 {
		starts = append(starts, st)
	}
	for st := t0 + hourMs + 1800000; st < t0+hourMs+1806000; st += 2000 {
		starts = append(starts, st)
	}
	for _, st := range starts {
		writeSeg(t, s, "cam", st, 2000, in.Hash)
	}
	if _, err := s.WriteSegment(ctx, "cam", media.Segment{Start: t0 + hourMs - 11000, Duration: 2000, InitHash: in.Hash, Data: []byte("x")}); !sdk.IsPermanent(err) {
		t.Fatalf("a segment overlapping a stored one: %v, want refused", err)
	}
	check := func(s *Store) {
		t.Helper()
		want := []sdk.Range{{From: t0 + hourMs - 10000, To: t0 + hourMs + 10000}, {From: t0 + hourMs + 1800000, To: t0 + hourMs + 1806000}}
		got, err := s.Ranges(ctx, "cam", 0, t0+10*hourMs)
		if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("ranges %v, %v; want %v", got, err, want)
		}
		// Clipped to whole segments that overlap.
		got, err = s.Ranges(ctx, "cam", t0+hourMs-5000, t0+hourMs+1000)
		if want := []sdk.Range{{From: t0 + hourMs - 6000, To: t0 + hourMs + 2000}}; err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("clipped ranges %v, %v; want %v", got, err, want)
		}
		segs, err := s.Segments(ctx, "cam", 0, t0+10*hourMs)
		if err != nil || len(segs) != len(starts) {
			t.Fatalf("segments: %d, %v; want %d", len(segs), err, len(starts))
		}
		for i, info := range segs {
			data := segData(starts[i], 200+int(starts[i]%997))
			if info.Start != starts[i] || info.Checksum != media.Checksum(data) || info.InitHash != in.Hash {
				t.Fatalf("segment %d: %+v", i, info)
			}
			b, err := s.ReadSegment(ctx, "cam", info.Start)
			if err != nil || !bytes.Equal(b, data) {
				t.Fatalf("read segment %d: %v", info.Start, err)
			}
		}
		got2, err := s.ReadInit(ctx, "cam", in.Hash)
		if err != nil || !bytes.Equal(got2.Data, in.Data) {
			t.Fatalf("read init: %v", err)
		}
		if _, err := s.ReadSegment(ctx, "cam", t0); !errors.Is(err, sdk.ErrNotFound) {
			t.Fatalf("read of a missing segment: %v, want ErrNotFound", err)
		}
		if _, err := s.ReadInit(ctx, "cam", "0123456789abcdef"); !errors.Is(err, sdk.ErrNotFound) {
			t.Fatalf("read of a missing init: %v, want ErrNotFound", err)
		}
	}
	check(s)
	s.Close()
	s2, _ := newStore(t, srv)
	open(t, s2, root, "cam", 0, 0)
	check(s2)
	// The objects are where the README says.
	keys := listKeys(t, srv, "site/a/cam/")
	for _, want := range []string{"site/a/cam/summary", "site/a/cam/index/2024031005", "site/a/cam/index/2024031006",
		"site/a/cam/init/" + in.Hash + ".mp4", fmt.Sprintf("site/a/cam/seg/2024/03/10/06/%d_2000_%s.m4s", t0+hourMs, in.Hash)} {
		if !keys[want] {
			t.Errorf("no object %s", want)
		}
	}
}

func listKeys(t testing.TB, srv *testkit.S3, prefix string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for o := range srv.Client().ListObjects(ctx, srv.Bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		out[o.Key] = true
	}
	return out
}

// TestUnlistedObjectStaysInvisible: a crash between the segment's PUT and
// its index's PUT leaves an object that no listing names; retention of its
// hour removes it.
func TestUnlistedObjectStaysInvisible(t *testing.T) {
	srv := testkit.StartS3(t, "edge-torn")
	s, _ := newStore(t, srv)
	root := srv.Root("p")
	open(t, s, root, "cam", 0, 0)
	in := testInit(1)
	writeSeg(t, s, "cam", t0, 2000, in.Hash)
	stray := fmt.Sprintf("p/cam/seg/2024/03/10/05/%d_2000_%s.m4s", t0+2000, in.Hash)
	if _, err := srv.Client().PutObject(ctx, srv.Bucket, stray, bytes.NewReader([]byte("half")), 4, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s2, _ := newStore(t, srv)
	now := time.UnixMilli(t0 + 3*hourMs)
	s2.Now = func() time.Time { return now }
	open(t, s2, root, "cam", time.Hour, 0)
	segs, _ := s2.Segments(ctx, "cam", 0, t0+hourMs)
	if len(segs) != 0 {
		t.Fatalf("segments after retention: %+v", segs)
	}
	if keys := listKeys(t, srv, "p/cam/seg/"); len(keys) != 0 {
		t.Fatalf("objects left after the hour expired: %v", keys)
	}
}

func TestRetentionByDepthAndSize(t *testing.T) {
	srv := testkit.StartS3(t, "edge-ret")
	s, _ := newStore(t, srv)
	root := srv.Root("r")
	now := time.UnixMilli(t0)
	s.Now = func() time.Time { return now }
	s.CleanInterval = time.Hour // passes run from the test below
	open(t, s, root, "cam", 90*time.Minute, 0)
	in := testInit(1)
	if err := s.WriteInit(ctx, "cam", in); err != nil {
		t.Fatal(err)
	}
	// One 10-minute segment every 10 minutes for 3 hours.
	var total int64
	for st := t0; st < t0+3*hourMs; st += 600000 {
		total += writeSeg(t, s, "cam", st, 600000, in.Hash).Size
	}
	now = time.UnixMilli(t0 + 3*hourMs)
	if err := s.streams["cam"].clean(ctx, now); err != nil {
		t.Fatal(err)
	}
	// Depth 90 min at 08:00: segments ending by 06:30 go.
	segs, _ := s.Segments(ctx, "cam", 0, t0+10*hourMs)
	if len(segs) != 9 || segs[0].Start != t0+hourMs+1800000 {
		t.Fatalf("after depth retention: %d segments from %d", len(segs), segs[0].Start)
	}
	// Size: keep at most the last 4 segments' bytes.
	var last4 int64
	for _, x := range segs[5:] {
		last4 += x.Size
	}
	s.Close()
	s2, _ := newStore(t, srv)
	s2.Now = func() time.Time { return now }
	open(t, s2, root, "cam", 0, last4)
	segs, _ = s2.Segments(ctx, "cam", 0, t0+10*hourMs)
	if len(segs) != 4 || segs[0].Start != t0+2*hourMs+1200000 {
		t.Fatalf("after size retention: %+v", segs)
	}
	if n := len(listKeys(t, srv, "r/cam/seg/")); n != 4 {
		t.Fatalf("%d segment objects left, want 4", n)
	}
	ranges, _ := s2.Ranges(ctx, "cam", 0, t0+10*hourMs)
	if want := []sdk.Range{{From: t0 + 2*hourMs + 1200000, To: t0 + 3*hourMs}}; fmt.Sprint(ranges) != fmt.Sprint(want) {
		t.Fatalf("ranges %v, want %v", ranges, want)
	}
}

// TestThirtyDaysOneDayQuery: a 30-day archive of 10 s segments (indexes
// written as a recorder would leave them); a one-day Ranges reads the
// summary and at most two hour indexes, never lists the segments.
func TestThirtyDaysOneDayQuery(t *testing.T) {
	srv := testkit.StartS3(t, "edge-month")
	c := srv.Client()
	hash := testInit(1).Hash
	const days = 30
	// Each day has one gap: 12:00:00 to 12:05:00.
	var wg sync.WaitGroup
	var failed atomic.Bool
	sem := make(chan struct{}, 16)
	for h := int64(0); h < days*24; h++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(h int64) {
			defer wg.Done()
			defer func() { <-sem }()
			hour := t0 - 5*hourMs + h*hourMs // days start at 00:00
			var b strings.Builder
			for st := hour; st < hour+hourMs; st += 10000 {
				if off := (st - t0 + 5*hourMs) % (24 * hourMs); off >= 12*hourMs && off < 12*hourMs+300000 {
					continue
				}
				fmt.Fprintf(&b, "%d 10000 1000 %s 00000000\n", st, hash)
			}
			name := time.UnixMilli(hour).UTC().Format("2006010215")
			if _, err := c.PutObject(ctx, srv.Bucket, "m/cam/index/"+name, strings.NewReader(b.String()), int64(b.Len()), minio.PutObjectOptions{}); err != nil {
				failed.Store(true)
				t.Error(err)
			}
		}(h)
	}
	wg.Wait()
	if failed.Load() {
		t.FailNow()
	}
	// The first open finds no summary and builds it from the indexes.
	s, _ := newStore(t, srv)
	open(t, s, srv.Root("m"), "cam", 0, 0)
	s.Close()

	s2, cnt := newStore(t, srv)
	open(t, s2, srv.Root("m"), "cam", 0, 0)
	if n := cnt.count("GET", "/index/"); n != 1 {
		t.Fatalf("open read %d hour indexes, want 1 (the last hour)", n)
	}
	cnt.reset()
	day := t0 - 5*hourMs + 10*24*hourMs // day 10, 00:00
	got, err := s2.Ranges(ctx, "cam", day, day+24*hourMs)
	if err != nil {
		t.Fatal(err)
	}
	want := []sdk.Range{{From: day, To: day + 12*hourMs}, {From: day + 12*hourMs + 300000, To: day + 24*hourMs}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("one-day ranges %v, want %v", got, want)
	}
	if n, all := cnt.count("GET", "/index/"), len(cnt.reqs); n > 2 || all > 2 {
		t.Fatalf("a one-day range query made %d requests (%d index reads): %v", all, n, cnt.reqs)
	}
	cnt.reset()
	month, err := s2.Ranges(ctx, "cam", 0, day+100*24*hourMs)
	if err != nil || len(month) != days+1 {
		t.Fatalf("30-day ranges: %d, %v; want %d", len(month), err, days+1)
	}
	if n := len(cnt.reqs); n > 2 {
		t.Fatalf("a 30-day range query made %d requests: %v", n, cnt.reqs)
	}
	segs, err := s2.Segments(ctx, "cam", day, day+24*hourMs)
	if err != nil || len(segs) != 24*360-30 {
		t.Fatalf("one-day segments: %d, %v; want %d", len(segs), err, 24*360-30)
	}
	if n := cnt.count("GET", "/index/"); n > 24 {
		t.Fatalf("one-day segment listing read %d hour indexes", n)
	}
	if n := cnt.count("GET", "/seg/") + cnt.count("GET", "list-type"); n != 0 {
		t.Fatalf("queries touched segment objects or listed: %v", cnt.reqs)
	}
}

// TestServerRestart: writes fail while the server is down (with an error
// the recorder retries, not ErrNotFound), and succeed again once it is
// back; nothing written before is lost or torn.
func TestServerRestart(t *testing.T) {
	srv := testkit.StartS3(t, "edge-restart")
	s, _ := newStore(t, srv)
	root := srv.Root("x")
	open(t, s, root, "cam", 0, 0)
	in := testInit(1)
	if err := s.WriteInit(ctx, "cam", in); err != nil {
		t.Fatal(err)
	}
	for st := t0; st < t0+20000; st += 2000 {
		writeSeg(t, s, "cam", st, 2000, in.Hash)
	}
	srv.Restart(func() {
		wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		_, err := s.WriteSegment(wctx, "cam", media.Segment{Start: t0 + 20000, Duration: 2000, InitHash: in.Hash, Data: segData(t0+20000, 300)})
		if err == nil || errors.Is(err, sdk.ErrNotFound) {
			t.Errorf("write while the server is down: %v", err)
		}
	})
	for st := t0 + 20000; st < t0+40000; st += 2000 {
		writeSeg(t, s, "cam", st, 2000, in.Hash)
	}
	s.Close()
	s2, _ := newStore(t, srv)
	open(t, s2, root, "cam", 0, 0)
	segs, err := s2.Segments(ctx, "cam", 0, t0+hourMs)
	if err != nil || len(segs) != 20 {
		t.Fatalf("after restart: %d segments, %v; want 20", len(segs), err)
	}
	for _, x := range segs {
		b, err := s2.ReadSegment(ctx, "cam", x.Start)
		if err != nil || media.Checksum(b) != x.Checksum {
			t.Fatalf("segment %d: %v", x.Start, err)
		}
	}
}

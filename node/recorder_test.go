package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/edgedvr/edge/media"
	"github.com/edgedvr/edge/plugins/dvrstore"
	"github.com/edgedvr/edge/sdk"
)

// The recorder tests write through the real local-disk store (in process),
// which refuses bad segments itself; failStore puts temporary failures in
// front of it.

// logBuffer collects a logger's text lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// count returns how many lines carry msg.
func (b *logBuffer) count(msg string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Count(b.buf.String(), fmt.Sprintf("msg=%q", msg))
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// failStore fails WriteSegment with fail's error while fail returns one.
type failStore struct {
	sdk.Store
	fail  atomic.Pointer[func(media.Segment) error]
	fails atomic.Int64
}

func (s *failStore) WriteSegment(ctx context.Context, stream string, seg media.Segment) (sdk.SegmentInfo, error) {
	if f := s.fail.Load(); f != nil {
		if err := (*f)(seg); err != nil {
			s.fails.Add(1)
			return sdk.SegmentInfo{}, err
		}
	}
	return s.Store.WriteSegment(ctx, stream, seg)
}

func (s *failStore) setFail(f func(media.Segment) error) { s.fail.Store(&f) }

type recorderRig struct {
	store *failStore
	rec   *recorder
	m     *Metrics
	logs  *logBuffer
	init  media.Init
}

// newRecorderRig starts a recorder of stream "cam" over a dvrstore in a
// temporary directory, retrying after retryMin doubling to retryMax.
func newRecorderRig(t *testing.T, retryMin, retryMax time.Duration) *recorderRig {
	t.Helper()
	disk := dvrstore.New(nil)
	t.Cleanup(func() { disk.Close() })
	if err := disk.OpenStream(t.Context(), sdk.StreamConfig{Stream: "cam", Root: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	data := []byte("ftyp-moov-recorder-test")
	rig := &recorderRig{
		store: &failStore{Store: disk},
		m:     NewMetrics(prometheus.NewRegistry()),
		logs:  &logBuffer{},
		init:  media.Init{Hash: media.InitHash(data), Data: data},
	}
	log := slog.New(slog.NewTextHandler(rig.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	rig.rec = newRecorder("cam", func(context.Context) (sdk.Store, error) { return rig.store, nil }, log, rig.m)
	rig.rec.retryMin, rig.rec.retryMax = retryMin, retryMax
	go rig.rec.run(context.Background())
	t.Cleanup(func() {
		rig.rec.close()
		select {
		case <-rig.rec.done:
		case <-time.After(10 * time.Second):
			t.Error("recorder did not finish after close")
		}
	})
	return rig
}

func segment(start, dur int64, init media.Init) media.Segment {
	return media.Segment{Start: start, Duration: dur, InitHash: init.Hash, Data: fmt.Appendf(nil, "moof-mdat-%d", start)}
}

// stored returns the starts the store lists, in order.
func (r *recorderRig) stored(t *testing.T) []int64 {
	t.Helper()
	segs, err := r.store.Segments(t.Context(), "cam", 0, 1<<62)
	if err != nil {
		t.Fatal(err)
	}
	var out []int64
	for _, s := range segs {
		out = append(out, s.Start)
	}
	return out
}

func (r *recorderRig) counter(c *prometheus.CounterVec) float64 {
	return testutil.ToFloat64(c.WithLabelValues("cam"))
}
func (r *recorderRig) gauge(g *prometheus.GaugeVec) float64 {
	return testutil.ToFloat64(g.WithLabelValues("cam"))
}

// waitFor polls cond until it holds or 10 s pass.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestRecorderDropsRefusedSegments feeds segments the store refuses for
// good between good ones: recording goes on at once (the backoff is an
// hour, so a retry would hang the test), and each refused segment is
// counted and logged once.
func TestRecorderDropsRefusedSegments(t *testing.T) {
	rig := newRecorderRig(t, time.Hour, time.Hour)
	const base = int64(1_780_000_000_000)
	badData := []byte("an init whose hash is not its bytes'")
	badInit := media.Init{Hash: media.InitHash([]byte("other bytes")), Data: badData}
	feed := []struct {
		init media.Init
		seg  media.Segment
		kept bool
	}{
		{rig.init, segment(base, 2000, rig.init), true},
		{rig.init, segment(base+2000, 0, rig.init), false}, // a 0 ms duration
		{rig.init, segment(base+2000, 2000, rig.init), true},
		{rig.init, segment(base+1000, 2000, rig.init), false}, // the clock stepped back: overlaps what is stored
		{rig.init, segment(base+4000, 2000, rig.init), true},
		{badInit, segment(base+6000, 2000, badInit), false}, // an init the store refuses
		{rig.init, segment(base+8000, 2000, rig.init), true},
	}
	var want []int64
	refused := 0
	for _, f := range feed {
		rig.rec.enqueue(t.Context(), f.init, f.seg)
		if f.kept {
			want = append(want, f.seg.Start)
		} else {
			refused++
		}
	}
	waitUntil(t, "the good segments stored", func() bool { return slices.Equal(rig.stored(t), want) })
	waitUntil(t, "the refused segments counted", func() bool { return rig.counter(rig.m.RecordRefused) == float64(refused) })
	if got := rig.counter(rig.m.SegmentsWritten); got != float64(len(want)) {
		t.Errorf("segments written = %v, want %d", got, len(want))
	}
	if got := rig.logs.count("archive refused segment, dropped"); got != refused {
		t.Errorf("%d refusal log lines, want one per refused segment (%d):\n%s", got, refused, rig.logs)
	}
	if got := rig.gauge(rig.m.RecordStalled); got != 0 {
		t.Errorf("write_stalled = %v after refusals only, want 0", got)
	}
	if n := rig.logs.count("archive write failed, retrying with backoff"); n != 0 {
		t.Errorf("a refused segment was retried:\n%s", rig.logs)
	}
}

// TestRecorderRetriesTemporaryFailures fails the first writes with a
// temporary error: the same segment is retried until it lands, nothing is
// dropped, and the stall is logged once when it starts and once when it
// ends.
func TestRecorderRetriesTemporaryFailures(t *testing.T) {
	rig := newRecorderRig(t, time.Millisecond, 4*time.Millisecond)
	const base = int64(1_780_000_000_000)
	const failures = 6
	var stalledSeen atomic.Bool
	rig.store.setFail(func(media.Segment) error {
		n := rig.store.fails.Load()
		if n >= failures {
			return nil
		}
		if n == failures-1 && rig.gauge(rig.m.RecordStalled) == 1 {
			stalledSeen.Store(true)
		}
		return errors.New("store plugin: unavailable for a moment")
	})
	var want []int64
	for i := range int64(5) {
		s := segment(base+i*2000, 2000, rig.init)
		rig.rec.enqueue(t.Context(), rig.init, s)
		want = append(want, s.Start)
	}
	waitUntil(t, "every segment stored", func() bool { return slices.Equal(rig.stored(t), want) })
	waitUntil(t, "the stall to end", func() bool { return rig.logs.count("archive writes resumed") == 1 })
	if !stalledSeen.Load() {
		t.Error("write_stalled was not 1 during the failures")
	}
	if got := rig.gauge(rig.m.RecordStalled); got != 0 {
		t.Errorf("write_stalled = %v after recovery, want 0", got)
	}
	if got := rig.counter(rig.m.RecordErrors); got != failures {
		t.Errorf("write errors = %v, want %d", got, failures)
	}
	if got := rig.counter(rig.m.RecordRefused) + rig.counter(rig.m.RecordDropped); got != 0 {
		t.Errorf("%v segments refused or dropped, want none", got)
	}
	if got := rig.logs.count("archive write failed, retrying with backoff"); got != 1 {
		t.Errorf("%d failure log lines for one stall, want 1:\n%s", got, rig.logs)
	}
}

// TestRecorderDiskFullOverflow keeps the store's disk "full" (ENOSPC, the
// fallback of the real full-disk tests in plugins/dvrstore and cmd/edge)
// while more segments arrive than the queue holds: the oldest waiting ones
// are dropped and counted, the full disk and the overflow are each logged
// once, and recording resumes by itself once space returns.
func TestRecorderDiskFullOverflow(t *testing.T) {
	rig := newRecorderRig(t, time.Millisecond, 4*time.Millisecond)
	const base = int64(1_780_000_000_000)
	var full atomic.Bool
	full.Store(true)
	rig.store.setFail(func(media.Segment) error {
		if full.Load() {
			return fmt.Errorf("dvrstore: write temp file: %w", syscall.ENOSPC)
		}
		return nil
	})
	const extra = 10
	seg := func(i int64) media.Segment { return segment(base+i*2000, 2000, rig.init) }
	rig.rec.enqueue(t.Context(), rig.init, seg(0))
	waitUntil(t, "the first write to fail", func() bool { return rig.store.fails.Load() > 0 })
	for i := int64(1); i <= recordQueue+extra; i++ {
		rig.rec.enqueue(t.Context(), rig.init, seg(i))
	}
	waitUntil(t, "disk_full to be set", func() bool { return rig.gauge(rig.m.DiskFull) == 1 })
	waitUntil(t, "several retries", func() bool { return rig.store.fails.Load() > 5 })
	if got := rig.counter(rig.m.RecordDropped); got != extra {
		t.Errorf("dropped = %v, want %d", got, extra)
	}
	if rig.gauge(rig.m.RecordStalled) != 1 {
		t.Error("write_stalled is not 1 while the disk is full")
	}
	full.Store(false)
	// Segment 0 (in flight) and all but the 10 oldest waiting ones.
	want := []int64{seg(0).Start}
	for i := int64(extra + 1); i <= recordQueue+extra; i++ {
		want = append(want, seg(i).Start)
	}
	waitUntil(t, "the queue written", func() bool { return slices.Equal(rig.stored(t), want) })
	waitUntil(t, "the overflow to end", func() bool { return rig.logs.count("archive write queue no longer full") == 1 })
	if got := rig.gauge(rig.m.DiskFull) + rig.gauge(rig.m.RecordStalled); got != 0 {
		t.Errorf("disk_full + write_stalled = %v after space returned, want 0", got)
	}
	for msg, want := range map[string]int{
		"archive disk full, recording paused until space is freed":                                  1,
		"archive write queue full, dropping the oldest waiting segments until the store catches up": 1,
		"archive writes resumed": 1,
	} {
		if got := rig.logs.count(msg); got != want {
			t.Errorf("%d lines %q, want %d:\n%s", got, msg, want, rig.logs)
		}
	}
	if !strings.Contains(rig.logs.String(), "dropped="+fmt.Sprint(extra)) {
		t.Errorf("the end of the overflow does not say %d segments were dropped:\n%s", extra, rig.logs)
	}
	if got := rig.counter(rig.m.RecordRefused); got != 0 {
		t.Errorf("refused = %v: a full disk is not a refusal", got)
	}
}

// initCheckStore is a store that checks inits: it refuses for good a
// segment whose init it does not have, and forget makes it lose them (as
// a store whose plugin restarted on an empty cache would).
type initCheckStore struct {
	sdk.Store
	mu     sync.Mutex
	inits  map[string]bool
	lost   bool // forget also refuses every later WriteInit
	refuse int  // refusals answered
}

func (s *initCheckStore) WriteInit(ctx context.Context, stream string, init media.Init) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lost {
		return fmt.Errorf("init %s: cannot store: %w", init.Hash, sdk.ErrRefused)
	}
	s.inits[init.Hash] = true
	return s.Store.WriteInit(ctx, stream, init)
}

func (s *initCheckStore) WriteSegment(ctx context.Context, stream string, seg media.Segment) (sdk.SegmentInfo, error) {
	s.mu.Lock()
	known := s.inits[seg.InitHash]
	if !known {
		s.refuse++
	}
	s.mu.Unlock()
	if !known {
		return sdk.SegmentInfo{}, fmt.Errorf("segment %d: unknown init %s: %w", seg.Start, seg.InitHash, sdk.ErrRefused)
	}
	return s.Store.WriteSegment(ctx, stream, seg)
}

func (s *initCheckStore) forget(lost bool) {
	s.mu.Lock()
	s.inits, s.lost = map[string]bool{}, lost
	s.mu.Unlock()
}

// TestRecorderWritesInitBeforeDropping: a store refuses a segment for an
// unknown init because it lost the init the recorder wrote earlier. The
// recorder writes the init again and stores the segment; only when the
// init itself is refused is the segment dropped.
func TestRecorderWritesInitBeforeDropping(t *testing.T) {
	rig := newRecorderRig(t, time.Hour, time.Hour)
	checker := &initCheckStore{Store: rig.store.Store, inits: map[string]bool{}}
	rig.store.Store = checker
	const base = int64(1_780_000_000_000)
	rig.rec.enqueue(t.Context(), rig.init, segment(base, 2000, rig.init))
	waitUntil(t, "the first segment", func() bool { return slices.Equal(rig.stored(t), []int64{base}) })

	checker.forget(false)
	rig.rec.enqueue(t.Context(), rig.init, segment(base+2000, 2000, rig.init))
	waitUntil(t, "the segment after the store lost its init", func() bool {
		return slices.Equal(rig.stored(t), []int64{base, base + 2000})
	})
	checker.mu.Lock()
	refusals := checker.refuse
	checker.mu.Unlock()
	if got := rig.counter(rig.m.RecordRefused); got != 0 || refusals != 1 {
		t.Fatalf("refused counter %v after %d refusals; want the init written again and nothing dropped", got, refusals)
	}

	checker.forget(true)
	rig.rec.enqueue(t.Context(), rig.init, segment(base+4000, 2000, rig.init))
	waitUntil(t, "the segment whose init is refused to be dropped", func() bool { return rig.counter(rig.m.RecordRefused) == 1 })
	checker.forget(false)
	rig.rec.enqueue(t.Context(), rig.init, segment(base+6000, 2000, rig.init))
	waitUntil(t, "recording to go on", func() bool {
		return slices.Equal(rig.stored(t), []int64{base, base + 2000, base + 6000})
	})
}

package s3store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/minio/minio-go/v7"

	"github.com/edgedvr/edge/media"
	"github.com/edgedvr/edge/sdk"
)

// maxCachedHours bounds the hour indexes a stream keeps in memory.
const maxCachedHours = 48

// summaryFlushEvery is how often at most the summary object is rewritten
// while recording within one hour; a new hour and retention write it at
// once. A summary that is behind costs nothing but a re-read of the last
// hour's index at the next OpenStream.
const summaryFlushEvery = 10 * time.Second

// stream is one open stream: its objects live under base.
type stream struct {
	name string
	cfg  sdk.StreamConfig
	c    *minio.Client
	root Root
	base string // key prefix of the stream, ending in '/'
	tol  int64
	log  *slog.Logger

	writeMu sync.Mutex // serializes writes, retention and summary flushes

	mu         sync.RWMutex
	hours      []hourSum // sorted by hour; guarded by mu
	total      int64     // bytes of all hours; guarded by mu
	curHour    int64     // hour of cur; -1 when none
	cur        []entry   // entries of the last hour; guarded by mu
	dirty      bool      // summary object is behind hours; guarded by writeMu
	lastFlush  time.Time // guarded by writeMu
	idx        *lru.Cache[int64, []entry]
	inits      sync.Map // hash -> []byte, inits known to be stored
	stop, done chan struct{}
}

func (st *stream) key(rest string) string { return st.base + rest }

func (st *stream) indexKey(hour int64) string { return st.key("index/" + hourName(hour)) }

// get reads an object whole, at most limit bytes. A missing object is
// sdk.ErrNotFound.
func (st *stream) get(ctx context.Context, key string, limit int64) ([]byte, error) {
	obj, err := st.c.GetObject(ctx, st.root.Bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, st.wrap("get "+key, err)
	}
	defer obj.Close()
	b, err := io.ReadAll(io.LimitReader(obj, limit+1))
	if err != nil {
		return nil, st.wrap("get "+key, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("s3store: get %s: larger than %d bytes", key, limit)
	}
	return b, nil
}

// wrap turns a minio error into an error that keeps ErrNotFound's identity.
func (st *stream) wrap(op string, err error) error {
	if r := minio.ToErrorResponse(err); r.Code == minio.NoSuchKey || r.StatusCode == 404 && r.Code != minio.NoSuchBucket {
		return fmt.Errorf("s3store: %s: %w", op, sdk.ErrNotFound)
	}
	return fmt.Errorf("s3store: %s: %w", op, err)
}

func (st *stream) put(ctx context.Context, key string, b []byte, ctype string) error {
	_, err := st.c.PutObject(ctx, st.root.Bucket, key, bytes.NewReader(b), int64(len(b)),
		minio.PutObjectOptions{ContentType: ctype, DisableMultipart: true, SendContentMd5: true})
	if err != nil {
		return fmt.Errorf("s3store: put %s: %w", key, err)
	}
	return nil
}

// load reads the summary and reconciles it with the index objects that
// exist: hours with an index but no summary line (a crash before the
// summary was written) are read, hours in the summary without an index
// are dropped, and the last hour is always re-read from its index.
func (st *stream) load(ctx context.Context) error {
	var hours []hourSum
	b, err := st.get(ctx, st.key("summary"), 64<<20)
	switch {
	case errors.Is(err, sdk.ErrNotFound):
	case err != nil:
		return err
	default:
		if hours, err = parseSummary(string(b)); err != nil {
			st.log.Warn("summary damaged, rebuilding it from the hour indexes", "stream", st.name, "error", err)
			hours = nil
		}
	}
	listed := map[int64]bool{}
	for obj := range st.c.ListObjects(ctx, st.root.Bucket, minio.ListObjectsOptions{Prefix: st.key("index/")}) {
		if obj.Err != nil {
			return fmt.Errorf("s3store: list %s: %w", st.key("index/"), obj.Err)
		}
		if h, ok := parseHourName(strings.TrimPrefix(obj.Key, st.key("index/"))); ok {
			listed[h] = true
		}
	}
	known := map[int64]bool{}
	var kept []hourSum
	for _, h := range hours {
		if listed[h.hour] {
			kept = append(kept, h)
			known[h.hour] = true
		}
	}
	changed := len(kept) != len(hours)
	var reread []int64
	for h := range listed {
		if !known[h] {
			reread = append(reread, h)
		}
	}
	if n := len(kept); n > 0 {
		reread = append(reread, kept[n-1].hour)
	}
	read := map[int64][]entry{}
	for _, h := range reread {
		es, err := st.readIndex(ctx, h)
		if err != nil {
			return err
		}
		read[h] = es
		var before []byte
		kept = slices.DeleteFunc(kept, func(x hourSum) bool {
			if x.hour == h {
				before = formatSummary([]hourSum{x})
			}
			return x.hour == h
		})
		if len(es) > 0 {
			kept = append(kept, summarize(h, es, st.tol))
			changed = changed || !bytes.Equal(before, formatSummary(kept[len(kept)-1:]))
		} else {
			changed = true
		}
	}
	slices.SortFunc(kept, func(a, b hourSum) int { return int(a.hour - b.hour) })
	st.hours = kept
	st.total = 0
	for _, h := range kept {
		st.total += h.bytes
	}
	st.curHour = -1
	if n := len(kept); n > 0 {
		last := kept[n-1].hour
		st.curHour, st.cur = last, read[last]
	}
	if changed {
		st.dirty = true
		return st.flushSummary(ctx)
	}
	return nil
}

// readIndex GETs and parses an hour's index; a missing one is empty.
func (st *stream) readIndex(ctx context.Context, hour int64) ([]entry, error) {
	b, err := st.get(ctx, st.indexKey(hour), 64<<20)
	if errors.Is(err, sdk.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	es, bad := parseIndex(string(b), hour)
	if bad > 0 {
		st.log.Warn("hour index has damaged lines, skipped", "stream", st.name, "hour", hourName(hour), "lines", bad)
	}
	return es, nil
}

// hourEntries returns the entries of an hour: the current hour from
// memory, others from the cache or their index object.
func (st *stream) hourEntries(ctx context.Context, hour int64) ([]entry, error) {
	st.mu.RLock()
	if hour == st.curHour {
		es := st.cur
		st.mu.RUnlock()
		return es, nil
	}
	st.mu.RUnlock()
	if es, ok := st.idx.Get(hour); ok {
		return es, nil
	}
	es, err := st.readIndex(ctx, hour)
	if err != nil {
		return nil, err
	}
	st.idx.Add(hour, es)
	return es, nil
}

// flushSummary writes the summary object when it is behind. Called with
// writeMu held (or before the stream is shared).
func (st *stream) flushSummary(ctx context.Context) error {
	if !st.dirty {
		return nil
	}
	st.mu.RLock()
	b := formatSummary(st.hours)
	st.mu.RUnlock()
	if err := st.put(ctx, st.key("summary"), b, "text/plain"); err != nil {
		return err
	}
	st.dirty = false
	st.lastFlush = time.Now()
	return nil
}

func (st *stream) writeInit(ctx context.Context, init media.Init) error {
	if init.Hash != media.InitHash(init.Data) {
		return fmt.Errorf("s3store: write init: hash %q does not match its data: %w", init.Hash, sdk.ErrRefused)
	}
	if err := checkSize("init", len(init.Data)); err != nil {
		return err
	}
	if _, ok := st.inits.Load(init.Hash); ok {
		return nil
	}
	if err := st.put(ctx, st.key("init/"+init.Hash+".mp4"), init.Data, "video/mp4"); err != nil {
		return err
	}
	st.inits.Store(init.Hash, init.Data)
	return nil
}

func checkSize(what string, n int) error {
	if n > sdk.MaxSegmentSize {
		return fmt.Errorf("s3store: %s of %d bytes: %w", what, n, sdk.ErrTooLarge)
	}
	if n == 0 {
		return fmt.Errorf("s3store: empty %s: %w", what, sdk.ErrRefused)
	}
	return nil
}

// lastEnd is the end of the stream's last segment, 0 when empty.
func (st *stream) lastEnd() int64 {
	if n := len(st.cur); n > 0 {
		return st.cur[n-1].end()
	}
	return 0
}

// writeSegment stores the segment object, then the hour index that names
// it: a segment is listed only once its object is whole in the store.
func (st *stream) writeSegment(ctx context.Context, seg media.Segment) (sdk.SegmentInfo, error) {
	if err := checkSize("segment", len(seg.Data)); err != nil {
		return sdk.SegmentInfo{}, err
	}
	if seg.Duration <= 0 || seg.Duration > hourMs || seg.Start < 0 || !isHex(seg.InitHash, 16) {
		return sdk.SegmentInfo{}, fmt.Errorf("s3store: write segment: bad start %d, duration %d or init %q: %w", seg.Start, seg.Duration, seg.InitHash, sdk.ErrRefused)
	}
	st.writeMu.Lock()
	defer st.writeMu.Unlock()
	st.mu.RLock()
	last := st.lastEnd()
	st.mu.RUnlock()
	e := entry{start: seg.Start, dur: seg.Duration, size: int64(len(seg.Data)), init: seg.InitHash, sum: media.Checksum(seg.Data)}
	if seg.Start < last {
		if err := st.fillSegment(ctx, e, seg.Data); err != nil {
			return sdk.SegmentInfo{}, err
		}
		return st.info(e), nil
	}
	if err := st.put(ctx, st.key(segmentKey(e)), seg.Data, "video/iso.segment"); err != nil {
		return sdk.SegmentInfo{}, err
	}
	hour := hourOf(e.start)
	st.mu.RLock()
	var es []entry
	if hour == st.curHour {
		es = append(slices.Clip(st.cur), e)
	} else {
		es = []entry{e}
	}
	st.mu.RUnlock()
	if err := st.put(ctx, st.indexKey(hour), formatIndex(es), "text/plain"); err != nil {
		// Not listed: the object is garbage; retention of its hour removes it.
		if derr := st.c.RemoveObject(context.WithoutCancel(ctx), st.root.Bucket, st.key(segmentKey(e)), minio.RemoveObjectOptions{}); derr != nil {
			st.log.Warn("unlisted segment object not removed", "stream", st.name, "start", e.start, "error", derr)
		}
		return sdk.SegmentInfo{}, err
	}
	newHour := hour != st.curHour
	st.mu.Lock()
	if newHour && st.curHour >= 0 {
		st.idx.Add(st.curHour, st.cur)
	}
	st.curHour, st.cur = hour, es
	if n := len(st.hours); n > 0 && st.hours[n-1].hour == hour {
		st.hours[n-1] = summarize(hour, es, st.tol)
	} else {
		st.hours = append(st.hours, summarize(hour, es, st.tol))
	}
	st.total += e.size
	st.mu.Unlock()
	st.dirty = true
	if newHour || time.Since(st.lastFlush) >= summaryFlushEvery {
		if err := st.flushSummary(ctx); err != nil {
			// The segment is listed by its hour index: the summary catches up later.
			st.log.Warn("summary not written, retried later", "stream", st.name, "error", err)
		}
	}
	return st.info(e), nil
}

func (st *stream) info(e entry) sdk.SegmentInfo {
	return sdk.SegmentInfo{Start: e.start, Duration: e.dur, Size: e.size, InitHash: e.init, Checksum: e.sum}
}

// hoursIn returns the summaries of the hours that may hold segments
// starting in [from, to).
func (st *stream) hoursIn(from, to int64) []hourSum {
	st.mu.RLock()
	defer st.mu.RUnlock()
	i, _ := slices.BinarySearchFunc(st.hours, hourOf(from), func(h hourSum, k int64) int { return cmpInt(h.hour, k) })
	var out []hourSum
	for ; i < len(st.hours) && st.hours[i].hour < to; i++ {
		out = append(out, st.hours[i])
	}
	return out
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (st *stream) segments(ctx context.Context, from, to int64) ([]sdk.SegmentInfo, error) {
	var out []sdk.SegmentInfo
	for _, h := range st.hoursIn(from, to) {
		es, err := st.hourEntries(ctx, h.hour)
		if err != nil {
			return nil, err
		}
		for _, e := range es {
			if e.start >= from && e.start < to {
				out = append(out, st.info(e))
			}
		}
	}
	return out, nil
}

// ranges answers from the summary for whole hours inside [from, to) and
// reads the index of at most the two hours at its edges, so that a month
// costs one pass over 720 summary lines and two index reads.
func (st *stream) ranges(ctx context.Context, from, to int64) ([]sdk.Range, error) {
	var out []sdk.Range
	add := func(r sdk.Range, dur int64) {
		if n := len(out); n > 0 && joinable(st.tol, out[n-1].To, dur, r.From) {
			out[n-1].To = max(out[n-1].To, r.To)
			return
		}
		out = append(out, r)
	}
	// A segment that starts in the hour before from may still overlap it.
	for _, h := range st.hoursIn(from-hourMs, to) {
		if h.spans[len(h.spans)-1].To <= from || h.spans[0].From >= to {
			continue
		}
		if h.hour >= from && h.hour+hourMs <= to { // every segment of the hour overlaps
			for _, r := range h.spans {
				add(r, 0)
			}
			continue
		}
		es, err := st.hourEntries(ctx, h.hour)
		if err != nil {
			return nil, err
		}
		for _, e := range es {
			if e.end() > from && e.start < to {
				add(sdk.Range{From: e.start, To: e.end()}, e.dur)
			}
		}
	}
	return out, nil
}

func (st *stream) find(ctx context.Context, start int64) (entry, error) {
	es, err := st.hourEntries(ctx, hourOf(start))
	if err != nil {
		return entry{}, err
	}
	i, ok := slices.BinarySearchFunc(es, start, func(e entry, k int64) int { return cmpInt(e.start, k) })
	if !ok {
		return entry{}, fmt.Errorf("s3store: no segment at %d in stream %q: %w", start, st.name, sdk.ErrNotFound)
	}
	return es[i], nil
}

// readSegment GETs a listed segment and checks its size and checksum.
func (st *stream) readSegment(ctx context.Context, start int64) ([]byte, error) {
	e, err := st.find(ctx, start)
	if err != nil {
		return nil, err
	}
	b, err := st.get(ctx, st.key(segmentKey(e)), e.size)
	if err != nil {
		return nil, err
	}
	if int64(len(b)) != e.size || media.Checksum(b) != e.sum {
		return nil, fmt.Errorf("s3store: segment %d of stream %q: %d bytes with checksum %s, index says %d bytes, %s",
			start, st.name, len(b), media.Checksum(b), e.size, e.sum)
	}
	return b, nil
}

func (st *stream) readInit(ctx context.Context, hash string) (media.Init, error) {
	if !isHex(hash, 16) {
		return media.Init{}, fmt.Errorf("s3store: init %q: %w", hash, sdk.ErrNotFound)
	}
	if b, ok := st.inits.Load(hash); ok {
		return media.Init{Hash: hash, Data: b.([]byte)}, nil
	}
	b, err := st.get(ctx, st.key("init/"+hash+".mp4"), sdk.MaxSegmentSize)
	if err != nil {
		return media.Init{}, err
	}
	if media.InitHash(b) != hash {
		return media.Init{}, fmt.Errorf("s3store: init %s of stream %q: content hash is %s", hash, st.name, media.InitHash(b))
	}
	st.inits.Store(hash, b)
	return media.Init{Hash: hash, Data: b}, nil
}

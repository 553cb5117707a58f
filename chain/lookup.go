package chain

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"

	"github.com/edgedvr/edge/internal/safe"
	"github.com/edgedvr/edge/media"
	"github.com/edgedvr/edge/sdk"
)

// listAhead is the window a one-segment listing asks the sources for
// (when ListingTTL allows recalling it): a viewer reads on, and the next
// segments' listings are then answered here.
const listAhead = 30_000

// maxSegmentMs is the longest segment (15 s): a segment that starts this
// much before a window may still reach into it.
const maxSegmentMs = 15_000

// sourceAnswer is one source's answer to a listing.
type sourceAnswer[T any] struct {
	val    []T
	failed error // the source was asked and failed
}

// fanOut asks every eligible source in parallel (each call with its own
// deadline) and returns their answers in source order. Empty answers are
// remembered for NegativeTTL under key.
func fanOut[T any](ctx context.Context, a *Archive, kind, key string,
	call func(ctx context.Context, r Remote, via, hops string) ([]T, error)) []sourceAnswer[T] {
	out := make([]sourceAnswer[T], len(a.cfg.Sources))
	var wg sync.WaitGroup
	for i := range a.cfg.Sources {
		via, hops, ok := a.route(ctx, i)
		if !ok {
			continue
		}
		nkey := kind + "|" + strconv.Itoa(i) + "|" + key
		if _, ok := a.negative(nkey); ok {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var val []T
			found, err := a.sourceCall(ctx, i, kind, via, func(ctx context.Context) error {
				// A panic on this goroutine (decoding a source's answer)
				// would end the process: it fails this source's call.
				return safe.Call(a.log, "chain", func() error {
					v, err := call(ctx, a.cfg.Sources[i].Remote, via, hops)
					val = v
					return err
				})
			})
			if err != nil {
				out[i].failed = err
				return
			}
			if !found || len(val) == 0 {
				a.remember(nkey, nil)
				return
			}
			out[i].val = val
		}()
	}
	wg.Wait()
	return out
}

// Ranges returns the union of the recorded stretches that overlap [from,
// to) in every place: the local archive, the disk cache and the sources.
// When nothing is found and a place that may hold some failed, it returns
// an error wrapping Config.Unavailable.
func (a *Archive) Ranges(ctx context.Context, from, to int64) ([]sdk.Range, error) {
	if err := a.checkLoop(ctx); err != nil {
		return nil, err
	}
	var lists [][]sdk.Range
	var failed error
	if a.cfg.Local != nil {
		r, err := a.cfg.Local.Ranges(ctx, from, to)
		switch {
		case err == nil:
			lists = append(lists, r)
		case !isNotFound(err):
			failed = fmt.Errorf("chain: local ranges: %w", err)
		}
	}
	if a.cfg.Disk != nil {
		lists = append(lists, rangesOf(a.cfg.Disk.List(a.cfg.Stream, from-maxSegmentMs, to)))
	}
	if len(a.cfg.Sources) > 0 {
		key := strconv.FormatInt(from, 10) + "|" + strconv.FormatInt(to, 10) + "|" + chainKey(ctx)
		v, err := a.do(ctx, "ranges", "r|"+key, func(ctx context.Context) (any, error) {
			return fanOut(ctx, a, "ranges", key, func(ctx context.Context, r Remote, via, hops string) ([]sdk.Range, error) {
				return r.Ranges(ctx, a.cfg.Stream, from, to, via, hops)
			}), nil
		})
		if err != nil {
			failed = err
		} else {
			for _, ans := range v.([]sourceAnswer[sdk.Range]) {
				if ans.failed != nil {
					failed = ans.failed
				}
				lists = append(lists, ans.val)
			}
		}
	}
	out := MergeRanges(lists...)
	// Keep only what overlaps the window.
	kept := out[:0]
	for _, r := range out {
		if r.To > from && r.From < to {
			kept = append(kept, r)
		}
	}
	if len(kept) == 0 && failed != nil {
		return nil, fmt.Errorf("chain: ranges of %s: %w (%v)", a.cfg.Stream, a.cfg.Unavailable, failed)
	}
	return kept, nil
}

// Segments lists the segments whose start is in [from, to), in order of
// start: each one from the first place in priority order (local, disk
// cache, sources) that has it; a segment that overlaps one already taken is
// dropped. Segments from sources have no Path; segments from the disk cache
// have their file's Path. When nothing is found and a place that may hold
// some failed, it returns an error wrapping Config.Unavailable.
func (a *Archive) Segments(ctx context.Context, from, to int64) ([]sdk.SegmentInfo, error) {
	if err := a.checkLoop(ctx); err != nil {
		return nil, err
	}
	var chosen []sdk.SegmentInfo
	var failed error
	if a.cfg.Local != nil {
		s, err := a.cfg.Local.Segments(ctx, from, to)
		switch {
		case err == nil:
			chosen = mergeSegments(nil, s, nil)
		case !isNotFound(err):
			failed = fmt.Errorf("chain: local segments: %w", err)
		}
	}
	if a.cfg.Disk != nil {
		chosen = mergeSegments(chosen, a.cfg.Disk.List(a.cfg.Stream, from, to), nil)
	}
	qto := to // the window asked of the sources
	if len(a.cfg.Sources) > 0 && to == from+1 {
		if segs, ok := a.knownSegment(ctx, from, chosen); ok {
			return segs, nil
		}
		if a.cfg.ListingTTL > 0 {
			// The next segments' listings will be answered from this one.
			qto = from + listAhead
		}
	}
	if len(a.cfg.Sources) > 0 {
		key := strconv.FormatInt(from, 10) + "|" + strconv.FormatInt(qto, 10) + "|" + chainKey(ctx)
		v, err := a.do(ctx, "segments", "s|"+key, func(ctx context.Context) (any, error) {
			return fanOut(ctx, a, "segments", key, func(ctx context.Context, r Remote, via, hops string) ([]sdk.SegmentInfo, error) {
				return r.Segments(ctx, a.cfg.Stream, from, qto, via, hops)
			}), nil
		})
		if err != nil {
			failed = err
		} else {
			var picked []origin
			var ahead []sdk.SegmentInfo // the sources' merged listing past to
			for i, ans := range v.([]sourceAnswer[sdk.SegmentInfo]) {
				if ans.failed != nil {
					failed = ans.failed
				}
				if len(ans.val) == 0 {
					continue
				}
				// The answer is shared by coalesced callers: copy before clearing Path.
				segs := make([]sdk.SegmentInfo, 0, len(ans.val))
				for _, s := range ans.val {
					if s.Start < from || s.Start >= to {
						continue
					}
					s.Path = "" // a remote's files are not ours to open
					segs = append(segs, s)
				}
				chosen = mergeSegments(chosen, segs, func(k int) { picked = append(picked, origin{src: i, info: segs[k]}) })
				if qto > to {
					var past []sdk.SegmentInfo
					for _, s := range ans.val {
						if s.Start >= to && s.Start < qto {
							s.Path = ""
							past = append(past, s)
						}
					}
					ahead = mergeSegments(ahead, past, func(k int) { picked = append(picked, origin{src: i, info: past[k]}) })
				}
			}
			a.rememberOrigins(picked, chainKey(ctx))
		}
	}
	if len(chosen) == 0 && failed != nil {
		return nil, fmt.Errorf("chain: segments of %s: %w (%v)", a.cfg.Stream, a.cfg.Unavailable, failed)
	}
	return chosen, nil
}

// readDisk returns the bytes of a segment held by the disk cache, or
// being written to it behind an answer already given.
func (a *Archive) readDisk(start int64) ([]byte, bool) {
	if a.cfg.Disk == nil {
		return nil, false
	}
	info, ok := a.cfg.Disk.Get(a.cfg.Stream, start)
	if !ok {
		if b, _, ok := a.cfg.Disk.Pending(a.cfg.Stream, start); ok {
			return b, true
		}
		return nil, false
	}
	b, err := os.ReadFile(info.Path)
	if err != nil || int64(len(b)) != info.Size {
		return nil, false // evicted meanwhile
	}
	return b, true
}

// ReadSegment returns the bytes of the segment that starts at start: from
// the local archive, the disk cache or the sources (the one that listed it
// first, then the others in priority order). Concurrent reads of one
// segment make one upstream fetch. A fetched segment is put in the disk
// cache once it has been requested Misses times, written behind the answer
// (cache.Disk.PutBehind): until its file is in place, reads get the bytes
// being written. It returns sdk.ErrNotFound
// (wrapped) when no place has it, and an error wrapping Config.Unavailable
// when nothing here has it and a source that may have it failed. The
// returned slice may be shared: callers must not modify it.
func (a *Archive) ReadSegment(ctx context.Context, start int64) ([]byte, error) {
	if err := a.checkLoop(ctx); err != nil {
		return nil, err
	}
	var localErr error
	if a.cfg.Local != nil {
		b, err := a.cfg.Local.ReadSegment(ctx, start)
		if err == nil {
			return b, nil
		}
		if !isNotFound(err) {
			localErr = err
		}
	}
	if b, ok := a.readDisk(start); ok {
		return b, nil
	}
	key := "g|" + strconv.FormatInt(start, 10) + "|" + chainKey(ctx)
	if b, ok := a.joinFill(ctx, key); ok {
		return b, nil // a viewer's OpenSegment was fetching it
	}
	if e, ok := a.negative(key); ok {
		return nil, e.err
	}
	a.wantDisk(start)
	v, err := a.do(ctx, "segment", key, func(ctx context.Context) (any, error) {
		// A flight that just ended may have cached it.
		if b, ok := a.readDisk(start); ok {
			return b, nil
		}
		b, info, err := a.fetchSegment(ctx, start)
		a.mu.Lock()
		_, want := a.wantPut[start]
		delete(a.wantPut, start)
		a.mu.Unlock()
		if err != nil {
			a.forgetOrigin(start, chainKey(ctx))
			if localErr != nil && isNotFound(err) {
				err = fmt.Errorf("chain: segment %d of %s: %w (local: %v)", start, a.cfg.Stream, a.cfg.Unavailable, localErr)
			}
			a.remember(key, err)
			return nil, err
		}
		if want && info.Duration > 0 {
			// Written behind: the viewer gets the bytes now, the file
			// (temp, fsync, rename) lands in the background.
			if _, err := a.cfg.Disk.PutBehind(a.cfg.Stream, info, b); err != nil {
				a.log.Warn("disk cache put failed", "start", start, "err", err)
			}
		}
		return b, nil
	})
	if err != nil {
		return nil, err
	}
	return v.([]byte), nil
}

// sourceOrder is the order in which to ask the sources for a segment:
// the one that listed it first (o, when known), then the others in
// priority order.
func (a *Archive) sourceOrder(o origin, known bool) []int {
	order := make([]int, 0, len(a.cfg.Sources))
	if known {
		order = append(order, o.src)
	}
	for i := range a.cfg.Sources {
		if !known || i != o.src {
			order = append(order, i)
		}
	}
	return order
}

// fetchSegment asks the sources for a segment: the one that listed it first,
// then the others in priority order. info is the segment's description when
// known (needed to put it in the disk cache).
func (a *Archive) fetchSegment(ctx context.Context, start int64) ([]byte, sdk.SegmentInfo, error) {
	o, known := a.originOf(start)
	var failed error
	for _, i := range a.sourceOrder(o, known) {
		via, hops, ok := a.route(ctx, i)
		if !ok {
			continue
		}
		r := a.cfg.Sources[i].Remote
		var data []byte
		var sent sdk.SegmentInfo // what a CheckedRemote says of the bytes
		found, err := a.sourceCall(ctx, i, "segment", via, func(ctx context.Context) error {
			var err error
			if cr, ok := r.(CheckedRemote); ok {
				data, sent, err = cr.CheckedSegment(ctx, a.cfg.Stream, start, via, hops)
			} else {
				data, err = r.Segment(ctx, a.cfg.Stream, start, via, hops)
			}
			return err
		})
		if err != nil {
			failed = err
			continue
		}
		if !found {
			continue
		}
		info := sdk.SegmentInfo{Start: start}
		if known && o.src == i {
			info = o.info
		} else if sent.Duration > 0 && sent.InitHash != "" && sent.Checksum != "" {
			info = sent // as the source sent it: no listing needed
			info.Start, info.Path = start, ""
		} else if a.cfg.Disk != nil {
			// Learn the segment's duration and init for the disk cache.
			var list []sdk.SegmentInfo
			if f, _ := a.sourceCall(ctx, i, "segments", via, func(ctx context.Context) error {
				var err error
				list, err = r.Segments(ctx, a.cfg.Stream, start, start+1, via, hops)
				return err
			}); f && len(list) > 0 && list[0].Start == start {
				info = list[0]
				info.Path = ""
			}
		}
		sum := sent.Checksum // checked against the bytes by the remote
		if sum == "" && info.Checksum != "" {
			sum = media.Checksum(data)
		}
		if info.Checksum != "" && sum != info.Checksum {
			a.m.errors.WithLabelValues(a.cfg.Sources[i].Name, "segment").Inc()
			a.log.Warn("source sent a segment with a wrong checksum", "source", a.cfg.Sources[i].Name, "start", start)
			failed = fmt.Errorf("chain: segment %d from source %s: checksum mismatch", start, a.cfg.Sources[i].Name)
			continue
		}
		if info.Size != 0 && info.Size != int64(len(data)) {
			info.Size = 0 // Put checks the bytes themselves
		}
		return data, info, nil
	}
	if failed != nil {
		return nil, sdk.SegmentInfo{}, fmt.Errorf("chain: segment %d of %s: %w (%v)", start, a.cfg.Stream, a.cfg.Unavailable, failed)
	}
	return nil, sdk.SegmentInfo{}, fmt.Errorf("chain: segment %d of %s: %w", start, a.cfg.Stream, sdk.ErrNotFound)
}

// ReadInit returns the init segment with that hash: from the local archive,
// the disk cache or the sources (in priority order). A fetched init is
// always put in the disk cache. Errors as ReadSegment.
func (a *Archive) ReadInit(ctx context.Context, hash string) (media.Init, error) {
	if err := a.checkLoop(ctx); err != nil {
		return media.Init{}, err
	}
	var localErr error
	if a.cfg.Local != nil {
		init, err := a.cfg.Local.ReadInit(ctx, hash)
		if err == nil {
			return init, nil
		}
		if !isNotFound(err) {
			localErr = err
		}
	}
	if a.cfg.Disk != nil {
		if init, ok := a.cfg.Disk.GetInit(a.cfg.Stream, hash); ok {
			return init, nil
		}
	}
	key := "i|" + hash + "|" + chainKey(ctx)
	if e, ok := a.negative(key); ok {
		return media.Init{}, e.err
	}
	v, err := a.do(ctx, "init", key, func(ctx context.Context) (any, error) {
		var failed error = localErr
		for i := range a.cfg.Sources {
			via, hops, ok := a.route(ctx, i)
			if !ok {
				continue
			}
			var init media.Init
			found, err := a.sourceCall(ctx, i, "init", via, func(ctx context.Context) error {
				var err error
				init, err = a.cfg.Sources[i].Remote.Init(ctx, a.cfg.Stream, hash, via, hops)
				return err
			})
			if err != nil {
				failed = err
				continue
			}
			if !found {
				continue
			}
			if media.InitHash(init.Data) != hash {
				a.m.errors.WithLabelValues(a.cfg.Sources[i].Name, "init").Inc()
				failed = fmt.Errorf("chain: init %s from source %s: wrong hash", hash, a.cfg.Sources[i].Name)
				continue
			}
			if a.cfg.Disk != nil {
				if err := a.cfg.Disk.PutInit(a.cfg.Stream, init); err != nil {
					a.log.Warn("disk cache put init failed", "hash", hash, "err", err)
				}
			}
			return init, nil
		}
		var err error
		if failed != nil {
			err = fmt.Errorf("chain: init %s of %s: %w (%v)", hash, a.cfg.Stream, a.cfg.Unavailable, failed)
		} else {
			err = fmt.Errorf("chain: init %s of %s: %w", hash, a.cfg.Stream, sdk.ErrNotFound)
		}
		a.remember(key, err)
		return nil, err
	})
	if err != nil {
		return media.Init{}, err
	}
	return v.(media.Init), nil
}

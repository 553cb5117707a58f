package replicate

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/edgedvr/edge/internal/safe"
	"github.com/edgedvr/edge/media"
	"github.com/edgedvr/edge/sdk"
)

// A pass copies what is missing in batches: consecutive missing segments,
// newest batch first, each fetched from the source (a few segments at once)
// and stored with one store call, so the store can share its disk flushes
// between the segments of a batch (sdk.SegmentBatchWriter). Up to inFlight
// batches are under way at once, so the network and the disk work at the
// same time.
const (
	// inFlight is how many batches are copied at once.
	inFlight = 3
	// fetchesPerBatch is how many segments of a batch are fetched at once.
	fetchesPerBatch = 4
	// maxBatchSegments and maxBatchBytes bound a batch (a segment larger
	// than maxBatchBytes goes alone). With a rate limit, a batch holds at
	// most about a second's worth of bytes.
	maxBatchSegments = 256
	maxBatchBytes    = 8 << 20
)

// batches splits the missing segments (newest first) into batches of at
// most maxBatchSegments segments and maxBatchBytes bytes, in the same
// order; a batch holds consecutive segments of the source only: it ends
// at a segment that starts a run (breaks), so that one Bulk call over its
// span fetches nothing else.
func (j *Job) batches(missing []sdk.SegmentInfo, breaks map[int64]bool) [][]sdk.SegmentInfo {
	limit := int64(maxBatchBytes)
	if j.cfg.Speed > 0 {
		limit = min(limit, j.cfg.Speed)
	}
	var out [][]sdk.SegmentInfo
	for len(missing) > 0 {
		n, size := 0, int64(0)
		for n < len(missing) && n < j.cfg.batchSegments && (n == 0 || size+missing[n].Size <= limit) {
			size += missing[n].Size
			n++
			if breaks[missing[n-1].Start] {
				break
			}
		}
		out = append(out, missing[:n:n])
		missing = missing[n:]
	}
	return out
}

// copyAll copies the missing segments in the order given (newest first),
// in batches, at most inFlight batches at a time, each segment fetched
// once the rate limit allows its bytes; results are taken in order. A
// segment that cannot be fetched or stored is noted and skipped; a failure
// of the local store ends the pass. It returns how many segments it
// stored.
func (j *Job) copyAll(ctx context.Context, missing []sdk.SegmentInfo, breaks map[int64]bool) (int, error) {
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := j.batches(missing, breaks)
	results := make([]chan []error, len(batches))
	for i := range results {
		results[i] = make(chan []error, 1)
	}
	slots := make(chan struct{}, inFlight)
	go func() {
		for i, b := range batches {
			select {
			case slots <- struct{}{}:
			case <-fctx.Done():
				return
			}
			go func(i int, b []sdk.SegmentInfo) {
				// A panic here (decoding a peer's data) would end the
				// process: it fails this batch instead.
				var errs []error
				if err := safe.Call(j.log, "replicate", func() error { errs = j.copyBatch(fctx, b); return nil }); err != nil {
					errs = make([]error, len(b))
					for k := range errs {
						errs[k] = err
					}
				}
				results[i] <- errs
			}(i, b)
		}
	}()
	copied := 0
	for i, b := range batches {
		var errs []error
		select {
		case errs = <-results[i]:
		case <-ctx.Done():
			return copied, ctx.Err()
		}
		<-slots
		var storeErr error
		for k, err := range errs {
			if err != nil {
				if ctx.Err() != nil {
					return copied, ctx.Err()
				}
				if errors.Is(err, errStore) {
					storeErr = err
					continue
				}
				// A segment that cannot be copied now (gone from the source,
				// bad bytes): note it and go on with the next.
				j.fail(err)
				continue
			}
			copied++
			j.progress(b[k])
		}
		if storeErr != nil {
			return copied, storeErr
		}
	}
	return copied, nil
}

// copyBatch fetches and verifies the segments of a batch (with one Bulk
// call when the source can, else a few segments at a time) and stores the
// ones that arrived whole with one store call. It returns one error per
// segment (nil: stored).
func (j *Job) copyBatch(ctx context.Context, b []sdk.SegmentInfo) []error {
	errs := make([]error, len(b))
	data := make([][]byte, len(b))
	if bs, ok := j.cfg.Source.(BulkSource); ok && j.fetchBulk(ctx, bs, b, data, errs) {
		return j.storeFetched(ctx, b, data, errs)
	}
	sem := make(chan struct{}, fetchesPerBatch)
	var wg sync.WaitGroup
	for k, s := range b {
		if err := j.wait(ctx, s.Size); err != nil {
			for m := k; m < len(b); m++ {
				errs[m] = err
			}
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			errs[k] = safe.Call(j.log, "replicate", func() error {
				var err error
				data[k], err = j.fetch(ctx, s)
				return err
			})
		}()
	}
	wg.Wait()
	return j.storeFetched(ctx, b, data, errs)
}

// fetchBulk fetches the segments of batch b (newest first, consecutive on
// the source) with one Bulk call over their span, filling data or errs of
// each. It returns false, having filled nothing, when the source cannot
// (sdk.ErrNotFound): fetch them one by one.
func (j *Job) fetchBulk(ctx context.Context, bs BulkSource, b []sdk.SegmentInfo, data [][]byte, errs []error) bool {
	var size int64
	at := make(map[int64]int, len(b))
	for k, s := range b {
		size += s.Size
		at[s.Start] = k
	}
	if err := j.wait(ctx, size); err != nil {
		for k := range errs {
			errs[k] = err
		}
		return true
	}
	cctx, cancel := context.WithTimeout(ctx, segmentTimeout)
	defer cancel()
	got := 0
	err := bs.Bulk(cctx, b[len(b)-1].Start, b[0].Start+1, func(seg media.Segment) error {
		k, ok := at[seg.Start]
		if !ok || data[k] != nil || errs[k] != nil {
			return nil // not wanted (stored meanwhile): skip
		}
		got++
		if err := j.verify(b[k], seg.Data); err != nil {
			errs[k] = err
			return nil
		}
		data[k] = seg.Data
		return nil
	})
	if got == 0 && errors.Is(err, sdk.ErrNotFound) {
		return false
	}
	for k, s := range b {
		if data[k] == nil && errs[k] == nil {
			if err != nil {
				errs[k] = fmt.Errorf("replicate: fetch segment %d: %w", s.Start, err)
			} else {
				errs[k] = fmt.Errorf("replicate: fetch segment %d: the source no longer has it", s.Start)
			}
		}
	}
	return true
}

// storeFetched stores the segments of b that were fetched (data set, no
// error) with one store call and fills in their errors.
func (j *Job) storeFetched(ctx context.Context, b []sdk.SegmentInfo, data [][]byte, errs []error) []error {
	var segs []sdk.SegmentInfo
	var bytes [][]byte
	var at []int
	for k := range b {
		if errs[k] == nil {
			segs, bytes, at = append(segs, b[k]), append(bytes, data[k]), append(at, k)
		}
	}
	if len(segs) == 0 {
		return errs
	}
	for k, err := range j.putBatch(ctx, segs, bytes) {
		errs[at[k]] = err
	}
	return errs
}

// wait takes n bytes from the rate limit.
func (j *Job) wait(ctx context.Context, n int64) error {
	if j.limiter == nil {
		return nil
	}
	burst := int64(j.limiter.Burst())
	for n > 0 {
		k := min(n, burst)
		if err := j.limiter.WaitN(ctx, int(k)); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

// fetch gets one segment's bytes from the source and checks them against
// the source's listing (size and checksum).
func (j *Job) fetch(ctx context.Context, s sdk.SegmentInfo) ([]byte, error) {
	cctx, cancel := context.WithTimeout(ctx, segmentTimeout)
	data, err := j.cfg.Source.Segment(cctx, s.Start)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("replicate: fetch segment %d: %w", s.Start, err)
	}
	if err := j.verify(s, data); err != nil {
		return nil, err
	}
	return data, nil
}

// verify checks a segment's bytes against the source's listing (size and
// checksum).
func (j *Job) verify(s sdk.SegmentInfo, data []byte) error {
	if got := media.Checksum(data); got != s.Checksum || int64(len(data)) != s.Size {
		j.m.checksumErrors.WithLabelValues(j.cfg.Stream).Inc()
		return fmt.Errorf("replicate: segment %d: %d bytes with checksum %s, the source listed %d bytes with %s", s.Start, len(data), got, s.Size, s.Checksum)
	}
	return nil
}

// put stores one verified segment (and its init when the local store lacks
// it). The store writes it atomically, so it is visible only once whole.
func (j *Job) put(ctx context.Context, s sdk.SegmentInfo, data []byte) error {
	st, err := j.store(ctx)
	if err != nil {
		return err
	}
	if err := j.ensureInit(ctx, st, s.InitHash); err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	info, err := st.WriteSegment(cctx, j.cfg.Stream, media.Segment{Start: s.Start, Duration: s.Duration, InitHash: s.InitHash, Data: data})
	if err != nil {
		// Live recording may have stored the same segment meanwhile.
		if have, lerr := st.Segments(cctx, j.cfg.Stream, s.Start, s.Start+1); lerr == nil && len(have) == 1 && have[0].Checksum == s.Checksum {
			return nil
		}
		return fmt.Errorf("replicate: store segment %d: %w", s.Start, err)
	}
	if info.Checksum != s.Checksum {
		return fmt.Errorf("replicate: %w: segment %d stored with checksum %s, want %s", errStore, s.Start, info.Checksum, s.Checksum)
	}
	return nil
}

// putBatch stores verified segments (and the inits the local store lacks)
// with one store call, as put does for one; the store writes each
// atomically, so each is visible only once whole. It returns one error per
// segment; a failure of the call itself is a store failure for all.
func (j *Job) putBatch(ctx context.Context, segs []sdk.SegmentInfo, data [][]byte) []error {
	errs := make([]error, len(segs))
	all := func(err error) []error {
		for k := range errs {
			errs[k] = err
		}
		return errs
	}
	st, err := j.store(ctx)
	if err != nil {
		return all(err)
	}
	msegs := make([]media.Segment, len(segs))
	for k, s := range segs {
		if err := j.ensureInit(ctx, st, s.InitHash); err != nil {
			return all(err)
		}
		msegs[k] = media.Segment{Start: s.Start, Duration: s.Duration, InitHash: s.InitHash, Data: data[k]}
	}
	cctx, cancel := context.WithTimeout(ctx, segmentTimeout)
	defer cancel()
	res, err := sdk.WriteSegments(cctx, st, j.cfg.Stream, msegs)
	if err != nil {
		return all(fmt.Errorf("replicate: %w: store %d segments: %v", errStore, len(segs), err))
	}
	for k, s := range segs {
		r := res[k]
		switch {
		case r.Err != nil:
			// Live recording may have stored the same segment meanwhile.
			if have, lerr := st.Segments(cctx, j.cfg.Stream, s.Start, s.Start+1); lerr == nil && len(have) == 1 && have[0].Checksum == s.Checksum {
				continue
			}
			errs[k] = fmt.Errorf("replicate: store segment %d: %w", s.Start, r.Err)
		case r.Info.Checksum != s.Checksum:
			errs[k] = fmt.Errorf("replicate: %w: segment %d stored with checksum %s, want %s", errStore, s.Start, r.Info.Checksum, s.Checksum)
		}
	}
	return errs
}

// ensureInit makes sure the local store holds the init with that hash,
// copying it from the source when it does not.
func (j *Job) ensureInit(ctx context.Context, st sdk.Store, hash string) error {
	j.initMu.Lock()
	defer j.initMu.Unlock()
	if j.inits[hash] {
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	if _, err := st.ReadInit(cctx, j.cfg.Stream, hash); err == nil {
		j.inits[hash] = true
		return nil
	} else if !errors.Is(err, sdk.ErrNotFound) {
		return fmt.Errorf("replicate: read local init %s: %w: %v", hash, errStore, err)
	}
	init, err := j.cfg.Source.Init(cctx, hash)
	if err != nil {
		return fmt.Errorf("replicate: fetch init %s: %w", hash, err)
	}
	if init.Hash != hash || media.InitHash(init.Data) != hash {
		j.m.checksumErrors.WithLabelValues(j.cfg.Stream).Inc()
		return fmt.Errorf("replicate: init %s: bytes hash to %s", hash, media.InitHash(init.Data))
	}
	if err := st.WriteInit(cctx, j.cfg.Stream, init); err != nil {
		return fmt.Errorf("replicate: store init %s: %w: %v", hash, errStore, err)
	}
	j.inits[hash] = true
	return nil
}

// replaceAll stores the source's segments that replace overlapping local
// ones, one at a time (two may overlap the same local segment): it fetches
// and verifies the source's segment, deletes the local ones, then stores
// it. A crash in between leaves a hole that the next pass fills. It
// returns how many it stored.
func (j *Job) replaceAll(ctx context.Context, replace []replacement) (int, error) {
	done := 0
	for _, r := range replace {
		if err := j.wait(ctx, r.seg.Size); err != nil {
			return done, err
		}
		err := j.replace(ctx, r)
		if err != nil {
			if ctx.Err() != nil {
				return done, ctx.Err()
			}
			if errors.Is(err, errStore) {
				return done, err
			}
			j.fail(err)
			continue
		}
		done++
		j.progress(r.seg)
	}
	return done, nil
}

func (j *Job) replace(ctx context.Context, r replacement) error {
	data, err := j.fetch(ctx, r.seg)
	if err != nil {
		return err
	}
	st, err := j.store(ctx)
	if err != nil {
		return err
	}
	del, ok := st.(sdk.SegmentDeleter)
	if !ok {
		return fmt.Errorf("replicate: %w: the store cannot delete segments, so segment %d cannot replace local ones", errStore, r.seg.Start)
	}
	for _, start := range r.local {
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		_, err := del.DeleteSegments(cctx, j.cfg.Stream, start, start+1)
		cancel()
		if err != nil {
			return fmt.Errorf("replicate: %w: delete local segment %d for %d: %v", errStore, start, r.seg.Start, err)
		}
	}
	j.log.Debug("replacing local segments with the source's", "start", r.seg.Start, "local", r.local)
	return j.put(ctx, r.seg, data)
}

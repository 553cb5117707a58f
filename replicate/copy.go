package replicate

import (
	"context"
	"errors"
	"fmt"

	"github.com/edgedvr/edge/internal/safe"
	"github.com/edgedvr/edge/media"
	"github.com/edgedvr/edge/sdk"
)

// inFlight is how many segments are copied at once: fetched from the
// source and stored, so the network and the disk (and the disk's flushes
// of several files) work at the same time.
const inFlight = 4

// copyAll copies the missing segments in the order given (newest first),
// at most inFlight at a time, each started once the rate limit allows its
// bytes; results are taken in order. A segment that cannot be fetched or
// stored is noted and skipped; a failure of the local store ends the pass.
// It returns how many segments it stored.
func (j *Job) copyAll(ctx context.Context, missing []sdk.SegmentInfo) (int, error) {
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make([]chan error, len(missing))
	for i := range results {
		results[i] = make(chan error, 1)
	}
	slots := make(chan struct{}, inFlight)
	go func() {
		for i, s := range missing {
			select {
			case slots <- struct{}{}:
			case <-fctx.Done():
				return
			}
			if err := j.wait(fctx, s.Size); err != nil {
				results[i] <- err
				return
			}
			go func(i int, s sdk.SegmentInfo) {
				// A panic here would end the process: it fails this segment.
				results[i] <- safe.Call(j.log, "replicate", func() error {
					data, err := j.fetch(fctx, s)
					if err == nil {
						err = j.put(fctx, s, data)
					}
					return err
				})
			}(i, s)
		}
	}()
	copied := 0
	for i, s := range missing {
		var err error
		select {
		case err = <-results[i]:
		case <-ctx.Done():
			return copied, ctx.Err()
		}
		<-slots
		if err != nil {
			if ctx.Err() != nil {
				return copied, ctx.Err()
			}
			if errors.Is(err, errStore) {
				return copied, err
			}
			// A segment that cannot be copied now (gone from the source,
			// bad bytes): note it and go on with the next.
			j.fail(err)
			continue
		}
		copied++
		j.progress(s)
	}
	return copied, nil
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
	if got := media.Checksum(data); got != s.Checksum || int64(len(data)) != s.Size {
		j.m.checksumErrors.WithLabelValues(j.cfg.Stream).Inc()
		return nil, fmt.Errorf("replicate: segment %d: %d bytes with checksum %s, the source listed %d bytes with %s", s.Start, len(data), got, s.Size, s.Checksum)
	}
	return data, nil
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

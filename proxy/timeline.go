package proxy

import (
	"context"
	"sync"

	"github.com/edgedvr/edge/cache"
	"github.com/edgedvr/edge/sdk"
)

// entry is one segment of a timeline built from the archive and the live
// window.
type entry struct {
	start, dur int64
	size       int64  // bytes
	init       string // init hash
	path       string // archive file, "" when none
	data       []byte // bytes when the live window holds them
	disc       bool   // a gap or an init change comes before it (never set on the first)
	live       bool   // from the live window
	seq        int64  // live media sequence number, when live
	discSeq    int64  // live discontinuity sequence number, when live
}

// timeline returns the segments whose start is in [from, to): the
// archive's and the live window's merged by start time (a segment in both
// is taken from the live window, whose bytes are in memory; a segment the
// live window missed is taken from the archive), with no overlap, and with
// discontinuities marked. view may be empty.
func timeline(ctx context.Context, ar Archive, view cache.LiveView, from, to int64) ([]entry, error) {
	return timelineInto(nil, ctx, ar, view, from, to)
}

// timelineInto is timeline appending to dst[:0] (a pooled slice: see
// getEntries), growing it when it is too small.
func timelineInto(dst []entry, ctx context.Context, ar Archive, view cache.LiveView, from, to int64) ([]entry, error) {
	var infos []sdk.SegmentInfo
	if ar != nil && from < to {
		var err error
		infos, err = ar.Segments(ctx, from, to)
		if err != nil {
			return nil, archiveError("segments", err)
		}
	}
	out := dst[:0]
	if n := len(infos) + len(view.Segments); cap(out) < n {
		out = make([]entry, 0, n)
	}
	live := view.Segments
	for len(infos) > 0 || len(live) > 0 {
		if len(live) > 0 && (len(infos) == 0 || live[0].Start <= infos[0].Start) {
			ls := &live[0]
			if len(infos) > 0 && infos[0].Start == ls.Start {
				infos = infos[1:]
			}
			live = live[1:]
			if ls.Start < from || ls.Start >= to {
				continue
			}
			e := liveEntry(ls)
			e.seq, e.discSeq = ls.Seq, ls.DiscSeq
			out = appendEntry(out, e)
			continue
		}
		si := &infos[0]
		infos = infos[1:]
		if si.Start < from || si.Start >= to {
			continue
		}
		out = appendEntry(out, entry{start: si.Start, dur: si.Duration, size: si.Size, init: si.InitHash, path: si.Path})
	}
	return out, nil
}

// liveEntry is the entry of a live window segment: its bytes, or its
// archive file once the archive holds it (cache.Live.Stored).
func liveEntry(ls *cache.LiveSegment) entry {
	return entry{start: ls.Start, dur: ls.Duration, size: ls.Len(), init: ls.InitHash,
		data: ls.Data, path: ls.Path, live: true}
}

// appendEntry appends e unless it overlaps the previous entry by more than
// the gap tolerance, and marks discontinuities.
func appendEntry(out []entry, e entry) []entry {
	if len(out) == 0 {
		return append(out, e)
	}
	p := &out[len(out)-1]
	if e.start <= p.start || e.start < p.start+p.dur-cache.GapTolerance(p.dur) {
		return out
	}
	e.disc = cache.Discontinuous(p.start, p.dur, p.init, e.start, e.init)
	return append(out, e)
}

// numberBack numbers a timeline that ends in the live window so that a
// segment keeps its numbers across reloads: the newest entry, which is
// live, keeps its live numbers, and each entry before it is numbered back
// from it (one per segment, one discontinuity per marked entry). It returns
// the head numbers of es[first:], where first skips any leading entries
// that would number below 1 (more discontinuities in the window than the
// live numbering has room for); false when the newest entry is not live.
func numberBack(es []entry) (h playlistHead, first int, ok bool) {
	k := len(es) - 1
	if k < 0 || !es[k].live {
		return playlistHead{}, 0, false
	}
	seq, discSeq := es[k].seq-int64(k), es[k].discSeq
	for i := 1; i <= k; i++ {
		if es[i].disc {
			discSeq--
		}
	}
	for first < k && (seq < 1 || discSeq < 1) {
		first++
		seq++
		if es[first].disc {
			discSeq++
		}
	}
	return playlistHead{kind: playlistLive, seq: seq, discSeq: discSeq}, first, true
}

// entryPool holds the entry slices of playlist requests: a 24-hour
// archive playlist lists 28,800 entries (3 MB), which a fresh allocation
// per request would zero and the collector would scan.
var entryPool sync.Pool // of *[]entry

// pooledEntries is a timeline built in a pooled slice; release gives the
// slice back once nothing refers to es.
type pooledEntries struct {
	p  *[]entry
	es []entry
}

func (x pooledEntries) release() { putEntries(x.p, x.es) }

// pooledTimeline is timeline in a pooled slice: defer release.
func pooledTimeline(ctx context.Context, ar Archive, view cache.LiveView, from, to int64) ([]entry, pooledEntries, error) {
	p := getEntries()
	es, err := timelineInto(*p, ctx, ar, view, from, to)
	return es, pooledEntries{p, es}, err
}

// getEntries returns a pooled entry slice of length 0; putEntries gives
// back the slice that was grown from it, once nothing refers to it.
func getEntries() *[]entry {
	if p, ok := entryPool.Get().(*[]entry); ok {
		return p
	}
	return new([]entry)
}

// maxPooledEntries bounds what the pool keeps (a week of 3 s segments).
const maxPooledEntries = 7 * 28_800

func putEntries(p *[]entry, es []entry) {
	if cap(es) > maxPooledEntries {
		return
	}
	clear(es) // drop the references to strings and live bytes
	*p = es[:0]
	entryPool.Put(p)
}

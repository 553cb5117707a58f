// Package cache holds the segment caches: the live window of a stream and the memory LRU of segment bytes.
package cache

import (
	"context"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/edgedvr/edge/media"
)

// DefaultLiveKeep is the number of segments a Live keeps by default: about
// 30 s at the default 3 s segment duration, more than the live playlist
// (6) and the M4F replay (3) need; older video is the archive's.
const DefaultLiveKeep = 10

// GapTolerance is the largest hole (or overlap) between the end of a segment
// of duration dur and the start of the next one that still counts as
// continuous: max(250 ms, 10% of dur).
func GapTolerance(dur int64) int64 {
	t := dur / 10
	if t < 250 {
		t = 250
	}
	return t
}

// Discontinuous reports whether a segment (start, initHash) that follows a
// segment (prevStart, prevDur, prevInit) starts a new timeline: a time gap or
// overlap beyond GapTolerance(prevDur), or a different init segment.
func Discontinuous(prevStart, prevDur int64, prevInit string, start int64, initHash string) bool {
	if prevInit != initHash {
		return true
	}
	gap := start - (prevStart + prevDur)
	tol := GapTolerance(prevDur)
	return gap > tol || gap < -tol
}

// LiveSegment is one segment of a live window with its position in the
// stream's live numbering.
type LiveSegment struct {
	media.Segment
	// Seq is the media sequence number: it grows by one per pushed segment
	// and never changes for a segment. The first segment pushed into a Live
	// gets its UTC start in whole seconds, so a Live recreated later (a node
	// restart) numbers above the old one in practice.
	Seq int64
	// Disc is set when a time gap or an init change comes before the segment.
	Disc bool
	// DiscSeq is the HLS discontinuity sequence number: it starts like Seq
	// (so that playlists that number older archive segments back from the
	// live window never go negative) and grows by one at each segment with
	// Disc set, this one included.
	DiscSeq int64
}

// LiveView is an immutable snapshot of a live window. Callers must not
// modify it.
type LiveView struct {
	// Inits holds every init segment that Segments refer to, by hash.
	Inits map[string]media.Init
	// Segments, oldest first.
	Segments []LiveSegment
}

// Last returns the newest segment, false when the window is empty.
func (v LiveView) Last() (LiveSegment, bool) {
	if len(v.Segments) == 0 {
		return LiveSegment{}, false
	}
	return v.Segments[len(v.Segments)-1], true
}

// Find returns the segment that starts at start.
func (v LiveView) Find(start int64) (LiveSegment, bool) {
	s := v.Segments
	i := sort.Search(len(s), func(i int) bool { return s[i].Start >= start })
	if i < len(s) && s[i].Start == start {
		return s[i], true
	}
	return LiveSegment{}, false
}

type liveState struct {
	view LiveView
	// pushed is closed when a newer state replaces this one.
	pushed chan struct{}
}

// Live is the live window of one stream: the last few segments and their
// inits. One goroutine pushes; any number read. Readers load an immutable
// snapshot through an atomic pointer and never block the writer.
type Live struct {
	keep int
	mu   sync.Mutex // serialises Push
	cur  atomic.Pointer[liveState]
}

// NewLive returns an empty live window that keeps the last keep segments
// (DefaultLiveKeep when keep <= 0).
func NewLive(keep int) *Live {
	if keep <= 0 {
		keep = DefaultLiveKeep
	}
	l := &Live{keep: keep}
	l.cur.Store(&liveState{view: LiveView{Inits: map[string]media.Init{}}, pushed: make(chan struct{})})
	return l
}

// Push appends seg, which decodes with init, to the window and drops the
// oldest segment beyond the limit. init.Hash must equal seg.InitHash. A
// segment that does not start after the newest one is ignored.
func (l *Live) Push(init media.Init, seg media.Segment) {
	l.mu.Lock()
	defer l.mu.Unlock()
	old := l.cur.Load()
	prev, hasPrev := old.view.Last()
	if hasPrev && seg.Start <= prev.Start {
		return
	}
	ls := LiveSegment{Segment: seg}
	if hasPrev {
		ls.Seq = prev.Seq + 1
		ls.Disc = Discontinuous(prev.Start, prev.Duration, prev.InitHash, seg.Start, seg.InitHash)
		ls.DiscSeq = prev.DiscSeq
		if ls.Disc {
			ls.DiscSeq++
		}
	} else {
		ls.Seq = seg.Start / 1000
		ls.DiscSeq = seg.Start / 1000
	}
	olds := old.view.Segments
	if len(olds) >= l.keep {
		olds = olds[len(olds)-l.keep+1:]
	}
	segs := make([]LiveSegment, 0, len(olds)+1)
	segs = append(segs, olds...)
	segs = append(segs, ls)
	inits := make(map[string]media.Init, 2)
	for _, s := range segs {
		if _, ok := inits[s.InitHash]; ok {
			continue
		}
		if s.InitHash == init.Hash {
			inits[s.InitHash] = init
		} else if in, ok := old.view.Inits[s.InitHash]; ok {
			inits[s.InitHash] = in
		}
	}
	l.cur.Store(&liveState{view: LiveView{Inits: inits, Segments: segs}, pushed: make(chan struct{})})
	close(old.pushed)
}

// Snapshot returns the current window. It never blocks.
func (l *Live) Snapshot() LiveView { return l.cur.Load().view }

// Segment returns the segment of the window that starts at start (UTC ms).
func (l *Live) Segment(start int64) (media.Segment, bool) {
	s, ok := l.cur.Load().view.Find(start)
	return s.Segment, ok
}

// Init returns the init segment with that hash if a segment of the window uses it.
func (l *Live) Init(hash string) (media.Init, bool) {
	in, ok := l.cur.Load().view.Inits[hash]
	return in, ok
}

// Wait blocks until the window holds a segment with Seq > afterSeq, or ctx
// is done (it then returns ctx.Err()).
func (l *Live) Wait(ctx context.Context, afterSeq int64) error {
	for {
		st := l.cur.Load()
		if last, ok := st.view.Last(); ok && last.Seq > afterSeq {
			return nil
		}
		select {
		case <-st.pushed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

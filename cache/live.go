// Package cache holds the segment caches: the live window of a stream and the memory LRU of segment bytes.
package cache

import (
	"context"
	"fmt"
	"os"
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

// LiveSegment is one segment of a live window with its place in the
// window's numbering. Its HLS numbers are the embedded Segment's Seq and
// DiscSeq, always set (see Live.Push).
type LiveSegment struct {
	media.Segment
	// Index grows by exactly one per segment pushed into this Live; M4F
	// pushes and Wait go by it.
	Index int64
	// Disc is set when a discontinuity comes before the segment: a time
	// gap or an init change, or (for numbered segments) the capturing
	// node's DiscSeq grew.
	Disc bool
	// Break is set when the HLS numbers do not follow the previous
	// segment's by the rules of RFC 8216 (Seq one more, DiscSeq one more
	// exactly when Disc): a segment was missed, or the source changed. A
	// playlist never lists a segment with Break after another segment.
	Break bool
	// Path is set, and Data is nil, once the archive holds the segment in
	// a local file (see Live.Stored): the bytes are then read from, or
	// sent with sendfile(2) from, that file of Size bytes, whose
	// media.Checksum is Checksum.
	Path     string
	Size     int64
	Checksum string
}

// Len is the segment's size in bytes.
func (s LiveSegment) Len() int64 {
	if s.Data != nil {
		return int64(len(s.Data))
	}
	return s.Size
}

// Bytes returns the segment's bytes: Data, or the file's contents. It
// fails when the file has gone (retention) or changed size.
func (s LiveSegment) Bytes() ([]byte, error) {
	if s.Data != nil || s.Path == "" {
		return s.Data, nil
	}
	b, err := os.ReadFile(s.Path)
	if err != nil {
		return nil, fmt.Errorf("live segment %d: %w", s.Start, err)
	}
	if int64(len(b)) != s.Size {
		return nil, fmt.Errorf("live segment %d: file %s has %d bytes, want %d", s.Start, s.Path, len(b), s.Size)
	}
	return b, nil
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

// Where the numbers of a newly captured stream start: the media sequence
// of its first segment is the seconds since numberingEpoch
// (2026-01-01T00:00:00Z) plus seqRoom, and its discontinuity sequence the
// hours since then plus discRoom. Seconds keep a restarted stream numbered
// above its last run (segments last at least about a second) and stay
// below 2^31 until 2094, for 32-bit players; hours keep the discontinuity
// sequence small, which hls.js needs (it walks an array indexed by it:
// values near 2^31 freeze the page). The rooms leave space for playlists
// that number older archive segments back from the live window (a 24-hour
// rewind of 1 s segments; a thousand discontinuities).
const (
	numberingEpoch = 1_767_225_600
	seqRoom        = 86_400
	discRoom       = 1_000
)

func firstNumbers(startMs int64) (seq, discSeq int64) {
	s := max(0, startMs/1000-numberingEpoch)
	return s + seqRoom, s/3600 + discRoom
}

// Live is the live window of one stream: the last few segments and their
// inits. One goroutine pushes; any number read. Readers load an immutable
// snapshot through an atomic pointer and never block the writer.
type Live struct {
	keep int
	mu   sync.Mutex // serialises Push and Reset
	cur  atomic.Pointer[liveState]

	// Guarded by mu: the last numbers given, kept across Reset so that
	// numbers never go back; the offsets between a numbering source's
	// numbers and ours.
	index, seq, discSeq int64
	seqOff, discOff     int64
	maxTarget           atomic.Int64 // seconds, see TargetDuration
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
//
// Numbering: a segment that arrives numbered (seg.Seq > 0: it was pushed
// to us by the node that captured it) keeps its numbers, shifted by a
// fixed offset if they ever went back (the source changed), so that every
// node gives one segment the same numbers. An unnumbered segment (captured
// here) follows the previous one: Seq one more, DiscSeq one more after a
// discontinuity; the first one of a Live gets firstNumbers of its start.
func (l *Live) Push(init media.Init, seg media.Segment) {
	l.mu.Lock()
	defer l.mu.Unlock()
	old := l.cur.Load()
	prev, hasPrev := old.view.Last()
	if hasPrev && seg.Start <= prev.Start {
		return
	}
	ls := LiveSegment{Segment: seg, Index: l.index + 1}
	gap := hasPrev && Discontinuous(prev.Start, prev.Duration, prev.InitHash, seg.Start, seg.InitHash)
	numbered := l.index > 0 // numbers to continue from (perhaps from before a Reset)
	switch {
	case seg.Seq > 0:
		seq, disc := seg.Seq+l.seqOff, seg.DiscSeq+l.discOff
		if numbered && (seq <= l.seq || disc < l.discSeq) {
			// The source's numbers went back (another source, or it
			// restarted): continue ours, with a discontinuity.
			l.seqOff, l.discOff = l.seq+1-seg.Seq, l.discSeq+1-seg.DiscSeq
			seq, disc = l.seq+1, l.discSeq+1
		}
		ls.Seq, ls.DiscSeq = seq, disc
		ls.Disc = hasPrev && (gap || disc != prev.DiscSeq)
		ls.Break = hasPrev && (seq != prev.Seq+1 || disc != prev.DiscSeq+b2i(ls.Disc))
	case numbered:
		ls.Disc = hasPrev && gap
		ls.Seq, ls.DiscSeq = l.seq+1, l.discSeq
		if ls.Disc || !hasPrev {
			ls.DiscSeq++
		}
		ls.Break = !hasPrev
	default:
		ls.Seq, ls.DiscSeq = firstNumbers(seg.Start)
	}
	l.index, l.seq, l.discSeq = ls.Index, ls.Seq, ls.DiscSeq
	if t := (seg.Duration + 500) / 1000; t > l.maxTarget.Load() {
		l.maxTarget.Store(t)
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

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// Reset empties the window (an on-demand restream was released: its
// segments are stale). Numbering continues where it was, so a playlist
// that comes back never reuses a number.
func (l *Live) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	old := l.cur.Load()
	if len(old.view.Segments) == 0 {
		return
	}
	l.cur.Store(&liveState{view: LiveView{Inits: map[string]media.Init{}}, pushed: make(chan struct{})})
	close(old.pushed)
}

// TargetDuration is the EXT-X-TARGETDURATION of the window's playlists in
// seconds: the longest segment pushed so far, rounded to the nearest
// second (RFC 8216 §4.3.3.1), at least 1. It never goes down, so a
// playlist keeps it for its life unless a longer segment than any before
// arrives.
func (l *Live) TargetDuration() int64 { return max(1, l.maxTarget.Load()) }

// Snapshot returns the current window. It never blocks.
func (l *Live) Snapshot() LiveView { return l.cur.Load().view }

// Segment returns the segment of the window that starts at start (UTC ms).
// Its Data is nil when it is served from its archive file (Path).
func (l *Live) Segment(start int64) (LiveSegment, bool) {
	return l.cur.Load().view.Find(start)
}

// Stored tells the window that the archive holds its segment that starts
// at start in the local file path, of size bytes with that checksum: the
// window drops its copy of the bytes and serves the file from then on (the
// page cache keeps a hot file's bytes, and sendfile(2) sends them). It is
// ignored when the segment has left the window or its size differs. A
// stream that is not recorded on local disk never calls it, and its
// window keeps the bytes.
func (l *Live) Stored(start int64, path string, size int64, checksum string) {
	if path == "" {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	old := l.cur.Load()
	segs := old.view.Segments
	i := sort.Search(len(segs), func(i int) bool { return segs[i].Start >= start })
	if i == len(segs) || segs[i].Start != start || segs[i].Data == nil || int64(len(segs[i].Data)) != size {
		return
	}
	ns := make([]LiveSegment, len(segs))
	copy(ns, segs)
	ns[i].Data, ns[i].Path, ns[i].Size, ns[i].Checksum = nil, path, size, checksum
	// Same segments, same Index: waiters need not wake, so the pushed
	// channel carries over.
	l.cur.Store(&liveState{view: LiveView{Inits: old.view.Inits, Segments: ns}, pushed: old.pushed})
}

// Init returns the init segment with that hash if a segment of the window uses it.
func (l *Live) Init(hash string) (media.Init, bool) {
	in, ok := l.cur.Load().view.Inits[hash]
	return in, ok
}

// Wait blocks until the window holds a segment with Index > after, or ctx
// is done (it then returns ctx.Err()).
func (l *Live) Wait(ctx context.Context, after int64) error {
	for {
		st := l.cur.Load()
		if last, ok := st.view.Last(); ok && last.Index > after {
			return nil
		}
		select {
		case <-st.pushed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

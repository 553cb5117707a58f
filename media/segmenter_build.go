// This file holds segment building: collecting samples, closing, and encoding and emitting finished segments.

package media

import (
	"runtime"

	"github.com/Eyevinn/mp4ff/mp4"

	"github.com/edgedvr/edge/internal/pagebuf"
)

// minGap is the least room left for a segment's moof and mdat header
// before its video samples; the room follows the stream's last header. 16
// KiB holds the header of 6 s at 60 frames/s with 48 kHz AAC (16 bytes a
// sample), so the first segments of a stream need no copy either.
const minGap = 16 << 10

// With ReuseData a segment is built in a memory mapping of mapBytes
// (pagebuf), not in Go memory: only the pages written cost memory, and
// the collector neither counts nor scans them (in Go memory, at the udp
// plugin's GOGC of 25, the heap grew a quarter past its buffers). A
// stream keeps the pages of about one segment, which the next one writes
// over (recyclePages); the pages of the buffer a segment starts in while
// the last one waits for its audio, and those past the stream's segment
// size, go back to the system. So the mapping can be sized for the
// largest segment a stream may make (maxSegBytes, its audio and a header)
// without costing anything for it. New pages are made populateStep at a
// time ahead of the samples written, one system call instead of a fault
// per page.
const (
	mapBytes     = maxSegBytes + 8<<20
	populateStep = 64 << 10
)

// segBuilder collects the samples of one segment.
type segBuilder struct {
	start90, end90 int64
	vp             *videoParams
	ap             *audioParams
	vs             []mp4.Sample
	// vdata is the segment's bytes as they will be emitted: gap bytes kept
	// free for the moof and mdat header, then the video samples (AVCC),
	// and at emit the audio samples.
	vdata  []byte
	gap    int
	lastVT int64 // UTC (90 kHz) of the last video sample
	as     []mp4.Sample
	adata  []byte
	aFirst int64 // tfdt of the audio track, in sample-rate ticks
	aNext  int64 // where the next audio sample should start, sample-rate ticks
	aEnd90 int64
	// pages, with ReuseData, is the mapping vdata lives in, and populated
	// how many of its first bytes have their pages made since the last
	// segment released them.
	pages     *pagebuf.Buf
	populated int
}

func (s *Segmenter) newSeg(start90 int64) *segBuilder {
	var g *segBuilder
	if n := len(s.free); n > 0 {
		g = s.free[n-1]
		s.free = s.free[:n-1]
	} else {
		g = &segBuilder{}
	}
	g.start90, g.end90 = start90, start90
	g.ap = s.ap
	g.gap = s.gap
	if s.cfg.ReuseData && g.pages == nil && !s.noPages {
		if g.pages = pagebuf.Map(mapBytes, false); g.pages != nil {
			// A Segmenter that is dropped gives its mappings back.
			runtime.AddCleanup(g, func(b *pagebuf.Buf) { b.Unmap() }, g.pages)
		} else {
			s.noPages = true // no mappings here: buffers in Go memory, below
		}
	}
	if g.pages != nil {
		if !g.pages.Holds(g.vdata) {
			g.vdata = g.pages.Bytes()
		}
		g.vdata = g.vdata[:g.gap]
		return g
	}
	if cap(g.vdata) < g.gap {
		// Without a mapping, sized to the stream: the last segment's
		// bytes and an eighth.
		// While a cut segment waits for its audio, the new one starts in
		// a quarter of that: recycle moves it into the waiting segment's
		// buffer once that is emitted, so a stream keeps one full buffer.
		n := s.segHint
		if s.cfg.ReuseData && s.closing != nil {
			n /= 4
		}
		g.vdata = make([]byte, 0, g.gap+n)
	}
	g.vdata = g.vdata[:g.gap]
	return g
}

// videoBytes is how many bytes of video samples g holds.
func (g *segBuilder) videoBytes() int { return len(g.vdata) - g.gap }

// grow makes room for n more bytes of video samples in g: with a mapping,
// it makes the pages they will land on.
func (g *segBuilder) grow(n int) {
	if g.pages == nil {
		return
	}
	if end := len(g.vdata) + n; end > g.populated {
		to := min(end+populateStep, g.pages.Cap())
		g.pages.Populate(g.populated, to)
		g.populated = to
	}
}

func (s *Segmenter) recycle(g *segBuilder) {
	if g.pages != nil {
		s.recyclePages(g)
		return
	}
	vdata := g.vdata[:0]
	if cap(vdata) > 1<<20 && cap(vdata) > 4*(s.gap+s.segHint) {
		vdata = nil // one outsized segment: do not keep its buffer for good
	}
	if o := s.open; o != nil && o != g && cap(vdata) > cap(o.vdata) && cap(vdata) >= len(o.vdata) {
		// The open segment started in a small buffer while g waited for
		// its audio: move its first samples into g's, sized to the stream.
		vdata = append(vdata, o.vdata...)
		o.vdata, vdata = vdata, o.vdata[:0]
	}
	*g = segBuilder{vs: g.vs[:0], vdata: vdata, as: g.as[:0], adata: g.adata[:0]}
	s.free = append(s.free, g)
}

// recyclePages takes back a mapped builder whose segment has been handed
// over. Its pages, written up to the segment's end, are the ones the next
// segment should be built in: faulting in fresh pages costs far more than
// writing over resident ones (about 4.7 µs a page on the test VM, against
// 0.06), so pages are given back only where they will not be written
// again soon:
//   - with an open segment (it started while g waited for its audio, in a
//     buffer of its own), that segment's first bytes move into g's
//     resident pages and it goes on there; its old buffer, of those few
//     first bytes, gives back all its pages and waits for the segment
//     after it;
//   - otherwise g is the next to be opened, and keeps its pages;
//   - in both, pages past the stream's segment size (segHint) and a
//     populateStep go back: one outsized segment does not keep its pages
//     for good.
func (s *Segmenter) recyclePages(g *segBuilder) {
	touched := g.populated
	if g.pages.Holds(g.vdata) {
		touched = max(touched, len(g.vdata))
	}
	keep := min(touched, s.gap+s.segHint+populateStep)
	g.pages.Release(keep, touched)
	if o := s.open; o != nil && o != g && o.pages != nil && o.pages.Holds(o.vdata) {
		n := len(o.vdata)
		mine := append(g.pages.Bytes(), o.vdata...)
		theirs, theirPopulated := o.pages, max(o.populated, n)
		o.pages, o.vdata, o.populated = g.pages, mine, max(keep, n)
		g.pages = theirs
		theirs.Release(0, theirPopulated)
		keep = 0
	}
	*g = segBuilder{vs: g.vs[:0], vdata: g.pages.Bytes(), as: g.as[:0], adata: g.adata[:0], pages: g.pages, populated: keep}
	s.free = append(s.free, g)
}

// closeOpen ends the open segment at end90. With an audio track it waits
// (as closing) for the audio that belongs to it; otherwise it is emitted.
func (s *Segmenter) closeOpen(end90 int64) {
	g := s.open
	s.open = nil
	if g == nil {
		return
	}
	g.end90 = end90
	if n := len(g.vs); n > 0 {
		g.vs[n-1].Dur = uint32(max(end90-g.lastVT, 1))
	}
	if c := s.closing; c != nil {
		s.closing = nil
		s.emit(c)
	}
	if !s.audioOnly && s.audioPID >= 0 {
		s.closing = g
		return
	}
	s.emit(g)
}

// finish emits everything held: queued audio, the cut segment and the open
// one (ending at its last sample's end).
func (s *Segmenter) finish() {
	s.drainAudio(true)
	if c := s.closing; c != nil {
		s.closing = nil
		s.emit(c)
	}
	g := s.open
	if g == nil {
		return
	}
	var end90 int64
	if n := len(g.vs); n > 0 {
		end90 = g.lastVT + max(s.lastVDur, 1)
	} else {
		end90 = g.aEnd90
	}
	s.closeOpen(end90)
	if c := s.closing; c != nil {
		s.closing = nil
		s.emit(c)
	}
}

// emit encodes a finished segment and hands it (after its init, when that
// is new) to the callbacks.
func (s *Segmenter) emit(g *segBuilder) {
	defer s.recycle(g)
	if len(g.vs) == 0 && (len(g.as) == 0 || !s.audioOnly) {
		return
	}
	vp, ap := g.vp, g.ap
	if len(g.vs) == 0 {
		vp = nil
	}
	if ap == nil && len(g.as) == 0 && vp != nil {
		ap = s.ap // audio seen after this segment opened: keep one init
	}
	if !s.haveInit || vp != s.initV || ap != s.initA {
		in, err := buildInit(vp, ap)
		if err != nil {
			s.log.Warn("segment dropped", "err", err)
			return
		}
		s.init, s.initV, s.initA, s.haveInit = in, vp, ap, true
	}
	startMs := floorDiv(g.start90, 90)
	endMs := floorDiv(g.end90, 90)
	if s.emitted && startMs <= s.lastStartMs {
		s.log.Warn("segment dropped: start does not increase", "start_ms", startMs, "last_start_ms", s.lastStartMs)
		return
	}
	var vTrack, aTrack uint32
	if vp != nil {
		vTrack = 1
	}
	if ap != nil {
		aTrack = vTrack + 1
	}
	data, err := s.encode(g, vTrack, aTrack)
	if err != nil {
		s.log.Warn("segment dropped", "err", err)
		return
	}
	if s.init.Hash != s.lastHash {
		s.lastHash = s.init.Hash
		s.cfg.OnInit(s.init)
	}
	s.seq++
	s.stats.Segments++
	s.emitted, s.lastStartMs = true, startMs
	s.lastEnd90 = max(s.lastEnd90, g.end90, g.aEnd90)
	s.cfg.OnSegment(Segment{Start: startMs, Duration: max(endMs-startMs, 0), InitHash: s.init.Hash, Data: data})
}

// encode lays out g's segment as moof, mdat header, video samples and audio
// samples, in place: the header goes into the gap left before the video
// samples, so the segment's bytes are written once. With ReuseData the
// buffer stays with the builder for the next segment; otherwise it is
// handed over with the segment and the next builder gets a new one sized to
// the stream.
func (s *Segmenter) encode(g *segBuilder, vTrack, aTrack uint32) ([]byte, error) {
	if err := fragmentHeader(&s.hdr, s.seq+1, vTrack, uint64(max(g.start90, 0)), g.vs,
		aTrack, uint64(max(g.aFirst, 0)), g.as); err != nil {
		return nil, err
	}
	hdr := s.hdr.Bytes()
	buf := g.vdata
	if len(g.vs) == 0 {
		buf = buf[:g.gap]
	}
	if len(g.as) > 0 {
		buf = append(buf, g.adata...)
	}
	payload := len(buf) - g.gap
	s.segHint = payload + payload/8
	// Next time leave room for a header a quarter larger than this one.
	s.gap = max(minGap, len(hdr)+len(hdr)/4)
	var data []byte
	if len(hdr) <= g.gap {
		data = buf[g.gap-len(hdr):]
		copy(data, hdr)
	} else {
		data = make([]byte, len(hdr)+payload)
		copy(data, hdr)
		copy(data[len(hdr):], buf[g.gap:])
	}
	g.vdata = buf
	if !s.cfg.ReuseData {
		g.vdata = nil
	}
	return data, nil
}

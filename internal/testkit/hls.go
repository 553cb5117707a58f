package testkit

import (
	"bufio"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
)

// Playlist is a parsed HLS media playlist.
type Playlist struct {
	Target      int64  // EXT-X-TARGETDURATION
	Seq         int64  // EXT-X-MEDIA-SEQUENCE (0 when absent)
	DiscSeq     int64  // EXT-X-DISCONTINUITY-SEQUENCE (0 when absent)
	Type        string // EXT-X-PLAYLIST-TYPE: "", "VOD" or "EVENT"
	EndList     bool
	StartOffset *float64 // EXT-X-START TIME-OFFSET
	Segments    []PlaylistSegment
}

// PlaylistSegment is one media segment of a playlist, with the numbers
// RFC 8216 gives it.
type PlaylistSegment struct {
	URI      string
	Duration float64 // EXTINF
	Disc     bool    // EXT-X-DISCONTINUITY before it
	Map      string  // the EXT-X-MAP URI in force
	Seq      int64   // media sequence number
	DiscSeq  int64   // discontinuity sequence number
}

// Duration sums the segments' EXTINF.
func (p *Playlist) Duration() float64 {
	var d float64
	for _, s := range p.Segments {
		d += s.Duration
	}
	return d
}

// ParsePlaylist parses a media playlist. It checks the syntax it relies on
// and numbers every segment (RFC 8216 §6.2.2: the first segment has the
// media sequence, each next one more; the discontinuity sequence grows at
// each EXT-X-DISCONTINUITY).
func ParsePlaylist(body string) (*Playlist, error) {
	p := &Playlist{Target: -1}
	sc := bufio.NewScanner(strings.NewReader(body))
	first := true
	var dur float64 = -1
	disc := false
	curMap := ""
	n := 0
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		n++
		if first {
			if line != "#EXTM3U" {
				return nil, fmt.Errorf("line 1 is %q, want #EXTM3U", line)
			}
			first = false
			continue
		}
		num := func(v string) (int64, error) {
			x, err := strconv.ParseInt(v, 10, 64)
			if err != nil || x < 0 {
				return 0, fmt.Errorf("line %d: bad number in %q", n, line)
			}
			return x, nil
		}
		var err error
		switch {
		case line == "":
		case strings.HasPrefix(line, "#EXT-X-TARGETDURATION:"):
			p.Target, err = num(strings.TrimPrefix(line, "#EXT-X-TARGETDURATION:"))
		case strings.HasPrefix(line, "#EXT-X-MEDIA-SEQUENCE:"):
			p.Seq, err = num(strings.TrimPrefix(line, "#EXT-X-MEDIA-SEQUENCE:"))
		case strings.HasPrefix(line, "#EXT-X-DISCONTINUITY-SEQUENCE:"):
			p.DiscSeq, err = num(strings.TrimPrefix(line, "#EXT-X-DISCONTINUITY-SEQUENCE:"))
		case strings.HasPrefix(line, "#EXT-X-PLAYLIST-TYPE:"):
			p.Type = strings.TrimPrefix(line, "#EXT-X-PLAYLIST-TYPE:")
		case line == "#EXT-X-ENDLIST":
			p.EndList = true
		case strings.HasPrefix(line, "#EXT-X-START:"):
			for _, kv := range strings.Split(strings.TrimPrefix(line, "#EXT-X-START:"), ",") {
				if v, ok := strings.CutPrefix(kv, "TIME-OFFSET="); ok {
					f, perr := strconv.ParseFloat(v, 64)
					if perr != nil {
						return nil, fmt.Errorf("line %d: bad TIME-OFFSET", n)
					}
					p.StartOffset = &f
				}
			}
		case line == "#EXT-X-DISCONTINUITY":
			disc = true
		case strings.HasPrefix(line, "#EXT-X-MAP:URI=\""):
			curMap = strings.TrimSuffix(strings.TrimPrefix(line, "#EXT-X-MAP:URI=\""), "\"")
		case strings.HasPrefix(line, "#EXTINF:"):
			v, _, _ := strings.Cut(strings.TrimPrefix(line, "#EXTINF:"), ",")
			dur, err = strconv.ParseFloat(v, 64)
			if err != nil || dur < 0 {
				return nil, fmt.Errorf("line %d: bad EXTINF %q", n, line)
			}
		case strings.HasPrefix(line, "#"):
		default:
			if dur < 0 {
				return nil, fmt.Errorf("line %d: URI %q without EXTINF", n, line)
			}
			p.Segments = append(p.Segments, PlaylistSegment{URI: line, Duration: dur, Disc: disc, Map: curMap})
			dur, disc = -1, false
		}
		if err != nil {
			return nil, err
		}
	}
	if first {
		return nil, fmt.Errorf("empty playlist")
	}
	if p.Target < 0 {
		return nil, fmt.Errorf("no EXT-X-TARGETDURATION")
	}
	ds := p.DiscSeq
	for i := range p.Segments {
		if i > 0 && p.Segments[i].Disc {
			ds++
		}
		p.Segments[i].Seq = p.Seq + int64(i)
		p.Segments[i].DiscSeq = ds
	}
	return p, nil
}

// PlaylistChecker asserts the rules of RFC 8216 that players rely on
// across reloads of one playlist and across nodes serving it. Feed it
// every playlist a test fetches with Check; it is safe for concurrent use.
//
// Rules, per playlist (its path, whatever node served it):
//   - every EXTINF rounded to the nearest integer is at most
//     EXT-X-TARGETDURATION (§4.3.3.1), and the target duration never
//     changes (§6.2.1);
//   - the media and discontinuity sequence numbers of a node's playlist
//     never go back, a segment keeps its numbers on every reload and on
//     every node (§6.2.2, so a player can move between nodes: one node may
//     list fewer segments than another, but never number one differently),
//     and the target duration is the same on every node; numbers stay
//     below 2^31 (32-bit players) and the discontinuity sequence below a
//     million (hls.js walks an array indexed by it);
//   - segment URIs are unique and, within one playlist, in time order;
//   - a live playlist has no ENDLIST and no PLAYLIST-TYPE and only drops
//     segments from its head; an EVENT playlist only appends (its earlier
//     list is a prefix of the new one) and keeps its type until it ends
//     with ENDLIST; a VOD playlist ends with ENDLIST and never changes.
//     Once a playlist has ENDLIST its life is over (players stop
//     reloading): a later fetch starts a new life, which may be VOD, but
//     must list the same segments.
type PlaylistChecker struct {
	mu    sync.Mutex
	lists map[string]*checkedList // by path: numbers, target
	last  map[string]*Playlist    // by node and path: the previous reload
	// Reloads counts the playlists checked.
	Reloads int
}

type checkedList struct {
	target int64
	nums   map[string][2]int64 // URI: seq, discSeq
}

// Check checks body, fetched from node for playlist path (the URL path,
// the same for every node), against the rules and what was seen before.
func (c *PlaylistChecker) Check(node, path, body string) error {
	p, err := ParsePlaylist(body)
	if err != nil {
		return fmt.Errorf("%s %s: %v", node, path, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.Reloads++
	if c.lists == nil {
		c.lists, c.last = map[string]*checkedList{}, map[string]*Playlist{}
	}
	fail := func(format string, a ...any) error {
		return fmt.Errorf("%s %s: %s\n%s", node, path, fmt.Sprintf(format, a...), body)
	}
	seen := map[string]bool{}
	for i, s := range p.Segments {
		if r := int64(math.Round(s.Duration)); r > p.Target {
			return fail("segment %s lasts %.3f s, over EXT-X-TARGETDURATION %d", s.URI, s.Duration, p.Target)
		}
		if seen[s.URI] {
			return fail("segment %s listed twice", s.URI)
		}
		seen[s.URI] = true
		if i > 0 && segStart(s.URI) <= segStart(p.Segments[i-1].URI) {
			return fail("segment %s does not start after %s", s.URI, p.Segments[i-1].URI)
		}
		if s.Seq >= 1<<31 || s.DiscSeq >= 1_000_000 {
			return fail("segment %s numbered %d/%d: too large for real players", s.URI, s.Seq, s.DiscSeq)
		}
	}
	switch p.Type {
	case "":
		if p.EndList {
			return fail("live playlist with EXT-X-ENDLIST")
		}
	case "VOD":
		if !p.EndList {
			return fail("VOD playlist without EXT-X-ENDLIST")
		}
	case "EVENT":
	default:
		return fail("unknown EXT-X-PLAYLIST-TYPE %q", p.Type)
	}
	cl := c.lists[path]
	if cl == nil {
		cl = &checkedList{target: p.Target, nums: map[string][2]int64{}}
		c.lists[path] = cl
	}
	if p.Target != cl.target {
		return fail("EXT-X-TARGETDURATION changed from %d to %d", cl.target, p.Target)
	}
	for _, s := range p.Segments {
		if n, ok := cl.nums[s.URI]; ok && (n[0] != s.Seq || n[1] != s.DiscSeq) {
			return fail("segment %s numbered %d/%d, earlier (this node or another) %d/%d", s.URI, s.Seq, s.DiscSeq, n[0], n[1])
		}
	}
	lastKey := node + " " + path
	if prev := c.last[lastKey]; prev != nil {
		if prev.EndList && (!p.EndList || len(p.Segments) != len(prev.Segments)) {
			return fail("playlist changed after EXT-X-ENDLIST: %d segments, before %d", len(p.Segments), len(prev.Segments))
		}
		if prev.Type != p.Type && !(prev.EndList && prev.Type == "EVENT" && p.Type == "VOD") {
			return fail("playlist type changed from %q (endlist %v) to %q (endlist %v)", prev.Type, prev.EndList, p.Type, p.EndList)
		}
		if p.Seq < prev.Seq || p.DiscSeq < prev.DiscSeq {
			return fail("sequence numbers went back from %d/%d to %d/%d", prev.Seq, prev.DiscSeq, p.Seq, p.DiscSeq)
		}
		switch p.Type {
		case "EVENT", "VOD":
			// Append only (VOD: identical).
			if len(p.Segments) < len(prev.Segments) {
				return fail("%s playlist shrank from %d to %d segments", p.Type, len(prev.Segments), len(p.Segments))
			}
			for i := range prev.Segments {
				if prev.Segments[i].URI != p.Segments[i].URI || prev.Segments[i].Disc != p.Segments[i].Disc {
					return fail("%s playlist changed segment %d: %s, before %s", p.Type, i, p.Segments[i].URI, prev.Segments[i].URI)
				}
			}
			if p.Type == "VOD" && len(p.Segments) != len(prev.Segments) {
				return fail("VOD playlist changed length from %d to %d", len(prev.Segments), len(p.Segments))
			}
		case "":
			// Live: segments leave only from the head, so what both lists
			// hold is the tail of the old one and the head of the new.
			drop := int(p.Seq - prev.Seq)
			for i := drop; i < len(prev.Segments) && i-drop < len(p.Segments); i++ {
				if prev.Segments[i].URI != p.Segments[i-drop].URI {
					return fail("live playlist: media sequence %d is %s, before %s", p.Seq+int64(i-drop), p.Segments[i-drop].URI, prev.Segments[i].URI)
				}
			}
		}
	}
	for _, s := range p.Segments {
		cl.nums[s.URI] = [2]int64{s.Seq, s.DiscSeq}
	}
	c.last[lastKey] = p
	return nil
}

// segStart is the UTC ms a segment URI (s-{start}.m4s or .ts) encodes, -1
// when it encodes none.
func segStart(uri string) int64 {
	v, ok := strings.CutPrefix(uri, "s-")
	if !ok {
		return -1
	}
	v, _, _ = strings.Cut(v, ".")
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return -1
	}
	return n
}

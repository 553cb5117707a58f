package proxy

import (
	"sync"
	"time"
)

// Viewer counting: HLS has no sessions, so a viewer of a stream is a
// client (remote IP and User-Agent) that asked for one of its live
// playlists (or live MPEG-TS) in the last viewerWindow. Players reload a
// live playlist every target duration (15 s at most), so a watching player
// is never forgotten.
const (
	viewerWindow = 30 * time.Second
	// maxViewersPerStream bounds the memory one stream's counting takes;
	// past it, new clients are not counted.
	maxViewersPerStream = 100_000
)

// viewers counts the recent live clients of each stream.
type viewers struct {
	mu      sync.Mutex
	streams map[string]map[string]time.Time // stream -> client -> last request
	n       int64                           // entries over all streams
	pruned  time.Time                       // last prune of every stream (total)
}

// totalPrune is how often total prunes every stream; in between it
// counts clients up to this much past viewerWindow.
const totalPrune = time.Second

// touch records a live request of client for stream at now.
func (v *viewers) touch(stream, client string, now time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.streams == nil {
		v.streams = map[string]map[string]time.Time{}
	}
	m := v.streams[stream]
	if m == nil {
		m = map[string]time.Time{}
		v.streams[stream] = m
	}
	if _, ok := m[client]; !ok && len(m) >= maxViewersPerStream {
		v.pruneLocked(stream, now)
		if len(m) >= maxViewersPerStream {
			return
		}
		v.streams[stream] = m // pruned empty, it was dropped
	}
	if _, ok := m[client]; !ok {
		v.n++
	}
	m[client] = now
}

// count returns how many clients asked for stream's live playlists in the
// last viewerWindow before now.
func (v *viewers) count(stream string, now time.Time) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.pruneLocked(stream, now)
	return len(v.streams[stream])
}

func (v *viewers) pruneLocked(stream string, now time.Time) {
	m := v.streams[stream]
	for c, t := range m {
		if now.Sub(t) > viewerWindow {
			delete(m, c)
			v.n--
		}
	}
	if m != nil && len(m) == 0 {
		delete(v.streams, stream)
	}
}

// has reports whether client is a counted viewer of stream at now.
func (v *viewers) has(stream, client string, now time.Time) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	t, ok := v.streams[stream][client]
	return ok && now.Sub(t) <= viewerWindow
}

// total returns the viewers of every stream at now (a client watching
// two streams counts twice), pruning every stream at most every
// totalPrune.
func (v *viewers) total(now time.Time) int64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	if now.Sub(v.pruned) >= totalPrune || now.Before(v.pruned) {
		for stream := range v.streams {
			v.pruneLocked(stream, now)
		}
		v.pruned = now
	}
	return v.n
}

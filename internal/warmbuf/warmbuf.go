// Package warmbuf keeps a few segment-sized buffers whose memory pages are already faulted in, for the paths that fill a whole segment from a socket while a viewer waits.
//
// Reading a segment into freshly allocated memory faults in each of its
// pages inside read(2): on the 2-core VMs this project is measured on, a
// 1.5 MB segment took about 370 faults and 10 to 20 ms more than the same
// read into memory already in use (bench/chain.sh, cold misses through a
// cache tier). A Pool moves that cost off the viewer's path: Get hands out
// a warm buffer, which then belongs to the caller for good (a fetched
// segment goes on to the memory cache, so nothing is ever given back), and
// once the caller's segment is in, Refill has a background goroutine make
// the next one (it yields often, so the viewers of another miss meanwhile
// are not held behind it).
package warmbuf

import (
	"runtime"
	"sync"
)

// pageSize is the step at which a new buffer is touched; a smaller real
// page size would only leave some pages to fault later.
const pageSize = 4096

// yieldEvery is how many bytes of a new buffer are touched between yields
// of the goroutine that makes it.
const yieldEvery = 64 * pageSize

// Pool keeps up to Keep warm buffers sized to the largest of the last
// requests (plus an eighth, for the next segments' growth). The zero value
// is not usable; use New.
type Pool struct {
	keep int
	max  int

	mu     sync.Mutex
	free   [][]byte // warm, unused; cap >= the size they were made for
	recent [16]int  // the last sizes asked for, round robin
	next   int      // index into recent
	making bool     // a goroutine is making buffers
	hits   int      // Gets answered with a warm buffer
}

// New returns a Pool that keeps up to keep warm buffers and never makes one
// over max bytes (a larger request is left to the caller's own make).
func New(keep, max int) *Pool {
	return &Pool{keep: keep, max: max}
}

// Get returns a buffer of length 0 and capacity at least n whose pages are
// already faulted in, or nil when none is ready (the caller then allocates
// as it would have). It notes the size for the buffers Refill makes next,
// but makes none itself: making one allocates and faults in megabytes
// (and may start a GC cycle), which the caller's viewer should not wait
// behind. Call Refill once the buffer's bytes are in.
func (p *Pool) Get(n int) []byte {
	if n <= 0 || n > p.max {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.recent[p.next] = n
	p.next = (p.next + 1) % len(p.recent)
	var b []byte
	kept := p.free[:0]
	for _, f := range p.free {
		switch {
		case cap(f) < n:
			// Smaller than what is asked for now: left to the collector,
			// the next ones are made to the new size.
		case b == nil:
			b = f
		default:
			kept = append(kept, f)
		}
	}
	if b != nil {
		p.hits++
	}
	clear(p.free[len(kept):])
	p.free = kept
	return b
}

// Refill starts making warm buffers, sized to the recent Gets, in the
// background until the pool holds Keep of them (when it is not doing so
// already).
func (p *Pool) Refill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.free) < p.keep && !p.making && p.sizeLocked() > 0 {
		p.making = true
		go p.fill()
	}
}

// sizeLocked is the capacity new buffers get: the largest recent request
// and an eighth, at most max.
func (p *Pool) sizeLocked() int {
	m := 0
	for _, n := range p.recent {
		m = max(m, n)
	}
	return min(m+m/8, p.max)
}

// fill makes warm buffers until the pool holds keep of them.
func (p *Pool) fill() {
	for {
		p.mu.Lock()
		if len(p.free) >= p.keep {
			p.making = false
			p.mu.Unlock()
			return
		}
		size := p.sizeLocked()
		p.mu.Unlock()

		b := make([]byte, size)
		for i := 0; i < len(b); i += pageSize {
			b[i] = 1 // a write: the page is faulted in now, not in read(2)
			if i%yieldEvery == yieldEvery-pageSize {
				// Faulting in a buffer takes milliseconds of CPU: it lets
				// the viewers' goroutines (readied meanwhile on this P)
				// run rather than wait for the whole buffer.
				runtime.Gosched()
			}
		}

		p.mu.Lock()
		p.free = append(p.free, b[:0])
		p.mu.Unlock()
	}
}

// Warm reports how many warm buffers the pool holds.
func (p *Pool) Warm() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.free)
}

// Hits reports how many Gets were answered with a warm buffer.
func (p *Pool) Hits() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hits
}

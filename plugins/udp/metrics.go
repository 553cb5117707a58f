package udp

import (
	"sync"
	"sync/atomic"

	"github.com/edgedvr/edge/media"
)

// Stats are the counters of one running capture: the segmenter's, and the
// reader's own. All fields only grow for the life of one Capture call.
type Stats struct {
	media.Stats
	Datagrams uint64 // datagrams received (udp)
	Bytes     uint64 // bytes received or read from the file
	Truncated uint64 // datagrams longer than the read buffer, cut short (udp)
	Foreign   uint64 // datagrams dropped because they came from another sender than source= (udp)
	Silences  uint64 // times the source went silent for a second
	Loops     uint64 // times a file input was started again from its beginning
}

// counters are written by the capture goroutine and read by Stats.
type counters struct {
	datagrams, bytes, truncated, foreign, silences, loops atomic.Uint64

	mu  sync.Mutex
	seg media.Stats
}

func (c *counters) setSegmenter(st media.Stats) {
	c.mu.Lock()
	c.seg = st
	c.mu.Unlock()
}

func (c *counters) snapshot() Stats {
	c.mu.Lock()
	st := c.seg
	c.mu.Unlock()
	return Stats{
		Stats:     st,
		Datagrams: c.datagrams.Load(),
		Bytes:     c.bytes.Load(),
		Truncated: c.truncated.Load(),
		Foreign:   c.foreign.Load(),
		Silences:  c.silences.Load(),
		Loops:     c.loops.Load(),
	}
}

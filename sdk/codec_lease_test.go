package sdk

import (
	"testing"
	"time"

	"github.com/edgedvr/edge/internal/pagebuf"
)

// TestLeasesKeepFewWarm: after a burst of write requests, only leaseKeep
// buffers keep their pages, the largest ones; the others stay mapped but
// cost no memory, are leased again before anything new is mapped, and
// none is unmapped before leaseUnmapAge.
func TestLeasesKeepFewWarm(t *testing.T) {
	leases.Lock()
	saved := leases.idle
	leases.idle = nil
	leases.Unlock()
	t.Cleanup(func() {
		leases.Lock()
		for _, l := range leases.idle {
			l.buf.Unmap()
		}
		leases.idle = saved
		leases.Unlock()
	})
	const mib = 1 << 20
	var held []*pagebuf.Buf
	for i := range 6 {
		b := getLease(mib + i*64<<10)
		p := b.Bytes()[:mib+i*64<<10]
		for j := range p {
			p[j] = byte(i)
		}
		held = append(held, b)
	}
	for _, b := range held {
		putLease(b)
	}
	warmPages, warm := 0, 0
	for _, l := range leases.idle {
		r := l.buf.Resident()
		if l.warm {
			warm++
			warmPages += r
			if l.buf.Cap() < held[4].Cap() {
				t.Errorf("a buffer of %d bytes is warm, want the two largest (%d, %d)", l.buf.Cap(), held[4].Cap(), held[5].Cap())
			}
		} else if r != 0 {
			t.Errorf("a released buffer has %d pages resident", r)
		}
	}
	if warm != leaseKeep || len(leases.idle) != 6 {
		t.Fatalf("%d of %d idle buffers warm, want %d of 6", warm, len(leases.idle), leaseKeep)
	}
	if want := (held[4].Cap() + held[5].Cap()) / 4096; warmPages < want*9/10 {
		t.Errorf("warm buffers have %d pages resident, want about %d", warmPages, want)
	}
	// A request that fits is given an idle buffer, the warm one first.
	b := getLease(mib)
	if b != held[4] && b != held[5] {
		t.Error("a request was not given a warm buffer")
	}
	putLease(b)
	// One larger than all maps a new buffer and unmaps nothing younger
	// than leaseUnmapAge.
	big := getLease(4 * mib)
	if len(leases.idle) != 6 {
		t.Fatalf("%d idle buffers after a new mapping, want all 6 kept", len(leases.idle))
	}
	putLease(big)
	leases.Lock()
	for i := range leases.idle {
		leases.idle[i].since = time.Now().Add(-2 * leaseUnmapAge)
	}
	leases.Unlock()
	huge := getLease(8 * mib)
	if len(leases.idle) != 0 {
		t.Errorf("%d idle buffers left after a request none fits, all older than %v, want 0", len(leases.idle), leaseUnmapAge)
	}
	putLease(huge)
}

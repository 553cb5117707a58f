package warmbuf

import (
	"testing"
	"time"
	"unsafe"
)

// waitWarm polls until p holds n warm buffers.
func waitWarm(t *testing.T, p *Pool, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for p.Warm() < n {
		if time.Now().After(deadline) {
			t.Fatalf("pool holds %d warm buffers, want %d", p.Warm(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestPoolHandsOutEachBufferOnce(t *testing.T) {
	p := New(2, 8<<20)
	if b := p.Get(1 << 20); b != nil {
		t.Fatalf("first Get = cap %d, want nil (nothing made yet)", cap(b))
	}
	p.mu.Lock()
	making := p.making
	p.mu.Unlock()
	if making {
		t.Fatal("Get started making buffers; only Refill should (off the viewer's path)")
	}
	p.Refill()
	waitWarm(t, p, 2)
	seen := map[unsafe.Pointer]bool{}
	for i := range 6 {
		b := p.Get(1 << 20)
		if b == nil {
			waitWarm(t, p, 1)
			b = p.Get(1 << 20)
		}
		p.Refill()
		if b == nil {
			t.Fatalf("Get %d: nil with a warm buffer ready", i)
		}
		if len(b) != 0 || cap(b) < 1<<20 {
			t.Fatalf("Get %d: len %d cap %d, want 0 and at least %d", i, len(b), cap(b), 1<<20)
		}
		ptr := unsafe.Pointer(unsafe.SliceData(b[:1]))
		if seen[ptr] {
			t.Fatalf("Get %d: a buffer handed out twice", i)
		}
		seen[ptr] = true
	}
	if h := p.Hits(); h != 6 {
		t.Fatalf("hits %d, want 6", h)
	}
}

func TestPoolSizes(t *testing.T) {
	p := New(1, 4<<20)
	p.Get(1 << 20)
	p.Refill()
	waitWarm(t, p, 1)
	// Bigger than the warm buffer: nil, and the small one is dropped for
	// one made to the new size (an eighth of room on top).
	if b := p.Get(2 << 20); b != nil {
		t.Fatalf("Get(2 MiB) = cap %d from buffers made for 1 MiB", cap(b))
	}
	p.Refill()
	waitWarm(t, p, 1)
	b := p.Get(2 << 20)
	if want := 2<<20 + 2<<20/8; cap(b) != want {
		t.Fatalf("cap %d, want %d", cap(b), want)
	}
	// Over max, or nothing: never from the pool, nothing made for it.
	if b := p.Get(5 << 20); b != nil {
		t.Fatalf("Get over max = cap %d, want nil", cap(b))
	}
	if b := p.Get(0); b != nil {
		t.Fatalf("Get(0) = cap %d, want nil", cap(b))
	}
	p.Refill()
	waitWarm(t, p, 1)
	if b := p.Get(2 << 20); cap(b) > 4<<20 {
		t.Fatalf("cap %d over max", cap(b))
	}
}

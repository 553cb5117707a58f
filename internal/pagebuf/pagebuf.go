// Package pagebuf holds byte buffers in anonymous memory mappings, outside the Go heap, whose pages go back to the system when released.
//
// A segment-sized buffer on the Go heap costs its whole size for as long
// as it is reachable, and the collector lets the heap grow to twice what
// is reachable before it collects. A buffer whose lifetime its owner
// already knows (a segment being built, a write request being stored) can
// instead live in a mapping: only the pages written cost memory, Release
// gives them back at once, and the collector neither counts nor scans it.
// Using such a buffer after Unmap faults; after Release it reads zeros.
package pagebuf

// Buf is a mapping of Cap bytes (whole pages), or a buffer in Go memory
// for a caller that can do without the mapping (Heap). Its zero value
// holds none.
type Buf struct {
	mem  []byte
	heap bool // mem is Go memory: Release and Populate do nothing
}

// Heap returns a Buf of n bytes of Go memory, for when Map returns nil.
func Heap(n int) *Buf { return &Buf{mem: make([]byte, max(n, 1)), heap: true} }

// Bytes returns the whole mapping, len 0 and cap Cap: append to it up to
// its capacity writes into the mapping.
func (b *Buf) Bytes() []byte { return b.mem[:0] }

// Cap is the mapping's size in bytes.
func (b *Buf) Cap() int { return cap(b.mem) }

// Holds tells whether p points into b's mapping: whether appends to a
// slice of Bytes stayed in it.
func (b *Buf) Holds(p []byte) bool {
	if cap(p) == 0 || cap(b.mem) == 0 {
		return false
	}
	a, lo := addr(p), addr(b.mem)
	return a >= lo && a < lo+uintptr(cap(b.mem))
}

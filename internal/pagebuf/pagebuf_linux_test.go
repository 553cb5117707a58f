package pagebuf

import (
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// resident counts the pages of p that are in memory.
func resident(t *testing.T, p []byte) int {
	t.Helper()
	vec := make([]byte, (len(p)+pageSize-1)/pageSize)
	_, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)), uintptr(unsafe.Pointer(&vec[0])))
	if errno != 0 {
		t.Fatalf("mincore: %v", errno)
	}
	n := 0
	for _, v := range vec {
		n += int(v & 1)
	}
	return n
}

func TestMapReleasePopulate(t *testing.T) {
	const pages = 64
	b := Map(pages*pageSize-100, false)
	defer b.Unmap()
	if b.heap {
		t.Fatal("Map fell back to the Go heap")
	}
	if b.Cap() != pages*pageSize {
		t.Fatalf("Cap %d, want %d (whole pages)", b.Cap(), pages*pageSize)
	}
	full := b.Bytes()[:b.Cap()]
	if n := resident(t, full); n != 0 {
		t.Fatalf("%d pages resident before any write, want 0", n)
	}
	p := append(b.Bytes(), make([]byte, 10*pageSize)...)
	for i := range p {
		p[i] = 0xAB
	}
	if !b.Holds(p) || !b.Holds(p[5:]) {
		t.Fatal("an append within Cap left the mapping")
	}
	if n := resident(t, full); n != 10 || b.Resident() != 10 {
		t.Fatalf("%d pages resident (Resident says %d) after writing 10, want 10", n, b.Resident())
	}
	b.Release(pageSize+1, len(p)-1) // pages 2 to 9 (up to the one holding byte len(p)-2)
	if n := resident(t, full); n != 2 {
		t.Fatalf("%d pages resident after Release of pages 2-9, want 2", n)
	}
	if p[pageSize+1] != 0xAB {
		t.Fatal("Release cleared a page it was to keep")
	}
	b.Release(0, len(p))
	if n := resident(t, full); n != 0 {
		t.Fatalf("%d pages resident after Release of all, want 0", n)
	}
	if p[0] != 0 || p[len(p)-1] != 0 {
		t.Fatal("released pages do not read as zeros")
	}
	// Pages 20-23 were never touched: Populate from inside page 20 to the
	// end of page 23 makes those four.
	b.Populate(20*pageSize+1, 24*pageSize)
	if n := resident(t, full[20*pageSize:]); n != 4 {
		t.Fatalf("%d pages resident after Populate of pages 20-23, want 4", n)
	}
	if heapBytes := make([]byte, 10); b.Holds(heapBytes) {
		t.Fatal("Holds claims a heap slice")
	}
	if grown := append(b.Bytes()[:b.Cap()], 1); b.Holds(grown) {
		t.Fatal("Holds claims a slice that append moved to the heap")
	}
}

func TestMapPopulated(t *testing.T) {
	b := Map(8*pageSize, true)
	defer b.Unmap()
	if n := resident(t, b.Bytes()[:b.Cap()]); n != 8 {
		t.Fatalf("%d pages resident after Map with populate, want 8", n)
	}
}

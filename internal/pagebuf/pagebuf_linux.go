package pagebuf

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

var pageSize = os.Getpagesize()

func addr(p []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(p))) }

func roundUp(n int) int { return (n + pageSize - 1) &^ (pageSize - 1) }

// Map returns a mapping of at least n bytes, or nil when the system
// refuses one. Its pages cost memory only once written (the mapping is
// made with MAP_NORESERVE, so reserving more than a buffer will use costs
// address space only); with populate they are all made at once, which
// costs a fraction of faulting them one by one, for a buffer about to be
// filled.
func Map(n int, populate bool) *Buf {
	n = roundUp(max(n, 1))
	flags := unix.MAP_PRIVATE | unix.MAP_ANONYMOUS | unix.MAP_NORESERVE
	if populate {
		flags |= unix.MAP_POPULATE
	}
	mem, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, flags)
	if err != nil {
		return nil
	}
	return &Buf{mem: mem}
}

// Release gives back the pages under b's bytes [from, to), from rounded
// up and to rounded up to a page (so the page holding byte from-1 stays):
// they read as zeros afterwards and cost memory again once written. The
// mapping stays.
func (b *Buf) Release(from, to int) {
	from = roundUp(max(from, 0))
	to = min(roundUp(to), cap(b.mem))
	if b.heap || from >= to {
		return
	}
	_ = unix.Madvise(b.mem[from:to], unix.MADV_DONTNEED)
}

// Populate makes the pages under b's bytes [from, to) at once, before
// they are written: one system call instead of a fault per page. It is a
// hint; on a kernel without MADV_POPULATE_WRITE the pages fault as usual.
func (b *Buf) Populate(from, to int) {
	from &^= pageSize - 1
	to = min(roundUp(to), cap(b.mem))
	if b.heap || from >= to {
		return
	}
	_ = unix.Madvise(b.mem[from:to], unix.MADV_POPULATE_WRITE)
}

// Unmap gives the mapping back. b holds nothing afterwards; any slice of
// it faults when used.
func (b *Buf) Unmap() {
	mem := b.mem
	b.mem = nil
	if b.heap || cap(mem) == 0 {
		return
	}
	_ = unix.Munmap(mem[:cap(mem)])
}

// Resident counts b's pages that are in memory (mincore(2)), for tests and
// diagnostics.
func (b *Buf) Resident() int {
	if b.heap {
		return (cap(b.mem) + pageSize - 1) / pageSize
	}
	vec := make([]byte, cap(b.mem)/pageSize)
	if len(vec) == 0 {
		return 0
	}
	full := b.mem[:cap(b.mem)]
	_, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&full[0])), uintptr(len(full)), uintptr(unsafe.Pointer(&vec[0])))
	if errno != 0 {
		return -1
	}
	n := 0
	for _, v := range vec {
		n += int(v & 1)
	}
	return n
}

//go:build !linux

package pagebuf

import "unsafe"

func addr(p []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(p))) }

// Map returns nil: this platform's build makes no anonymous mappings.
func Map(n int, populate bool) *Buf { return nil }

// Release does nothing here.
func (b *Buf) Release(from, to int) {}

// Populate does nothing here.
func (b *Buf) Populate(from, to int) {}

// Unmap drops b's memory for the collector.
func (b *Buf) Unmap() { b.mem = nil }

// Resident counts all of b's pages here.
func (b *Buf) Resident() int { return (cap(b.mem) + 4095) / 4096 }

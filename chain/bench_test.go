package chain

import (
	"bytes"
	"context"
	"testing"

	"github.com/edgedvr/edge/sdk"
)

const benchSegSize = 512 << 10

// A segment hot in the disk cache: local miss, disk hit, file read.
func BenchmarkReadSegmentDiskHot(b *testing.B) {
	remote := newStore("r")
	disk := openDisk(b, cacheCfg())
	data := bytes.Repeat([]byte{7}, benchSegSize)
	if err := disk.Put("cam", sdk.SegmentInfo{Start: at(0), Duration: segDur, InitHash: testInit.Hash}, data); err != nil {
		b.Fatal(err)
	}
	arch := newArchive(b, Config{Self: "edge", Disk: disk, Sources: []Source{{Name: "r", Remote: remote}}})
	ctx := context.Background()
	b.SetBytes(benchSegSize)
	b.ReportAllocs()
	for b.Loop() {
		if got, err := arch.ReadSegment(ctx, at(0)); err != nil || len(got) != benchSegSize {
			b.Fatal(err)
		}
	}
	if remote.nSegment.Load() != 0 {
		b.Fatal("remote asked")
	}
}

// The same read answered by an in-memory fake remote each time (no disk
// cache): the cost of the lookup path itself (singleflight, deadline,
// ordering), without any network.
func BenchmarkReadSegmentRemote(b *testing.B) {
	remote := newStore("r")
	data := bytes.Repeat([]byte{7}, benchSegSize)
	remote.data[at(0)] = data
	arch := newArchive(b, Config{Self: "edge", Sources: []Source{{Name: "r", Remote: remote}}})
	ctx := context.Background()
	b.SetBytes(benchSegSize)
	b.ReportAllocs()
	for b.Loop() {
		if got, err := arch.ReadSegment(ctx, at(0)); err != nil || len(got) != benchSegSize {
			b.Fatal(err)
		}
	}
}

// Segments over one day at 3 s from 3 sources that each miss a different
// hour (28,800 segments per source, merged to one gapless day).
func BenchmarkSegmentsMerge3x1Day(b *testing.B) {
	const perDay = 24 * 3600 * 1000 / segDur
	const hour = 3600 * 1000 / segDur
	var srcs []Source
	for k := 0; k < 3; k++ {
		s := newStore("s")
		// Build without payloads: listings only.
		for i := 0; i < perDay; i++ {
			if i >= k*hour && i < (k+1)*hour {
				continue
			}
			s.segs = append(s.segs, sdk.SegmentInfo{Start: at(i), Duration: segDur, Size: 1 << 20, InitHash: testInit.Hash, Checksum: "0badf00d"})
		}
		srcs = append(srcs, Source{Name: "s", Remote: s})
	}
	arch := newArchive(b, Config{Self: "edge", Sources: srcs})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		segs, err := arch.Segments(ctx, at(0), at(perDay))
		if err != nil || len(segs) != perDay {
			b.Fatalf("%d segments, %v", len(segs), err)
		}
	}
}

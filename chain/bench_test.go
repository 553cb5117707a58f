package chain

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/edgedvr/edge/cache"
	"github.com/edgedvr/edge/media"
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

// coldRemote answers every segment start with the same bytes and their
// listing, so each iteration of a benchmark can ask for a segment nobody
// asked for yet.
type coldRemote struct {
	fakeStore
	data []byte
	sum  string
}

func (c *coldRemote) Segments(ctx context.Context, stream string, from, to int64, via, hops string) ([]sdk.SegmentInfo, error) {
	return []sdk.SegmentInfo{{Start: from, Duration: segDur, Size: int64(len(c.data)), InitHash: testInit.Hash, Checksum: c.sum}}, nil
}

func (c *coldRemote) Segment(ctx context.Context, stream string, start int64, via, hops string) ([]byte, error) {
	return c.data, nil
}

// checkedCold is a coldRemote as a CheckedRemote (the M4F client's shape:
// it has checked the bytes against the checksum it returns).
type checkedCold struct{ *coldRemote }

func (c checkedCold) CheckedSegment(ctx context.Context, stream string, start int64, via, hops string) ([]byte, sdk.SegmentInfo, error) {
	return c.data, sdk.SegmentInfo{Start: start, Duration: segDur, Size: int64(len(c.data)), InitHash: testInit.Hash, Checksum: c.sum}, nil
}

// A cold miss: a segment not in the disk cache, fetched from an in-memory
// remote (listed first, as the front does) and cached on the way, against
// the same miss without a disk cache, in one run. The time per op is the
// time until the caller has the bytes (a viewer's first byte); background
// writes are let finish between ops, outside the timer, so each op meets
// an idle disk as a lone viewer does. The ratio of the two is the cost of
// caching on the viewer's path. "checked" is the same miss from a
// CheckedRemote (as the wiring's M4F adapter is): the bytes are not hashed
// again.
func BenchmarkReadSegmentColdMiss(b *testing.B) {
	for _, tt := range []struct {
		withDisk, checked bool
	}{{false, false}, {false, true}, {true, false}, {true, true}} {
		withDisk := tt.withDisk
		name := "no-cache"
		if withDisk {
			name = "disk-cache"
		}
		if tt.checked {
			name += "-checked"
		}
		b.Run(name, func(b *testing.B) {
			data := bytes.Repeat([]byte{7}, 3*benchSegSize)
			var remote Remote = &coldRemote{data: data, sum: media.Checksum(data)}
			if tt.checked {
				remote = checkedCold{remote.(*coldRemote)}
			}
			cfg := Config{Self: "edge", Sources: []Source{{Name: "r", Remote: remote}}}
			var disk *cache.Disk
			if withDisk {
				disk = openDisk(b, cache.DiskConfig{MaxSize: 256 << 20})
				cfg.Disk = disk
			}
			arch := newArchive(b, cfg)
			ctx := context.Background()
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				start := at(i)
				i++
				if _, err := arch.Segments(ctx, start, start+1); err != nil {
					b.Fatal(err)
				}
				if got, err := arch.ReadSegment(ctx, start); err != nil || len(got) != len(data) {
					b.Fatal(err)
				}
				if disk != nil {
					b.StopTimer()
					disk.Wait()
					b.StartTimer()
				}
			}
			if disk != nil {
				if st := disk.Stats(); st.Entries == 0 || st.WriteErrors != 0 {
					b.Fatalf("disk cache after the run: %+v", st)
				}
			}
		})
	}
}

// Cold misses on an edge through a cache tier over in-memory calls (no
// network), each front listing a segment before reading it as proxy does,
// a viewer reading on segment after segment: with one-segment listings
// recalled (ListingTTL by default) and without (ListingTTL < 0, every
// listing asked upstream), in one run. calls/op counts the calls the edge
// makes to the cache tier plus those the cache tier makes to the origin.
func BenchmarkColdMissThroughTier(b *testing.B) {
	for _, tt := range []struct {
		name string
		ttl  time.Duration
	}{{"recalled", 0}, {"asked", -1}} {
		b.Run(tt.name, func(b *testing.B) {
			origin := newStore("origin").add(0, 1<<14, 0)
			tier := newArchive(b, Config{Self: "cache", ListingTTL: tt.ttl, Sources: []Source{{Name: "origin", Remote: origin}}})
			toTier := &frontRemote{nodeRemote{target: tier}}
			edge := newArchive(b, Config{Self: "edge", ListingTTL: tt.ttl, Sources: []Source{{Name: "cache", Remote: toTier, Mode: ModeChain}}})
			ctx := context.Background()
			i := 0
			for b.Loop() {
				start := at(i % (1 << 14))
				i++
				if segs, err := edge.Segments(ctx, start, start+1); err != nil || len(segs) != 1 {
					b.Fatal(segs, err)
				}
				if _, err := edge.ReadSegment(ctx, start); err != nil {
					b.Fatal(err)
				}
			}
			calls := toTier.calls.Load() + origin.nSegments.Load() + origin.nSegment.Load()
			b.ReportMetric(float64(calls)/float64(i), "calls/op")
		})
	}
}

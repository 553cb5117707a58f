package dvrstore

import (
	"hash/crc32"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/edgedvr/edge/media"
	"github.com/edgedvr/edge/sdk"
)

// The benchmark archive: 30 days of 3 s segments (720 hours, 864,000
// segments) of one stream, generated once per test binary and shared by the
// benchmarks. Every hour gets its index; segment files are created for the
// hours that opening reads (the oldest and the two newest), since a file
// create costs about a third of a millisecond here. Set
// DVRSTORE_BENCH_ALL_FILES=1 to create all 864,000 files.
const (
	benchHours  = 720
	benchSegDur = 3000
)

var benchArchive struct {
	once sync.Once
	root string
	hash string
	err  error
}

func benchRoot(b *testing.B) string {
	b.Helper()
	benchArchive.once.Do(func() {
		benchArchive.root, benchArchive.err = os.MkdirTemp("", "dvrstore-bench-*")
		if benchArchive.err == nil {
			benchArchive.err = generateArchive(benchArchive.root)
		}
	})
	if benchArchive.err != nil {
		b.Fatal(benchArchive.err)
	}
	return benchArchive.root
}

func cleanupBenchArchive() {
	if benchArchive.root != "" {
		os.RemoveAll(benchArchive.root)
	}
}

func generateArchive(root string) error {
	dir := filepath.Join(root, "cam1")
	data := []byte("tiny segment....")
	sum := crc32.Checksum(data, castagnoli)
	hash := media.InitHash([]byte("init"))
	benchArchive.hash = hash
	allFiles := os.Getenv("DVRSTORE_BENCH_ALL_FILES") != ""
	for hour := range int64(benchHours) {
		key := t0 + hour*hourMs
		hd := hourDir(dir, key)
		if err := os.MkdirAll(hd, 0o755); err != nil {
			return err
		}
		withFiles := allFiles || hour == 0 || hour >= benchHours-2
		var idx []byte
		for i := range hourMs / benchSegDur {
			start := key + i*benchSegDur
			// A missing segment (a 3 s gap) every 10 minutes.
			if i%200 == 199 {
				continue
			}
			e := segEntry{start: start, dur: benchSegDur, size: int64(len(data)), hash: hash, sum: sum}
			idx = appendIndexLine(idx, e)
			if withFiles {
				if err := os.WriteFile(filepath.Join(hd, segmentName(start, benchSegDur, hash)), data, 0o644); err != nil {
					return err
				}
			}
		}
		if err := os.WriteFile(filepath.Join(hd, indexName), idx, 0o644); err != nil {
			return err
		}
	}
	// The first open writes the hour summaries.
	s := New(nil)
	defer s.Close()
	return s.OpenStream(ctx, sdk.StreamConfig{Stream: "cam1", Root: root})
}

// BenchmarkOpen30Days opens (and closes) a stream holding 30 days of 3 s
// segments.
func BenchmarkOpen30Days(b *testing.B) {
	root := benchRoot(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		s := New(nil)
		if err := s.OpenStream(ctx, sdk.StreamConfig{Stream: "cam1", Root: root}); err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
}

// BenchmarkRanges30Days asks for the ranges of one day that starts and ends
// mid-hour (two hours read from their index, the rest from summaries), on a
// freshly opened store so no hour is cached.
func BenchmarkRanges30Days(b *testing.B) {
	root := benchRoot(b)
	from := t0 + 10*24*hourMs + 34*60000 + 56789
	for _, tc := range []struct {
		name  string
		fresh bool
		to    int64
	}{
		{"day-cold", true, from + 24*hourMs},
		{"day-warm", false, from + 24*hourMs},
		{"all-warm", false, t0 + benchHours*hourMs},
	} {
		b.Run(tc.name, func(b *testing.B) {
			s := New(nil)
			defer s.Close()
			if err := s.OpenStream(ctx, sdk.StreamConfig{Stream: "cam1", Root: root}); err != nil {
				b.Fatal(err)
			}
			st, _ := s.stream("cam1")
			b.ReportAllocs()
			for b.Loop() {
				if tc.fresh {
					b.StopTimer()
					for _, h := range st.hours {
						if !h.pinned {
							st.dropCached(h)
						}
					}
					b.StartTimer()
				}
				r, err := s.Ranges(ctx, "cam1", from, tc.to)
				if err != nil || len(r) == 0 {
					b.Fatal(r, err)
				}
			}
		})
	}
}

// BenchmarkSegmentsHour lists one hour of segments (1,194 entries).
func BenchmarkSegmentsHour(b *testing.B) {
	root := benchRoot(b)
	s := New(nil)
	defer s.Close()
	if err := s.OpenStream(ctx, sdk.StreamConfig{Stream: "cam1", Root: root}); err != nil {
		b.Fatal(err)
	}
	from := t0 + 100*hourMs
	b.ReportAllocs()
	for b.Loop() {
		segs, err := s.Segments(ctx, "cam1", from, from+hourMs)
		if err != nil || len(segs) != 1194 {
			b.Fatal(len(segs), err)
		}
	}
}

// BenchmarkWriteSegment writes 1.5 MB segments with fsync, as in production.
func BenchmarkWriteSegment(b *testing.B) {
	s := New(nil)
	defer s.Close()
	if err := s.OpenStream(ctx, sdk.StreamConfig{Stream: "cam1", Root: b.TempDir()}); err != nil {
		b.Fatal(err)
	}
	data := make([]byte, 1_500_000)
	hash := media.InitHash([]byte("init"))
	start := t0
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := s.WriteSegment(ctx, "cam1", media.Segment{Start: start, Duration: 3000, InitHash: hash, Data: data}); err != nil {
			b.Fatal(err)
		}
		start += 3000
	}
}

package s3store

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edgedvr/edge/internal/testkit"
	"github.com/edgedvr/edge/media"
	"github.com/edgedvr/edge/plugins/dvrstore"
	"github.com/edgedvr/edge/sdk"
)

// cpuSelf is this process's user+system CPU time.
func cpuSelf() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuOf is the user+system CPU time of another process, from /proc.
func cpuOf(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond // USER_HZ = 100
}

// BenchmarkWrite4Mbps writes one minute of a 4 Mbit/s stream (20 segments
// of 3 s, 1.5 MB each) per iteration into the S3 store (versitygw) and
// into the disk store, and reports the CPU it costs per stream-minute: the
// store's own (this process) and, for S3, the server's.
//
//	go test ./plugins/s3store/ -run '^$' -bench Write4Mbps -benchtime 5x
func BenchmarkWrite4Mbps(b *testing.B) {
	const segSize = 4_000_000 / 8 * 3 // 3 s at 4 Mbit/s
	const perMinute = 20
	data := segData(1, segSize)
	in := testInit(1)
	run := func(b *testing.B, st sdk.Store, root string, server func() time.Duration) {
		if err := st.OpenStream(ctx, sdk.StreamConfig{Stream: "cam", Root: root}); err != nil {
			b.Fatal(err)
		}
		if err := st.WriteInit(ctx, "cam", in); err != nil {
			b.Fatal(err)
		}
		start := time.Now().UnixMilli()
		cpu0, srv0 := cpuSelf(), server()
		b.ResetTimer()
		for i := 0; i < b.N*perMinute; i++ {
			seg := media.Segment{Start: start + int64(i)*3000, Duration: 3000, InitHash: in.Hash, Data: data}
			if _, err := st.WriteSegment(ctx, "cam", seg); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		b.ReportMetric(float64((cpuSelf()-cpu0).Milliseconds())/float64(b.N), "store-cpu-ms/stream-min")
		b.ReportMetric(float64((server()-srv0).Milliseconds())/float64(b.N), "server-cpu-ms/stream-min")
		b.SetBytes(segSize * perMinute)
	}
	b.Run("disk", func(b *testing.B) {
		st := dvrstore.New(nil)
		defer st.Close()
		run(b, st, b.TempDir(), func() time.Duration { return 0 })
	})
	b.Run("s3", func(b *testing.B) {
		srv := testkit.StartS3(b, "edge-bench")
		st, _ := newStore(b, srv)
		pid := srv.PID()
		run(b, st, srv.Root("w"), func() time.Duration { return cpuOf(pid) })
	})
}

// BenchmarkFillNewestFirst replicates one hour of 3 s segments of 32 KB
// into an empty stream the way replication does, newest first in batches
// of 256, through WriteSegments (one PUT per object, 8 at a time, then one
// index and one summary PUT per batch) against the same segments stored
// one WriteSegment call each (three PUTs each, one after the other), into
// versitygw; it reports milliseconds per segment.
//
//	go test ./plugins/s3store/ -run '^$' -bench FillNewestFirst -benchtime 1x
func BenchmarkFillNewestFirst(b *testing.B) {
	const segMs, n, batch = 3000, 1200, 256
	in := testInit(1)
	segs := make([]media.Segment, n)
	for i := range segs {
		start := t0 + int64(n-1-i)*segMs // newest first
		segs[i] = media.Segment{Start: start, Duration: segMs, InitHash: in.Hash, Data: segData(start, 32<<10)}
	}
	srv := testkit.StartS3(b, "edge-fillbench")
	for _, mode := range []string{"batch", "single"} {
		b.Run(mode, func(b *testing.B) {
			for it := 0; it < b.N; it++ {
				s, _ := newStore(b, srv)
				name := mode + strconv.Itoa(it)
				if err := s.OpenStream(ctx, sdk.StreamConfig{Stream: name, Root: srv.Root("bench")}); err != nil {
					b.Fatal(err)
				}
				start := time.Now()
				for k := 0; k < n; k += batch {
					part := segs[k:min(k+batch, n)]
					var res []sdk.SegmentResult
					var err error
					if mode == "batch" {
						res, err = s.WriteSegments(ctx, name, part)
					} else {
						res, err = sdk.WriteSegments(ctx, onlySingle{s}, name, part)
					}
					if err != nil {
						b.Fatal(err)
					}
					for _, r := range res {
						if r.Err != nil {
							b.Fatal(r.Err)
						}
					}
				}
				b.ReportMetric(float64(time.Since(start).Milliseconds())/n, "ms/segment")
				s.Close()
			}
		})
	}
}

// onlySingle hides the store's WriteSegments, so that sdk.WriteSegments
// falls back to one WriteSegment per segment.
type onlySingle struct{ sdk.Store }

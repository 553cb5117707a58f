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

package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/edgedvr/edge/internal/testkit"
	"github.com/edgedvr/edge/media"
	"github.com/edgedvr/edge/plugins/dvrstore"
	"github.com/edgedvr/edge/plugins/s3store"
	"github.com/edgedvr/edge/sdk"
)

// dropPageCache asks the kernel to forget the cached pages of the files
// under dir (posix_fadvise DONTNEED: only these files, nothing global), so
// that a cold read really reads the disk.
func dropPageCache(dir string) {
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		if f, err := os.Open(p); err == nil {
			_ = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
			f.Close()
		}
		return nil
	})
}

// BenchmarkArchiveRead serves one archive range of 20 segments of a
// 4 Mbit/s stream (1.5 MB each) to 50 concurrent viewers from a node, once
// cold (node just started, page cache of the files dropped) and once hot,
// from the disk store and from the S3 store (versitygw), in the same run.
// Each viewer fetches the range's segments in order, as a player does.
// Reported: time to first byte (median and max over all requests), the
// throughput of the whole pass, and for S3 the GETs the server saw per
// segment.
//
//	go test ./cmd/edge/ -run '^$' -bench ArchiveRead -benchtime 1x
func BenchmarkArchiveRead(b *testing.B) {
	const (
		segs    = 20
		segSize = 4_000_000 / 8 * 3
		viewers = 50
	)
	srv := testkit.StartS3(b, "edge-readbench")
	srv.Setenv(b)
	dir := b.TempDir()
	diskRoot := filepath.Join(dir, "archive")
	s3Root := srv.Root("bench")
	now := time.Now().UnixMilli()
	first := now - now%3000 - 10*60*1000
	initData := []byte("an init segment for the benchmark")
	in := media.Init{Hash: media.InitHash(initData), Data: initData}
	populate := func(st sdk.Store, root, stream string) {
		ctx := context.Background()
		if err := st.OpenStream(ctx, sdk.StreamConfig{Stream: stream, Root: root}); err != nil {
			b.Fatal(err)
		}
		if err := st.WriteInit(ctx, stream, in); err != nil {
			b.Fatal(err)
		}
		for i := range int64(segs) {
			r := rand.New(rand.NewPCG(uint64(i), 1))
			data := make([]byte, segSize)
			for j := range data {
				data[j] = byte(r.Uint32())
			}
			if _, err := st.WriteSegment(ctx, stream, media.Segment{Start: first + i*3000, Duration: 3000, InitHash: in.Hash, Data: data}); err != nil {
				b.Fatal(err)
			}
		}
	}
	ds := dvrstore.New(nil)
	populate(ds, diskRoot, "disk")
	ds.Close()
	ss := s3store.New(slog.New(slog.DiscardHandler))
	populate(ss, s3Root, "s3")
	ss.Close()

	listen := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(b))
	topology := testkit.WriteFile(b, dir, "topology.toml", fmt.Sprintf("[[node]]\nname = \"origin\"\nlisten = %q\n", listen)+
		testkit.StreamBlock("disk", []string{fmt.Sprintf("udp://127.0.0.1:%d", testkit.FreeUDPPort(b))}, fmt.Sprintf("dvr = { root = %q }", diskRoot))+
		testkit.StreamBlock("s3", []string{fmt.Sprintf("udp://127.0.0.1:%d", testkit.FreeUDPPort(b))}, fmt.Sprintf("dvr = { root = %q }", s3Root)))
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: viewers, MaxConnsPerHost: viewers}, Timeout: 30 * time.Second}

	// pass runs the viewers once and returns every request's time to
	// first byte and the pass's throughput in MB/s.
	pass := func(b *testing.B, base, stream string) ([]time.Duration, float64) {
		var mu sync.Mutex
		var ttfb []time.Duration
		var total int64
		var wg sync.WaitGroup
		t0 := time.Now()
		for range viewers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range int64(segs) {
					url := fmt.Sprintf("%s/%s/s-%d.m4s", base, stream, first+i*3000)
					var got time.Time
					req, _ := http.NewRequest("GET", url, nil)
					req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{GotFirstResponseByte: func() { got = time.Now() }}))
					start := time.Now()
					resp, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					n, _ := io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 || n != segSize {
						b.Errorf("%s: %d, %d bytes", url, resp.StatusCode, n)
						return
					}
					mu.Lock()
					ttfb = append(ttfb, got.Sub(start))
					total += n
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		return ttfb, float64(total) / 1e6 / time.Since(t0).Seconds()
	}
	report := func(b *testing.B, name string, ttfb []time.Duration, mbps float64) {
		slices.Sort(ttfb)
		if len(ttfb) == 0 {
			return
		}
		b.ReportMetric(float64(ttfb[len(ttfb)/2].Microseconds())/1000, name+"-ttfb-p50-ms")
		b.ReportMetric(float64(ttfb[len(ttfb)-1].Microseconds())/1000, name+"-ttfb-max-ms")
		b.ReportMetric(mbps, name+"-MB/s")
	}
	for _, stream := range []string{"disk", "s3"} {
		b.Run(stream, func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				dropPageCache(diskRoot)
				dropPageCache(srv.Dir)
				gets0 := srv.Requests("GET", "/bench/s3/seg/")
				node := testkit.StartNode(b, topology, "origin", listen)
				b.StartTimer()
				ttfb, mbps := pass(b, node.URL, stream)
				report(b, "cold", ttfb, mbps)
				ttfb, mbps = pass(b, node.URL, stream)
				report(b, "hot", ttfb, mbps)
				b.StopTimer()
				if stream == "s3" {
					b.ReportMetric(float64(srv.Requests("GET", "/bench/s3/seg/")-gets0)/segs, "s3-GETs/segment")
				}
				node.Term(10 * time.Second)
			}
		})
	}
}

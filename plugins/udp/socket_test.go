package udp

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/ipv4"
)

// listenLocal opens a socketReader on an ephemeral port of 127.0.0.1.
func listenLocal(t testing.TB, src Source) (*socketReader, *counters) {
	t.Helper()
	src.Scheme = "udp"
	src.Addr = netip.MustParseAddrPort("127.0.0.1:0")
	c := &counters{}
	r, err := listen(context.Background(), src, c, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.close() })
	return r, c
}

func dial(t testing.TB, r *socketReader, from string) *net.UDPConn {
	t.Helper()
	conn, err := net.DialUDP("udp4", &net.UDPAddr{IP: net.ParseIP(from)}, r.conn.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func TestSocketReader(t *testing.T) {
	tests := []struct {
		name          string
		source        string
		sizes         []int
		wantPassed    []int // lengths handed on
		wantTruncated uint64
		wantForeign   uint64
	}{
		{name: "ts datagrams", sizes: []int{1316, 188, 1316}, wantPassed: []int{1316, 188, 1316}},
		{name: "oversized", sizes: []int{1316, 3000, 2048}, wantPassed: []int{1316, datagramSize, 2048}, wantTruncated: 1},
		{name: "from source", source: "127.0.0.1", sizes: []int{1316, 1316}, wantPassed: []int{1316, 1316}},
		{name: "other source", source: "127.0.0.2", sizes: []int{1316, 1316}, wantForeign: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var src Source
			if tt.source != "" {
				src.SourceIP = netip.MustParseAddr(tt.source)
			}
			r, c := listenLocal(t, src)
			conn := dial(t, r, "127.0.0.1")
			for _, n := range tt.sizes {
				if _, err := conn.Write(make([]byte, n)); err != nil {
					t.Fatal(err)
				}
			}
			var got []int
			deadline := time.Now().Add(10 * time.Second)
			for c.datagrams.Load() < uint64(len(tt.sizes)) && time.Now().Before(deadline) {
				_, err := r.read(time.Now().Add(100*time.Millisecond), func(p []byte) error {
					got = append(got, len(p))
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			if len(got) != len(tt.wantPassed) {
				t.Fatalf("passed %v, want %v", got, tt.wantPassed)
			}
			for i := range got {
				if got[i] != tt.wantPassed[i] {
					t.Fatalf("passed %v, want %v", got, tt.wantPassed)
				}
			}
			if c.truncated.Load() != tt.wantTruncated || c.foreign.Load() != tt.wantForeign {
				t.Fatalf("truncated %d foreign %d, want %d and %d", c.truncated.Load(), c.foreign.Load(), tt.wantTruncated, tt.wantForeign)
			}
		})
	}
}

func TestSocketReaderTimeout(t *testing.T) {
	r, _ := listenLocal(t, Source{})
	n, err := r.read(time.Now().Add(10*time.Millisecond), func([]byte) error { return nil })
	if n != 0 || err != nil {
		t.Fatalf("read of a silent socket = %d, %v; want 0, nil", n, err)
	}
}

// BenchmarkReadBatch measures the socket path: 1316-byte datagrams sent on
// loopback by another goroutine, read with recvmmsg into a sink.
func BenchmarkReadBatch(b *testing.B) {
	r, _ := listenLocal(b, Source{})
	conn := dial(b, r, "127.0.0.1")
	wpc := ipv4.NewPacketConn(conn)
	out := make([]ipv4.Message, batchSize)
	payload := make([]byte, 1316)
	for i := range out {
		out[i].Buffers = [][]byte{payload}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			_, _ = wpc.WriteBatch(out, 0) // the kernel drops what the reader cannot take
		}
	}()
	var sink int
	fn := func(p []byte) error { sink += len(p); return nil }
	b.SetBytes(1316)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for got := 0; got < b.N; {
		n, err := r.read(time.Now().Add(time.Second), fn)
		if err != nil {
			b.Fatal(err)
		}
		got += n
	}
	elapsed := time.Since(start)
	b.StopTimer()
	cancel()
	wg.Wait()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "datagrams/s")
}

// Two captures of one group and port (two streams, or two nodes on one
// host) both get every datagram, and a group on the same port does not leak in.
func TestSocketReaderSharedGroup(t *testing.T) {
	port := freeUDPPort(t)
	open := func(group string) *socketReader {
		src := Source{Scheme: "udp", Addr: netip.MustParseAddrPort(group + ":" + strconv.Itoa(port)), Iface: "lo"}
		r, err := listen(context.Background(), src, &counters{}, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.close() })
		return r
	}
	a, b, other := open("239.255.43.1"), open("239.255.43.1"), open("239.255.43.2")
	conn, err := net.DialUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}, &net.UDPAddr{IP: net.ParseIP("239.255.43.1"), Port: port})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write(make([]byte, 1316)); err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]*socketReader{"first": a, "second": b} {
		got := 0
		deadline := time.Now().Add(10 * time.Second)
		for got == 0 && time.Now().Before(deadline) {
			if _, err := r.read(time.Now().Add(100*time.Millisecond), func(p []byte) error { got += len(p); return nil }); err != nil {
				t.Fatal(err)
			}
		}
		if got != 1316 {
			t.Fatalf("%s listener got %d bytes, want 1316", name, got)
		}
	}
	n, err := other.read(time.Now().Add(50*time.Millisecond), func([]byte) error { return nil })
	if n != 0 || err != nil {
		t.Fatalf("listener of another group got %d datagrams (%v), want none", n, err)
	}
}

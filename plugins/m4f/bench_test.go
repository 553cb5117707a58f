package m4f

import (
	"io"
	"testing"

	"github.com/edgedvr/edge/cluster"
	mm "github.com/edgedvr/edge/media/m4f"
)

// BenchmarkLive decodes a live stream of 1.5 MiB segments through a Client
// over loopback TCP (the server writes through a flushed bufio.Writer, as a
// node does; the client checks every checksum).
func BenchmarkLive(b *testing.B) {
	in := testInit(1)
	seg := testSegment(in, 0, 1536<<10)
	n := b.N
	p := newPeer(b, func(c *liveConn) {
		c.init(in)
		for i := 0; i < n && c.err == nil; i++ {
			s := seg
			s.Start = t0 + int64(i)*3000
			c.segment(s)
		}
		if c.err == nil {
			c.err = c.w.WriteError("")
		}
	})
	c := NewClient(p.addr(), cluster.Signer{Node: testNode, Key: testKey})
	b.SetBytes(int64(len(seg.Data)))
	b.ReportAllocs()
	b.ResetTimer()
	ls, err := c.Live(b.Context(), "cam")
	if err != nil {
		b.Fatal(err)
	}
	defer ls.Close()
	got := 0
	for {
		f, err := ls.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
		if f.Type == mm.TypeSegment {
			got++
		}
	}
	if got != n {
		b.Fatalf("read %d segments, want %d", got, n)
	}
}

package m4f

import (
	"bufio"
	"io"
	"testing"

	"github.com/edgedvr/edge/media"
)

// BenchmarkWriteRead streams 1.5 MiB segments through a Writer (behind a
// bufio.Writer, flushed per frame, as a server does) into a Reader over a pipe.
func BenchmarkWriteRead(b *testing.B) {
	in := testInit(1)
	seg := testSegment(in, 0, 1536<<10)
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		bw := bufio.NewWriterSize(pw, 64<<10)
		w := NewWriter(bw)
		err := w.WriteInit(in)
		for i := 0; err == nil && i < b.N; i++ {
			s := seg
			s.Start = int64(i) * 3000
			if err = w.WriteSegment(s); err == nil {
				err = bw.Flush()
			}
		}
		if err == nil {
			err = bw.Flush()
		}
		pw.CloseWithError(err)
		done <- err
	}()
	r := NewReader(pr, Limits{})
	b.SetBytes(int64(len(seg.Data)))
	b.ReportAllocs()
	b.ResetTimer()
	var n int
	for {
		f, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
		if f.Type == TypeSegment {
			n++
		}
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	if n != b.N {
		b.Fatalf("read %d segments, want %d", n, b.N)
	}
}

// BenchmarkWriteSegment measures the writer alone (meta, checksum, header).
func BenchmarkWriteSegment(b *testing.B) {
	in := testInit(1)
	seg := testSegment(in, 0, 1536<<10)
	w := NewWriter(io.Discard)
	b.SetBytes(int64(len(seg.Data)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if err := w.WriteSegment(media.Segment{Start: int64(i), Duration: 3000, InitHash: in.Hash, Data: seg.Data}); err != nil {
			b.Fatal(err)
		}
	}
}

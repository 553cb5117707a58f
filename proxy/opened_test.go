package proxy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"
)

// pieceReader hands its bytes to WriteTo in pieces of n, then ends in err
// (io.EOF: the whole body arrived and matched). Like the chain's fill
// reader, it holds back its last byte unless the body matched.
type pieceReader struct {
	b   []byte
	n   int
	err error
}

func (p *pieceReader) Read([]byte) (int, error) { return 0, errors.New("WriteTo only") }
func (p *pieceReader) Close() error             { return nil }
func (p *pieceReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	b := p.b
	if p.err != io.EOF {
		b = b[:len(b)-1]
	}
	for off := 0; off < len(b); off += p.n {
		k, err := w.Write(b[off:min(off+p.n, len(b))])
		total += int64(k)
		if err != nil {
			return total, err
		}
	}
	if p.err == io.EOF {
		return total, nil
	}
	return total, p.err
}

// A range of an opened segment is exactly those bytes of the body,
// however the body arrives, and its last byte is not sent when the body
// fails after the rest of the range went out.
func TestOpenedBodyRange(t *testing.T) {
	body := make([]byte, 1000)
	for i := range body {
		body[i] = byte(i*31 + i>>3)
	}
	size := int64(len(body))
	for _, rg := range [][2]int64{{0, size - 1}, {0, 0}, {0, 99}, {500, 500}, {123, 877}, {900, size - 1}, {size - 1, size - 1}} {
		for _, piece := range []int{1, 7, 256, len(body)} {
			name := fmt.Sprintf("%d-%d/pieces-of-%d", rg[0], rg[1], piece)
			t.Run(name, func(t *testing.T) {
				want := body[rg[0] : rg[1]+1]
				ob := &openedBody{r: &pieceReader{b: body, n: piece, err: io.EOF}, size: size, first: rg[0], last: rg[1]}
				var got bytes.Buffer
				n, err := ob.WriteTo(&got)
				if err != nil || n != int64(len(want)) || !bytes.Equal(got.Bytes(), want) {
					t.Fatalf("WriteTo = %d, %v; %d bytes, equal %v; want the %d bytes of the range",
						n, err, got.Len(), bytes.Equal(got.Bytes(), want), len(want))
				}

				bad := &openedBody{r: &pieceReader{b: body, n: piece, err: errors.New("checksum mismatch")}, size: size, first: rg[0], last: rg[1]}
				got.Reset()
				if _, err := bad.WriteTo(&got); err == nil {
					t.Fatal("a failed body wrote no error")
				}
				if int64(got.Len()) >= rg[1]-rg[0]+1 {
					t.Fatalf("a failed body gave the whole range (%d bytes)", got.Len())
				}
				if !bytes.HasPrefix(want, got.Bytes()) {
					t.Fatal("a failed body gave bytes not of the range")
				}
			})
		}
	}
}

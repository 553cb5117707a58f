package m4f

import (
	"context"
	"fmt"
	"hash"
	"hash/crc32"
	"io"

	mm "github.com/edgedvr/edge/media/m4f"
)

// SegmentBody is the body of a segment answer, read as it arrives. Read
// returns io.EOF only once all of the declared size has arrived and its
// checksum matched the X-Edge-Checksum header; a short, long or corrupt
// body ends in an error instead (matching ErrUnavailable, or media/m4f's
// ErrChecksum), so a caller that passes the bytes on can tell a whole
// segment from a broken one. Close releases the connection.
type SegmentBody struct {
	c      *Client
	path   string
	ctx    context.Context
	cancel context.CancelFunc
	body   io.ReadCloser
	size   int64 // declared (Content-Length)
	want   string
	n      int64
	h      hash.Hash32
	err    error // sticky
}

// Size is the body's declared length.
func (b *SegmentBody) Size() int64 { return b.size }

func (b *SegmentBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	n, err := b.body.Read(p) // net/http bounds it to Content-Length
	b.n += int64(n)
	b.h.Write(p[:n])
	if err == nil && b.n >= b.size {
		err = io.EOF
	}
	switch {
	case err == io.EOF && b.n != b.size:
		b.err = b.c.bodyErr(b.path, b.ctx, io.ErrUnexpectedEOF)
	case err == io.EOF:
		if got := hexSum(b.h.Sum32()); got != b.want {
			b.err = &callError{fmt.Sprintf("m4f: GET %.120s from %s: segment bytes have checksum %s, %s says %.16q", b.path, b.c.addr, got, mm.HeaderChecksum, b.want), []error{mm.ErrChecksum}}
		} else {
			b.err = io.EOF
		}
	case err != nil:
		b.err = b.c.bodyErr(b.path, b.ctx, err)
	}
	return n, b.err
}

// Close releases the answer.
func (b *SegmentBody) Close() error {
	err := b.body.Close()
	b.cancel()
	return err
}

// castagnoli is media.Checksum's CRC-32C, computed as the bytes pass.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// hexSum formats a CRC as media.Checksum does.
func hexSum(v uint32) string {
	const digits = "0123456789abcdef"
	var s [8]byte
	for i := 7; i >= 0; i-- {
		s[i] = digits[v&0xf]
		v >>= 4
	}
	return string(s[:])
}

// OpenSegment is Segment without waiting for the body: it returns once the
// answer's headers have arrived, with the description they give (Size is
// the declared length) and the body to read. The answer must declare its
// length, at most the segment cap. The caller closes the body.
func (c *Client) OpenSegment(ctx context.Context, stream string, start int64, chain Chain) (*SegmentBody, mm.SegmentInfo, error) {
	ctx, cancel := withDeadline(ctx, c.segTimeout)
	path := mm.SegmentPath(stream, start)
	resp, err := c.do(ctx, path, &chain)
	if err != nil {
		cancel()
		return nil, mm.SegmentInfo{}, err
	}
	fail := func(kind error, format string, args ...any) (*SegmentBody, mm.SegmentInfo, error) {
		resp.Body.Close()
		cancel()
		return nil, mm.SegmentInfo{}, &callError{fmt.Sprintf("m4f: GET %.120s from %s: ", path, c.addr) + fmt.Sprintf(format, args...), []error{kind}}
	}
	info, problem := segmentInfo(resp.Header, start)
	if problem != "" {
		return fail(ErrUnavailable, "%s", problem)
	}
	switch {
	case resp.ContentLength < 0:
		return fail(ErrUnavailable, "segment answer has no Content-Length")
	case resp.ContentLength > int64(c.limits.MaxSegment):
		return fail(mm.ErrTooLarge, "segment of %d bytes exceeds the %d-byte cap", resp.ContentLength, c.limits.MaxSegment)
	}
	info.Size = resp.ContentLength
	return &SegmentBody{c: c, path: path, ctx: ctx, cancel: cancel, body: resp.Body, size: info.Size,
		want: info.Checksum, h: crc32.New(castagnoli)}, info, nil
}

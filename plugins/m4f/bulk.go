package m4f

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/edgedvr/edge/media"
	mm "github.com/edgedvr/edge/media/m4f"
)

// Bulk fetches the bytes of the stream's segments that start in [from, to)
// with one request (GET /m4f/v1/bulk) and calls each for every segment, in
// order of start, as it arrives; each segment's bytes have been checked
// against the checksum the server sent with them, so they may be stored as
// they are. Segments the server no longer has are left out. When the body
// is cut short or malformed, the segments delivered before stay good and
// the error is returned. A node that predates the endpoint answers 404:
// the error matches sdk.ErrNotFound. An error from each ends the call.
func (c *Client) Bulk(ctx context.Context, stream string, from, to int64, chain Chain, each func(media.Segment) error) error {
	ctx, cancel := withDeadline(ctx, c.segTimeout)
	defer cancel()
	path := mm.BulkPath(stream, from, to)
	resp, err := c.do(ctx, path, &chain)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	r := mm.NewReader(bufio.NewReaderSize(resp.Body, 64<<10), c.limits)
	for {
		f, err := r.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			kinds := []error{ErrUnavailable}
			for _, k := range []error{mm.ErrChecksum, mm.ErrTooLarge, mm.ErrFormat, ctx.Err()} {
				if k != nil && errors.Is(err, k) {
					kinds = append(kinds, k)
				}
			}
			return &callError{fmt.Sprintf("m4f: GET %.120s from %s: %s", path, c.addr, c.redact(oneLine(err.Error(), 200))), kinds}
		}
		switch f.Type {
		case mm.TypeSegment:
			if err := each(*f.Segment); err != nil {
				return err
			}
		case mm.TypeError:
			if f.Err != "" {
				return &callError{fmt.Sprintf("m4f: GET %.120s from %s: the node ended the answer: %s", path, c.addr, c.redact(oneLine(f.Err, 200))), []error{ErrUnavailable}}
			}
		}
	}
}

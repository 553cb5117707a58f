package m4f

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mm "github.com/edgedvr/edge/media/m4f"
)

// minProgress is how many bytes of a large frame must arrive within the
// idle timeout for a live stream to count as alive while no frame completes.
const minProgress = 64 << 10

// LiveStream is an open live push of one stream: a sequence of frames read
// with Next. It is dropped with ErrStalled when no frame arrives (and a
// large frame makes no progress) for the Client's idle timeout. Next is not
// safe for concurrent use; Close may be called at any time.
type LiveStream struct {
	stream string
	addr   string
	body   io.ReadCloser
	r      *mm.Reader
	cancel context.CancelFunc
	idle   time.Duration

	frames atomic.Int64 // frames completed, bumped by Next
	bytes  atomic.Int64 // bytes read from the body
	stall  atomic.Bool  // the watchdog dropped the stream
	busy   atomic.Bool  // the caller is handling a frame, not reading
	stop   chan struct{}
	once   sync.Once
	done   chan struct{} // the watchdog has exited
}

// Live opens the live push of stream. ctx governs the whole stream (no
// default deadline); Close it when done.
func (c *Client) Live(ctx context.Context, stream string) (*LiveStream, error) {
	ctx, cancel := context.WithCancel(ctx)
	resp, err := c.do(ctx, mm.LivePath(stream), nil)
	if err != nil {
		cancel()
		return nil, err
	}
	ls := &LiveStream{
		stream: stream,
		addr:   c.addr,
		body:   resp.Body,
		cancel: cancel,
		idle:   c.idle,
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	ls.r = mm.NewReader(countingReader{resp.Body, &ls.bytes}, c.limits)
	go ls.watch()
	return ls, nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// watch drops the stream when it makes no progress for the idle timeout:
// no frame completed, and fewer than minProgress bytes of a frame arrived.
func (ls *LiveStream) watch() {
	defer close(ls.done)
	if ls.idle <= 0 {
		<-ls.stop
		return
	}
	tick := time.NewTicker(max(ls.idle/4, time.Millisecond))
	defer tick.Stop()
	lastFrames, lastBytes, lastProgress := ls.frames.Load(), ls.bytes.Load(), time.Now()
	for {
		select {
		case <-ls.stop:
			return
		case now := <-tick.C:
			f, b := ls.frames.Load(), ls.bytes.Load()
			if f != lastFrames || b-lastBytes >= minProgress || ls.busy.Load() {
				lastFrames, lastBytes, lastProgress = f, b, now
				continue
			}
			if now.Sub(lastProgress) >= ls.idle {
				ls.stall.Store(true)
				ls.cancel() // aborts a blocked read
				return
			}
		}
	}
}

// Next returns the next frame: an init, a segment, a heartbeat or the
// server's end frame (then io.EOF). Errors are one line: the Reader's
// (matching mm.ErrFormat, mm.ErrTooLarge, mm.ErrChecksum or
// io.ErrUnexpectedEOF), ErrStalled, or a read error matching ErrUnavailable.
func (ls *LiveStream) Next() (mm.Frame, error) {
	f, err := ls.r.Next()
	if err == nil {
		ls.frames.Add(1)
		return f, nil
	}
	if ls.stall.Load() {
		return mm.Frame{}, &callError{fmt.Sprintf("m4f: live stream %s from %s sent no frame for %s", ls.stream, ls.addr, ls.idle), []error{ErrStalled, ErrUnavailable}}
	}
	if err == io.EOF || errors.Is(err, mm.ErrFormat) || errors.Is(err, mm.ErrTooLarge) || errors.Is(err, mm.ErrChecksum) || errors.Is(err, io.ErrUnexpectedEOF) {
		return mm.Frame{}, err
	}
	return mm.Frame{}, &callError{fmt.Sprintf("m4f: live stream %s from %s: %s", ls.stream, ls.addr, oneLine(strings.TrimPrefix(err.Error(), "m4f: "), 200)), []error{ErrUnavailable, err}}
}

// Busy tells the watchdog the caller is busy with a frame (true) or reading
// again (false): time spent busy, e.g. waiting on a slow consumer, never
// counts as a stall.
func (ls *LiveStream) Busy(busy bool) { ls.busy.Store(busy) }

// Close ends the stream and releases its connection.
func (ls *LiveStream) Close() error {
	ls.once.Do(func() {
		close(ls.stop)
		ls.cancel()
		ls.body.Close()
		<-ls.done
	})
	return nil
}

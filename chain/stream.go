package chain

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"sync"

	"github.com/edgedvr/edge/internal/safe"
	"github.com/edgedvr/edge/internal/warmbuf"
	"github.com/edgedvr/edge/sdk"
)

// StreamRemote is a Remote that hands over a segment's body as it arrives
// (the wiring's M4F adapter).
//
// OpenSegment returns once the source's answer has begun, with the
// description the source sent (Size: the declared length; Checksum: what
// the body is checked against) and the body. The body's Read returns
// io.EOF only after exactly Size bytes arrived and matched Checksum; a
// short, long or corrupt body ends in another error. Errors before the body
// are classified as Remote's.
type StreamRemote interface {
	Remote
	OpenSegment(ctx context.Context, stream string, start int64, via, hops string) (io.ReadCloser, sdk.SegmentInfo, error)
}

// warmFills holds the process's warm buffers for fills (see package
// warmbuf): two, for segments of up to 32 MiB.
var warmFills = warmbuf.New(2, 32<<20)

// fillChunk is the size of the first buffer of a fill, which the first
// bytes are read into before the segment's whole buffer exists.
const fillChunk = 64 << 10

// fill is one segment being fetched from a source and read, as it arrives,
// by every viewer that asked for it meanwhile (the coalescing of
// OpenSegment). The last byte is held back until the whole body has
// arrived and its checksum matched: a reader of a body that turns out short
// or corrupt gets an error before it has the declared size, so no client
// takes it for a whole segment.
type fill struct {
	ready chan struct{} // closed once size is known, or the fetch failed before it
	size  int64         // set before ready closes

	mu   sync.Mutex
	cond *sync.Cond
	buf  []byte // guarded by mu; bytes past len are the writer's only
	done bool   // guarded by mu: all of buf arrived and matched
	err  error  // guarded by mu: the fetch failed (set before ready closes, or mid-body)
}

func newFill() *fill {
	f := &fill{ready: make(chan struct{})}
	f.cond = sync.NewCond(&f.mu)
	return f
}

// avail is how much of buf readers may have: all of it once verified,
// otherwise all but the last byte of the declared size.
func (f *fill) avail() int64 {
	n := int64(len(f.buf))
	if !f.done && n >= f.size {
		n = f.size - 1
	}
	return n
}

// next waits until bytes past off may be read and returns them (a slice
// of buf, never written again), or io.EOF at the verified end, or the
// fetch's error.
func (f *fill) next(off int64) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for {
		if n := f.avail(); off < n {
			return f.buf[off:n:n], nil
		}
		if f.err != nil {
			return nil, f.err
		}
		if f.done {
			return nil, io.EOF
		}
		f.cond.Wait()
	}
}

func (f *fill) fail(err error) {
	f.mu.Lock()
	f.err = err
	f.mu.Unlock()
	f.cond.Broadcast()
}

// fillReader is one viewer's read of a fill.
type fillReader struct {
	f   *fill
	off int64
}

func (r *fillReader) Read(p []byte) (int, error) {
	b, err := r.f.next(r.off)
	if err != nil {
		return 0, err
	}
	n := copy(p, b)
	r.off += int64(n)
	return n, nil
}

// WriteTo hands each stretch of the body to w as soon as it may be read,
// without copying it.
func (r *fillReader) WriteTo(w io.Writer) (int64, error) {
	var written int64
	for {
		b, err := r.f.next(r.off)
		if err == io.EOF {
			return written, nil
		}
		if err != nil {
			return written, err
		}
		n, err := w.Write(b)
		r.off += int64(n)
		written += int64(n)
		if err != nil {
			return written, err
		}
	}
}

// Bytes returns the whole segment once the reader has reached its
// verified end, for a caller that keeps it (the front's memory cache).
func (r *fillReader) Bytes() ([]byte, bool) {
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	if !r.f.done {
		return nil, false
	}
	return r.f.buf, true
}

func (r *fillReader) Close() error { return nil }

// bytesReader serves a segment already whole in memory.
type bytesReader struct {
	*bytes.Reader
	b []byte
}

func (r bytesReader) Bytes() ([]byte, bool) { return r.b, true }
func (r bytesReader) Close() error          { return nil }

func newBytesReader(b []byte) io.ReadCloser { return bytesReader{bytes.NewReader(b), b} }

// OpenSegment is ReadSegment for a viewer: it returns the segment's size
// and a reader of its bytes. A segment fetched from a source is handed on
// as it arrives (when every source is a StreamRemote; otherwise it is
// ReadSegment's bytes): the reader's last byte comes only once the whole
// body has arrived and matched its checksum (the one the source's listing
// gave), and a short or corrupt body ends the reader in an error, is
// counted (edge_chain_stream_aborts_total) and is not cached. Concurrent
// opens of one segment, and ReadSegment calls meanwhile, share one fetch:
// they all read the one buffer as it fills. Errors before the first byte
// as ReadSegment's. The reader also has a Bytes() ([]byte, bool) method
// giving the whole segment once it has been read to its end.
func (a *Archive) OpenSegment(ctx context.Context, start int64) (io.ReadCloser, int64, error) {
	if err := a.checkLoop(ctx); err != nil {
		return nil, 0, err
	}
	streams := len(a.cfg.Sources) > 0
	for _, s := range a.cfg.Sources {
		if _, ok := s.Remote.(StreamRemote); !ok {
			streams = false
		}
	}
	if !streams {
		b, err := a.ReadSegment(ctx, start)
		if err != nil {
			return nil, 0, err
		}
		return newBytesReader(b), int64(len(b)), nil
	}
	var localErr error
	if a.cfg.Local != nil {
		b, err := a.cfg.Local.ReadSegment(ctx, start)
		if err == nil {
			return newBytesReader(b), int64(len(b)), nil
		}
		if !isNotFound(err) {
			localErr = err
		}
	}
	if b, ok := a.readDisk(start); ok {
		return newBytesReader(b), int64(len(b)), nil
	}
	key := "g|" + strconv.FormatInt(start, 10) + "|" + chainKey(ctx)
	if e, ok := a.negative(key); ok {
		return nil, 0, e.err
	}
	a.wantDisk(start)
	a.mu.Lock()
	f, joined := a.fills[key]
	if !joined {
		f = newFill()
		a.fills[key] = f
	}
	a.mu.Unlock()
	if joined {
		a.m.coalesced.WithLabelValues("segment").Inc()
	} else {
		detached := context.WithoutCancel(ctx)
		go func() {
			// A panic here (a bug met on a source's answer) would end the
			// process: it fails the fill instead.
			err := safe.Call(a.log, "chain", func() error {
				a.runFill(detached, key, start, f, localErr)
				return nil
			})
			if err != nil {
				a.endFill(key, f, err)
			}
		}()
	}
	select {
	case <-f.ready:
	case <-ctx.Done():
		return nil, 0, fmt.Errorf("chain: segment of %s: %w", a.cfg.Stream, ctx.Err())
	}
	f.mu.Lock()
	err := f.err
	f.mu.Unlock()
	if err != nil {
		return nil, 0, err
	}
	return &fillReader{f: f}, f.size, nil
}

// wantDisk notes that the segment should go to the disk cache once
// fetched, when this request makes it wanted (cache.Disk.Want).
func (a *Archive) wantDisk(start int64) {
	if a.cfg.Disk == nil || !a.cfg.Disk.Want(a.cfg.Stream, start) {
		return
	}
	a.mu.Lock()
	if len(a.wantPut) >= maxNegative {
		clear(a.wantPut) // stale wishes of flights that ended before they were seen
	}
	a.wantPut[start] = struct{}{}
	a.mu.Unlock()
}

// joinFill waits for a fill of the segment on the route of ctx, when one
// is running, and returns its verified bytes. ok is false when there is
// none (or it failed: the caller fetches on its own).
func (a *Archive) joinFill(ctx context.Context, key string) ([]byte, bool) {
	a.mu.Lock()
	f, ok := a.fills[key]
	a.mu.Unlock()
	if !ok {
		return nil, false
	}
	a.m.coalesced.WithLabelValues("segment").Inc()
	select {
	case <-f.ready:
	case <-ctx.Done():
		return nil, false
	}
	r := &fillReader{f: f}
	if _, err := r.WriteTo(io.Discard); err != nil {
		return nil, false
	}
	return r.Bytes()
}

// endFill ends a fill that failed before or during its body: its readers
// get err and it is forgotten (the next request fetches again, once the
// failure runFill remembered for NegativeTTL has passed).
func (a *Archive) endFill(key string, f *fill, err error) {
	f.fail(err)
	select {
	case <-f.ready:
	default:
		close(f.ready)
	}
	a.mu.Lock()
	if a.fills[key] == f {
		delete(a.fills, key)
	}
	a.mu.Unlock()
}

// runFill fetches the segment for fill f: it opens the sources in the
// order fetchSegment uses until one answers, then reads the body into
// f.buf as it arrives. Only a body that arrived whole and matched is
// offered to the disk cache.
func (a *Archive) runFill(ctx context.Context, key string, start int64, f *fill, localErr error) {
	ctx, cancel := context.WithTimeout(ctx, a.cfg.Timeout)
	defer cancel()
	route := chainKey(ctx)
	// wanted reports (once the fetch has ended) whether a request made the
	// segment wanted on disk meanwhile (wantDisk).
	wanted := func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		_, want := a.wantPut[start]
		delete(a.wantPut, start)
		return want
	}

	body, info, src, err := a.openUpstream(ctx, start)
	if err != nil {
		wanted()
		a.forgetOrigin(start, route)
		if localErr != nil && isNotFound(err) {
			err = fmt.Errorf("chain: segment %d of %s: %w (local: %v)", start, a.cfg.Stream, a.cfg.Unavailable, localErr)
		}
		a.remember(key, err)
		a.endFill(key, f, err)
		return
	}
	defer body.Close()
	f.size = info.Size
	// The body is read into a warm buffer (its pages already faulted in)
	// when one is ready. Otherwise the first bytes go out before the
	// segment's whole buffer exists: allocating it and faulting in its
	// pages is then done while they are on their way. Readers hold slices
	// of the small array, never written again.
	buf := warmFills.Get(int(info.Size))
	// The next warm buffer is made once this body has ended, not while
	// its viewers wait: making one allocates and faults in megabytes, and
	// the allocation may start a GC cycle (traces showed both in the
	// middle of a miss).
	defer warmFills.Refill()
	if buf == nil {
		buf = make([]byte, 0, min(info.Size, fillChunk))
	}
	f.buf = buf
	close(f.ready)

	// The viewers are readied on this goroutine's P, behind it: a fill
	// whose reads never block (the body is already in the socket) keeps
	// the P until the body has ended, and a viewer's first byte waited for
	// all of it (an execution trace put 2 to 5 ms there per tier on the
	// 2-core test VM). The fill yields once its first bytes are in, so the
	// viewers send them, and once the body is whole. Not after every read:
	// a yield sends this goroutine to the global run queue, often to
	// another thread, and on a busy machine that cost more to the last
	// byte than it gained.
	yielded := false
	for {
		n := len(buf)
		if n == cap(buf) && int64(n) < info.Size {
			whole := make([]byte, n, info.Size)
			copy(whole, buf)
			buf = whole
		}
		if int64(n) == info.Size {
			// The declared size is in: the body must end here.
			var one [1]byte
			m, rerr := body.Read(one[:])
			if m > 0 {
				rerr = fmt.Errorf("chain: segment %d from source %s: body longer than %d bytes", start, a.cfg.Sources[src].Name, info.Size)
			}
			err = rerr
			break
		}
		// A read takes all the socket holds, up to the rest of the
		// segment: each read wakes the viewers, and a fill that fell
		// behind (a busy CPU) catches up in one read, not in many.
		m, rerr := body.Read(buf[n:min(int64(cap(buf)), info.Size)])
		buf = buf[:n+m]
		if m > 0 {
			f.mu.Lock()
			f.buf = buf
			f.mu.Unlock()
			f.cond.Broadcast()
			if !yielded {
				yielded = true
				runtime.Gosched() // the viewers send the first bytes now
			}
		}
		if rerr != nil {
			err = rerr
			break
		}
	}
	if err == io.EOF && int64(len(buf)) == info.Size {
		if wanted() && info.Duration > 0 && info.InitHash != "" {
			// Before the fill is forgotten, so that a read meanwhile finds
			// the bytes pending on disk rather than fetching again. Its
			// goroutine yields before it writes, to the viewers readied
			// below.
			if _, perr := a.cfg.Disk.PutBehind(a.cfg.Stream, info, buf); perr != nil {
				a.log.Warn("disk cache put failed", "start", start, "err", perr)
			}
		}
		f.mu.Lock()
		f.done = true
		f.mu.Unlock()
		f.cond.Broadcast()
		runtime.Gosched() // the viewers send the last byte now
		a.mu.Lock()
		if a.fills[key] == f {
			delete(a.fills, key)
		}
		a.mu.Unlock()
		return
	}
	if err == io.EOF {
		err = fmt.Errorf("chain: segment %d from source %s: %d of %d bytes: %w", start, a.cfg.Sources[src].Name, len(buf), info.Size, io.ErrUnexpectedEOF)
	}
	wanted()
	name := a.cfg.Sources[src].Name
	a.m.errors.WithLabelValues(name, "segment").Inc()
	a.m.aborts.WithLabelValues(name).Inc()
	a.markDown(src)
	a.forgetOrigin(start, route)
	a.log.Warn("segment body from source failed after streaming began: viewers' answers cut, not cached",
		"source", name, "start", start, "got", len(buf), "size", info.Size, "err", err)
	err = fmt.Errorf("chain: segment %d of %s: %w (%v)", start, a.cfg.Stream, a.cfg.Unavailable, err)
	a.remember(key, err)
	a.endFill(key, f, err)
}

// errSizeMismatch is an answer whose declared size or checksum is not the
// listing's.
var errSizeMismatch = errors.New("answer differs from the listing")

// openUpstream opens the segment on the sources, in fetchSegment's order,
// and returns the first body found with the description to cache it
// under (the listing's, else what the source sent) and the source's index.
func (a *Archive) openUpstream(ctx context.Context, start int64) (io.ReadCloser, sdk.SegmentInfo, int, error) {
	o, known := a.originOf(start)
	var failed error
	for _, i := range a.sourceOrder(o, known) {
		via, hops, ok := a.route(ctx, i)
		if !ok {
			continue
		}
		r := a.cfg.Sources[i].Remote.(StreamRemote)
		var body io.ReadCloser
		var sent sdk.SegmentInfo
		found, err := a.sourceCall(ctx, i, "segment", via, func(context.Context) error {
			// The fill's context bounds the body too, not just this call.
			var err error
			body, sent, err = r.OpenSegment(ctx, a.cfg.Stream, start, via, hops)
			return err
		})
		if err != nil {
			failed = err
			continue
		}
		if !found {
			continue
		}
		info := sent
		if known && o.src == i {
			info = o.info
		}
		info.Start, info.Path = start, ""
		if sent.Size <= 0 || (info.Size != 0 && info.Size != sent.Size) ||
			(info.Checksum != "" && sent.Checksum != info.Checksum) {
			body.Close()
			a.m.errors.WithLabelValues(a.cfg.Sources[i].Name, "segment").Inc()
			a.log.Warn("source sent a segment unlike its listing", "source", a.cfg.Sources[i].Name, "start", start,
				"size", sent.Size, "checksum", sent.Checksum, "listed_size", info.Size, "listed_checksum", info.Checksum)
			failed = fmt.Errorf("chain: segment %d from source %s: %w", start, a.cfg.Sources[i].Name, errSizeMismatch)
			continue
		}
		info.Size, info.Checksum = sent.Size, sent.Checksum
		return body, info, i, nil
	}
	if failed != nil {
		return nil, sdk.SegmentInfo{}, 0, fmt.Errorf("chain: segment %d of %s: %w (%v)", start, a.cfg.Stream, a.cfg.Unavailable, failed)
	}
	return nil, sdk.SegmentInfo{}, 0, fmt.Errorf("chain: segment %d of %s: %w", start, a.cfg.Stream, sdk.ErrNotFound)
}

// Package m4f is the client side of M4F: the m4f:// ingest plugin (live pull from another node) and the Client for the archive calls that chained lookup uses.
package m4f

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/edgedvr/edge/cluster"
	"github.com/edgedvr/edge/media"
	mm "github.com/edgedvr/edge/media/m4f"
	"github.com/edgedvr/edge/sdk"
)

// Defaults of a Client.
const (
	// DefaultTimeout bounds a call (all of it, body included) whose context
	// has no deadline; the live stream excepted.
	DefaultTimeout = 5 * time.Second
	// DefaultSegmentTimeout bounds a Segment call whose context has no
	// deadline: a 64 MiB segment needs time on a slow link.
	DefaultSegmentTimeout = 30 * time.Second
	// DefaultIdleTimeout is how long a live stream may deliver no frame
	// before the Client drops it: three heartbeat intervals.
	DefaultIdleTimeout = 3 * mm.HeartbeatInterval

	dialTimeout           = 3 * time.Second
	responseHeaderTimeout = 5 * time.Second
	maxJSONBody           = 64 << 20 // a segments list of weeks of archive fits
	maxReasonBody         = 1 << 10  // of an error answer, read for its first line
)

// Errors of Client calls, matched with errors.Is. A 404 matches
// sdk.ErrNotFound; a segment or init whose bytes do not match matches
// media/m4f's ErrChecksum, one over its cap ErrTooLarge.
var (
	// ErrForbidden: the node refused the signature (403).
	ErrForbidden = errors.New("m4f: forbidden")
	// ErrLoop: the chained call came back to a node it had passed (508);
	// treat the source as empty.
	ErrLoop = errors.New("m4f: loop")
	// ErrUnavailable: the node could not be reached, failed (5xx) or
	// answered something unusable.
	ErrUnavailable = errors.New("m4f: source unavailable")
	// ErrBadRequest: the node refused the request as malformed (400).
	ErrBadRequest = errors.New("m4f: bad request")
	// ErrStalled: a live stream delivered no frame for the idle timeout.
	ErrStalled = errors.New("m4f: live stream stalled")
)

// callError is a one-line error that matches several kinds.
type callError struct {
	msg   string
	kinds []error
}

func (e *callError) Error() string   { return e.msg }
func (e *callError) Unwrap() []error { return e.kinds }

// Chain carries the X-Edge-Via and X-Edge-Hops values of a chained archive
// call. The zero Chain starts a new chain at this node (cluster.Begin); a
// node passing a request on uses the values of cluster.Chain.Forward.
type Chain struct {
	Via  string
	Hops string
}

// Client calls one node's M4F endpoints over HTTP/1.1, signing every
// request. It is safe for concurrent use.
type Client struct {
	addr       string
	base       string
	signer     cluster.Signer
	hc         *http.Client
	timeout    time.Duration
	segTimeout time.Duration
	idle       time.Duration
	limits     mm.Limits
}

// Option sets a Client field.
type Option func(*Client)

// WithTimeout sets the deadline of calls whose context has none (the live
// stream excepted). By default, DefaultTimeout (DefaultSegmentTimeout for
// Segment).
func WithTimeout(d time.Duration) Option {
	return func(c *Client) { c.timeout, c.segTimeout = d, d }
}

// WithIdleTimeout sets how long a live stream may deliver no frame (and
// make no progress on a large one) before it is dropped. By default,
// DefaultIdleTimeout.
func WithIdleTimeout(d time.Duration) Option { return func(c *Client) { c.idle = d } }

// WithLimits caps what live streams, Segment and Init accept; the caps may
// only be lowered. By default, media/m4f's defaults (64 MiB segments, 1 MiB
// inits).
func WithLimits(l mm.Limits) Option { return func(c *Client) { c.limits = l } }

// WithHTTPClient replaces the tuned HTTP client (tests, custom transports).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// NewTransport returns the Transport a Client uses by default: keep-alives,
// several idle connections per node, bounded dials and response headers,
// no compression (segments do not compress; bytes stay as sent).
func NewTransport() *http.Transport {
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          64,
		MaxIdleConnsPerHost:   8,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: responseHeaderTimeout,
		DisableCompression:    true,
		ForceAttemptHTTP2:     false,
		ReadBufferSize:        64 << 10,
		WriteBufferSize:       4 << 10,
	}
}

// NewClient returns a Client for the node at addr (HOST:PORT) that signs
// its requests with signer. It does no I/O.
func NewClient(addr string, signer cluster.Signer, opts ...Option) *Client {
	c := &Client{
		addr:       addr,
		base:       "http://" + addr,
		signer:     signer,
		timeout:    DefaultTimeout,
		segTimeout: DefaultSegmentTimeout,
		idle:       DefaultIdleTimeout,
	}
	for _, o := range opts {
		o(c)
	}
	if c.hc == nil {
		c.hc = &http.Client{Transport: NewTransport()}
	}
	if c.limits.MaxSegment <= 0 || c.limits.MaxSegment > mm.DefaultMaxSegment {
		c.limits.MaxSegment = mm.DefaultMaxSegment
	}
	if c.limits.MaxInit <= 0 || c.limits.MaxInit > mm.DefaultMaxInit {
		c.limits.MaxInit = mm.DefaultMaxInit
	}
	return c
}

// Addr is the node's HOST:PORT.
func (c *Client) Addr() string { return c.addr }

// CloseIdleConnections closes the kept-alive connections not in use.
func (c *Client) CloseIdleConnections() { c.hc.CloseIdleConnections() }

// do sends a signed GET of pathAndQuery; chain, when non-nil, adds the
// X-Edge-Via and X-Edge-Hops headers. A non-200 answer is turned into an
// error (the body is closed); on success the caller closes the body.
func (c *Client) do(ctx context.Context, pathAndQuery string, chain *Chain) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+pathAndQuery, nil)
	if err != nil {
		return nil, &callError{fmt.Sprintf("m4f: GET %.120s from %s: bad request: %v", pathAndQuery, c.addr, err), []error{ErrBadRequest}}
	}
	if chain != nil {
		via, hops := chain.Via, chain.Hops
		if via == "" {
			via, hops = cluster.Begin(c.signer.Node)
		}
		req.Header.Set(cluster.HeaderVia, via)
		if hops != "" {
			req.Header.Set(cluster.HeaderHops, hops)
		}
	}
	c.signer.SignRequest(req)
	resp, err := c.hc.Do(req)
	if err != nil {
		kinds := []error{ErrUnavailable}
		if ctxErr := ctx.Err(); ctxErr != nil {
			kinds = append(kinds, ctxErr)
		}
		return nil, &callError{fmt.Sprintf("m4f: GET %.120s from %s: %s", pathAndQuery, c.addr, c.redact(netReason(err))), kinds}
	}
	if resp.StatusCode == http.StatusOK {
		return resp, nil
	}
	defer resp.Body.Close()
	reason := readReason(resp.Body)
	var kind error
	switch {
	case resp.StatusCode == http.StatusForbidden:
		kind = ErrForbidden
	case resp.StatusCode == http.StatusNotFound:
		kind = sdk.ErrNotFound
	case resp.StatusCode == http.StatusLoopDetected:
		kind = ErrLoop
	case resp.StatusCode == http.StatusBadRequest:
		kind = ErrBadRequest
	default:
		kind = ErrUnavailable
	}
	msg := fmt.Sprintf("m4f: GET %.120s from %s: %d %s", pathAndQuery, c.addr, resp.StatusCode, strings.ToLower(http.StatusText(resp.StatusCode)))
	if reason != "" {
		msg += ": " + c.redact(reason)
	}
	return nil, &callError{msg, []error{kind}}
}

// netReason shortens a transport error to its cause (net/http repeats the URL).
func netReason(err error) string {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil && strings.HasPrefix(err.Error(), "Get ") {
			err = inner
		}
	}
	return oneLine(err.Error(), 200)
}

// readReason returns the first line of an error answer's body, cleaned.
func readReason(body io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(body, maxReasonBody))
	return oneLine(string(b), 200)
}

// oneLine keeps the first line of s, printable ASCII only, at most max bytes.
func oneLine(s string, max int) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	b := make([]byte, 0, min(len(s), max))
	for i := 0; i < len(s) && len(b) < max; i++ {
		if c := s[i]; c >= ' ' && c < 0x7f {
			b = append(b, c)
		}
	}
	return strings.TrimSpace(string(b))
}

// redact removes the key from s, should a peer or a library ever echo it.
func (c *Client) redact(s string) string {
	if len(c.signer.Key) >= 4 {
		s = strings.ReplaceAll(s, c.signer.Key, "[key]")
	}
	return s
}

// withDeadline gives ctx the default deadline d when it has none.
func withDeadline(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok || d <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}

// bodyErr wraps an error met while reading an answer's body.
func (c *Client) bodyErr(pathAndQuery string, ctx context.Context, err error) error {
	kinds := []error{ErrUnavailable}
	if ctxErr := ctx.Err(); ctxErr != nil {
		kinds = append(kinds, ctxErr)
	}
	return &callError{fmt.Sprintf("m4f: GET %.120s from %s: read body: %s", pathAndQuery, c.addr, c.redact(oneLine(err.Error(), 200))), kinds}
}

// getJSON decodes a JSON answer into v.
func (c *Client) getJSON(ctx context.Context, pathAndQuery string, chain *Chain, v any) error {
	ctx, cancel := withDeadline(ctx, c.timeout)
	defer cancel()
	resp, err := c.do(ctx, pathAndQuery, chain)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	lr := &io.LimitedReader{R: resp.Body, N: maxJSONBody + 1}
	if err := json.NewDecoder(lr).Decode(v); err != nil {
		if lr.N <= 0 {
			return &callError{fmt.Sprintf("m4f: GET %.120s from %s: answer exceeds %d bytes", pathAndQuery, c.addr, maxJSONBody), []error{ErrUnavailable, mm.ErrTooLarge}}
		}
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		if errors.As(err, &se) || errors.As(err, &te) || errors.Is(err, io.ErrUnexpectedEOF) || err == io.EOF {
			return &callError{fmt.Sprintf("m4f: GET %.120s from %s: bad JSON answer: %s", pathAndQuery, c.addr, oneLine(err.Error(), 200)), []error{ErrUnavailable}}
		}
		return c.bodyErr(pathAndQuery, ctx, err)
	}
	return nil
}

// Streams lists the streams the node serves over M4F.
func (c *Client) Streams(ctx context.Context) ([]mm.StreamInfo, error) {
	var r mm.StreamsResponse
	if err := c.getJSON(ctx, mm.StreamsPath, nil, &r); err != nil {
		return nil, err
	}
	return r.Streams, nil
}

// Ranges returns the node's recorded stretches of stream that overlap
// [from, to), UTC ms.
func (c *Client) Ranges(ctx context.Context, stream string, from, to int64, chain Chain) ([]mm.Range, error) {
	var r mm.RangesResponse
	if err := c.getJSON(ctx, mm.RangesPath(stream, from, to), &chain, &r); err != nil {
		return nil, err
	}
	return r.Ranges, nil
}

// Segments lists the node's segments of stream that start in [from, to), UTC ms.
func (c *Client) Segments(ctx context.Context, stream string, from, to int64, chain Chain) ([]mm.SegmentInfo, error) {
	var r mm.SegmentsResponse
	if err := c.getJSON(ctx, mm.SegmentsPath(stream, from, to), &chain, &r); err != nil {
		return nil, err
	}
	return r.Segments, nil
}

// Segment fetches the bytes of the stream's segment that starts at start.
// It refuses a body over the segment cap or one that does not match its
// X-Edge-Checksum, so the bytes it returns may be stored as they are.
func (c *Client) Segment(ctx context.Context, stream string, start int64, chain Chain) ([]byte, mm.SegmentInfo, error) {
	ctx, cancel := withDeadline(ctx, c.segTimeout)
	defer cancel()
	path := mm.SegmentPath(stream, start)
	resp, err := c.do(ctx, path, &chain)
	if err != nil {
		return nil, mm.SegmentInfo{}, err
	}
	defer resp.Body.Close()
	fail := func(kind error, format string, args ...any) ([]byte, mm.SegmentInfo, error) {
		return nil, mm.SegmentInfo{}, &callError{fmt.Sprintf("m4f: GET %.120s from %s: ", path, c.addr) + fmt.Sprintf(format, args...), []error{kind}}
	}
	info, problem := segmentInfo(resp.Header, start)
	if problem != "" {
		return fail(ErrUnavailable, "%s", problem)
	}
	data, err := c.readCapped(ctx, path, resp, c.limits.MaxSegment, "segment")
	if err != nil {
		return nil, mm.SegmentInfo{}, err
	}
	if got := media.Checksum(data); got != info.Checksum {
		return fail(mm.ErrChecksum, "segment bytes have checksum %s, %s says %.16q", got, mm.HeaderChecksum, info.Checksum)
	}
	info.Size = int64(len(data))
	return data, info, nil
}

// segmentInfo is the description of the segment that starts at start given
// by a segment answer's headers; a problem says why they give none.
func segmentInfo(h http.Header, start int64) (info mm.SegmentInfo, problem string) {
	info = mm.SegmentInfo{Start: start, Init: h.Get(mm.HeaderInit), Checksum: strings.ToLower(h.Get(mm.HeaderChecksum))}
	if info.Checksum == "" {
		return info, fmt.Sprintf("answer has no %s header", mm.HeaderChecksum)
	}
	if d := h.Get(mm.HeaderDuration); d != "" {
		n, err := strconv.ParseInt(d, 10, 64)
		if err != nil || n < 0 {
			return info, fmt.Sprintf("bad %s header %.24q", mm.HeaderDuration, d)
		}
		info.Duration = n
	}
	return info, ""
}

// Init fetches the stream's init segment with that hash and checks the
// bytes hash to it. Only Hash and Data of the result are set.
func (c *Client) Init(ctx context.Context, stream, hash string, chain Chain) (media.Init, error) {
	ctx, cancel := withDeadline(ctx, c.timeout)
	defer cancel()
	path := mm.InitPath(stream, hash)
	resp, err := c.do(ctx, path, &chain)
	if err != nil {
		return media.Init{}, err
	}
	defer resp.Body.Close()
	data, err := c.readCapped(ctx, path, resp, c.limits.MaxInit, "init")
	if err != nil {
		return media.Init{}, err
	}
	if got := media.InitHash(data); got != hash {
		return media.Init{}, &callError{fmt.Sprintf("m4f: GET %.120s from %s: init bytes hash to %s", path, c.addr, got), []error{mm.ErrChecksum}}
	}
	return media.Init{Hash: hash, Data: data}, nil
}

// readCapped reads a body of at most max bytes, allocating as bytes arrive
// (a Content-Length is trusted only up to a few MiB).
func (c *Client) readCapped(ctx context.Context, path string, resp *http.Response, max int, what string) ([]byte, error) {
	tooLarge := func(n int64) error {
		return &callError{fmt.Sprintf("m4f: GET %.120s from %s: %s of %d bytes exceeds the %d-byte cap", path, c.addr, what, n, max), []error{mm.ErrTooLarge}}
	}
	if resp.ContentLength > int64(max) {
		return nil, tooLarge(resp.ContentLength)
	}
	size := 64 << 10
	if resp.ContentLength >= 0 {
		size = int(min(resp.ContentLength+1, 4<<20))
	}
	buf := make([]byte, 0, size)
	lr := io.LimitReader(resp.Body, int64(max)+1)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := lr.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, c.bodyErr(path, ctx, err)
		}
	}
	if len(buf) > max {
		return nil, tooLarge(int64(len(buf)))
	}
	if resp.ContentLength >= 0 && int64(len(buf)) != resp.ContentLength {
		return nil, c.bodyErr(path, ctx, io.ErrUnexpectedEOF)
	}
	return buf, nil
}

package m4f

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// PathPrefix is the prefix of every M4F v1 path. A future v2 lives under
// /m4f/v2/ beside it.
const PathPrefix = "/m4f/v1/"

// StreamsPath lists the node's streams.
const StreamsPath = PathPrefix + "streams"

// Response headers of the segment endpoint.
const (
	HeaderDuration = "X-Edge-Duration" // segment duration, ms
	HeaderInit     = "X-Edge-Init"     // hash of the init the segment decodes with
	HeaderChecksum = "X-Edge-Checksum" // media.Checksum of the body
)

// ContentType is the Content-Type of a live M4F body.
const ContentType = "application/vnd.edge.m4f"

// Endpoint is one of the M4F v1 endpoints.
type Endpoint uint8

const (
	EndpointNone     Endpoint = iota
	EndpointStreams           // GET /m4f/v1/streams
	EndpointLive              // GET /m4f/v1/live/{stream}
	EndpointRanges            // GET /m4f/v1/ranges/{stream}?from=MS&to=MS
	EndpointSegments          // GET /m4f/v1/segments/{stream}?from=MS&to=MS
	EndpointSegment           // GET /m4f/v1/segment/{stream}/{start}
	EndpointInit              // GET /m4f/v1/init/{stream}/{hash}
	EndpointBulk              // GET /m4f/v1/bulk/{stream}?from=MS&to=MS
)

var endpointNames = [...]string{"none", "streams", "live", "ranges", "segments", "segment", "init", "bulk"}

func (e Endpoint) String() string {
	if int(e) < len(endpointNames) {
		return endpointNames[e]
	}
	return "endpoint(" + strconv.Itoa(int(e)) + ")"
}

// Route is a parsed M4F request path.
type Route struct {
	Endpoint Endpoint
	// Stream is the stream name; empty for EndpointStreams.
	Stream string
	// Start is the segment's UTC start in ms, for EndpointSegment.
	Start int64
	// Hash is the init hash, for EndpointInit.
	Hash string
}

// ErrUnknownPath is matched (errors.Is) by ParsePath's error for a path that
// names no M4F v1 endpoint: the server answers 404. Its other errors are
// bad requests (400).
var ErrUnknownPath = errors.New("m4f: unknown path")

// LivePath is the live push path of stream.
func LivePath(stream string) string { return PathPrefix + "live/" + stream }

// RangesPath is the path and query that ask for the stream's recorded ranges in [from, to).
func RangesPath(stream string, from, to int64) string {
	return PathPrefix + "ranges/" + stream + windowQuery(from, to)
}

// SegmentsPath is the path and query that list the stream's segments starting in [from, to).
func SegmentsPath(stream string, from, to int64) string {
	return PathPrefix + "segments/" + stream + windowQuery(from, to)
}

// SegmentPath is the path of the stream's segment that starts at start (UTC ms).
func SegmentPath(stream string, start int64) string {
	return PathPrefix + "segment/" + stream + "/" + strconv.FormatInt(start, 10)
}

// BulkPath is the path and query that fetch the bytes of the stream's
// segments starting in [from, to), as one body in the live frame format.
func BulkPath(stream string, from, to int64) string {
	return PathPrefix + "bulk/" + stream + windowQuery(from, to)
}

// InitPath is the path of the stream's init segment with that hash.
func InitPath(stream, hash string) string {
	return PathPrefix + "init/" + stream + "/" + hash
}

// windowQuery is the from/to query of a window. Both are clamped to
// [0, MaxTime], so an open end (math.MaxInt64: "up to whatever there is")
// stays within what ParseWindow accepts.
func windowQuery(from, to int64) string {
	from, to = min(max(from, 0), MaxTime), min(max(to, 0), MaxTime)
	return "?from=" + strconv.FormatInt(from, 10) + "&to=" + strconv.FormatInt(to, 10)
}

// MaxTime is the largest time (UTC ms) a window query carries: 15 digits,
// about the year 33658.
const MaxTime = 999_999_999_999_999

// maxNumberDigits bounds the numbers in paths and queries (UTC ms has 13).
const maxNumberDigits = 15

// maxHashLen bounds an init hash in a path (media.InitHash has 16 hex digits).
const maxHashLen = 64

// ParsePath parses a request path (without the query, as decoded by the
// HTTP server). validName checks stream names; pass sdk.CheckStreamName.
// Whatever validName says, a stream name is never empty, ".", ".." and
// never holds a '/', so it is always one path segment. A nil validName checks nothing
// more.
func ParsePath(path string, validName func(string) error) (Route, error) {
	rest, ok := strings.CutPrefix(path, PathPrefix)
	if !ok {
		return Route{}, fmt.Errorf("m4f: path %.80q is not under %s: %w", path, PathPrefix, ErrUnknownPath)
	}
	if rest == "streams" {
		return Route{Endpoint: EndpointStreams}, nil
	}
	kind, rest, _ := strings.Cut(rest, "/")
	var r Route
	var args int // path segments after the stream name
	switch kind {
	case "live":
		r.Endpoint = EndpointLive
	case "ranges":
		r.Endpoint = EndpointRanges
	case "segments":
		r.Endpoint = EndpointSegments
	case "segment":
		r.Endpoint, args = EndpointSegment, 1
	case "init":
		r.Endpoint, args = EndpointInit, 1
	case "bulk":
		r.Endpoint = EndpointBulk
	default:
		return Route{}, fmt.Errorf("m4f: path %.80q names no endpoint: %w", path, ErrUnknownPath)
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 1+args {
		return Route{}, fmt.Errorf("m4f: path %.80q: want %s%s/{stream}%s: %w", path, PathPrefix, kind, strings.Repeat("/{arg}", args), ErrUnknownPath)
	}
	r.Stream = parts[0]
	if r.Stream == "" || r.Stream == "." || r.Stream == ".." {
		return Route{}, fmt.Errorf("m4f: path %.80q has no stream name", path)
	}
	if validName != nil {
		if err := validName(r.Stream); err != nil {
			return Route{}, fmt.Errorf("m4f: path %.80q: %v", path, err)
		}
	}
	switch r.Endpoint {
	case EndpointSegment:
		start, err := parseNumber(parts[1])
		if err != nil {
			return Route{}, fmt.Errorf("m4f: segment start %.40q: %v", parts[1], err)
		}
		r.Start = start
	case EndpointInit:
		if err := checkHash(parts[1]); err != nil {
			return Route{}, fmt.Errorf("m4f: init hash %.80q: %v", parts[1], err)
		}
		r.Hash = parts[1]
	}
	return r, nil
}

// ParseWindow reads the from and to query parameters (UTC ms) of the ranges
// and segments endpoints through get, which returns a query parameter's
// value or "" (url.Values.Get, or a wrapper of fasthttp's QueryArgs().Peek).
// Both are required, and from must not be after to.
func ParseWindow(get func(key string) string) (from, to int64, err error) {
	f, t := get("from"), get("to")
	if f == "" || t == "" {
		return 0, 0, fmt.Errorf("m4f: query needs from and to (UTC ms)")
	}
	if from, err = parseNumber(f); err != nil {
		return 0, 0, fmt.Errorf("m4f: from %.40q: %v", f, err)
	}
	if to, err = parseNumber(t); err != nil {
		return 0, 0, fmt.Errorf("m4f: to %.40q: %v", t, err)
	}
	if from > to {
		return 0, 0, fmt.Errorf("m4f: from %d is after to %d", from, to)
	}
	return from, to, nil
}

// parseNumber parses a non-negative decimal of at most maxNumberDigits digits.
func parseNumber(s string) (int64, error) {
	if s == "" || len(s) > maxNumberDigits {
		return 0, fmt.Errorf("want 1 to %d decimal digits", maxNumberDigits)
	}
	var v int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("want decimal digits only")
		}
		v = v*10 + int64(c-'0')
	}
	return v, nil
}

func checkHash(s string) error {
	if s == "" || len(s) > maxHashLen {
		return fmt.Errorf("want 1 to %d lowercase hex digits", maxHashLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return fmt.Errorf("want lowercase hex digits only")
		}
	}
	return nil
}

// StreamsResponse is the body of GET /m4f/v1/streams.
type StreamsResponse struct {
	Node    string       `json:"node"`
	Streams []StreamInfo `json:"streams"`
}

// StreamInfo is one stream in a StreamsResponse.
type StreamInfo struct {
	Name string `json:"name"`
	// Live is true when the stream has a live window to push now.
	Live bool `json:"live"`
	// DVR is true when the node holds an archive of the stream.
	DVR bool `json:"dvr"`
}

// RangesResponse is the body of GET /m4f/v1/ranges/{stream}.
type RangesResponse struct {
	Ranges []Range `json:"ranges"`
}

// Range is a stretch of archive with no gap, UTC ms, To exclusive.
type Range struct {
	From int64 `json:"from"`
	To   int64 `json:"to"`
}

// SegmentsResponse is the body of GET /m4f/v1/segments/{stream}.
type SegmentsResponse struct {
	Segments []SegmentInfo `json:"segments"`
}

// SegmentInfo describes one segment in a SegmentsResponse.
type SegmentInfo struct {
	Start    int64  `json:"start"`    // UTC ms
	Duration int64  `json:"duration"` // ms
	Size     int64  `json:"size"`     // bytes
	Init     string `json:"init"`     // hash of the init it decodes with
	Checksum string `json:"checksum"` // media.Checksum of its bytes
}

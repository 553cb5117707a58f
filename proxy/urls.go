package proxy

import (
	"strings"

	"github.com/edgedvr/edge/sdk"
)

// Limits of the URL parser.
const (
	// MaxRangeSeconds is the longest archive range ({dur}) and rewind window
	// ({n}) a URL may ask for: 24 hours. An EVENT playlist
	// (archive-{from}-now) may not start more than this long ago.
	MaxRangeSeconds = 24 * 60 * 60
	// maxNumberDigits bounds every number in a path so that nothing overflows.
	maxNumberDigits = 15
)

// route is what a request path asks for.
type route uint8

const (
	routeNone route = iota
	routeLive
	routeArchive // VOD playlist
	routeEvent   // archive-{from}-now.m3u8
	routeRewind
	routeExport
	routeRecordingStatus
	routeInit
	routeSegment
	routeAPIStreams
	routeAPIStream
	routeMetrics
	routeAPICluster
	routeOptions      // CORS preflight, set by the server, never by parsePath
	routeTimeshiftRel // timeshift_rel-{n}.m3u8: live delayed by n seconds
	routeTSLive       // /{name}/mpegts: live MPEG-TS
	routeTSRange      // archive-{from}-{dur}.ts, timeshift_abs-{from}.ts
	routeTSSegment    // s-{start}.ts: a segment of the MPEG-TS HLS flavour
	routeUI           // / and /assets/{name}: the web overview (ui.go)
	routeAPINode      // /api/v1/node
	routeOpenAPI      // /api/v1/openapi.json
	routeReload       // POST /api/v1/reload, set by the server, never by parsePath
	routeAPIPlugins   // /api/v1/plugins
)

var routeNames = [...]string{
	routeNone:            "none",
	routeLive:            "live",
	routeArchive:         "archive",
	routeEvent:           "event",
	routeRewind:          "rewind",
	routeExport:          "export",
	routeRecordingStatus: "recording_status",
	routeInit:            "init",
	routeSegment:         "segment",
	routeAPIStreams:      "api_streams",
	routeAPIStream:       "api_stream",
	routeMetrics:         "metrics",
	routeAPICluster:      "api_cluster",
	routeOptions:         "options",
	routeTimeshiftRel:    "timeshift_rel",
	routeTSLive:          "mpegts_live",
	routeTSRange:         "mpegts_range",
	routeTSSegment:       "mpegts_segment",
	routeUI:              "ui",
	routeAPINode:         "api_node",
	routeOpenAPI:         "api_openapi",
	routeReload:          "api_reload",
	routeAPIPlugins:      "api_plugins",
}

func (r route) String() string { return routeNames[r] }

// request is a parsed request path.
type request struct {
	route route
	name  string // stream name, for stream routes
	from  int64  // UTC ms: archive, event, export
	dur   int64  // ms: archive, export, rewind
	start int64  // UTC ms: segment
	hash  string // init
	// ts: an HLS playlist whose segments are MPEG-TS (.ts.m3u8 forms).
	ts bool
	// endless: a TS range that goes on into live (timeshift_abs-{from}.ts);
	// startAtFrom: an EVENT playlist players should start at its first
	// segment, not at the live edge (EXT-X-START).
	endless, startAtFrom bool
	// session is the viewer session id of a segment or init URL a
	// playlist named (/{name}/session-{id}/..., onplay.go).
	session string
}

// parsePath parses the raw (not unescaped) path of a request, without the
// query. nowMs is the current UTC time in ms, to refuse ranges that start in
// the future. Errors are *httpError: 400 for a malformed path, 404 for one
// that names nothing.
func parsePath(path string, nowMs int64) (request, error) {
	if path == "" || path[0] != '/' {
		return request{}, badRequest("path does not start with '/'")
	}
	if strings.IndexByte(path, '%') >= 0 {
		return request{}, badRequest("escaped characters are not allowed in paths")
	}
	if strings.IndexByte(path, '\\') >= 0 {
		return request{}, badRequest("backslash in path")
	}
	rest := path[1:]
	var parts [5]string
	n := 0
	for {
		i := strings.IndexByte(rest, '/')
		p := rest
		if i >= 0 {
			p = rest[:i]
		}
		if p == "" {
			if i < 0 && n == 0 {
				return request{route: routeUI}, nil
			}
			return request{}, badRequest("empty path segment")
		}
		if p == "." || p == ".." {
			return request{}, badRequest("dot segment in path")
		}
		if n == len(parts) {
			return request{}, notFound("no such resource")
		}
		parts[n] = p
		n++
		if i < 0 {
			break
		}
		rest = rest[i+1:]
	}
	switch {
	case n == 1 && parts[0] == "metrics":
		return request{route: routeMetrics}, nil
	case n == 3 && parts[0] == "api" && parts[1] == "v1" && parts[2] == "cluster":
		return request{route: routeAPICluster}, nil
	case n == 3 && parts[0] == "api" && parts[1] == "v1" && parts[2] == "node":
		return request{route: routeAPINode}, nil
	case n == 3 && parts[0] == "api" && parts[1] == "v1" && parts[2] == "plugins":
		return request{route: routeAPIPlugins}, nil
	case n == 3 && parts[0] == "api" && parts[1] == "v1" && parts[2] == "openapi.json":
		return request{route: routeOpenAPI}, nil
	case n == 2 && parts[0] == "assets" && isUIAsset(parts[1]):
		return request{route: routeUI, name: parts[1]}, nil
	case n >= 3 && parts[0] == "api" && parts[1] == "v1" && parts[2] == "streams":
		switch n {
		case 3:
			return request{route: routeAPIStreams}, nil
		case 4:
			if err := sdk.CheckStreamName(parts[3]); err != nil {
				return request{}, badRequest(err.Error())
			}
			return request{route: routeAPIStream, name: parts[3]}, nil
		}
		return request{}, notFound("no such resource")
	case n == 2:
		if err := sdk.CheckStreamName(parts[0]); err != nil {
			return request{}, badRequest(err.Error())
		}
		r, err := parseFile(parts[1], nowMs)
		r.name = parts[0]
		return r, err
	case n == 3 && strings.HasPrefix(parts[1], sessionDir):
		return parseSessionFile(parts[0], parts[1][len(sessionDir):], parts[2])
	case n == 5 && parts[1] == "archive" && parts[4] == "mpegts":
		// Legacy Ministra form: /{name}/archive/{from}/{dur}/mpegts.
		if err := sdk.CheckStreamName(parts[0]); err != nil {
			return request{}, badRequest(err.Error())
		}
		r, err := parseRange(parts[2]+"-"+parts[3], nowMs, true)
		r.name = parts[0]
		r.route = routeTSRange
		return r, err
	}
	return request{}, notFound("no such resource")
}

// liveNames are the live playlist names: Flussonic's index, and the
// video and mono variants IPTV clients build (one media playlist with every
// track muxed, like index).
var liveNames = map[string]bool{"index": true, "video": true, "mono": true}

// parseFile parses the last path segment of a stream URL.
func parseFile(f string, nowMs int64) (request, error) {
	switch f {
	case "recording_status.json":
		return request{route: routeRecordingStatus}, nil
	case "mpegts":
		return request{route: routeTSLive}, nil
	}
	base, ext, ok := cutExt(f)
	if !ok {
		return request{}, notFound("no such resource")
	}
	switch ext {
	case "m3u8":
		return parsePlaylist(base, nowMs)
	case "mp4":
		if v, ok := strings.CutPrefix(base, "init-"); ok {
			if !isHash(v) {
				return request{}, badRequest("init hash must be 16 lowercase hex digits")
			}
			return request{route: routeInit, hash: v}, nil
		}
		if v, ok := strings.CutPrefix(base, "archive-"); ok {
			r, err := parseRange(v, nowMs, false)
			r.route = routeExport
			return r, err
		}
		return request{}, notFound("no such file")
	case "m4s", "ts":
		if v, ok := strings.CutPrefix(base, "s-"); ok {
			start, err := parseNumber("segment start", v)
			if err != nil {
				return request{}, err
			}
			if ext == "ts" {
				return request{route: routeTSSegment, start: start}, nil
			}
			return request{route: routeSegment, start: start}, nil
		}
		if ext == "m4s" {
			return request{}, notFound("no such segment")
		}
		if v, ok := strings.CutPrefix(base, "timeshift_abs-"); ok {
			r, err := parseFrom(v, nowMs)
			r.route, r.endless = routeTSRange, true
			return r, err
		}
		if v, ok := strings.CutPrefix(base, "archive-"); ok {
			r, err := parseRange(v, nowMs, true)
			r.route = routeTSRange
			return r, err
		}
		return request{}, notFound("no such file")
	}
	return request{}, notFound("no such resource")
}

// parsePlaylist parses the name of a playlist without ".m3u8": an optional
// flavour suffix (".fmp4", the default; ".ts" for MPEG-TS segments), then
//
//	index, video, mono                    live
//	rewind-{n}                            the last n seconds up to live
//	[{variant}-]timeshift_rel-{n}         live delayed by n seconds
//	timeshift_abs-{from}                  EVENT from from into live
//	{variant}-{from}-{dur}                VOD (EVENT while it reaches the future)
//	{variant}-{from}-now                  EVENT from from into live
//
// where variant is archive, index, video or mono.
func parsePlaylist(base string, nowMs int64) (request, error) {
	ts := false
	if b, ok := strings.CutSuffix(base, ".fmp4"); ok {
		base = b
	} else if b, ok := strings.CutSuffix(base, ".ts"); ok {
		base, ts = b, true
	}
	r, err := parsePlaylistName(base, nowMs)
	r.ts = ts
	return r, err
}

func parsePlaylistName(base string, nowMs int64) (request, error) {
	if liveNames[base] {
		return request{route: routeLive}, nil
	}
	if v, ok := strings.CutPrefix(base, "rewind-"); ok {
		n, err := parseSeconds("rewind window", v)
		if err != nil {
			return request{}, err
		}
		return request{route: routeRewind, dur: n * 1000}, nil
	}
	if v, ok := strings.CutPrefix(base, "timeshift_abs-"); ok {
		r, err := parseFrom(v, nowMs)
		r.route, r.startAtFrom = routeEvent, true
		return r, err
	}
	variant, v, ok := strings.Cut(base, "-")
	if !ok {
		return request{}, notFound("no such playlist")
	}
	if variant == "timeshift_rel" {
		v = base
	} else if !liveNames[variant] && variant != "archive" {
		return request{}, notFound("no such playlist")
	}
	if n, ok := strings.CutPrefix(v, "timeshift_rel-"); ok {
		d, err := parseSeconds("timeshift delay", n)
		if err != nil {
			return request{}, err
		}
		return request{route: routeTimeshiftRel, dur: d * 1000}, nil
	}
	return parseRange(v, nowMs, true)
}

// parseFrom parses "{from}": UTC Unix seconds, not in the future and not
// more than MaxRangeSeconds ago.
func parseFrom(v string, nowMs int64) (request, error) {
	from, err := parseNumber("from", v)
	if err != nil {
		return request{}, err
	}
	switch {
	case from == 0:
		return request{}, badRequest("from must be a positive UTC Unix time in seconds")
	case from > nowMs/1000:
		return request{}, badRequest("from is in the future")
	case from < nowMs/1000-MaxRangeSeconds:
		return request{}, badRequest("from is more than 86400 seconds ago")
	}
	return request{from: from * 1000}, nil
}

// parseRange parses "{from}-{dur}" (and "{from}-now" when allowNow).
func parseRange(v string, nowMs int64, allowNow bool) (request, error) {
	fs, ds, ok := strings.Cut(v, "-")
	if !ok {
		return request{}, badRequest("archive range must be {from}-{duration}")
	}
	from, err := parseNumber("from", fs)
	if err != nil {
		return request{}, err
	}
	if from == 0 {
		return request{}, badRequest("from must be a positive UTC Unix time in seconds")
	}
	if from > nowMs/1000 {
		return request{}, badRequest("from is in the future")
	}
	if ds == "now" {
		if !allowNow {
			return request{}, badRequest("duration must be a number of seconds")
		}
		if from < nowMs/1000-MaxRangeSeconds {
			return request{}, badRequest("from-now range longer than 86400 seconds")
		}
		return request{route: routeEvent, from: from * 1000, startAtFrom: true}, nil
	}
	dur, err := parseSeconds("duration", ds)
	if err != nil {
		return request{}, err
	}
	return request{route: routeArchive, from: from * 1000, dur: dur * 1000}, nil
}

// parseSeconds parses a duration in seconds: 1 to MaxRangeSeconds.
func parseSeconds(what, s string) (int64, error) {
	n, err := parseNumber(what, s)
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, badRequest(what + " must be at least 1 second")
	}
	if n > MaxRangeSeconds {
		return 0, badRequest(what + " longer than 86400 seconds")
	}
	return n, nil
}

// parseNumber parses a non-negative decimal number of at most
// maxNumberDigits digits, with no sign and no leading zero.
func parseNumber(what, s string) (int64, error) {
	if s == "" {
		return 0, badRequest(what + " is empty")
	}
	if len(s) > maxNumberDigits {
		return 0, badRequest(what + " has too many digits")
	}
	if len(s) > 1 && s[0] == '0' {
		return 0, badRequest(what + " has a leading zero")
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, badRequest(what + " is not a decimal number")
		}
		n = n*10 + int64(c-'0')
	}
	return n, nil
}

func cutExt(f string) (base, ext string, ok bool) {
	i := strings.LastIndexByte(f, '.')
	if i <= 0 {
		return "", "", false
	}
	return f[:i], f[i+1:], true
}

func isHash(s string) bool {
	if len(s) != 16 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// parseSessionFile parses /{name}/session-{id}/{file}: a segment or init
// URL of a playlist that a viewer session opened. Only those files may
// follow a session id.
func parseSessionFile(name, id, file string) (request, error) {
	if err := sdk.CheckStreamName(name); err != nil {
		return request{}, badRequest(err.Error())
	}
	if !isSessionID(id) {
		return request{}, badRequest("session id must be 32 lowercase hex digits")
	}
	r, err := parseFile(file, 0)
	if err != nil {
		return request{}, err
	}
	switch r.route {
	case routeInit, routeSegment, routeTSSegment:
	default:
		return request{}, notFound("only segments and init segments follow a session id")
	}
	r.name, r.session = name, id
	return r, nil
}

package proxy

import (
	"context"
	"encoding/json"
	"sort"

	"github.com/valyala/fasthttp"
)

// streamJSON is one stream in /api/v1/streams.
type streamJSON struct {
	Name        string        `json:"name"`
	Live        bool          `json:"live"`
	Inputs      []InputStatus `json:"inputs"`
	ActiveInput string        `json:"active_input"`
	// Bitrate in bits per second.
	Bitrate int64 `json:"bitrate"`
	// Viewers is how many clients followed its live playlists or live
	// MPEG-TS in the last 30 s (viewers.go).
	Viewers int `json:"viewers"`
	// LastFrameAgeMs is null when no frame ever arrived.
	LastFrameAgeMs *int64          `json:"last_frame_age_ms"`
	LiveWindow     *liveWindowJSON `json:"live_window,omitempty"`
	Archive        *archiveJSON    `json:"archive,omitempty"`
	// Replication is present for a stream that replicates (dvr replicate).
	Replication *ReplicationStatus `json:"replication,omitempty"`
}

type liveWindowJSON struct {
	Segments int   `json:"segments"`
	FirstSeq int64 `json:"first_seq"`
	From     int64 `json:"from_ms"`
	To       int64 `json:"to_ms"`
}

// archiveJSON summarises the archive: times in UTC Unix seconds.
type archiveJSON struct {
	From     int64  `json:"from,omitempty"`
	To       int64  `json:"to,omitempty"`
	Ranges   int    `json:"ranges"`
	Duration int64  `json:"duration"`
	Error    string `json:"error,omitempty"`
}

func (s *Server) streamInfo(st Stream) streamJSON {
	status := st.Status()
	j := streamJSON{
		Name: st.Name(), Inputs: status.Inputs, ActiveInput: status.ActiveInput, Bitrate: status.Bitrate,
		Viewers: s.viewers.count(st.Name(), s.cfg.Now()),
	}
	if j.Inputs == nil {
		j.Inputs = []InputStatus{}
	}
	now := s.cfg.Now()
	if !status.LastFrame.IsZero() {
		age := now.Sub(status.LastFrame).Milliseconds()
		j.LastFrameAgeMs = &age
	}
	if view, ok := liveView(st); ok && len(view.Segments) > 0 {
		last := view.Segments[len(view.Segments)-1]
		j.Live = true
		j.LiveWindow = &liveWindowJSON{Segments: len(view.Segments), FirstSeq: view.Segments[0].Seq,
			From: view.Segments[0].Start, To: last.End()}
	}
	if ar := st.Archive(); ar != nil {
		ctx, cancel := context.WithTimeout(s.base, s.cfg.ArchiveTimeout)
		defer cancel()
		a := &archiveJSON{}
		rs, err := ar.Ranges(ctx, 0, now.UnixMilli()+3_600_000)
		if err != nil {
			a.Error = err.Error()
		} else if len(rs) > 0 {
			a.From, a.To, a.Ranges = rs[0].From/1000, rs[len(rs)-1].To/1000, len(rs)
			for _, r := range rs {
				a.Duration += (r.To - r.From) / 1000
			}
		}
		j.Archive = a
	}
	if r, ok := st.(Replicator); ok {
		j.Replication = r.Replication()
	}
	return j
}

func writeJSON(ctx *fasthttp.RequestCtx, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	ctx.SetContentType(ctypeJSON)
	ctx.Response.Header.Set("Cache-Control", "no-cache")
	if ctx.IsHead() {
		ctx.Response.Header.SetContentLength(len(b))
		return nil
	}
	ctx.Response.SetBodyRaw(b)
	return nil
}

// serveAPIStreams answers /api/v1/streams: {"streams":[...]} sorted by name.
func (s *Server) serveAPIStreams(ctx *fasthttp.RequestCtx) error {
	names := s.cfg.Backend.StreamNames()
	sort.Strings(names)
	out := struct {
		Streams []streamJSON `json:"streams"`
	}{Streams: make([]streamJSON, 0, len(names))}
	for _, n := range names {
		if st, ok := s.cfg.Backend.Stream(n); ok {
			out.Streams = append(out.Streams, s.streamInfo(st))
		}
	}
	return writeJSON(ctx, out)
}

// serveAPIStream answers /api/v1/streams/{name}.
func (s *Server) serveAPIStream(ctx *fasthttp.RequestCtx, name string) error {
	st, ok := s.cfg.Backend.Stream(name)
	if !ok {
		return notFound("unknown stream " + name)
	}
	return writeJSON(ctx, s.streamInfo(st))
}

// recordingRange is one range of recording_status.json: UTC Unix seconds.
type recordingRange struct {
	From     int64 `json:"from"`
	Duration int64 `json:"duration"`
}

type recordingStatus struct {
	Stream string           `json:"stream"`
	Ranges []recordingRange `json:"ranges"`
}

// serveRecordingStatus answers /{name}/recording_status.json as Flussonic
// does: [{"stream":NAME,"ranges":[{"from":S,"duration":S},...]}]. Query:
// from (Unix seconds, default 0), to (Unix seconds or "now", default now),
// request (comma list; only "ranges" is supported and always answered).
func (s *Server) serveRecordingStatus(actx context.Context, ctx *fasthttp.RequestCtx, st Stream) error {
	nowMs := s.cfg.Now().UnixMilli()
	args := ctx.QueryArgs()
	from, to := int64(0), nowMs
	if v := args.Peek("from"); v != nil {
		n, err := parseNumber("from", string(v))
		if err != nil {
			return err
		}
		from = n * 1000
	}
	if v := args.Peek("to"); v != nil && string(v) != "now" {
		n, err := parseNumber("to", string(v))
		if err != nil {
			return err
		}
		to = n * 1000
	}
	if to < from {
		return badRequest("to is before from")
	}
	out := []recordingStatus{{Stream: st.Name(), Ranges: []recordingRange{}}}
	if ar := st.Archive(); ar != nil {
		rs, err := ar.Ranges(actx, from, to)
		if err != nil {
			return archiveError("ranges", err)
		}
		for _, r := range rs {
			out[0].Ranges = append(out[0].Ranges, recordingRange{From: r.From / 1000, Duration: (r.To - r.From + 500) / 1000})
		}
	}
	return writeJSON(ctx, out)
}

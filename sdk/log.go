package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"log/slog"
	"sort"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"
)

// NewLogger returns the logger a plugin should use: JSON lines on w
// (normally os.Stderr) in the shape go-plugin parses, so that the host
// re-logs each line through its own slog logger with the same level,
// message and attributes, tagged with the plugin's name. Serve uses it
// when ServeConfig.Logger is nil.
func NewLogger(w io.Writer, level slog.Leveler) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.TimeKey:
				return slog.String("@timestamp", a.Value.Time().Format("2006-01-02T15:04:05.000000Z07:00"))
			case slog.LevelKey:
				return slog.String("@level", hclogLevelName(a.Value.Any().(slog.Level)))
			case slog.MessageKey:
				return slog.String("@message", a.Value.String())
			}
			return a
		},
	}))
}

func hclogLevelName(l slog.Level) string {
	switch {
	case l < slog.LevelDebug:
		return "trace"
	case l < slog.LevelInfo:
		return "debug"
	case l < slog.LevelWarn:
		return "info"
	case l < slog.LevelError:
		return "warn"
	default:
		return "error"
	}
}

func slogLevel(l hclog.Level) slog.Level {
	switch l {
	case hclog.Trace:
		return slog.LevelDebug - 4
	case hclog.Debug:
		return slog.LevelDebug
	case hclog.Warn:
		return slog.LevelWarn
	case hclog.Error:
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}

// hclogAdapter is an hclog.Logger that writes to a slog.Logger, so that
// go-plugin's own messages and the plugin log lines it forwards end up in
// the host's slog output. go-plugin's own messages (internal) are demoted
// to debug: the Supervisor logs what matters. Loggers made by Named carry
// forwarded plugin lines and keep their level.
type hclogAdapter struct {
	l        *slog.Logger
	internal bool
	implied  []any
}

var _ hclog.Logger = (*hclogAdapter)(nil)

func newHCLogAdapter(l *slog.Logger) *hclogAdapter {
	return &hclogAdapter{l: l, internal: true}
}

func (h *hclogAdapter) Log(level hclog.Level, msg string, args ...any) {
	lv := slogLevel(level)
	if h.internal && lv > slog.LevelDebug {
		lv = slog.LevelDebug
	}
	ctx := context.Background()
	jsonLine := !h.internal && len(args) == 0 && strings.HasPrefix(msg, "{")
	if !jsonLine && !h.l.Enabled(ctx, lv) {
		return
	}
	if !h.internal {
		if jsonLine {
			if l, m, a, ok := parseSlogJSON(msg); ok {
				lv, msg, args = l, m, a
			}
		} else {
			args = forwardedArgs(args)
		}
		if !h.l.Enabled(ctx, lv) {
			return
		}
	}
	h.l.Log(ctx, lv, msg, args...)
}

// forwardedArgs tidies the attributes go-plugin parsed from a plugin's
// hclog-style JSON line: it drops the plugin's timestamp (the host stamps
// the line itself) and the plugin's own "plugin" attribute (the host's
// logger has one), and sorts the rest by key (go-plugin's order is random).
func forwardedArgs(args []any) []any {
	type kv struct {
		k string
		v any
	}
	kvs := make([]kv, 0, len(args)/2)
	for i := 0; i+1 < len(args); i += 2 {
		k, _ := args[i].(string)
		if k == "timestamp" || k == "plugin" {
			continue
		}
		kvs = append(kvs, kv{k, args[i+1]})
	}
	sort.SliceStable(kvs, func(i, j int) bool { return kvs[i].k < kvs[j].k })
	out := make([]any, 0, 2*len(kvs))
	for _, p := range kvs {
		out = append(out, p.k, p.v)
	}
	return out
}

// parseSlogJSON reads a line written by slog's plain JSON handler (keys
// time, level, msg), which go-plugin does not recognise, so that such a
// plugin's lines keep their level and attributes on the host too.
func parseSlogJSON(line string) (slog.Level, string, []any, bool) {
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		return 0, "", nil, false
	}
	msg, ok1 := m[slog.MessageKey].(string)
	lvs, ok2 := m[slog.LevelKey].(string)
	var lv slog.Level
	if !ok1 || !ok2 || lv.UnmarshalText([]byte(lvs)) != nil {
		return 0, "", nil, false
	}
	delete(m, slog.MessageKey)
	delete(m, slog.LevelKey)
	delete(m, slog.TimeKey)
	args := make([]any, 0, 2*len(m))
	for k, v := range m {
		args = append(args, k, v)
	}
	return lv, msg, forwardedArgs(args), true
}

func (h *hclogAdapter) Trace(msg string, args ...any) { h.Log(hclog.Trace, msg, args...) }
func (h *hclogAdapter) Debug(msg string, args ...any) { h.Log(hclog.Debug, msg, args...) }
func (h *hclogAdapter) Info(msg string, args ...any)  { h.Log(hclog.Info, msg, args...) }
func (h *hclogAdapter) Warn(msg string, args ...any)  { h.Log(hclog.Warn, msg, args...) }
func (h *hclogAdapter) Error(msg string, args ...any) { h.Log(hclog.Error, msg, args...) }

func (h *hclogAdapter) enabled(l hclog.Level) bool {
	return h.l.Enabled(context.Background(), slogLevel(l))
}

func (h *hclogAdapter) IsTrace() bool { return h.enabled(hclog.Trace) }
func (h *hclogAdapter) IsDebug() bool { return h.enabled(hclog.Debug) }
func (h *hclogAdapter) IsInfo() bool  { return h.enabled(hclog.Info) }
func (h *hclogAdapter) IsWarn() bool  { return h.enabled(hclog.Warn) }
func (h *hclogAdapter) IsError() bool { return h.enabled(hclog.Error) }

func (h *hclogAdapter) ImpliedArgs() []any { return h.implied }

func (h *hclogAdapter) With(args ...any) hclog.Logger {
	return &hclogAdapter{l: h.l.With(args...), internal: h.internal, implied: append(append([]any(nil), h.implied...), args...)}
}

func (h *hclogAdapter) Name() string { return "" }

// Named returns the logger go-plugin uses for lines read from the plugin's
// stderr; the name (the executable's base name) is not added, the
// Supervisor already tags lines with the plugin name.
func (h *hclogAdapter) Named(string) hclog.Logger {
	return &hclogAdapter{l: h.l, implied: h.implied}
}

func (h *hclogAdapter) ResetNamed(name string) hclog.Logger { return h.Named(name) }

func (h *hclogAdapter) SetLevel(hclog.Level) {}

func (h *hclogAdapter) GetLevel() hclog.Level {
	for _, l := range []hclog.Level{hclog.Trace, hclog.Debug, hclog.Info, hclog.Warn, hclog.Error} {
		if h.enabled(l) {
			return l
		}
	}
	return hclog.Off
}

func (h *hclogAdapter) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(h.StandardWriter(opts), "", 0)
}

func (h *hclogAdapter) StandardWriter(*hclog.StandardLoggerOptions) io.Writer {
	return &lineWriter{log: func(line string) { h.Info(line) }}
}

// lineWriter calls log once per complete line written to it.
type lineWriter struct {
	mu  sync.Mutex
	buf []byte
	log func(line string)
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		if line := string(bytes.TrimRight(w.buf[:i], "\r")); line != "" {
			w.log(line)
		}
		w.buf = w.buf[i+1:]
	}
	if len(w.buf) > 64<<10 { // a runaway line without newline
		w.log(string(w.buf))
		w.buf = nil
	}
	return len(p), nil
}

package sdk

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

func TestHCLogAdapter(t *testing.T) {
	tests := []struct {
		name  string
		log   func(h hclog.Logger)
		want  string // the host's line, without time
		empty bool
	}{
		{"go-plugin's own message is demoted", func(h hclog.Logger) { h.Error("plugin process exited", "id", 7) }, "", true},
		{"forwarded hclog line keeps its level, sorted attrs", func(h hclog.Logger) {
			h.Named("edge").Warn("input quiet", "stream", "cam1", "after", "5s", "timestamp", "x", "plugin", "udp")
		}, `level=WARN msg="input quiet" plugin=udp after=5s stream=cam1`, false},
		{"forwarded plain slog JSON line", func(h hclog.Logger) {
			h.Named("edge").Debug(`{"time":"2026-01-01T00:00:00Z","level":"ERROR","msg":"write failed","stream":"cam1","plugin":"dvrstore"}`)
		}, `level=ERROR msg="write failed" plugin=udp stream=cam1`, false},
		{"forwarded plain line stays debug", func(h hclog.Logger) { h.Named("edge").Debug("hello") }, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			l := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{
				ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
					if a.Key == slog.TimeKey {
						return slog.Attr{}
					}
					return a
				},
			})).With("plugin", "udp")
			tt.log(newHCLogAdapter(l))
			got := strings.TrimSpace(buf.String())
			if tt.empty && got != "" || !tt.empty && got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestNewLoggerShape(t *testing.T) {
	var buf bytes.Buffer
	NewLogger(&buf, slog.LevelDebug).Warn("input quiet", "stream", "cam1")
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	if m["@level"] != "warn" || m["@message"] != "input quiet" || m["stream"] != "cam1" || m["@timestamp"] == nil {
		t.Fatalf("line %s is not in go-plugin's shape", buf.Bytes())
	}
}

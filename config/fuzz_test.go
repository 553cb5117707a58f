package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(examplesDir, "*.toml"))
	for _, file := range files {
		if data, err := os.ReadFile(file); err == nil {
			f.Add(data)
		}
	}
	for _, tc := range parseCases {
		f.Add([]byte(tc.src))
	}
	f.Add([]byte(okNode + "  [[node.stream]]\n  name = \"s\"\n  inputs = [\"m4f://a/s?remote_dvr=chain\"]\n"))
	f.Add([]byte("node = [{ name = \"a\", listen = \":1\", stream = [{ name = \"s\", inputs = [\"udp://:2\"] }] }]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 64<<10 {
			return
		}
		top, err := Parse("f.toml", data)
		lines := strings.Count(string(data), "\n") + 1
		if err != nil {
			var es Errors
			if top != nil || !errors.As(err, &es) || len(es) == 0 {
				t.Fatalf("Parse error %T %v with topology %v", err, err, top)
			}
			for _, e := range es {
				if e.File != "f.toml" || e.Line < 1 || e.Line > lines || e.Msg == "" || e.Warning {
					t.Fatalf("bad error %+v (file has %d lines)", e, lines)
				}
			}
			if got := len(strings.Split(err.Error(), "\n")); got < len(es) {
				t.Fatalf("%d errors print as %d lines", len(es), got)
			}
			return
		}
		if len(top.Nodes) == 0 {
			t.Fatalf("valid topology without nodes")
		}
		for _, w := range top.Warnings() {
			if !w.Warning || w.Line < 1 || w.Line > lines {
				t.Fatalf("bad warning %+v", w)
			}
		}
		for _, n := range top.Nodes {
			if CheckNodeName(n.Name) != nil || checkListen(n.Listen) != nil || n.PublicURL == "" {
				t.Fatalf("valid topology with node %+v", n)
			}
			if got, ok := top.Node(n.Name); !ok || got != n {
				t.Fatalf("Node(%q) does not find it", n.Name)
			}
			for _, s := range n.Streams {
				if CheckStreamName(s.Name) != nil || s.SourceTimeout <= 0 ||
					s.SegmentDuration.D() < MinSegmentDuration || s.SegmentDuration.D() > MaxSegmentDuration {
					t.Fatalf("valid topology with stream %+v", s)
				}
				for _, raw := range s.Inputs {
					if _, err := top.Input(raw); err != nil {
						t.Fatalf("valid topology with input %q: %v", raw, err)
					}
				}
			}
			for _, src := range n.Sources {
				if !validRemoteDVR(src.RemoteDVR) {
					t.Fatalf("valid topology with remote_dvr %q", src.RemoteDVR)
				}
				if _, err := top.SourceInput(src.URL); err != nil {
					t.Fatalf("valid topology with source %q: %v", src.URL, err)
				}
			}
		}
	})
}

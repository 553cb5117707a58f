package config

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
)

const externalTopo = `cluster_key = "k"
[[node]]
name = "origin"
listen = "127.0.0.1:8080"
config_external = { url = "http://127.0.0.1:9000/streams" }

  [[node.stream]]
  name = "own"
  inputs = ["udp://127.0.0.1:5000"]

  [[node.source]]
  url = "m4f://10.0.0.1:8080"
  only = ["restreamed"]
`

func externalTopology(t testing.TB) *Topology {
	t.Helper()
	topo, err := Parse("/etc/edge/topology.toml", []byte(externalTopo))
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

func TestExternalDefaults(t *testing.T) {
	e := externalTopology(t).Nodes[0].ConfigExternal
	if e == nil || time.Duration(e.Refresh) != DefaultExternalRefresh || time.Duration(e.Timeout) != DefaultExternalTimeout {
		t.Fatalf("config_external = %+v, want the defaults filled", e)
	}
	bad := []struct{ line, want string }{
		{`config_external = { url = "ftp://x/streams" }`, "config_external url"},
		{`config_external = { refresh = "1s" }`, "config_external url"},
		{`config_external = { url = "http://x/s", refresh = "100ms" }`, "refresh must be at least 1s"},
		{`config_external = { url = "http://x/s", refresh = "2s", timeout = "5s" }`, "timeout longer than refresh"},
		{`config_external = { url = "http://x/s", lookup = true }`, "unknown key"},
	}
	for _, tc := range bad {
		_, err := Parse("t.toml", []byte("[[node]]\nname = \"n\"\nlisten = \"127.0.0.1:1\"\n"+tc.line+"\n"))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "t.toml:4:") {
			t.Errorf("%s: error %v, want t.toml:4: ...%s", tc.line, err, tc.want)
		}
	}
}

// jsonBlock returns the first ```json block of a markdown file.
func jsonBlock(t *testing.T, path string) string {
	t.Helper()
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, b, ok := strings.Cut(string(doc), "```json\n")
	if !ok {
		t.Fatalf("%s has no json block", path)
	}
	b, _, _ = strings.Cut(b, "```")
	return b
}

func TestParseExternal(t *testing.T) {
	topo := externalTopology(t)
	example, err := os.ReadFile("../examples/config-backend/streams.json")
	if err != nil {
		t.Fatal(err)
	}
	var byNode map[string]json.RawMessage
	if err := json.Unmarshal(example, &byNode); err != nil {
		t.Fatal(err)
	}
	good := []struct {
		name, body string
		want       []string // stream: first input
	}{
		{"empty", `{"streams":[]}`, nil},
		{"docs example", jsonBlock(t, "../docs/configuration.md"), []string{"cam1: udp://239.1.2.3:1234"}},
		{"examples/config-backend", string(byNode["origin"]), []string{"external: file://sample.ts"}},
		{"sorted", `{"streams":[{"name":"b","inputs":[{"url":"udp://127.0.0.1:2"}]},{"name":"a","inputs":[{"url":"udp://127.0.0.1:1"}]}]}`,
			[]string{"a: udp://127.0.0.1:1", "b: udp://127.0.0.1:2"}},
	}
	for _, tc := range good {
		ss, err := ParseExternal(topo, "origin", []byte(tc.body))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		var got []string
		for _, s := range ss {
			got = append(got, s.Name+": "+s.Inputs[0])
			if s.SegmentDuration == 0 || s.SourceTimeout == 0 {
				t.Errorf("%s: stream %s has no defaults: %+v", tc.name, s.Name, s)
			}
		}
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("%s: streams %q, want %q", tc.name, got, tc.want)
		}
	}
	ss, _ := ParseExternal(topo, "origin", []byte(jsonBlock(t, "../docs/configuration.md")))
	if d := ss[0].DVR; d == nil || d.Root != "/var/lib/edge" || time.Duration(d.Depth) != 72*time.Hour || time.Duration(ss[0].SegmentDuration) != 2*time.Second {
		t.Errorf("docs example: %+v dvr %+v", ss[0], d)
	}

	bad := []struct{ name, body, want string }{
		{"not json", `<html>`, "answer is not"},
		{"no streams key", `{}`, `no "streams" list`},
		{"unknown field", `{"streams":[{"name":"a","inputs":[{"url":"udp://127.0.0.1:1"}],"transcoder":{}}]}`, "unknown field"},
		{"trailing data", `{"streams":[]} {}`, "after its JSON"},
		{"no inputs", `{"streams":[{"name":"a","inputs":[]}]}`, `stream #1 "a" has no inputs`},
		{"bad input", `{"streams":[{"name":"a","inputs":[{"url":"udp://127.0.0.1:1"}]},{"name":"b","inputs":[{"url":"rtmp://x"}]}]}`, `stream #2 "b"`},
		{"bad name", `{"streams":[{"name":"a/b","inputs":[{"url":"udp://127.0.0.1:1"}]}]}`, `stream #1 "a/b"`},
		{"bad duration", `{"streams":[{"name":"a","inputs":[{"url":"udp://127.0.0.1:1"}],"segment_duration":"30s"}]}`, `stream #1 "a"`},
		{"duplicate", `{"streams":[{"name":"a","inputs":[{"url":"udp://127.0.0.1:1"}]},{"name":"a","inputs":[{"url":"udp://127.0.0.1:2"}]}]}`, `stream #2 "a"`},
		{"file stream", `{"streams":[{"name":"own","inputs":[{"url":"udp://127.0.0.1:1"}]}]}`, "already a stream of the topology file"},
		{"source stream", `{"streams":[{"name":"restreamed","inputs":[{"url":"udp://127.0.0.1:1"}]}]}`, "already a stream of the topology file"},
		{"escape in name", `{"streams":[{"name":"a\u0000","inputs":[{"url":"udp://127.0.0.1:1"}]}]}`, "config_external"},
	}
	for _, tc := range bad {
		ss, err := ParseExternal(topo, "origin", []byte(tc.body))
		if err == nil || !strings.Contains(err.Error(), tc.want) || ss != nil {
			t.Errorf("%s: %d streams, error %v; want none and %q", tc.name, len(ss), err, tc.want)
		}
	}
}

// FuzzParseExternal: any answer is refused or gives valid streams, and
// never panics.
func FuzzParseExternal(f *testing.F) {
	f.Add(`{"streams":[]}`)
	f.Add(`{"streams":[{"name":"cam1","inputs":[{"url":"udp://239.1.2.3:1234"}],"segment_duration":"2s","dvr":{"root":"/var/lib/edge","depth":"3d"}}]}`)
	f.Add(`{"streams":[{"name":"a","inputs":[{"url":"m4f://10.0.0.2:80/a?remote_dvr=chain"}],"dvr":{"root":"x\"\n]"}}]}`)
	f.Add(`{"streams":[{"name":"a\"\n[[node]]","inputs":[{"url":"udp://1.2.3.4:5"}]}]}`)
	topo := externalTopology(f)
	f.Fuzz(func(t *testing.T, body string) {
		ss, err := ParseExternal(topo, "origin", []byte(body))
		if err != nil {
			if ss != nil {
				t.Fatalf("streams with an error")
			}
			return
		}
		names := map[string]bool{"own": true, "restreamed": true}
		for _, s := range ss {
			if names[s.Name] {
				t.Fatalf("stream %q twice or shadows the file", s.Name)
			}
			names[s.Name] = true
			if len(s.Inputs) == 0 || s.ClusterIngest != nil || s.Cache != nil {
				t.Fatalf("stream %+v is not a plain stream with inputs", s)
			}
		}
	})
}

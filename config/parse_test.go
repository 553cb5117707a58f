package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// node is a valid node header for building cases.
const okNode = `
[[node]]
name = "a"
listen = "127.0.0.1:8080"
`

func mustParse(t *testing.T, src string) *Topology {
	t.Helper()
	top, err := Parse("t.toml", []byte(src))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return top
}

func errorLines(err error) []string {
	if err == nil {
		return nil
	}
	return strings.Split(err.Error(), "\n")
}

// parseCases are topologies and the exact errors they give; EXE stands for
// the path of an existing file that is not executable. FuzzParse seeds from
// them too.
var parseCases = []struct {
	name string
	src  string
	want []string
}{
	{"syntax", "[[node]]\nname = \"a\"\nlisten = \n", []string{
		`t.toml:3: syntax error: expected value but found '\n' instead`}},
	{"syntax unterminated", "cluster_key = \"abc\n", []string{
		`t.toml:1: syntax error: strings cannot contain newlines`}},
	{"no nodes", "cluster_key = \"k\"\n", []string{
		`t.toml:1: no [[node]]: a topology needs at least one node`}},
	{"unknown top key", "clusterkey = \"k\"\n" + okNode, []string{
		`t.toml:1: unknown key "clusterkey" (did you mean "cluster_key"?)`}},
	{"unknown node key", okNode + "lissen = \"x\"\n", []string{
		`t.toml:5: unknown key "node.lissen" (did you mean "listen"?)`}},
	{"unknown key in inline table", okNode + `
  [[node.stream]]
  name = "s"
  inputs = ["udp://:1234"]
  dvr = { root = "/d", dept = "3d" }
`, []string{`t.toml:9: unknown key "node.stream.dvr.dept" (did you mean "depth"?)`}},
	{"unknown table", okNode + "[node.extra]\nx = 1\n", []string{
		`t.toml:5: unknown key "node.extra"`}},
	{"wrong type", okNode + "public_url = 8080\n", []string{
		`t.toml:5: node.public_url: want a string, got an integer`}},
	{"wrong type table", "plugins = \"builtin\"\n" + okNode, []string{
		`t.toml:1: plugins: want a table, got a string`}},
	{"bad duration", okNode + `
  [[node.stream]]
  name = "s"
  inputs = ["udp://:1234"]
  source_timeout = "10 seconds"
`, []string{`t.toml:9: node.stream.source_timeout: bad duration "10 seconds": use Go syntax ("90s", "12h") or days ("3d")`}},
	{"negative duration", okNode + `
  [[node.stream]]
  name = "s"
  inputs = ["udp://:1234"]
  dvr = { root = "/d", depth = "-3d" }
`, []string{`t.toml:9: node.stream.dvr.depth: negative duration "-3d"`}},
	{"integer duration", "cluster_key = \"k\"\n[cluster]\npeers = [\"a\"]\nfetch_timeout = 1\n" + okNode, []string{
		`t.toml:4: cluster.fetch_timeout: want a duration string like "10s" or "3d", got an integer`}},
	{"bad size", okNode + `
  [[node.source]]
  url = "m4f://a"
  cache = { root = "/c", max_size = "500GB" }
`, []string{`t.toml:8: node.source.cache.max_size: bad size "500GB": use bytes (1048576) or an integer with K, M, G or T ("500G")`}},
	{"negative size", okNode + `
  [[node.source]]
  url = "m4f://a"
  cache = { root = "/c", max_size = -1 }
`, []string{`t.toml:8: node.source.cache.max_size: negative size -1`}},
	{"replicate from udp", okNode + `
  [[node.stream]]
  name = "s"
  inputs = ["udp://:1234"]
  dvr = { root = "/d", replicate = true }
`, []string{`t.toml:9: node "a" stream "s": dvr: replicate needs an m4f:// input to copy from`}},
	{"replication keys without replicate", okNode + `
  [[node.stream]]
  name = "s"
  inputs = ["m4f://10.0.0.1:80/s"]
  dvr = { root = "/d", replication_port = 8002, replication_speed = "1M" }
`, []string{
		`t.toml:9: node "a" stream "s": dvr: replication_port needs replicate = true`,
		`t.toml:9: node "a" stream "s": dvr: replication_speed needs replicate = true`}},
	{"replication port not the node's", okNode + "replication_listen = \"127.0.0.1:8002\"\n" + `
[[node]]
name = "b"
listen = "127.0.0.1:8081"
  [[node.stream]]
  name = "s"
  inputs = ["m4f://a/s"]
  dvr = { root = "/d", replicate = true, replication_port = 8003 }
  [[node.source]]
  url = "m4f://a"
  dvr = { root = "/e", replicate = true, replication_port = 8002 }
`, []string{`t.toml:13: node "b" stream "s": dvr: replication_port 8003 is not the port of node "a"'s replication_listen 127.0.0.1:8002`}},
	{"replication port without listener", okNode + `
[[node]]
name = "b"
listen = "127.0.0.1:8081"
  [[node.source]]
  url = "m4f://a"
  dvr = { root = "/e", replicate = true, replication_port = 8002 }
`, []string{`t.toml:11: node "b" source: dvr: replication_port 8002: node "a" has no replication_listen`}},
	{"duplicate node", okNode + "[[node]]\nname = \"a\"\nlisten = \"127.0.0.1:8081\"\n", []string{
		`t.toml:6: node "a": duplicate node name (first at line 3)`}},
	{"bad node name", "[[node]]\nname = \"a.b\"\nlisten = \"127.0.0.1:8080\"\n", []string{
		`t.toml:2: node: node name "a.b" has character '.'; use letters, digits, '_' and '-'`}},
	{"missing name and listen", "[[node]]\npublic_url = \"http://x\"\n", []string{
		`t.toml:1: node: missing name`,
		`t.toml:1: node: missing listen`}},
	{"bad listen", "[[node]]\nname = \"a\"\nlisten = \"8080\"\n", []string{
		`t.toml:3: node "a": listen: bad address "8080": want HOST:PORT`}},
	{"bad listen port", "[[node]]\nname = \"a\"\nlisten = \"127.0.0.1:99999\"\n", []string{
		`t.toml:3: node "a": listen: bad address "127.0.0.1:99999": port must be 1 to 65535`}},
	{"same listen", okNode + "[[node]]\nname = \"b\"\nlisten = \"127.0.0.1:8080\"\n", []string{
		`t.toml:7: node "b": listen 127.0.0.1:8080 is already used by node "a" (line 4)`}},
	{"wildcard listen clash", okNode + "[[node]]\nname = \"b\"\nlisten = \":8081\"\nreplication_listen = \"0.0.0.0:8080\"\n", []string{
		`t.toml:8: node "b": replication_listen 0.0.0.0:8080 is already used by node "a" (line 4)`}},
	{"bad public url", okNode + "public_url = \"127.0.0.1:8080\"\n", []string{
		`t.toml:5: node "a": public_url "127.0.0.1:8080": want http://HOST[:PORT] or https://...`}},
	{"duplicate stream", okNode + `
  [[node.stream]]
  name = "s"
  inputs = ["udp://:1234"]
  [[node.stream]]
  name = "s"
  inputs = ["udp://:1235"]
`, []string{`t.toml:10: node "a" stream "s": duplicate stream name (first at line 7)`}},
	{"same stream name on two nodes is fine", okNode + `
  [[node.stream]]
  name = "s"
  inputs = ["udp://:1234"]
[[node]]
name = "b"
listen = "127.0.0.1:8081"
  [[node.stream]]
  name = "s"
  inputs = ["udp://:1234"]
`, nil},
	{"bad stream name", okNode + `
  [[node.stream]]
  name = "../etc"
  inputs = ["udp://:1234"]
`, []string{`t.toml:7: node "a" stream: stream name "../etc" starts with '.'`}},
	{"unknown scheme", okNode + `
  [[node.stream]]
  name = "s"
  inputs = ["rtmp://host/app"]
`, []string{`t.toml:8: node "a" stream "s": input "rtmp://host/app": unknown scheme "rtmp"; want udp, file or m4f`}},
	{"bad udp url", okNode + `
  [[node.stream]]
  name = "s"
  inputs = [
    "udp://239.1.2.3:1234",
    "udp://239.1.2.3",
    "udp://239.1.2.3:1234?ifce=eth0",
  ]
`, []string{
		`t.toml:10: node "a" stream "s": input "udp://239.1.2.3": missing port`,
		`t.toml:11: node "a" stream "s": input "udp://239.1.2.3:1234": unknown parameter "ifce"; udp takes iface, source and program`}},
	{"unknown node", okNode + `
  [[node.stream]]
  name = "s"
  inputs = ["m4f://nowhere/s", "m4f://elsewhere:8080/s"]
`, []string{`t.toml:8: node "a" stream "s": unknown node "nowhere" in m4f://nowhere/s: name a node of this file or give host:port`}},
	{"bad remote_dvr in input", okNode + `
  [[node.stream]]
  name = "s"
  inputs = ["m4f://a/t?remote_dvr=always"]
`, []string{`t.toml:8: node "a" stream "s": input "m4f://a/t": bad remote_dvr; want chain, nochain or none`}},
	{"segment duration range", okNode + `
  [[node.stream]]
  name = "s"
  inputs = ["udp://:1234"]
  segment_duration = "500ms"
  [[node.stream]]
  name = "t"
  inputs = ["udp://:1234"]
  segment_duration = "16s"
`, []string{
		`t.toml:9: node "a" stream "s": segment_duration 500ms is outside 1s..15s`,
		`t.toml:13: node "a" stream "t": segment_duration 16s is outside 1s..15s`}},
	{"stream without inputs or source", okNode + `
  [[node.stream]]
  name = "s"
  [[node.source]]
  url = "m4f://b:8080"
  only = ["t"]
`, []string{`t.toml:6: node "a" stream "s": no inputs and no [[node.source]] restreams it`}},
	{"stream fed by source", okNode + `
  [[node.stream]]
  name = "s"
  dvr = { root = "/d", depth = "3d" }
  [[node.source]]
  url = "m4f://b:8080"
  except = ["t"]
`, nil},
	{"cluster_ingest without cluster", okNode + `
  [[node.stream]]
  name = "s"
  inputs = ["udp://:1234"]
  cluster_ingest = { capture_at = "a" }
`, []string{`t.toml:9: node "a" stream "s": cluster_ingest needs a [cluster] section`}},
	{"capture_at not a peer", "cluster_key = \"k\"\n[cluster]\npeers = [\"a\"]\n" + okNode + `
  [[node.stream]]
  name = "s"
  inputs = ["udp://:1234"]
  cluster_ingest = { capture_at = "b" }
`, []string{`t.toml:12: node "a" stream "s": capture_at "b" is not one of the [cluster] peers`}},
	{"unknown peer", "cluster_key = \"k\"\n[cluster]\npeers = [\"a\", \"zz\", \"10.0.0.1:80\", \"a\"]\n" + okNode, []string{
		`t.toml:3: cluster: unknown node "zz" in peers: name a node of this file`,
		`t.toml:3: cluster: peer "10.0.0.1:80": peers outside this file (host:port) are not supported yet; name a node of this file`,
		`t.toml:3: cluster: duplicate peer "a"`}},
	{"cluster stream clashes with a peer's stream", "cluster_key = \"k\"\n[cluster]\npeers = [\"a\"]\n  [[cluster.stream]]\n  name = \"s\"\n  inputs = [\"udp://:1234\"]\n" + okNode + `
  [[node.stream]]
  name = "s"
  inputs = ["udp://:1234"]
`, []string{`t.toml:5: cluster stream "s": peer "a" also has a [[node.stream]] of that name (line 12)`}},
	{"cluster stream without inputs", "cluster_key = \"k\"\n[cluster]\npeers = [\"a\"]\n  [[cluster.stream]]\n  name = \"s\"\n  cluster_ingest = { capture_at = \"b\" }\n" + okNode,
		[]string{`t.toml:4: cluster stream "s": no inputs`, `t.toml:6: cluster stream "s": capture_at "b" is not one of the [cluster] peers`}},
	{"peers disagree on capture_at", "cluster_key = \"k\"\n[cluster]\npeers = [\"a\", \"b\"]\n" + okNode + `
  [[node.stream]]
  name = "s"
  inputs = ["udp://:1234"]
  cluster_ingest = { capture_at = "a" }

[[node]]
name = "b"
listen = "127.0.0.1:8081"
  [[node.stream]]
  name = "s"
  inputs = ["udp://:1234"]
  cluster_ingest = {}
`, []string{`t.toml:20: node "b" stream "s": capture_at "" differs from node "a"'s "a" (line 12): peers must agree`}},
	{"cluster without cluster_key", "[cluster]\npeers = [\"a\"]\n" + okNode, []string{`t.toml:1: cluster: needs cluster_key: peers poll each other with signed calls`}},
	{"cluster_ingest off the peers", "cluster_key = \"k\"\n[cluster]\npeers = [\"b\"]\n" + okNode + `
  [[node.stream]]
  name = "s"
  inputs = ["udp://:1234"]
  cluster_ingest = {}

[[node]]
name = "b"
listen = "127.0.0.1:8081"
`, []string{`t.toml:12: node "a" stream "s": cluster_ingest on a node that is not one of the [cluster] peers`}},
	{"viewer_limit off the peers", okNode + "viewer_limit = 5\n", []string{
		`t.toml:5: node "a": viewer_limit needs the node to be one of the [cluster] peers (viewers go to peers whose load it polls)`}},
	{"negative viewer_limit", "cluster_key = \"k\"\n[cluster]\npeers = [\"a\"]\n" + okNode + "viewer_limit = -1\n", []string{
		`t.toml:8: node "a": viewer_limit -1: want a positive number of viewers, or 0 for none`}},
	{"viewer_limit as a string", okNode + "viewer_limit = \"5\"\n", []string{"t.toml:5: node.viewer_limit: want an integer, got a string"}},
	{"plugins", "[plugins]\ndvrstore = \"/nonexistent/plugin\"\nbalancer = \"EXE\"\nudp = \"builtin\"\n" + okNode, []string{
		`t.toml:2: plugins.dvrstore: "/nonexistent/plugin" is neither "builtin" nor an existing executable`,
		`t.toml:3: plugins.balancer: "EXE" is not an executable file`}},
	{"only and except", okNode + `
  [[node.source]]
  url = "m4f://b:8080"
  only = ["x"]
  except = ["y"]
`, []string{`t.toml:9: node "a" source: only and except exclude each other; set one`}},
	{"bad source url", okNode + `
  [[node.source]]
  url = "m4f://b:8080/stream"
  [[node.source]]
  url = "udp://239.0.0.1:1234"
  [[node.source]]
  url = "m4f://nowhere"
`, []string{
		`t.toml:7: node "a" source: source url "m4f://b:8080/stream": takes no stream path; use only/except`,
		`t.toml:9: node "a" source: source url "udp://239.0.0.1:1234": unknown scheme "udp"; want m4f`,
		`t.toml:11: node "a" source: unknown node "nowhere" in m4f://nowhere: name a node of this file or give host:port`}},
	{"bad remote_dvr", okNode + `
  [[node.source]]
  url = "m4f://b:8080"
  remote_dvr = "yes"
`, []string{`t.toml:8: node "a" source: bad remote_dvr "yes"; want chain, nochain or none`}},
	{"dvr and cache without root", okNode + `
  [[node.source]]
  url = "m4f://b:8080"
  dvr = { depth = "3d" }
  cache = { misses = -1, root = "/c" }
`, []string{
		`t.toml:8: node "a" source: dvr: missing root`,
		`t.toml:9: node "a" source: cache: misses -1 is negative`}},
	{"inline array of node tables", `node = [
  { name = "a", listen = "127.0.0.1:8080" },
  { name = "b", listen = "127.0.0.1:8080", bad = 1 },
]
`, []string{
		`t.toml:3: unknown key "node.bad"`,
		`t.toml:3: node "b": listen 127.0.0.1:8080 is already used by node "a" (line 2)`}},
	{"dotted keys and multiline strings", `cluster_key = """
secret
"""
[[node]]
name = "a"
listen = "127.0.0.1:8080"
  [[node.stream]]
  name = "s"
  inputs = ["udp://:1234"]
  dvr.root = "/d"
  dvr.depht = "1d"
`, []string{`t.toml:11: unknown key "node.stream.dvr.depht" (did you mean "depth"?)`}},
	{"sub-table headers and quoted keys", `[[node]]
"name" = "a"
'listen' = "127.0.0.1:8080"
  [[node.stream]]
  name = "s"
  inputs = ["udp://:1234"]
  [node.stream.dvr]
  root = "/d"
  "max size" = "1G"
  [[node.stream]]
  name = "t"
  inputs = ["m4f://a/s"]
  [node.stream.cache]
  root = "/c"
  misses = "2"
`, []string{
		`t.toml:9: unknown key "node.stream.dvr.\"max size\"" (did you mean "max_size"?)`,
		`t.toml:15: node.stream.cache.misses: want an integer, got a string`}},
}

func TestParseErrors(t *testing.T) {
	exe := filepath.Join(t.TempDir(), "notexec")
	if err := os.WriteFile(exe, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range parseCases {
		t.Run(tc.name, func(t *testing.T) {
			top, err := Parse("t.toml", []byte(strings.ReplaceAll(tc.src, "EXE", exe)))
			var want []string
			for _, w := range tc.want {
				want = append(want, strings.ReplaceAll(w, "EXE", exe))
			}
			got := errorLines(err)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if err != nil {
				var es Errors
				if top != nil || !errors.As(err, &es) || len(es) != len(tc.want) {
					t.Fatalf("Parse returned %v, %T; want nil topology and Errors", top, err)
				}
			}
		})
	}
}

func TestParseCollectsEveryError(t *testing.T) {
	src := `cluster_key = "k"
bogus = 1

[[node]]
name = "a"
listen = "127.0.0.1:8080"
  [[node.stream]]
  name = "s"
  inputs = ["udp://239.1.2.3:1234", "m4f://b/s?remote_dvr=chain"]
  dvr = { root = "dvr", depth = "3x", max_size = "500G", replicate = true, bogus = 1 }
  segment_duration = "20s"
  [[node.stream]]
  name = "s"
  inputs = ["rtmp://x", "m4f://nowhere/x"]

[[node]]
name = "b"
listen = "127.0.0.1:8080"
  [[node.source]]
  url = "m4f://a"
  only = ["x"]
  except = ["y"]
`
	_, err := Parse("multi.toml", []byte(src))
	want := []string{
		`multi.toml:2: unknown key "bogus"`,
		`multi.toml:10: node.stream.dvr.depth: bad duration "3x": use Go syntax ("90s", "12h") or days ("3d")`,
		`multi.toml:10: unknown key "node.stream.dvr.bogus"`,
		`multi.toml:11: node "a" stream "s": segment_duration 20s is outside 1s..15s`,
		`multi.toml:13: node "a" stream "s": duplicate stream name (first at line 8)`,
		`multi.toml:14: node "a" stream "s": input "rtmp://x": unknown scheme "rtmp"; want udp, file or m4f`,
		`multi.toml:14: node "a" stream "s": unknown node "nowhere" in m4f://nowhere/x: name a node of this file or give host:port`,
		`multi.toml:18: node "b": listen 127.0.0.1:8080 is already used by node "a" (line 6)`,
		`multi.toml:22: node "b" source: only and except exclude each other; set one`,
	}
	if got := errorLines(err); !reflect.DeepEqual(got, want) {
		t.Fatalf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestDefaults(t *testing.T) {
	top := mustParse(t, `
cluster_key = "k"
[cluster]
peers = ["a"]

[[node]]
name = "a"
listen = "127.0.0.1:8080"
  [[node.stream]]
  name = "s"
  inputs = ["udp://:1234", "m4f://b/s"]
  cache = { root = "cache" }
  dvr = { root = "/var/dvr" }

[[node]]
name = "b"
listen = "127.0.0.1:8081"
public_url = "https://edge.example.com"
  [[node.source]]
  url = "m4f://a"
  cache = { root = "/c", misses = 3 }
`)
	abs, _ := filepath.Abs("cache")
	a, _ := top.Node("a")
	b, _ := top.Node("b")
	s := a.Streams[0]
	for _, c := range []struct {
		what      string
		got, want any
	}{
		{"fetch_timeout", top.Cluster.FetchTimeout.D(), time.Second},
		{"stale_timeout", top.Cluster.StaleTimeout.D(), 3 * time.Second},
		{"plugins", top.Plugins, Plugins{UDP: Builtin, M4F: Builtin, DVRStore: Builtin, Balancer: Builtin}},
		{"public_url", a.PublicURL, "http://127.0.0.1:8080"},
		{"public_url set", b.PublicURL, "https://edge.example.com"},
		{"source_timeout", s.SourceTimeout.D(), 10 * time.Second},
		{"segment_duration", s.SegmentDuration.D(), 3 * time.Second},
		{"stream cache misses", s.Cache.Misses, 1},
		{"cache root", s.Cache.Root, abs},
		{"dvr root", s.DVR.Root, "/var/dvr"},
		{"remote_dvr", b.Sources[0].RemoteDVR, "nochain"},
		{"idle_timeout", b.Sources[0].IdleTimeout.D().String(), "30s"},
		{"source cache misses", b.Sources[0].Cache.Misses, 3},
		{"stream line", s.Line, 9},
		{"source line", b.Sources[0].Line, 19},
		{"node line", b.Line, 15},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
	if _, ok := top.Node("zz"); ok {
		t.Errorf("Node(zz) found")
	}
	if w := top.Warnings(); len(w) != 0 {
		t.Errorf("warnings: %v", w)
	}
}

func TestResolveAgainstFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "topo.toml")
	src := `
[[node]]
name = "origin"
listen = "0.0.0.0:8080"
  [[node.stream]]
  name = "s"
  inputs = ["file://sample.ts", "file:///abs/x.ts", "m4f://edge/t", "m4f://origin:9000/t"]
  dvr = { root = "data/dvr" }
[[node]]
name = "edge"
listen = "127.0.0.2:8081"
  [[node.source]]
  url = "m4f://origin"
`
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	top, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	o, _ := top.Node("origin")
	if got, want := o.Streams[0].DVR.Root, filepath.Join(dir, "data/dvr"); got != want {
		t.Errorf("dvr root = %q, want %q", got, want)
	}
	for _, c := range []struct{ raw, path, addr string }{
		{"file://sample.ts", filepath.Join(dir, "sample.ts"), ""},
		{"file:///abs/x.ts", "/abs/x.ts", ""},
		{"m4f://edge/t", "", "127.0.0.2:8081"},
		{"m4f://origin:9000/t", "", "origin:9000"},
	} {
		in, err := top.Input(c.raw)
		if err != nil {
			t.Fatalf("Input(%q): %v", c.raw, err)
		}
		if in.Path != c.path || (c.addr != "" && in.Addr() != c.addr) {
			t.Errorf("Input(%q) = path %q addr %q, want %q %q", c.raw, in.Path, in.Addr(), c.path, c.addr)
		}
	}
	src2, err := top.SourceInput("m4f://origin")
	if err != nil || src2.Addr() != "127.0.0.1:8080" {
		t.Errorf("SourceInput(m4f://origin) = %q, %v; want 127.0.0.1:8080 (wildcard listen dialled on loopback)", src2.Addr(), err)
	}
	if _, err := Load(filepath.Join(dir, "missing.toml")); err == nil {
		t.Errorf("Load of a missing file succeeded")
	}
}

func TestPluginExecutable(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "store"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "t.toml")
	if err := os.WriteFile(path, []byte("[plugins]\ndvrstore = \"store\"\n"+okNode+
		"  [[node.stream]]\n  name = \"s\"\n  inputs = [\"udp://:1234\"]\n  dvr = { root = \"d\" }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	top, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := top.Plugins.DVRStore, filepath.Join(dir, "store"); got != want {
		t.Errorf("dvrstore = %q, want %q", got, want)
	}
}

func TestClusterStreamsGoToEveryPeer(t *testing.T) {
	top := mustParse(t, `
cluster_key = "k"
[cluster]
peers = ["a", "b"]
  [[cluster.stream]]
  name = "cam"
  inputs = ["udp://:1234"]
  dvr = { root = "/var/dvr" }
  cluster_ingest = { capture_at = "b" }

  [[cluster.stream]]
  name = "cam2"
  inputs = ["file://s3.ts"]
  cache = { root = "/c/" }
  dvr = { root = "/var/dvr2" }

[[node]]
name = "a"
listen = "127.0.0.1:8080"

[[node]]
name = "b"
listen = "127.0.0.1:8081"

[[node]]
name = "viewer"
listen = "127.0.0.1:8082"
`)
	for _, tc := range []struct {
		node, dvr, cache string
	}{{"a", "/var/dvr/a", "/c/a"}, {"b", "/var/dvr/b", "/c/b"}} {
		n, _ := top.Node(tc.node)
		cam, ok1 := n.Stream("cam")
		cam2, ok2 := n.Stream("cam2")
		if !ok1 || !ok2 {
			t.Fatalf("node %s: streams %v, want cam and cam2", tc.node, n.Streams)
		}
		if !cam.Group || cam.ClusterIngest == nil || cam.ClusterIngest.CaptureAt != "b" || cam2.ClusterIngest == nil || cam2.ClusterIngest.CaptureAt != "" {
			t.Errorf("node %s: cluster_ingest %+v %+v, group %v", tc.node, cam.ClusterIngest, cam2.ClusterIngest, cam.Group)
		}
		if cam.DVR.Root != tc.dvr || cam2.Cache.Root != tc.cache {
			t.Errorf("node %s: dvr root %q cache root %q, want %q %q", tc.node, cam.DVR.Root, cam2.Cache.Root, tc.dvr, tc.cache)
		}
		if cam.SegmentDuration.D() != DefaultSegmentDuration {
			t.Errorf("node %s: segment_duration %v, want the default", tc.node, cam.SegmentDuration.D())
		}
	}
	if v, _ := top.Node("viewer"); len(v.Streams) != 0 {
		t.Errorf("a node outside the peers got %d streams", len(v.Streams))
	}
	if a, _ := top.Node("a"); a.Streams[0] == top.Cluster.Streams[0] {
		t.Error("peers share the group's stream instead of a copy")
	}
}

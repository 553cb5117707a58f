package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestKeysWithoutEffectRefused checks that edge check refuses the keys the
// rest of the file makes meaningless, and accepts the same keys where they
// act.
func TestKeysWithoutEffectRefused(t *testing.T) {
	const head = "cluster_key = \"k\"\n[cluster]\npeers = [\"a\"]\n\n[[node]]\nname = \"a\"\nlisten = \"127.0.0.1:8080\"\n"
	for _, tc := range []struct {
		name, body string
		want       []string // nil: valid
	}{
		{"segment_duration on udp", `
  [[node.stream]]
  name = "s"
  inputs = ["udp://:1234"]
  segment_duration = "2s"
`, nil},
		{"segment_duration on m4f only", `
  [[node.stream]]
  name = "s"
  inputs = ["m4f://10.0.0.1:8080/s"]
  segment_duration = "2s"
`, []string{`t.toml:12: node "a" stream "s": segment_duration has no effect: the stream has no udp:// or file:// input to cut, and m4f:// inputs keep the source's segments`}},
		{"segment_duration on m4f that replicates", `
  [[node.stream]]
  name = "s"
  inputs = ["m4f://10.0.0.1:8080/s"]
  segment_duration = "2s"
  dvr = { root = "/d", replicate = true }
`, nil},
		{"segment_duration on m4f then file", `
  [[node.stream]]
  name = "s"
  inputs = ["m4f://10.0.0.1:8080/s", "file:///x.ts"]
  segment_duration = "2s"
`, nil},
		{"segment_duration without inputs", `
  [[node.source]]
  url = "m4f://10.0.0.1:8080"
  [[node.stream]]
  name = "s"
  segment_duration = "2s"
  dvr = { root = "/d" }
`, []string{`t.toml:13: node "a" stream "s": segment_duration has no effect on a stream without inputs: its segments come as the [[node.source]] that restreams it cut them`}},
		{"cache on udp", `
  [[node.stream]]
  name = "s"
  inputs = ["udp://:1234"]
  dvr = { root = "/d" }
  cache = { root = "/c" }
`, []string{`t.toml:13: node "a" stream "s": cache has no effect: the stream fetches no archive (it has no m4f:// input, no s3:// dvr, and is not a recorded cluster_ingest stream)`}},
		{"cache on udp with m4f fallback", `
  [[node.stream]]
  name = "s"
  inputs = ["udp://:1234", "m4f://10.0.0.1:8080/s"]
  cache = { root = "/c" }
`, nil},
		{"cache on recorded cluster_ingest", `
  [[node.stream]]
  name = "s"
  inputs = ["udp://:1234"]
  dvr = { root = "/d" }
  cache = { root = "/c" }
  cluster_ingest = {}
`, nil},
		{"cache on cluster_ingest without dvr", `
  [[node.stream]]
  name = "s"
  inputs = ["udp://:1234"]
  cache = { root = "/c" }
  cluster_ingest = {}
`, []string{`t.toml:12: node "a" stream "s": cache has no effect: the stream fetches no archive (it has no m4f:// input, no s3:// dvr, and is not a recorded cluster_ingest stream)`}},
		{"cache on s3 dvr", `
  [[node.stream]]
  name = "s"
  inputs = ["udp://:1234"]
  dvr = { root = "s3://bucket/p" }
  cache = { root = "/c" }
`, nil},
		{"cache on a stream set by a source", `
  [[node.source]]
  url = "m4f://10.0.0.1:8080"
  [[node.stream]]
  name = "s"
  cache = { root = "/c" }
`, nil},
		{"cluster_ingest without inputs", `
  [[node.source]]
  url = "m4f://10.0.0.1:8080"
  [[node.stream]]
  name = "s"
  cluster_ingest = {}
`, []string{`t.toml:13: node "a" stream "s": cluster_ingest needs inputs to capture: a stream without inputs is the one a [[node.source]] restreams`}},
		{"idle_timeout without dvr", `
  [[node.source]]
  url = "m4f://10.0.0.1:8080"
  idle_timeout = "1m"
`, nil},
		{"idle_timeout with dvr", `
  [[node.source]]
  url = "m4f://10.0.0.1:8080"
  idle_timeout = "1m"
  dvr = { root = "/d" }
`, []string{`t.toml:11: node "a" source: idle_timeout has no effect with a dvr: streams that record are pulled all the time`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("t.toml", []byte(head+tc.body))
			if got := errorLines(err); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// TestNotBuiltRefused checks the notBuilt mechanism on keys of every kind
// of place (top level, a table, an array of tables, an inline table): a key
// listed there is an edge check error naming the key and the feature.
func TestNotBuiltRefused(t *testing.T) {
	saved := notBuilt
	t.Cleanup(func() { notBuilt = saved })
	for _, path := range []string{"cluster_key", "cluster.fetch_timeout", "node.viewer_limit", "node.stream.dvr.depth", "node.source.only", "node.stream.cluster_ingest"} {
		notBuilt = map[string]string{path: "the feature under test"}
		checkRefused(t, path, "the feature under test")
	}
}

// checkRefused sets the key at path in a topology and checks that Parse
// refuses it with an error that names the key and the feature.
func checkRefused(t *testing.T, path, feature string) {
	t.Helper()
	src, ok := keyTOML(path)
	if !ok {
		t.Errorf("key %s: cannot write a topology that sets it", path)
		return
	}
	_, err := Parse("t.toml", []byte(src))
	want := path + ": " + feature + " is not built yet"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("key %s, feature %s: Parse of\n%s\n= %v; want an error with %q", path, feature, src, err, want)
	}
}

// keyTOML writes a topology that sets the key at path to a value of its
// type; only the key matters, not whether the rest is valid.
func keyTOML(path string) (string, bool) {
	var keys []decoderKey
	for _, k := range decoderKeys() {
		if k.path == path || strings.HasPrefix(path, k.path+".") {
			keys = append(keys, k) // the key and the tables above it, shortest first
		}
	}
	if len(keys) == 0 || keys[len(keys)-1].path != path {
		return "", false
	}
	var b strings.Builder
	table := "" // the [[array]] header written last
	for _, k := range keys {
		if k.kind.Kind() == reflect.Slice && k.kind.Elem().Kind() == reflect.Pointer {
			b.WriteString("[[" + k.path + "]]\n")
			table = k.path
		}
	}
	last := keys[len(keys)-1]
	if last.path == table {
		return b.String(), true
	}
	rel := strings.TrimPrefix(path, table+".")
	if table == "" {
		rel = path
	}
	var v string
	switch last.kind {
	case durationType:
		v = `"1s"`
	case sizeType:
		v = "1"
	default:
		switch last.kind.Kind() {
		case reflect.String:
			v = `"x"`
		case reflect.Int, reflect.Int64:
			v = "1"
		case reflect.Bool:
			v = "true"
		case reflect.Slice:
			v = `["x"]`
		case reflect.Pointer, reflect.Struct:
			v = "{}"
		default:
			return "", false
		}
	}
	if table == "" {
		// Top-level keys must precede every table header.
		return rel + " = " + v + "\n" + b.String(), true
	}
	return b.String() + rel + " = " + v + "\n", true
}

// TestPluginWithoutUseRefused checks that a [plugins] executable for a kind
// that no node runs is refused, and accepted where a node runs it.
func TestPluginWithoutUseRefused(t *testing.T) {
	exe := filepath.Join(t.TempDir(), "plugin")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	node := "\n[[node]]\nname = \"a\"\nlisten = \"127.0.0.1:8080\"\n"
	udpStream := "  [[node.stream]]\n  name = \"s\"\n  inputs = [\"udp://:1234\"]\n"
	for _, tc := range []struct {
		name, src, want string // want: "" for valid
	}{
		{"udp used", "[plugins]\nudp = \"EXE\"\n" + node + udpStream, ""},
		{"udp unused", "[plugins]\nudp = \"EXE\"\n" + node + "  [[node.source]]\n  url = \"m4f://10.0.0.1:80\"\n",
			`t.toml:2: plugins.udp: no node of the file captures a udp:// or file:// input or has config_external, so "EXE" would never run`},
		{"m4f used by a source", "[plugins]\nm4f = \"EXE\"\n" + node + "  [[node.source]]\n  url = \"m4f://10.0.0.1:80\"\n", ""},
		{"m4f unused", "[plugins]\nm4f = \"EXE\"\n" + node + udpStream,
			`t.toml:2: plugins.m4f: no node of the file pulls over M4F (an m4f:// input or a [[node.source]]) or has config_external, so "EXE" would never run`},
		{"dvrstore used", "[plugins]\ndvrstore = \"EXE\"\n" + node + udpStream + "  dvr = { root = \"/d\" }\n", ""},
		{"dvrstore unused", "[plugins]\ndvrstore = \"EXE\"\n" + node + udpStream,
			`t.toml:2: plugins.dvrstore: no node of the file records (a dvr) or has config_external, so "EXE" would never run`},
		{"dvrstore with config_external", "[plugins]\ndvrstore = \"EXE\"\n" + node + "config_external = { url = \"http://127.0.0.1:9000/\" }\n", ""},
		{"balancer used by viewer_limit", "cluster_key = \"k\"\n[cluster]\npeers = [\"a\"]\n[plugins]\nbalancer = \"EXE\"\n" + node + "viewer_limit = 10\n", ""},
		{"balancer without cluster", "[plugins]\nbalancer = \"EXE\"\n" + node + udpStream,
			`t.toml:2: plugins.balancer: no node of the file is a [cluster] peer with cluster_ingest streams or a viewer_limit, so "EXE" would never run`},
		{"builtin always", "[plugins]\nbalancer = \"builtin\"\nm4f = \"builtin\"\n" + node + udpStream, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("t.toml", []byte(strings.ReplaceAll(tc.src, "EXE", exe)))
			var want []string
			if tc.want != "" {
				want = []string{strings.ReplaceAll(tc.want, "EXE", exe)}
			}
			if got := errorLines(err); !reflect.DeepEqual(got, want) {
				t.Fatalf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

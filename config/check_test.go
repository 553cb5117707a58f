package config

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestChainLoopWarnings(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  string
		want []string
	}{
		{"two nodes by source", `
[[node]]
name = "a"
listen = "127.0.0.1:8080"
  [[node.source]]
  url = "m4f://b"
  remote_dvr = "chain"
[[node]]
name = "b"
listen = "127.0.0.1:8081"
  [[node.source]]
  url = "m4f://a"
  remote_dvr = "chain"
`, []string{`t.toml:7: warning: remote_dvr chain loop: a -> b -> a`}},
		{"three nodes mixing inputs and host:port", `
[[node]]
name = "a"
listen = "127.0.0.1:8080"
  [[node.stream]]
  name = "s"
  inputs = ["udp://:1234", "m4f://b/s?remote_dvr=chain"]
[[node]]
name = "b"
listen = "127.0.0.1:8081"
  [[node.source]]
  url = "m4f://127.0.0.1:8082"
  remote_dvr = "chain"
[[node]]
name = "c"
listen = "127.0.0.1:8082"
  [[node.source]]
  url = "m4f://a"
  remote_dvr = "chain"
`, []string{`t.toml:7: warning: remote_dvr chain loop: a -> b -> c -> a`}},
		{"self loop", `
[[node]]
name = "a"
listen = "127.0.0.1:8080"
  [[node.stream]]
  name = "s"
  inputs = ["m4f://a/t?remote_dvr=chain"]
`, []string{`t.toml:7: warning: remote_dvr chain loop: a -> a`}},
		{"nochain breaks the loop", `
[[node]]
name = "a"
listen = "127.0.0.1:8080"
  [[node.source]]
  url = "m4f://b"
  remote_dvr = "chain"
[[node]]
name = "b"
listen = "127.0.0.1:8081"
  [[node.source]]
  url = "m4f://a"
`, nil},
		{"two separate loops", `
[[node]]
name = "a"
listen = "127.0.0.1:8080"
  [[node.source]]
  url = "m4f://b"
  remote_dvr = "chain"
[[node]]
name = "b"
listen = "127.0.0.1:8081"
  [[node.source]]
  url = "m4f://a"
  remote_dvr = "chain"
[[node]]
name = "c"
listen = "127.0.0.1:8082"
  [[node.source]]
  url = "m4f://d"
  remote_dvr = "chain"
[[node]]
name = "d"
listen = "127.0.0.1:8083"
  [[node.source]]
  url = "m4f://c"
  remote_dvr = "chain"
`, []string{
			`t.toml:7: warning: remote_dvr chain loop: a -> b -> a`,
			`t.toml:19: warning: remote_dvr chain loop: c -> d -> c`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			top := mustParse(t, tc.src)
			var got []string
			for _, w := range top.Warnings() {
				got = append(got, w.Error())
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.toml", okNode)
	loop := write("loop.toml", okNode+"  [[node.stream]]\n  name = \"s\"\n  inputs = [\"m4f://a/s?remote_dvr=chain\"]\n")
	bad := write("bad.toml", okNode+"x = 1\ny = 2\n")
	for _, tc := range []struct {
		path string
		code int
		out  string
	}{
		{good, 0, good + ": ok, 1 nodes\n"},
		{loop, 0, loop + ":7: warning: remote_dvr chain loop: a -> a\n" + loop + ": ok, 1 nodes\n"},
		{bad, 1, bad + ":5: unknown key \"node.x\"\n" + bad + ":6: unknown key \"node.y\"\n"},
		{filepath.Join(dir, "none.toml"), 1, filepath.Join(dir, "none.toml") + ": open " + filepath.Join(dir, "none.toml") + ": no such file or directory\n"},
	} {
		var buf bytes.Buffer
		if code := Check(tc.path, &buf); code != tc.code || buf.String() != tc.out {
			t.Errorf("Check(%s) = %d, output:\n%s\nwant %d, output:\n%s", tc.path, code, buf.String(), tc.code, tc.out)
		}
	}
}

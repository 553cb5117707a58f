package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestAccessKeyErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  string
		want []string
	}{
		{"valid", `admin_key = "0123456789abcdef"
[[node]]
name = "a"
listen = "127.0.0.1:8080"
on_play = "http://127.0.0.1:9000/auth?x=1"
on_play_failure = "allow"
metrics_listen = "127.0.0.1:9100"
  [[node.stream]]
  name = "s"
  inputs = ["udp://:1234"]
  on_play = "https://auth.example/play"
`, nil},
		{"short admin key", `admin_key = "short"` + okNode, []string{`t.toml:1: admin_key is shorter than 16 characters`}},
		{"bad urls and policy", okNode + `on_play = "ftp://x/y"
on_play_failure = "maybe"
metrics_listen = "127.0.0.1:8080"
  [[node.stream]]
  name = "s"
  inputs = ["udp://:1234"]
  on_play = "http://user:pw@h/p"
  [[node.source]]
  url = "m4f://127.0.0.1:9999"
  on_play = "http:///nohost"
`, []string{
			`t.toml:5: node "a": on_play "ftp://x/y": want http:// or https://`,
			`t.toml:6: node "a": bad on_play_failure "maybe"; want deny or allow`,
			`t.toml:7: node "a": metrics_listen 127.0.0.1:8080 collides with its listen 127.0.0.1:8080`,
			`t.toml:11: node "a" stream "s": on_play "http://user:pw@h/p": user info is not allowed; let the backend trust the node by address`,
			`t.toml:14: node "a" source: on_play "http:///nohost": no host`,
		}},
		{"bad metrics_listen", okNode + `metrics_listen = "nope"`, []string{`t.toml:5: node "a": metrics_listen: bad address "nope": want HOST:PORT`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("t.toml", []byte(tc.src))
			if got := errorLines(err); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestOnPlayOf(t *testing.T) {
	top := mustParse(t, `
[[node]]
name = "a"
listen = "127.0.0.1:8080"
on_play = "http://h/node"
  [[node.stream]]
  name = "own"
  inputs = ["udp://:1234"]
  on_play = "http://h/stream"
  [[node.stream]]
  name = "plain"
  inputs = ["udp://:1235"]
  [[node.stream]]
  name = "fromsrc"
  [[node.source]]
  url = "m4f://127.0.0.1:9999"
  only = ["fromsrc", "other"]
  on_play = "http://h/source"
  [[node.source]]
  url = "m4f://127.0.0.1:9998"
  only = ["third"]
`)
	n := top.Nodes[0]
	if n.OnPlayFailure != OnPlayDeny {
		t.Errorf("on_play_failure default %q, want deny", n.OnPlayFailure)
	}
	for name, want := range map[string]string{
		"own":     "http://h/stream",
		"plain":   "http://h/node",
		"fromsrc": "http://h/source",
		"other":   "http://h/source",
		"third":   "http://h/node",
		"unknown": "http://h/node",
	} {
		if got := n.OnPlayOf(name); got != want {
			t.Errorf("OnPlayOf(%q) = %q, want %q", name, got, want)
		}
	}
}

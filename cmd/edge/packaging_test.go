package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// unitCommands returns the command lines of key (ExecStart, ...) in the
// systemd unit, with the binary dropped and the instance name filled in.
func unitCommands(t *testing.T, unit, key, instance string) [][]string {
	t.Helper()
	var out [][]string
	for _, l := range strings.Split(unit, "\n") {
		v, ok := strings.CutPrefix(l, key+"=")
		if !ok {
			continue
		}
		f := strings.Fields(strings.ReplaceAll(v, "%i", instance))
		if len(f) == 0 || f[0] != "/usr/local/bin/edge" {
			t.Fatalf("%s=%s does not run /usr/local/bin/edge", key, v)
		}
		out = append(out, f[1:])
	}
	return out
}

// swapFile replaces /etc/edge/topology.toml in args with path.
func swapFile(args []string, path string) []string {
	out := append([]string(nil), args...)
	for i, a := range out {
		if a == "/etc/edge/topology.toml" {
			out[i] = path
		}
	}
	return out
}

// TestPackaging runs the command lines of the systemd unit and of the
// Dockerfile through the CLI: they parse, name a real node, and the
// Dockerfile builds with the Go of go.mod.
func TestPackaging(t *testing.T) {
	unit, err := os.ReadFile("../../packaging/edge@.service")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	topo := filepath.Join(dir, "topology.toml")
	if err := os.WriteFile(topo, []byte("[[node]]\nname = \"origin\"\nlisten = \"127.0.0.1:1\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.toml")
	pre := unitCommands(t, string(unit), "ExecStartPre", "origin")
	if len(pre) != 1 {
		t.Fatalf("ExecStartPre lines: %v", pre)
	}
	var stdout, stderr bytes.Buffer
	if code := run(swapFile(pre[0], topo), &stdout, &stderr); code != 0 {
		t.Errorf("ExecStartPre %v: exit %d: %s", pre[0], code, stderr.String())
	}
	// ExecStart and the image's CMD: with a missing file they fail on the
	// file (1), not on their arguments (2).
	var docker struct{ cmd []string }
	df, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(df), "\n") {
		if v, ok := strings.CutPrefix(l, "CMD "); ok {
			if err := json.Unmarshal([]byte(v), &docker.cmd); err != nil {
				t.Fatalf("Dockerfile CMD %s: %v", v, err)
			}
		}
	}
	starts := unitCommands(t, string(unit), "ExecStart", "origin")
	if len(starts) != 1 || docker.cmd == nil {
		t.Fatalf("ExecStart %v, Dockerfile CMD %v", starts, docker.cmd)
	}
	for _, args := range [][]string{starts[0], docker.cmd} {
		stderr.Reset()
		if code := run(swapFile(args, missing), &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "missing.toml") {
			t.Errorf("edge %v: exit %d %q, want 1 about the missing file", args, code, stderr.String())
		}
	}
	if !strings.Contains(string(unit), "ExecReload=/bin/kill -HUP $MAINPID") {
		t.Errorf("the unit does not reload with SIGHUP")
	}
	gomod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	goVer := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(gomod)
	if goVer == nil || !strings.Contains(string(df), "FROM golang:"+string(goVer[1])+"-") {
		t.Errorf("Dockerfile does not build with the Go of go.mod (%s)", goVer)
	}
}

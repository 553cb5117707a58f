package config

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const examplesDir = "../examples/topologies"

// TestExamplesLoad loads every shipped topology: none may have an error or a
// warning.
func TestExamplesLoad(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(examplesDir, "*.toml"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"quickstart.toml": false, "origin-cache-edge.toml": false, "replication.toml": false,
		"cross-replication.toml": false, "cluster-ingest.toml": false}
	for _, f := range files {
		want[filepath.Base(f)] = true
		top, err := Load(f)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if w := top.Warnings(); len(w) > 0 {
			t.Errorf("%s: warnings: %v", f, w)
		}
	}
	for name, found := range want {
		if !found {
			t.Errorf("example %s is missing", name)
		}
	}
}

// TestQuickstartStatesDefaults checks that every line of the quickstart
// marked "# the default" holds the value the code uses by default.
func TestQuickstartStatesDefaults(t *testing.T) {
	path := filepath.Join(examplesDir, "quickstart.toml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defaults := map[string]string{
		"source_timeout":   strconv.Quote(Duration(DefaultSourceTimeout).String()),
		"segment_duration": strconv.Quote(Duration(DefaultSegmentDuration).String()),
		"remote_dvr":       strconv.Quote(DefaultRemoteDVR),
		"misses":           strconv.Itoa(DefaultCacheMisses),
		"fetch_timeout":    strconv.Quote(Duration(DefaultFetchTimeout).String()),
		"stale_timeout":    strconv.Quote(Duration(DefaultStaleTimeout).String()),
		"idle_timeout":     strconv.Quote(Duration(DefaultIdleTimeout).String()),
	}
	marked := 0
	for i, line := range strings.Split(string(data), "\n") {
		code, comment, ok := strings.Cut(line, "#")
		if !ok || strings.TrimSpace(comment) != "the default" {
			continue
		}
		marked++
		key, value, ok := strings.Cut(code, "=")
		key = strings.TrimSpace(key)
		key = key[strings.LastIndex(key, ".")+1:]
		want, known := defaults[key]
		if !ok || !known {
			t.Errorf("%s:%d: %q is marked as a default the test does not know", path, i+1, strings.TrimSpace(code))
			continue
		}
		if got := strings.TrimSpace(value); got != want {
			t.Errorf("%s:%d: %s = %s, but the code's default is %s", path, i+1, key, got, want)
		}
	}
	if marked < 3 {
		t.Errorf("%s: only %d lines marked \"# the default\"", path, marked)
	}
	// The values also decode to what setDefaults would fill.
	top, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	origin, _ := top.Node("origin")
	s, _ := origin.Stream("sample")
	if s.SourceTimeout.D() != DefaultSourceTimeout || s.SegmentDuration.D() != DefaultSegmentDuration {
		t.Errorf("sample: source_timeout %v segment_duration %v", s.SourceTimeout.D(), s.SegmentDuration.D())
	}
	// Absolute, whatever the working directory: the udp plugin takes
	// file:///ABSOLUTE/PATH only.
	abs, _ := filepath.Abs(filepath.Join(examplesDir, "sample.ts"))
	in, err := top.Input(s.Inputs[0])
	if err != nil || in.Path != abs {
		t.Errorf("sample input resolves to %q, %v", in.Path, err)
	}
}

// TestDocsExamplesParse parses every TOML block of docs/configuration.md
// that holds a [[node]]: such blocks are whole files and must be valid.
func TestDocsExamplesParse(t *testing.T) {
	doc, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := strings.Split(string(doc), "```toml\n")
	n := 0
	for _, b := range blocks[1:] {
		b, _, _ = strings.Cut(b, "```")
		if !strings.Contains(b, "[[node]]") || !strings.Contains(b, "listen") {
			continue
		}
		n++
		if _, err := Parse("configuration.md", []byte(b)); err != nil {
			t.Errorf("docs example:\n%s\n%v", b, err)
		}
	}
	if n == 0 {
		t.Errorf("no whole-file example found in docs/configuration.md")
	}
}

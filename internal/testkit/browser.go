package testkit

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// PlayOptions say how Play plays a URL.
type PlayOptions struct {
	// Seek, when > 0, seeks the video to this many seconds into the
	// playlist's timeline once it is loaded.
	Seek float64
	// Advance is how many seconds of playback Play waits for (default 4).
	Advance float64
	// Timeout bounds the whole play (default 60 s).
	Timeout time.Duration
	// Screenshot, when set, is a PNG file to write at the end.
	Screenshot string
}

// HLSError is an error hls.js reported.
type HLSError struct {
	Type    string `json:"type"`
	Details string `json:"details"`
	Fatal   bool   `json:"fatal"`
	Reason  string `json:"reason"`
	URL     string `json:"url"`
}

// PlayResult is what happened in the browser (see internal/browser/play.mjs).
type PlayResult struct {
	OK       bool       `json:"ok"` // currentTime advanced by Advance
	Error    string     `json:"error"`
	Start    *float64   `json:"start"` // currentTime when playback was seen running
	End      *float64   `json:"end"`   // currentTime at the last sample
	Width    int        `json:"width"` // videoWidth
	Height   int        `json:"height"`
	Fatal    *HLSError  `json:"fatal"`
	Errors   []HLSError `json:"errors"`
	Console  []string   `json:"console"` // console errors and uncaught exceptions of the page
	Live     *bool      `json:"live"`
	Duration *float64   `json:"duration"`
}

// browserDir is internal/browser of this repository.
func browserDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "browser")
}

// NeedBrowser fails the test with a clear message when Chromium, Node.js
// or the npm packages of internal/browser are missing.
func NeedBrowser(t testing.TB) {
	t.Helper()
	Need(t, "node")
	if _, err := exec.LookPath("chromium"); err != nil {
		t.Fatal("chromium not found in PATH: install it (apt-get install -y chromium); scripts/test.sh does")
	}
	for _, pkg := range []string{"hls.js", "playwright-core"} {
		if _, err := os.Stat(filepath.Join(browserDir(), "node_modules", pkg)); err != nil {
			t.Fatalf("npm package %s missing: run `npm ci` in internal/browser (scripts/test.sh does)", pkg)
		}
	}
}

// Play plays an HLS URL with hls.js in headless Chromium, from a page of
// another origin (so every request is a CORS request), and returns what
// happened. It fails the test only when the browser client itself cannot
// run; the caller asserts on the result.
func Play(t testing.TB, url string, o PlayOptions) PlayResult {
	t.Helper()
	NeedBrowser(t)
	if o.Advance <= 0 {
		o.Advance = 4
	}
	if o.Timeout <= 0 {
		o.Timeout = 60 * time.Second
	}
	args := []string{"play.mjs", "--url", url, "--advance", strconv.FormatFloat(o.Advance, 'f', -1, 64),
		"--timeout", strconv.Itoa(int(o.Timeout.Seconds()))}
	if o.Seek > 0 {
		args = append(args, "--seek", strconv.FormatFloat(o.Seek, 'f', -1, 64))
	}
	if o.Screenshot != "" {
		args = append(args, "--screenshot", o.Screenshot)
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.Timeout+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", args...)
	cmd.Dir = browserDir()
	out, err := cmd.Output()
	if err != nil && len(out) == 0 {
		t.Fatalf("browser client for %s: %v\n%s", url, err, exitStderr(err))
	}
	var r PlayResult
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("browser client for %s: bad output %q: %v", url, out, err)
	}
	return r
}

// String sums up a result for a failure message.
func (r PlayResult) String() string {
	f := func(p *float64) string {
		if p == nil {
			return "-"
		}
		return strconv.FormatFloat(*p, 'f', 2, 64)
	}
	return fmt.Sprintf("ok=%v error=%q currentTime %s->%s picture %dx%d fatal=%+v errors=%+v console=%q",
		r.OK, r.Error, f(r.Start), f(r.End), r.Width, r.Height, r.Fatal, r.Errors, r.Console)
}

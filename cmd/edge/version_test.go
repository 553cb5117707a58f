package main

import (
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/edgedvr/edge/internal/testkit"
)

// TestVersion runs the built binary: its build information names the Go
// that built it and the dependency versions go.mod pins.
func TestVersion(t *testing.T) {
	out, err := exec.Command(testkit.Edge(t), "version").Output()
	if err != nil {
		t.Fatalf("edge version: %v", err)
	}
	gomod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if !regexp.MustCompile(`^edge \S+$`).MatchString(lines[0]) {
		t.Errorf("first line %q, want edge VERSION", lines[0])
	}
	want := []string{"go        " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH, "module    github.com/edgedvr/edge"}
	for _, dep := range []string{"github.com/valyala/fasthttp", "github.com/Eyevinn/mp4ff", "github.com/asticode/go-astits"} {
		m := regexp.MustCompile(regexp.QuoteMeta(dep) + ` (v\S+)`).FindStringSubmatch(string(gomod))
		if m == nil {
			t.Fatalf("go.mod does not require %s", dep)
		}
		want = append(want, "dep       "+dep+" "+m[1])
	}
	for _, w := range want {
		if !strings.Contains(string(out), w+"\n") {
			t.Errorf("edge version lacks %q:\n%s", w, out)
		}
	}
}

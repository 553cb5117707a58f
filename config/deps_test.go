package config

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies checks that config/ stays the bottom layer (DESIGN.md:
// dependencies point down): it imports no other package of edge but its own
// subpackages, so nothing of sdk/, go-plugin or gRPC; and the input URL
// parser and the name check that plugins share import only the standard
// library (and each other).
func TestDependencies(t *testing.T) {
	const module = "github.com/edgedvr/edge/"
	for _, tc := range []struct {
		pkg     string
		allowed func(dep string) bool
	}{
		{"./", func(dep string) bool {
			return !strings.Contains(dep, ".") || dep == "github.com/BurntSushi/toml" ||
				strings.HasPrefix(dep, "github.com/BurntSushi/toml/") || strings.HasPrefix(dep, module+"config/")
		}},
		{"./inputurl", func(dep string) bool { return !strings.Contains(dep, ".") || dep == module+"config/names" }},
		{"./names", func(dep string) bool { return !strings.Contains(dep, ".") }},
	} {
		out, err := exec.Command("go", "list", "-deps", tc.pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", tc.pkg, err)
		}
		deps := strings.Fields(string(out))
		if len(deps) < 2 {
			t.Fatalf("go list -deps %s listed %q", tc.pkg, deps)
		}
		self := deps[len(deps)-1] // go list -deps prints the package itself last
		for _, dep := range deps {
			if dep == self || strings.HasPrefix(dep, "vendor/") || strings.HasPrefix(dep, "internal/") {
				continue
			}
			if !tc.allowed(dep) {
				t.Errorf("%s imports %s", self, dep)
			}
		}
	}
}

// TestGoModTidy checks that go.mod and go.sum are tidy: every module the
// code imports is required, as a direct dependency when edge imports it
// itself, and nothing else is.
func TestGoModTidy(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go mod tidy")
	}
	cmd := exec.Command("go", "mod", "tidy", "-diff")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
		t.Fatalf("go mod tidy -diff: %v\n%s", err, out)
	}
}

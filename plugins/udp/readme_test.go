package udp

import (
	"os"
	"strings"
	"testing"
)

// TestReadmeExamples parses every input URL of README.md's Examples so the
// docs cannot rot.
func TestReadmeExamples(t *testing.T) {
	data, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(data), "## Examples")
	if !ok {
		t.Fatal("README.md has no Examples section")
	}
	rest, _, _ = strings.Cut(rest, "\n## ")
	n := 0
	for _, line := range strings.Split(rest, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "udp://") && !strings.HasPrefix(line, "file://") {
			continue
		}
		n++
		if _, err := ParseURL(line); err != nil {
			t.Errorf("README example %q: %v", line, err)
		}
	}
	if n == 0 {
		t.Fatal("README.md Examples hold no input URL")
	}
}

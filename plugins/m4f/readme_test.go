package m4f

import (
	"os"
	"regexp"
	"testing"
)

// TestReadmeExamples parses every example URL of the README.
func TestReadmeExamples(t *testing.T) {
	doc, err := os.ReadFile("README.md")
	must(t, err)
	examples := regexp.MustCompile("(?m)^m4f://\\S+$").FindAllString(string(doc), -1)
	if len(examples) < 3 {
		t.Fatalf("README has %d example URLs, want 3", len(examples))
	}
	for _, u := range examples {
		if u == "m4f://HOST:PORT/STREAM[?remote_dvr=chain|nochain|none]" {
			continue // the syntax line
		}
		if _, err := ParseURL(u); err != nil {
			t.Errorf("README example %s: %v", u, err)
		}
	}
}

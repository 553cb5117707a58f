package s3store

import (
	"os"
	"regexp"
	"testing"
)

// TestReadmeExamples parses every example root of the README.
func TestReadmeExamples(t *testing.T) {
	doc, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	examples := regexp.MustCompile("(?m)^s3://\\S+$").FindAllString(string(doc), -1)
	if len(examples) < 3 {
		t.Fatalf("README has %d example roots, want 3", len(examples))
	}
	for _, r := range examples {
		if _, err := ParseRoot(r); err != nil {
			t.Errorf("README example %s: %v", r, err)
		}
	}
}

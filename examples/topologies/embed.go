// Package topologies holds the example topology files and embeds the quickstart one, with its sample stream, into the edge binary.
package topologies

import (
	"embed"
	"fmt"
	"os"
	"path/filepath"
)

//go:embed quickstart.toml sample.ts
var quickstart embed.FS

// Quickstart is the file name of the embedded default topology.
const Quickstart = "quickstart.toml"

// WriteQuickstart writes the embedded quickstart topology and its sample
// stream into dir (created if needed), leaving files that exist alone so an
// archive recorded there survives, and returns the topology's path.
func WriteQuickstart(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("quickstart: %w", err)
	}
	for _, name := range []string{Quickstart, "sample.ts"} {
		data, err := quickstart.ReadFile(name)
		if err != nil {
			return "", fmt.Errorf("quickstart: %w", err)
		}
		path := filepath.Join(dir, name)
		if old, err := os.ReadFile(path); err == nil && string(old) == string(data) {
			continue
		}
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, data, 0o644); err != nil {
			return "", fmt.Errorf("quickstart: %w", err)
		}
		if err := os.Rename(tmp, path); err != nil {
			return "", fmt.Errorf("quickstart: %w", err)
		}
	}
	return filepath.Join(dir, Quickstart), nil
}

package main

import (
	"os"
	"runtime/debug"
)

// defaultGCPercent is the GOGC that edge processes (the node and its
// plugin processes) run with unless the GOGC environment variable says
// otherwise. Their live heap is small (a segment or two per stream on its
// way through) but turns over fast, so Go's default of 100, which lets the
// heap grow to twice the live heap between collections, mostly holds
// garbage segments. 50 keeps the resident size closer to what is live for
// more collector CPU (measured with bench/ingest-sbs.sh, K=1 and 4 streams:
// GOGC 100 / 50 / 25 gave a peak RSS sum of 131 / 116 / 106 MB and 202 /
// 161 / 185 MB, and 1.38 / 1.93 / 2.58 and 1.00 / 1.44 / 1.62 CPU s per
// stream-minute, on a loaded machine). A node's environment overrides it for the
// node and its plugins alike (GOGC=100 restores Go's default), and
// GOMEMLIMIT works as in any Go program.
const defaultGCPercent = 50

// setGCDefaults applies defaultGCPercent when GOGC is not set.
func setGCDefaults() {
	if _, ok := os.LookupEnv("GOGC"); ok {
		return
	}
	debug.SetGCPercent(defaultGCPercent)
}

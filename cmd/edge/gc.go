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
// garbage segments; 25 keeps the resident size close to what is live for
// a little more collector CPU. A node's environment overrides it for the
// node and its plugins alike (GOGC=100 restores Go's default), and
// GOMEMLIMIT works as in any Go program.
const defaultGCPercent = 25

// setGCDefaults applies defaultGCPercent when GOGC is not set.
func setGCDefaults() {
	if _, ok := os.LookupEnv("GOGC"); ok {
		return
	}
	debug.SetGCPercent(defaultGCPercent)
}

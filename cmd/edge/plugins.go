package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"sort"
	"strings"

	"github.com/edgedvr/edge/plugins/balancer"
	"github.com/edgedvr/edge/plugins/dvrstore"
	"github.com/edgedvr/edge/plugins/m4f"
	"github.com/edgedvr/edge/plugins/s3store"
	"github.com/edgedvr/edge/plugins/storemux"
	"github.com/edgedvr/edge/plugins/udp"
	"github.com/edgedvr/edge/sdk"
)

// builtins is the one table of built-in plugins: what `edge plugin NAME`
// serves. No package registers itself.
var builtins = map[string]func(log *slog.Logger) sdk.ServeConfig{
	"udp": func(log *slog.Logger) sdk.ServeConfig {
		return sdk.ServeConfig{Ingest: udp.New(log), Logger: log}
	},
	"m4f": func(log *slog.Logger) sdk.ServeConfig {
		return sdk.ServeConfig{Ingest: m4f.New(log), Logger: log}
	},
	"dvrstore": func(log *slog.Logger) sdk.ServeConfig {
		// One process serves both archive kinds: a stream's root picks
		// the local-disk store or the S3 store.
		// Neither store keeps a segment's bytes past the write call.
		return sdk.ServeConfig{Store: storemux.New(dvrstore.New(log), s3store.New(log)), Logger: log, ReuseSegmentData: true}
	},
	"balancer": func(log *slog.Logger) sdk.ServeConfig {
		return sdk.ServeConfig{Balancer: balancer.New(log), Logger: log}
	},
}

// gcPercent is the collector's GOGC for a built-in plugin whose heap is
// mostly long-lived buffers it reuses, when the environment sets no GOGC
// (a GOGC there applies to the node and every plugin alike). The udp
// plugin's live heap is its streams' segment buffers (about 3 MB a stream
// at 4 Mbit/s) and it makes little garbage, so Go's default of 100 let its
// heap grow to twice those buffers between collections for nothing; at 25
// the collector runs more often over a heap that is mostly pointer-free
// bytes, which it does not scan. bench/ingest-sbs.sh (SERVERS=edge
// KS="4 16" WINDOW=30): the plugin's peak went from 50-54 to 42 MB at 4
// streams and from 102-106 to 86-89 MB at 16, its CPU from 1.69-1.82 to
// 1.71-1.75 s. The node and the store plugin make more garbage per byte
// they hold (each segment passes through them once), and a lower GOGC
// there cost 80% more of the node's CPU for 10-35 MB, so they keep 100.
var gcPercent = map[string]int{"udp": 25}

// setGCPercent applies gcPercent for plugin name unless GOGC is set.
func setGCPercent(name string) {
	if p, ok := gcPercent[name]; ok && os.Getenv("GOGC") == "" {
		debug.SetGCPercent(p)
	}
}

func builtinNames() string {
	names := make([]string, 0, len(builtins))
	for n := range builtins {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func cmdPlugin(args []string, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintf(stderr, "usage: edge plugin NAME (one of: %s)\n", builtinNames())
		return 2
	}
	mk, ok := builtins[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "edge plugin: unknown plugin %q (built-in: %s)\n", args[0], builtinNames())
		return 2
	}
	setGCPercent(args[0])
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel()})).With("plugin", args[0])
	sdk.Serve(mk(log))
	return 0
}

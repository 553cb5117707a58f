package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
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
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel()})).With("plugin", args[0])
	sdk.Serve(mk(log))
	return 0
}

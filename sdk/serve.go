package sdk

import (
	"errors"
	"io"
	"log/slog"
	"os"

	"github.com/hashicorp/go-plugin"
)

// ServeConfig is what a plugin executable serves. Set the implementation of
// the kind the plugin provides; setting several serves each.
type ServeConfig struct {
	// Ingest is served to a host that asks for an ingest plugin.
	Ingest Ingest
	// Store is served to a host that asks for a dvrstore plugin.
	Store Store
	// Balancer is served to a host that asks for a balancer plugin.
	Balancer Balancer
	// Logger receives the plugin's own messages about serving. By default,
	// NewLogger(os.Stderr, slog.LevelInfo), which Serve also installs as
	// slog's default so that slog.Info and friends reach the host.
	Logger *slog.Logger
	// ReuseSegmentData (since SDK 1.4.0) promises that Store never keeps
	// a segment's Data, nor reads it, once WriteSegment or WriteSegments
	// has returned (it writes the bytes out during the call, or copies
	// them). The SDK then receives each write into a buffer it reuses for
	// later writes (since SDK 1.5.1 a memory mapping outside the Go heap,
	// whose pages go back to the system once few writes are in flight),
	// so that storing a segment allocates nothing the size of the
	// segment. Bytes read after the call has returned may be another
	// write's or zeros. Without it, each write's bytes are the Store's to
	// keep.
	ReuseSegmentData bool
}

// Serve runs the plugin side of the protocol: it answers the handshake and
// serves cfg's implementations over gRPC until the host ends the session.
// Then, optionally (since SDK 1.1.0): each implementation that is also an
// io.Closer is closed, and Serve returns what Close returned (nil for
// implementations without Close). A host that is killed ends the plugin
// with it (no Close then): a plugin must never need Close for its data to
// be safe. It is the whole body of a plugin executable's main
// (`edge plugin NAME` calls it for the built-in plugins). Started by hand,
// without the host's handshake cookie, it prints a notice and exits with
// status 1.
//
// Anything the plugin writes to os.Stdout or os.Stderr after Serve starts
// is forwarded to the host's log; log through the Logger (or slog's
// default) to keep levels and attributes.
func Serve(cfg ServeConfig) error {
	return serve(cfg, Handshake)
}

func serve(cfg ServeConfig, hs plugin.HandshakeConfig) error {
	if cfg.Ingest == nil && cfg.Store == nil && cfg.Balancer == nil {
		return errors.New("sdk serve: none of Ingest, Store and Balancer is set")
	}
	logger := cfg.Logger
	if logger == nil {
		logger = NewLogger(os.Stderr, slog.LevelInfo)
		slog.SetDefault(logger)
	}
	plugins := plugin.PluginSet{}
	if cfg.Ingest != nil {
		plugins[KindIngest] = &grpcPlugin{kind: KindIngest, ingest: cfg.Ingest}
	}
	if cfg.Store != nil {
		plugins[KindDVRStore] = &grpcPlugin{kind: KindDVRStore, store: cfg.Store}
	}
	if cfg.Balancer != nil {
		plugins[KindBalancer] = &grpcPlugin{kind: KindBalancer, balancer: cfg.Balancer}
	}
	hcl := newHCLogAdapter(logger)
	hcl.internal = false
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: hs,
		Plugins:         plugins,
		GRPCServer:      newGRPCServer(codec{reuse: cfg.ReuseSegmentData}),
		Logger:          hcl,
	})
	return closeServed(cfg, logger)
}

// closeServed closes each implementation that is an io.Closer, once
// (an implementation served as several kinds is closed once).
func closeServed(cfg ServeConfig, logger *slog.Logger) error {
	var errs []error
	seen := map[io.Closer]bool{}
	for _, impl := range []any{cfg.Ingest, cfg.Store, cfg.Balancer} {
		c, ok := impl.(io.Closer)
		if !ok || seen[c] {
			continue
		}
		seen[c] = true
		if err := c.Close(); err != nil {
			logger.Error("plugin close failed", "error", err)
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

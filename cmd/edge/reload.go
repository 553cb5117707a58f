package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/edgedvr/edge/cluster"
	"github.com/edgedvr/edge/config"
	"github.com/edgedvr/edge/node"
	"github.com/edgedvr/edge/proxy"
)

// reloader changes a running node's streams: from its topology file
// again (SIGHUP, the signed POST /api/v1/reload) and from the last good
// answer of its config_external backend. Every change goes through
// node.Reload with the file's streams and the backend's merged.
type reloader struct {
	path, node string
	n          *node.Node
	archives   *archives
	log        *slog.Logger
	// onApply, when set, is told each topology a reload applied (the
	// server's viewer and admin policy follows it).
	onApply func(*config.Topology, *config.Node)

	mu       sync.Mutex       // serialises changes; guards the fields below
	topo     *config.Topology // the file as last applied
	nc       *config.Node     // its node
	external []*config.Stream // the backend's last good streams
}

// reload reads the file again and swaps in its streams. An invalid file,
// or a change that needs a restart, changes nothing: the error wraps
// proxy.ErrReloadInvalid and says why.
func (r *reloader) reload(ctx context.Context) (node.ReloadResult, error) {
	topo, err := config.Load(r.path)
	if err != nil {
		return node.ReloadResult{}, fmt.Errorf("%w: %v", proxy.ErrReloadInvalid, err)
	}
	nc, ok := topo.Node(r.node)
	if !ok {
		return node.ReloadResult{}, fmt.Errorf("%w: %s has no node %q", proxy.ErrReloadInvalid, r.path, r.node)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.applyLocked(ctx, topo, nc, r.external)
}

// setExternal swaps in a new list of backend streams.
func (r *reloader) setExternal(ctx context.Context, streams []*config.Stream) (node.ReloadResult, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.applyLocked(ctx, r.topo, r.nc, streams)
}

// applyLocked runs node.Reload with nc's streams and the external ones
// that the file does not define itself, and remembers what it applied.
func (r *reloader) applyLocked(ctx context.Context, topo *config.Topology, nc *config.Node, external []*config.Stream) (node.ReloadResult, error) {
	merged := *nc
	merged.Streams = append([]*config.Stream(nil), nc.Streams...)
	own := map[string]bool{}
	for _, s := range nc.Streams {
		own[s.Name] = true
	}
	for _, s := range external {
		if own[s.Name] {
			r.log.Warn("config_external stream has the name of a stream of the file, file's kept", "stream", s.Name)
			continue
		}
		merged.Streams = append(merged.Streams, s)
	}
	res, err := r.n.Reload(ctx, topo, &merged)
	if errors.Is(err, node.ErrReloadRefused) {
		return res, fmt.Errorf("%w: %v", proxy.ErrReloadInvalid, err)
	}
	if err != nil {
		return res, err
	}
	r.topo, r.nc, r.external = topo, nc, external
	if r.onApply != nil {
		r.onApply(topo, nc)
	}
	for _, l := range [][]string{res.Started, res.Restarted, res.Stopped} {
		for _, name := range l {
			r.archives.forget(name)
		}
	}
	return res, nil
}

// logged runs reload and logs its outcome.
func (r *reloader) logged(ctx context.Context, trigger string) (node.ReloadResult, error) {
	res, err := r.reload(ctx)
	if err != nil {
		r.log.Error("reload changed nothing", "trigger", trigger, "file", r.path, "error", err)
		return res, err
	}
	r.log.Info("reloaded", "trigger", trigger, "file", r.path, "kept", res.Kept, "started", res.Started,
		"restarted", res.Restarted, "stopped", res.Stopped)
	return res, nil
}

// api is proxy.Config.Reload.
func (r *reloader) api(ctx context.Context) (any, error) { return r.logged(ctx, "api") }

// notifySIGHUP catches SIGHUP from now on (its default action ends the
// process): call it before the node answers anything.
func notifySIGHUP() (<-chan os.Signal, func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	return hup, func() { signal.Stop(hup) }
}

// onSIGHUP reloads on each signal of hup until ctx ends.
func (r *reloader) onSIGHUP(ctx context.Context, hup <-chan os.Signal) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			rctx, cancel := context.WithTimeout(ctx, stopTimeout)
			_, _ = r.logged(rctx, "SIGHUP")
			cancel()
		}
	}
}

// forget drops the archive lookup built for a stream that a reload
// replaced or removed.
func (a *archives) forget(name string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.byName, name)
}

// cmdReload asks a running node to reload its topology file: a POST to
// /api/v1/reload on the node's listen address, signed with FILE's
// cluster_key.
func cmdReload(args []string, stdout, stderr io.Writer) int {
	topo, nc, code := loadNode("reload", args, stderr)
	if nc == nil {
		return code
	}
	if topo.ClusterKey == "" {
		fmt.Fprintln(stderr, "edge reload: the file has no cluster_key to sign the call with; send SIGHUP to the node instead")
		return 1
	}
	req, err := http.NewRequest(http.MethodPost, "http://"+nc.Listen+proxy.ReloadPath, nil)
	if err != nil {
		fmt.Fprintln(stderr, "edge reload:", err)
		return 1
	}
	cluster.Signer{Node: "edge-reload", Key: topo.ClusterKey}.SignRequest(req)
	c := http.Client{Timeout: 40 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		fmt.Fprintln(stderr, "edge reload:", err)
		return 1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "edge reload: node %s answered %s: %s", nc.Name, resp.Status, body)
		return 1
	}
	fmt.Fprintf(stdout, "%s", body)
	return 0
}

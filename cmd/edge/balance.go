package main

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/edgedvr/edge/cluster"
	"github.com/edgedvr/edge/plugins/balancer"
	"github.com/edgedvr/edge/proxy"
	"github.com/edgedvr/edge/sdk"
)

// chooseTimeout bounds the balancer's viewer choice: it runs on a viewer's
// request.
const chooseTimeout = 250 * time.Millisecond

var _ proxy.ViewerBalancer = clusterBackend{}

// ViewerLimit is this node's viewer_limit, 0 for none.
func (b clusterBackend) ViewerLimit() int64 { return b.c.viewerLimits[b.c.self] }

// BalanceViewer sends a new viewer of stream elsewhere when this node has
// viewer_limit viewers or more: to a live peer that serves the stream
// itself (its last poll listed it in serving), as the balancer plugin
// chooses. A balancer without sdk.ViewerChooser (an SDK 1.1.0 plugin) gets
// the built-in rule applied by the host; a balancer that fails, or names
// no candidate, leaves the viewer here.
func (b clusterBackend) BalanceViewer(stream string, watchers int64) (string, bool) {
	limit := b.c.viewerLimits[b.c.self]
	if limit <= 0 || watchers < limit {
		return "", false
	}
	var cands []sdk.ViewerPeer
	urls := map[string]string{}
	for _, p := range b.c.peers.Others() {
		if p.Alive && p.State.Serves(stream) && p.State.PublicURL != "" {
			cands = append(cands, b.c.viewerPeer(p.Name, p.State.Load))
			urls[p.Name] = strings.TrimRight(p.State.PublicURL, "/")
		}
	}
	if len(cands) == 0 {
		return "", false
	}
	// This node's own load is gathered only when a peer may take the viewer.
	self := b.c.viewerPeer(b.c.self, b.c.state().Load)
	self.Watchers = watchers
	req := sdk.ViewerRequest{Stream: stream, Self: self, Candidates: cands}
	peer, err := b.c.chooseViewerPeer(req)
	if err != nil {
		b.c.log.Warn("viewer balancing failed, serving here", "stream", stream, "error", err)
		return "", false
	}
	url, ok := urls[peer]
	return url, ok
}

// viewerPeer is peer with load, as a balancer sees it.
func (c *clusterNode) viewerPeer(peer string, load cluster.Load) sdk.ViewerPeer {
	return sdk.ViewerPeer{PeerLoad: sdk.PeerLoad{Name: peer, Streams: int64(load.Streams), Viewers: load.Viewers, BytesOut: load.BytesOut},
		Watchers: load.Watchers, ViewerLimit: c.viewerLimits[peer]}
}

// chooseViewerPeer asks the balancer plugin, or applies the built-in rule
// when the plugin does not implement the call.
func (c *clusterNode) chooseViewerPeer(req sdk.ViewerRequest) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), chooseTimeout)
	defer cancel()
	bal, err := c.balancer(ctx)
	if err != nil {
		return "", err
	}
	vc, ok := bal.(sdk.ViewerChooser)
	if !ok {
		return balancer.ChooseViewerPeer(req), nil
	}
	peer, err := vc.ChooseViewerPeer(ctx, req)
	if errors.Is(err, sdk.ErrUnsupported) {
		return balancer.ChooseViewerPeer(req), nil
	}
	return peer, err
}

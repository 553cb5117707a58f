// Command onepeer is a third-party balancer plugin for the tests: it places
// every cluster-ingest stream on peer s02 while s02 is live, else on the
// first live peer.
package main

import (
	"context"

	"github.com/edgedvr/edge/sdk"
)

type onePeer struct{}

func (onePeer) Place(_ context.Context, req sdk.PlaceRequest) (map[string]string, error) {
	peers := req.SortedPeerNames()
	owner := peers[0]
	for _, p := range peers {
		if p == "s02" {
			owner = p
		}
	}
	out := make(map[string]string, len(req.Streams))
	for _, s := range req.Streams {
		out[s.Name] = owner
	}
	return out, nil
}

func main() { sdk.Serve(sdk.ServeConfig{Balancer: onePeer{}}) }

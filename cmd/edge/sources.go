package main

import (
	"context"
	"sync"

	"github.com/edgedvr/edge/cluster"
	"github.com/edgedvr/edge/config"
	"github.com/edgedvr/edge/node"
	"github.com/edgedvr/edge/plugins/m4f"
)

// listSource asks a source node for its streams over signed M4F, keeping
// one client (and its connections) per source address. Only listings go
// through here; segment bytes never do.
func listSource(self string) node.SourceLister {
	var mu sync.Mutex
	clients := map[string]*m4f.Client{}
	return func(ctx context.Context, _ *config.Source, addr, key string) ([]string, error) {
		mu.Lock()
		c, ok := clients[addr+"\x00"+key]
		if !ok {
			c = m4f.NewClient(addr, cluster.Signer{Node: self, Key: key})
			clients[addr+"\x00"+key] = c
		}
		mu.Unlock()
		infos, err := c.Streams(ctx)
		if err != nil {
			return nil, err
		}
		names := make([]string, 0, len(infos))
		for _, in := range infos {
			names = append(names, in.Name)
		}
		return names, nil
	}
}

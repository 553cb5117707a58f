package cluster

import "context"

type chainKey struct{}

// WithChain returns a context that carries the route of a received chained
// archive call (parsed with ParseChain), for the archive lookup to forward.
func WithChain(ctx context.Context, c Chain) context.Context {
	return context.WithValue(ctx, chainKey{}, c)
}

// ChainFrom returns the route stored by WithChain, false when the request
// did not arrive chained (it started at this node).
func ChainFrom(ctx context.Context) (Chain, bool) {
	c, ok := ctx.Value(chainKey{}).(Chain)
	return c, ok
}

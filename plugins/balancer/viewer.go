package balancer

import (
	"context"

	"github.com/edgedvr/edge/sdk"
)

var _ sdk.ViewerChooser = (*Balancer)(nil)

// ChooseViewerPeer implements sdk.ViewerChooser with ChooseViewerPeer.
func (b *Balancer) ChooseViewerPeer(_ context.Context, req sdk.ViewerRequest) (string, error) {
	return ChooseViewerPeer(req), nil
}

// ChooseViewerPeer picks the peer a new viewer goes to: among the
// candidates that are under their own viewer_limit (when they have one)
// and have fewer viewers (Watchers) than the asking node, the one with
// the fewest viewers, then the fewest bytes sent, then the first by
// name. "" (serve here) when none qualifies. The host applies the same
// rule itself to a third-party balancer that does not implement
// sdk.ViewerChooser.
func ChooseViewerPeer(req sdk.ViewerRequest) string {
	var best *sdk.ViewerPeer
	for i := range req.Candidates {
		c := &req.Candidates[i]
		if c.Name == "" || c.Name == req.Self.Name || c.Watchers >= req.Self.Watchers {
			continue
		}
		if c.ViewerLimit > 0 && c.Watchers >= c.ViewerLimit {
			continue
		}
		if best == nil || c.Watchers < best.Watchers ||
			(c.Watchers == best.Watchers && (c.BytesOut < best.BytesOut || (c.BytesOut == best.BytesOut && c.Name < best.Name))) {
			best = c
		}
	}
	if best == nil {
		return ""
	}
	return best.Name
}

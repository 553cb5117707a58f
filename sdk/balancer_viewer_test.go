package sdk

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// viewerBalancer also implements ViewerChooser: it names the last
// candidate, with the loads it received, so the test sees every field
// cross the boundary.
type viewerBalancer struct{ testBalancer }

func (viewerBalancer) ChooseViewerPeer(_ context.Context, req ViewerRequest) (string, error) {
	if len(req.Candidates) == 0 {
		return "", nil
	}
	c := req.Candidates[len(req.Candidates)-1]
	return fmt.Sprintf("%s/%s/%s/%d/%d/%d/%d/%d/%d", req.Stream, req.Self.Name, c.Name, req.Self.Watchers, req.Self.ViewerLimit,
		c.Streams, c.Viewers, c.BytesOut, c.Watchers+c.ViewerLimit), nil
}

func TestChooseViewerPeer(t *testing.T) {
	req := ViewerRequest{Stream: "cam", Self: ViewerPeer{PeerLoad: PeerLoad{Name: "a"}, Watchers: 7, ViewerLimit: 5},
		Candidates: []ViewerPeer{{PeerLoad: PeerLoad{Name: "b"}}, {PeerLoad: PeerLoad{Name: "c", Streams: 1, Viewers: 2, BytesOut: 3}, Watchers: 4, ViewerLimit: 10}}}
	tests := []struct {
		mode        string
		want        string
		unsupported bool
	}{
		{mode: "viewer-balancer", want: "cam/a/c/7/5/1/2/3/14"},
		// A balancer without ChooseViewerPeer (an SDK 1.1.0 plugin) still
		// serves Place; the optional call reports ErrUnsupported.
		{mode: "balancer", unsupported: true},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			s := startSupervisor(t, &Supervisor{Name: "balancer", Kind: KindBalancer, Command: helperCommand(tt.mode), MinBackoff: 10 * time.Millisecond})
			b, err := s.Balancer(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			got, err := b.(ViewerChooser).ChooseViewerPeer(t.Context(), req)
			if tt.unsupported {
				if !errors.Is(err, ErrUnsupported) {
					t.Errorf("ChooseViewerPeer = %q, %v; want ErrUnsupported", got, err)
				}
			} else if err != nil || got != tt.want {
				t.Errorf("ChooseViewerPeer = %q, %v; want %q", got, err, tt.want)
			}
			if _, err := b.Place(t.Context(), PlaceRequest{Streams: []PlaceStream{{Name: "x", CaptureAt: "a"}}, Peers: []PeerLoad{{Name: "a"}}}); err != nil {
				t.Errorf("Place = %v", err)
			}
			if _, err := b.(ViewerChooser).ChooseViewerPeer(t.Context(), ViewerRequest{Candidates: make([]ViewerPeer, MaxViewerCandidates+1)}); err == nil {
				t.Error("an oversize request was sent")
			}
		})
	}
}

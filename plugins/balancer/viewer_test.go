package balancer

import (
	"fmt"
	"testing"

	"github.com/edgedvr/edge/sdk"
)

func vp(name string, watchers, limit, bytesOut int64) sdk.ViewerPeer {
	return sdk.ViewerPeer{PeerLoad: sdk.PeerLoad{Name: name, BytesOut: bytesOut}, Watchers: watchers, ViewerLimit: limit}
}

func TestChooseViewerPeer(t *testing.T) {
	self := vp("a", 10, 10, 0)
	tests := []struct {
		name  string
		self  sdk.ViewerPeer
		cands []sdk.ViewerPeer
		want  string
	}{
		{"no candidates", self, nil, ""},
		{"least viewers", self, []sdk.ViewerPeer{vp("b", 5, 0, 0), vp("c", 2, 0, 0), vp("d", 3, 0, 0)}, "c"},
		{"ties by bytes sent", self, []sdk.ViewerPeer{vp("b", 2, 0, 900), vp("c", 2, 0, 100)}, "c"},
		{"ties by name", self, []sdk.ViewerPeer{vp("c", 2, 0, 100), vp("b", 2, 0, 100)}, "b"},
		{"a peer at its own limit is skipped", self, []sdk.ViewerPeer{vp("b", 1, 1, 0), vp("c", 4, 5, 0)}, "c"},
		{"only less loaded peers", self, []sdk.ViewerPeer{vp("b", 10, 0, 0), vp("c", 11, 0, 0)}, ""},
		{"every peer full", self, []sdk.ViewerPeer{vp("b", 3, 3, 0), vp("c", 2, 2, 0)}, ""},
		{"never itself", vp("a", 5, 1, 0), []sdk.ViewerPeer{vp("a", 0, 0, 0)}, ""},
		{"one viewer over a limit of one", vp("a", 1, 1, 0), []sdk.ViewerPeer{vp("b", 0, 1, 0)}, "b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ChooseViewerPeer(sdk.ViewerRequest{Stream: "cam", Self: tt.self, Candidates: tt.cands}); got != tt.want {
				t.Errorf("ChooseViewerPeer = %q, want %q", got, tt.want)
			}
		})
	}
}

// BenchmarkChooseViewerPeer: one viewer choice among 19 candidate peers.
func BenchmarkChooseViewerPeer(b *testing.B) {
	req := sdk.ViewerRequest{Stream: "cam", Self: vp("s00", 1000, 1000, 0)}
	for i := 1; i < 20; i++ {
		req.Candidates = append(req.Candidates, vp(fmt.Sprintf("s%02d", i), int64(500+i*7%13), 1000, int64(i)))
	}
	for b.Loop() {
		if ChooseViewerPeer(req) == "" {
			b.Fatal("no peer chosen")
		}
	}
}

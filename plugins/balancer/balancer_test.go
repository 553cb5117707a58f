package balancer

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/edgedvr/edge/sdk"
)

func TestPlaceEven(t *testing.T) {
	for _, tc := range []struct{ streams, peers int }{{12, 3}, {13, 3}, {1, 5}, {0, 2}, {100, 7}, {1000, 20}, {5, 1}} {
		t.Run(fmt.Sprintf("%d on %d", tc.streams, tc.peers), func(t *testing.T) {
			req := request(tc.streams, tc.peers)
			owners := Place(req)
			if len(owners) != tc.streams {
				t.Fatalf("placed %d of %d streams", len(owners), tc.streams)
			}
			lo, hi := spread(owners, req.Peers)
			wantLo, wantHi := tc.streams/tc.peers, (tc.streams+tc.peers-1)/tc.peers
			if lo != wantLo || hi != wantHi {
				t.Errorf("streams per peer %d..%d, want %d..%d", lo, hi, wantLo, wantHi)
			}
		})
	}
}

func TestPlaceCaptureAt(t *testing.T) {
	req := request(12, 3)
	req.Streams[0].CaptureAt = "s01"
	req.Streams[1].CaptureAt = "s02"
	req.Streams[2].CaptureAt = "s02"
	req.Streams[3].CaptureAt = "s09" // not live: a preference, not a binding
	owners := Place(req)
	for _, tc := range []struct{ stream, peer string }{{"stream00000", "s01"}, {"stream00001", "s02"}, {"stream00002", "s02"}} {
		if owners[tc.stream] != tc.peer {
			t.Errorf("%s on %q, want its capture_at %q", tc.stream, owners[tc.stream], tc.peer)
		}
	}
	if owners["stream00003"] == "" {
		t.Error("a stream whose capture_at peer is dead was not placed")
	}
	if lo, hi := spread(owners, req.Peers); lo != 4 || hi != 4 {
		t.Errorf("streams per peer %d..%d, want 4..4", lo, hi)
	}
}

func TestPlaceCandidates(t *testing.T) {
	req := request(30, 3)
	for i := range req.Streams {
		req.Streams[i].Candidates = []string{"s02", "s03", "s07"}
	}
	req.Streams[0].CaptureAt = "s01" // not a candidate: ignored
	req.Streams[1].Candidates = []string{"s09"}
	owners := Place(req)
	if _, ok := owners["stream00001"]; ok {
		t.Errorf("a stream with no live candidate was placed on %s", owners["stream00001"])
	}
	for s, p := range owners {
		if p == "s01" {
			t.Errorf("%s placed on s01, not one of its candidates", s)
		}
	}
	if len(owners) != 29 {
		t.Errorf("placed %d streams, want 29", len(owners))
	}
}

// Peers that see the same group agree, whatever order they list it in.
func TestPlaceDeterministic(t *testing.T) {
	req := request(500, 9)
	req.Streams[5].CaptureAt = "s03"
	want := Place(req)
	for range 5 {
		shuffled := sdk.PlaceRequest{Streams: append([]sdk.PlaceStream(nil), req.Streams...), Peers: append([]sdk.PeerLoad(nil), req.Peers...)}
		rand.Shuffle(len(shuffled.Streams), func(i, j int) { shuffled.Streams[i], shuffled.Streams[j] = shuffled.Streams[j], shuffled.Streams[i] })
		rand.Shuffle(len(shuffled.Peers), func(i, j int) { shuffled.Peers[i], shuffled.Peers[j] = shuffled.Peers[j], shuffled.Peers[i] })
		if got := Place(shuffled); moved(want, got) != 0 || len(got) != len(want) {
			t.Fatalf("%d streams placed differently after shuffling the request", moved(want, got))
		}
	}
}

// When one of 10 peers leaves, its streams move and few others do; when it
// returns, the placement is the first one again.
func TestPlaceMovesLittle(t *testing.T) {
	req := request(1000, 10)
	before := Place(req)
	less := req
	less.Peers = append(append([]sdk.PeerLoad(nil), req.Peers[:3]...), req.Peers[4:]...)
	after := Place(less)
	gone := 0
	for _, p := range before {
		if p == "s04" {
			gone++
		}
	}
	if m := moved(before, after); m > gone+gone/2 {
		t.Errorf("%d streams moved when a peer with %d left", m, gone)
	}
	if m := moved(before, Place(req)); m != 0 {
		t.Errorf("%d streams differ after the peer came back", m)
	}
}

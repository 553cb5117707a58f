package sdk

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
)

// testBalancer places each stream on its capture_at peer when that is
// live, else on the peer named by its candidate list's last entry, else
// on the last live peer; a stream named "fail" makes Place fail.
type testBalancer struct{}

func (testBalancer) Place(_ context.Context, req PlaceRequest) (map[string]string, error) {
	peers := req.SortedPeerNames()
	out := map[string]string{}
	for _, s := range req.Streams {
		switch {
		case s.Name == "fail":
			return nil, fmt.Errorf("cannot place %s: %w", s.Name, ErrNotFound)
		case s.CaptureAt != "":
			out[s.Name] = s.CaptureAt
		case len(s.Candidates) > 0:
			out[s.Name] = s.Candidates[len(s.Candidates)-1]
		default:
			out[s.Name] = fmt.Sprintf("%s/%d", peers[len(peers)-1], req.Peers[0].Streams+req.Peers[0].Viewers+req.Peers[0].BytesOut)
		}
	}
	return out, nil
}

func TestBalancerRoundTrip(t *testing.T) {
	s := startSupervisor(t, &Supervisor{Name: "balancer", Kind: KindBalancer, Command: helperCommand("balancer"), MinBackoff: 10 * time.Millisecond})
	b, err := s.Balancer(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	req := PlaceRequest{
		Streams: []PlaceStream{{Name: "a", CaptureAt: "s02"}, {Name: "b", Candidates: []string{"s01", "s03"}}, {Name: "c"}},
		Peers:   []PeerLoad{{Name: "s03", Streams: 1, Viewers: 20, BytesOut: 300}, {Name: "s01"}},
	}
	got, err := b.Place(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a": "s02", "b": "s03", "c": "s03/321"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Place = %v, want %v", got, want)
	}
	// The plugin's error comes back with its message and kind.
	_, err = b.Place(t.Context(), PlaceRequest{Streams: []PlaceStream{{Name: "fail"}}, Peers: []PeerLoad{{Name: "s01"}}})
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "cannot place fail") {
		t.Errorf("failing Place = %v", err)
	}
	// Too many streams are refused before the call.
	_, err = b.Place(t.Context(), PlaceRequest{Streams: make([]PlaceStream, MaxPlaceStreams+1), Peers: []PeerLoad{{Name: "s01"}}})
	if err == nil {
		t.Error("an oversize request was sent")
	}
	// Killed, the plugin is restarted and answers again.
	if err := syscall.Kill(s.Pid(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.Restarts() == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	b, err = s.Balancer(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got, err := b.Place(t.Context(), req); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("after a restart: Place = %v, %v", got, err)
	}
	if _, err := s.Store(t.Context()); err == nil {
		t.Error("Store on a balancer supervisor succeeded")
	}
}

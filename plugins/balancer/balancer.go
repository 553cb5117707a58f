// Package balancer is the built-in balancer plugin: it places cluster-ingest streams on live peers by rendezvous hashing, with capture_at as a preference and at most one stream of difference between peers.
package balancer

import (
	"context"
	"log/slog"
	"sort"

	"github.com/edgedvr/edge/sdk"
)

// Balancer is the built-in sdk.Balancer.
type Balancer struct {
	log *slog.Logger
}

var _ sdk.Balancer = (*Balancer)(nil)

// New returns the built-in balancer.
func New(log *slog.Logger) *Balancer { return &Balancer{log: log} }

// Place implements sdk.Balancer with Place.
func (b *Balancer) Place(_ context.Context, req sdk.PlaceRequest) (map[string]string, error) {
	return Place(req), nil
}

// Place gives each stream an owner among req.Peers:
//
//  1. a stream whose capture_at peer is live (and one of its candidates)
//     goes there;
//  2. every other stream goes to the candidate peer that ranks it highest
//     (rendezvous hashing of stream and peer names) among the peers that
//     still have room, where room is what keeps every peer at floor(N/P)
//     or floor(N/P)+1 streams (N streams, P peers). Streams are taken in
//     order of their best rank, so a stream that prefers a peer strongly
//     keeps it when the group changes.
//
// When capture_at preferences leave some peer over that share, the others
// share the rest as evenly as they can. The result depends only on the
// request's contents, not on its order, so peers with the same view agree.
// Loads are not used: placement counts streams.
func Place(req sdk.PlaceRequest) map[string]string {
	owners := make(map[string]string, len(req.Streams))
	peers := req.SortedPeerNames()
	if len(peers) == 0 {
		return owners
	}
	index := make(map[string]int, len(peers))
	for i, p := range peers {
		index[p] = i
	}
	counts := make([]int, len(peers))
	type pending struct {
		name  string
		ranks []rank // candidate peers, best first
	}
	var rest []pending
	for _, s := range req.Streams {
		cands := candidates(s, peers, index)
		if len(cands) == 0 {
			continue
		}
		if i, ok := index[s.CaptureAt]; ok && s.CaptureAt != "" && containsInt(cands, i) {
			owners[s.Name] = peers[i]
			counts[i]++
			continue
		}
		rs := make([]rank, len(cands))
		for k, i := range cands {
			rs[k] = rank{peer: i, score: score(s.Name, peers[i])}
		}
		sort.Slice(rs, func(a, b int) bool { return rs[a].better(rs[b]) })
		rest = append(rest, pending{s.Name, rs})
	}
	// Strongest preferences first; ties (equal scores) by name.
	sort.Slice(rest, func(a, b int) bool {
		ra, rb := rest[a].ranks[0], rest[b].ranks[0]
		if ra.score != rb.score {
			return ra.score > rb.score
		}
		return rest[a].name < rest[b].name
	})
	total := len(owners) + len(rest)
	floor, extra := total/len(peers), total%len(peers)
	atCeil := 0 // peers holding more than floor
	for _, c := range counts {
		if c > floor {
			atCeil++
		}
	}
	for _, s := range rest {
		pick := -1
		for _, r := range s.ranks {
			if c := counts[r.peer]; c < floor || (c == floor && atCeil < extra) {
				pick = r.peer
				break
			}
		}
		if pick < 0 { // every candidate is full: the least loaded, best ranked
			for _, r := range s.ranks {
				if pick < 0 || counts[r.peer] < counts[pick] {
					pick = r.peer
				}
			}
		}
		if counts[pick] == floor {
			atCeil++
		}
		counts[pick]++
		owners[s.name] = peers[pick]
	}
	return owners
}

// candidates returns the indexes of the live peers that may capture s.
func candidates(s sdk.PlaceStream, peers []string, index map[string]int) []int {
	if len(s.Candidates) == 0 {
		all := make([]int, len(peers))
		for i := range all {
			all[i] = i
		}
		return all
	}
	var out []int
	for _, c := range s.Candidates {
		if i, ok := index[c]; ok && !containsInt(out, i) {
			out = append(out, i)
		}
	}
	sort.Ints(out)
	return out
}

func containsInt(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

type rank struct {
	peer  int
	score uint64
}

func (r rank) better(o rank) bool {
	if r.score != o.score {
		return r.score > o.score
	}
	return r.peer < o.peer
}

// score is the rendezvous weight of a stream on a peer: FNV-1a of both
// names, finished with splitmix64 so that every bit depends on every byte.
func score(stream, peer string) uint64 {
	const prime = 1099511628211
	x := uint64(14695981039346656037) // FNV-1a offset basis
	for i := 0; i < len(stream); i++ {
		x = (x ^ uint64(stream[i])) * prime
	}
	x *= prime // the 0 byte between the names
	for i := 0; i < len(peer); i++ {
		x = (x ^ uint64(peer[i])) * prime
	}
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

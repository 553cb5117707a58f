package balancer

import (
	"strings"
	"testing"

	"github.com/edgedvr/edge/sdk"
)

// FuzzPlace builds requests from text (one stream per line: NAME
// [CAPTURE_AT [CANDIDATE...]], peers on the first line) and checks what
// any balancer must hold: no panic, every owner a live peer and one of the
// stream's live candidates, and the same answer twice.
func FuzzPlace(f *testing.F) {
	f.Add("s01 s02 s03\ncam1 s02\ncam2\ncam3 - s01 s03\ncam4 s09 s09")
	f.Add("\n\n")
	f.Add("a\nx a a a\nx\n")
	f.Fuzz(func(t *testing.T, text string) {
		if len(text) > 4096 {
			return
		}
		lines := strings.Split(text, "\n")
		var req sdk.PlaceRequest
		for _, p := range strings.Fields(lines[0]) {
			req.Peers = append(req.Peers, sdk.PeerLoad{Name: p})
		}
		for _, l := range lines[1:] {
			f := strings.Fields(l)
			if len(f) == 0 {
				continue
			}
			s := sdk.PlaceStream{Name: f[0]}
			if len(f) > 1 && f[1] != "-" {
				s.CaptureAt = f[1]
			}
			if len(f) > 2 {
				s.Candidates = f[2:]
			}
			req.Streams = append(req.Streams, s)
		}
		owners := Place(req)
		again := Place(req)
		live := map[string]bool{}
		for _, p := range req.Peers {
			live[p.Name] = true
		}
		for _, s := range req.Streams {
			o, ok := owners[s.Name]
			if !ok {
				continue
			}
			if again[s.Name] != o {
				t.Fatalf("%s placed on %s, then on %s", s.Name, o, again[s.Name])
			}
			if !live[o] {
				t.Fatalf("%s placed on %q, not a live peer", s.Name, o)
			}
			if len(s.Candidates) > 0 && !contains(s.Candidates, o) {
				// A stream listed twice keeps the last placement made for
				// its name; only check names that appear once.
				n := 0
				for _, x := range req.Streams {
					if x.Name == s.Name {
						n++
					}
				}
				if n == 1 {
					t.Fatalf("%s placed on %q, not one of %v", s.Name, o, s.Candidates)
				}
			}
		}
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

package cluster_test

import (
	"fmt"
	"net/http"
	"time"

	"github.com/edgedvr/edge/cluster"
)

// A client signs a call; the server checks it.
func Example() {
	s := cluster.Signer{Node: "edge1", Key: "change-me"}
	h := s.Sign("GET", "/m4f/v1/ranges/example?from=1700000000000&to=1700003600000", "edge1", time.Unix(1700000000, 0))
	fmt.Println(cluster.HeaderNode+":", h.Node)
	fmt.Println(cluster.HeaderTime+":", h.Time)
	fmt.Println(cluster.HeaderSignature+":", h.Signature)
	fmt.Println(cluster.HeaderVia+":", h.Via)

	req := http.Header{}
	h.Apply(req.Set)
	v := cluster.Verifier{Key: "change-me", Now: func() time.Time { return time.Unix(1700000010, 0) }}
	node, err := v.Verify("GET", "/m4f/v1/ranges/example?from=1700000000000&to=1700003600000", req.Get)
	fmt.Println(node, err)

	v.Key = "other"
	_, err = v.Verify("GET", "/m4f/v1/ranges/example?from=1700000000000&to=1700003600000", req.Get)
	fmt.Println(err)
	// Output:
	// X-Edge-Node: edge1
	// X-Edge-Time: 1700000000
	// X-Edge-Signature: v1=6ba003ae2a21c2c7d3e3175a13edad031a4fee9bfdc5cf7057269d2f5651a28a
	// X-Edge-Via: edge1
	// edge1 <nil>
	// cluster: bad signature from node "edge1" (different cluster_key, or the request was altered)
}

package cluster

import (
	"fmt"
	"strconv"
	"strings"
)

// DefaultHopLimit is the X-Edge-Hops a node sends when it starts a chained
// archive request: at most this many node-to-node calls in one chain.
const DefaultHopLimit = 4

// maxHopLimit bounds an X-Edge-Hops value accepted from a peer.
const maxHopLimit = 64

// Chain is the route of a chained archive request: the nodes it has passed
// (X-Edge-Via) and how many calls it may still make, this one included
// (X-Edge-Hops).
//
// The node that starts a chain calls Begin. A node that receives a call
// parses its headers with ParseChain, answers 508 when Has(itself), and may
// pass the request on to its own sources with Forward.
type Chain struct {
	Via  []string
	Hops int
}

// Begin returns the X-Edge-Via and X-Edge-Hops values of a new chain that
// starts at node self.
func Begin(self string) (via, hops string) {
	return self, strconv.Itoa(DefaultHopLimit)
}

// ParseChain parses the X-Edge-Via and X-Edge-Hops values of a received
// call. An empty via is a chain of no nodes; an empty hops means
// DefaultHopLimit.
func ParseChain(via, hops string) (Chain, error) {
	var c Chain
	if len(via) > maxViaLen {
		return Chain{}, fmt.Errorf("cluster: %s longer than %d bytes", HeaderVia, maxViaLen)
	}
	if via != "" {
		for _, n := range strings.Split(via, ",") {
			n = strings.TrimSpace(n)
			if n == "" {
				return Chain{}, fmt.Errorf("cluster: %s %.64q has an empty node name", HeaderVia, via)
			}
			if err := checkToken(n, maxNodeLen, false); err != nil {
				return Chain{}, fmt.Errorf("cluster: %s %.64q: %v", HeaderVia, via, err)
			}
			c.Via = append(c.Via, n)
		}
	}
	c.Hops = DefaultHopLimit
	if hops != "" {
		h, err := strconv.Atoi(hops)
		if err != nil || h < 1 || h > maxHopLimit || hops[0] == '+' {
			return Chain{}, fmt.Errorf("cluster: %s %.24q: want a number from 1 to %d", HeaderHops, hops, maxHopLimit)
		}
		c.Hops = h
	}
	return c, nil
}

// Has reports whether node is already in the chain: the call has looped
// back and the node answers 508.
func (c Chain) Has(node string) bool {
	for _, n := range c.Via {
		if n == node {
			return true
		}
	}
	return false
}

// Forward returns the X-Edge-Via and X-Edge-Hops values for passing the
// request on from node self, or ok false when the hop limit is used up and
// the node must answer from what it holds itself.
func (c Chain) Forward(self string) (via, hops string, ok bool) {
	if c.Hops <= 1 {
		return "", "", false
	}
	return strings.Join(append(c.Via[:len(c.Via):len(c.Via)], self), ","), strconv.Itoa(c.Hops - 1), true
}

package cluster

import (
	"strings"
	"testing"
)

func TestChain(t *testing.T) {
	// edge1 starts a chain; cache1 and origin pass it on until the hops run out.
	via, hops := Begin("edge1")
	if via != "edge1" || hops != "4" {
		t.Fatalf("Begin = %q, %q", via, hops)
	}
	path := []string{"cache1", "cache2", "origin"}
	for i, node := range path {
		c, err := ParseChain(via, hops)
		if err != nil {
			t.Fatal(err)
		}
		if c.Has(node) {
			t.Fatalf("%s sees itself in %v", node, c.Via)
		}
		if !c.Has("edge1") {
			t.Fatalf("chain %v lost its start", c.Via)
		}
		var ok bool
		via, hops, ok = c.Forward(node)
		if !ok {
			t.Fatalf("hop %d refused", i)
		}
	}
	if via != "edge1,cache1,cache2,origin" || hops != "1" {
		t.Fatalf("after three hops: %q, %q", via, hops)
	}
	c, _ := ParseChain(via, hops)
	if _, _, ok := c.Forward("backup"); ok {
		t.Fatal("forward allowed with the hop limit used up")
	}
	if !c.Has("cache2") {
		t.Fatal("loop not seen")
	}
}

func TestParseChain(t *testing.T) {
	tests := []struct {
		via, hops string
		want      []string
		wantHops  int
		msg       string
	}{
		{"", "", nil, DefaultHopLimit, ""},
		{"a", "2", []string{"a"}, 2, ""},
		{"a, b ,c", "64", []string{"a", "b", "c"}, 64, ""},
		{"a,,b", "", nil, 0, "empty node name"},
		{",", "", nil, 0, "empty node name"},
		{"a", "0", nil, 0, "want a number from 1 to 64"},
		{"a", "65", nil, 0, "from 1 to 64"},
		{"a", "+3", nil, 0, "from 1 to 64"},
		{"a", "x", nil, 0, "from 1 to 64"},
		{"a\x00b", "", nil, 0, "not allowed"},
		{strings.Repeat("a,", 3000), "", nil, 0, "longer than 4096 bytes"},
	}
	for _, tc := range tests {
		c, err := ParseChain(tc.via, tc.hops)
		if tc.msg != "" {
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("ParseChain(%.20q, %q): %v, want %q", tc.via, tc.hops, err, tc.msg)
			}
			continue
		}
		if err != nil || strings.Join(c.Via, ",") != strings.Join(tc.want, ",") || c.Hops != tc.wantHops {
			t.Errorf("ParseChain(%q, %q) = %+v, %v", tc.via, tc.hops, c, err)
		}
	}
}

// Forward must not write into the parsed chain's backing array.
func TestForwardDoesNotAlias(t *testing.T) {
	c := Chain{Via: make([]string, 1, 4), Hops: 3}
	c.Via[0] = "a"
	v1, _, _ := c.Forward("b")
	v2, _, _ := c.Forward("c")
	if v1 != "a,b" || v2 != "a,c" {
		t.Fatal(v1, v2)
	}
}

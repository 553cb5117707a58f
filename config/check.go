package config

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// Check loads the topology at path and prints every error and warning to w,
// one per line as FILE:LINE: message, then "FILE: ok" when it is valid. It
// returns the exit code of `edge check`: 0 when the file is valid (warnings
// included), 1 when it is not.
func Check(path string, w io.Writer) int {
	data, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintf(w, "%s: %v\n", path, err)
		return 1
	}
	t, errs, warnings := parse(path, data)
	all := append(append([]Error(nil), errs...), warnings...)
	sortErrors(all)
	for _, e := range all {
		fmt.Fprintln(w, e.Error())
	}
	if len(errs) > 0 {
		return 1
	}
	fmt.Fprintf(w, "%s: ok, %d nodes\n", path, len(t.Nodes))
	return 0
}

// chainEdge is a link from one node of the file to another whose archive
// calls chain (remote_dvr = "chain").
type chainEdge struct {
	to   int
	line int
}

// chainLoops finds cycles of remote_dvr = "chain" links among the nodes of
// the file: each strongly connected group of chained nodes is reported once,
// with one cycle through it. A loop is not an error (at run time the Via list
// stops it with a 508) but it means archive calls go round in circles.
func (d *decoder) chainLoops(t *Topology) []Error {
	index := map[*Node]int{}
	for i, n := range t.Nodes {
		index[n] = i
	}
	edges := make([][]chainEdge, len(t.Nodes))
	add := func(from int, in Input, line int) {
		if to := t.NodeOf(in); to != nil {
			edges[from] = append(edges[from], chainEdge{index[to], line})
		}
	}
	for i, n := range t.Nodes {
		np := []string{"node", idx(i)}
		for j, src := range n.Sources {
			if src.RemoteDVR != RemoteDVRChain {
				continue
			}
			if in, err := ParseSourceURL(src.URL); err == nil {
				add(i, in, d.pos.line(sub(np, "source", idx(j), "remote_dvr")))
			}
		}
		for j, s := range n.Streams {
			for k, raw := range s.Inputs {
				if in, err := ParseInput(raw); err == nil && in.Scheme == SchemeM4F && in.RemoteDVR == RemoteDVRChain {
					add(i, in, d.pos.line(sub(np, "stream", idx(j), "inputs", idx(k))))
				}
			}
		}
	}
	var out []Error
	for _, comp := range components(edges) {
		cycle, line := cycleThrough(edges, comp)
		if cycle == nil {
			continue
		}
		names := make([]string, len(cycle))
		for i, c := range cycle {
			names[i] = t.Nodes[c].Name
		}
		out = append(out, Error{File: d.file, Line: line, Warning: true,
			Msg: "remote_dvr chain loop: " + strings.Join(names, " -> ")})
	}
	return out
}

// components returns the strongly connected components of the graph
// (Tarjan), each sorted, in order of their smallest node.
func components(edges [][]chainEdge) [][]int {
	n := len(edges)
	indexOf := make([]int, n)
	low := make([]int, n)
	onStack := make([]bool, n)
	for i := range indexOf {
		indexOf[i] = -1
	}
	var stack []int
	var comps [][]int
	counter := 0
	var visit func(v int)
	visit = func(v int) {
		indexOf[v], low[v] = counter, counter
		counter++
		stack = append(stack, v)
		onStack[v] = true
		for _, e := range edges[v] {
			if indexOf[e.to] < 0 {
				visit(e.to)
				low[v] = min(low[v], low[e.to])
			} else if onStack[e.to] {
				low[v] = min(low[v], indexOf[e.to])
			}
		}
		if low[v] == indexOf[v] {
			var comp []int
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[w] = false
				comp = append(comp, w)
				if w == v {
					break
				}
			}
			sort.Ints(comp)
			comps = append(comps, comp)
		}
	}
	for v := 0; v < n; v++ {
		if indexOf[v] < 0 {
			visit(v)
		}
	}
	sort.Slice(comps, func(i, j int) bool { return comps[i][0] < comps[j][0] })
	return comps
}

// cycleThrough returns a shortest cycle from the component's first node back
// to itself, inside the component, as node indices ending where they start,
// and the line of its first link; nil when the component has no cycle (a
// single node without a self link).
func cycleThrough(edges [][]chainEdge, comp []int) ([]int, int) {
	in := map[int]bool{}
	for _, c := range comp {
		in[c] = true
	}
	start := comp[0]
	type step struct{ prev, line int }
	seen := map[int]step{}
	queue := []int{start}
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		for _, e := range edges[v] {
			if !in[e.to] {
				continue
			}
			if e.to == start {
				path := []int{start}
				line := e.line
				for u := v; u != start; u = seen[u].prev {
					path = append(path, u)
					line = seen[u].line
				}
				path = append(path, start)
				for i, j := 0, len(path)-1; i < j; i, j = i+1, j-1 {
					path[i], path[j] = path[j], path[i]
				}
				return path, line
			}
			if _, ok := seen[e.to]; !ok {
				seen[e.to] = step{v, e.line}
				queue = append(queue, e.to)
			}
		}
	}
	return nil, 0
}

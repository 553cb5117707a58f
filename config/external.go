package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// External is a node's config_external: an HTTP configuration backend,
// shaped like Flussonic's, that lists more streams for the node. The node
// asks GET URL?node=NAME every Refresh and runs the streams of the last
// good answer beside the file's own (docs/configuration.md).
type External struct {
	// URL of the backend: http:// or https://.
	URL string `toml:"url"`
	// Refresh is how often the backend is asked. By default, 10s.
	Refresh Duration `toml:"refresh"`
	// Timeout bounds each request. By default, 3s; at most Refresh.
	Timeout Duration `toml:"timeout"`
}

// Defaults of config_external.
const (
	DefaultExternalRefresh = 10 * time.Second
	DefaultExternalTimeout = 3 * time.Second
	// MaxExternalAnswer is the largest backend answer read, in bytes.
	MaxExternalAnswer = 8 << 20
)

func (d *decoder) validateExternal(label string, e *External, p []string) {
	if e == nil {
		return
	}
	u, err := url.Parse(e.URL)
	if e.URL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		d.errorf(sub(p, "url"), "%s: config_external url %q: want http://HOST[:PORT]/PATH or https://...", label, e.URL)
	}
	if e.Refresh != 0 && time.Duration(e.Refresh) < time.Second {
		d.errorf(sub(p, "refresh"), "%s: config_external refresh must be at least 1s", label)
	}
	refresh := time.Duration(e.Refresh)
	if refresh == 0 {
		refresh = DefaultExternalRefresh
	}
	switch {
	case e.Timeout < 0:
		d.errorf(sub(p, "timeout"), "%s: config_external timeout must be positive", label)
	case time.Duration(e.Timeout) > refresh:
		d.errorf(sub(p, "timeout"), "%s: config_external timeout longer than refresh (%v)", label, refresh)
	}
}

// externalAnswer is what a configuration backend answers.
type externalAnswer struct {
	Streams []externalStream `json:"streams"`
}

// externalStream is one stream of a backend's answer: the keys of a
// [[node.stream]], with inputs as Flussonic writes them.
type externalStream struct {
	Name   string `json:"name"`
	Inputs []struct {
		URL string `json:"url"`
	} `json:"inputs"`
	SourceTimeout   string       `json:"source_timeout,omitempty"`
	SegmentDuration string       `json:"segment_duration,omitempty"`
	DVR             *externalDVR `json:"dvr,omitempty"`
}

type externalDVR struct {
	Root    string `json:"root"`
	Depth   string `json:"depth,omitempty"`
	MaxSize string `json:"max_size,omitempty"`
}

// ParseExternal checks a configuration backend's answer for node nodeName
// of t and returns its streams, with defaults filled, sorted by name. The
// whole answer is refused (nil and an error naming the first problems)
// when it is not the expected JSON, when a stream is invalid as a
// [[node.stream]] of the file would be, or when a stream has the name of
// one of the node's own streams or sources.
func ParseExternal(t *Topology, nodeName string, body []byte) ([]*Stream, error) {
	n, ok := t.Node(nodeName)
	if !ok {
		return nil, fmt.Errorf("config_external: no node %q", nodeName)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var a externalAnswer
	if err := dec.Decode(&a); err != nil {
		return nil, fmt.Errorf("config_external: answer is not {\"streams\":[...]}: %v", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("config_external: answer has data after its JSON object")
	}
	if a.Streams == nil {
		return nil, fmt.Errorf("config_external: answer has no \"streams\" list")
	}
	own := map[string]bool{}
	for _, s := range n.Streams {
		own[s.Name] = true
	}
	// The streams become [[node.stream]] blocks of a file of their own,
	// checked by the same decoder as a topology file; starts[i] is the
	// line where stream i begins, to name the stream of each error.
	var b strings.Builder
	fmt.Fprintf(&b, "cluster_key = %s\n[[node]]\nname = %s\nlisten = %s\n", strconv.Quote(t.ClusterKey), strconv.Quote(n.Name), strconv.Quote(n.Listen))
	starts := make([]int, len(a.Streams))
	for i, s := range a.Streams {
		if len(s.Inputs) == 0 {
			return nil, fmt.Errorf("config_external: stream #%d %q has no inputs", i+1, s.Name)
		}
		if own[s.Name] || hasSourceFor(n, s.Name) {
			return nil, fmt.Errorf("config_external: stream %q is already a stream of the topology file", s.Name)
		}
		starts[i] = strings.Count(b.String(), "\n") + 1
		writeExternalStream(&b, s)
	}
	ext, err := Parse(t.Path, []byte(b.String()))
	if err != nil {
		es, ok := err.(Errors)
		if !ok || len(es) == 0 {
			return nil, fmt.Errorf("config_external: %v", err)
		}
		msgs := make([]string, 0, len(es))
		for _, e := range es {
			i := sort.SearchInts(starts, e.Line+1) - 1
			if i >= 0 && i < len(a.Streams) {
				msgs = append(msgs, fmt.Sprintf("stream #%d %q: %s", i+1, a.Streams[i].Name, e.Msg))
			} else {
				msgs = append(msgs, e.Msg)
			}
		}
		return nil, fmt.Errorf("config_external: invalid answer: %s", strings.Join(msgs, "; "))
	}
	out := ext.Nodes[0].Streams
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func writeExternalStream(b *strings.Builder, s externalStream) {
	q := strconv.Quote
	fmt.Fprintf(b, "[[node.stream]]\nname = %s\n", q(s.Name))
	ins := make([]string, len(s.Inputs))
	for i, in := range s.Inputs {
		ins[i] = q(in.URL)
	}
	fmt.Fprintf(b, "inputs = [%s]\n", strings.Join(ins, ", "))
	if s.SourceTimeout != "" {
		fmt.Fprintf(b, "source_timeout = %s\n", q(s.SourceTimeout))
	}
	if s.SegmentDuration != "" {
		fmt.Fprintf(b, "segment_duration = %s\n", q(s.SegmentDuration))
	}
	if d := s.DVR; d != nil {
		fmt.Fprintf(b, "dvr = { root = %s", q(d.Root))
		if d.Depth != "" {
			fmt.Fprintf(b, ", depth = %s", q(d.Depth))
		}
		if d.MaxSize != "" {
			fmt.Fprintf(b, ", max_size = %s", q(d.MaxSize))
		}
		b.WriteString(" }\n")
	}
}

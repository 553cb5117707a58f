package config

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/edgedvr/edge/config/inputurl"
)

// MaxNodeNameLen is the longest node name accepted.
const MaxNodeNameLen = 64

// CheckNodeName reports whether name is a valid node name: 1 to 64 ASCII
// letters, digits, '_' and '-', starting with a letter or digit. Node names
// stand where a host would in m4f:// URLs, so they hold no '.' or ':'.
func CheckNodeName(name string) error {
	if name == "" {
		return fmt.Errorf("empty node name")
	}
	if len(name) > MaxNodeNameLen {
		return fmt.Errorf("node name longer than %d characters", MaxNodeNameLen)
	}
	if !isBare(name[0]) || name[0] == '-' || name[0] == '_' {
		return fmt.Errorf("node name %q must start with a letter or digit", name)
	}
	for i := 0; i < len(name); i++ {
		if !isBare(name[i]) {
			return fmt.Errorf("node name %q has character %q; use letters, digits, '_' and '-'", name, name[i])
		}
	}
	return nil
}

// Node returns the node called name.
func (t *Topology) Node(name string) (*Node, bool) {
	for _, n := range t.Nodes {
		if n.Name == name {
			return n, true
		}
	}
	return nil, false
}

// Stream returns the stream called name of the node.
func (n *Node) Stream(name string) (*Stream, bool) {
	for _, s := range n.Streams {
		if s.Name == name {
			return s, true
		}
	}
	return nil, false
}

// ResolvePath resolves a relative path against the directory of the
// topology file; absolute paths and topologies without a Path are returned
// as they are, and so are URLs (an s3:// dvr root).
func (t *Topology) ResolvePath(p string) string {
	if p == "" || filepath.IsAbs(p) || t.Path == "" || isURLRoot(p) {
		return p
	}
	return filepath.Join(filepath.Dir(t.Path), p)
}

// Input parses a stream input as ParseInput does and resolves it against the
// topology: a file:// path becomes absolute with ResolvePath, and an m4f://
// URL that names a node of the file without a port gets that node's listen
// port and host (so Addr dials it).
func (t *Topology) Input(raw string) (Input, error) {
	in, err := ParseInput(raw)
	if err != nil {
		return Input{}, err
	}
	return t.resolveInput(in), nil
}

// SourceInput parses a [[node.source]] url as ParseSourceURL does and
// resolves a node name as Input does.
func (t *Topology) SourceInput(raw string) (Input, error) {
	in, err := ParseSourceURL(raw)
	if err != nil {
		return Input{}, err
	}
	return t.resolveInput(in), nil
}

func (t *Topology) resolveInput(in Input) Input {
	switch in.Scheme {
	case SchemeFile:
		in.Path = t.absPath(in.Path)
	case SchemeM4F:
		if n := t.NodeOf(in); n != nil && in.Port == 0 {
			host, port, err := net.SplitHostPort(n.Listen)
			if err == nil {
				in.Port, _ = strconv.Atoi(port)
				if host == "" || host == "0.0.0.0" || host == "::" {
					host = "127.0.0.1"
				}
				in.Host = host
			}
		}
	}
	return in
}

// NodeOf returns the node of the file an m4f URL points at: by name when it
// has no port, or by listen address.
func (t *Topology) NodeOf(in Input) *Node {
	if in.Scheme != SchemeM4F {
		return nil
	}
	if in.Port == 0 {
		n, _ := t.Node(in.Host)
		return n
	}
	for _, n := range t.Nodes {
		if sameAddr(n.Listen, in.Addr()) || n.ReplicationListen != "" && sameAddr(n.ReplicationListen, in.Addr()) {
			return n
		}
	}
	return nil
}

func sameAddr(a, b string) bool {
	ha, pa, err1 := net.SplitHostPort(a)
	hb, pb, err2 := net.SplitHostPort(b)
	return err1 == nil && err2 == nil && pa == pb && ha == hb
}

// overlaps reports whether two listen addresses would collide: same port and
// the same host or a wildcard host on either side.
func overlaps(a, b string) bool {
	ha, pa, err1 := net.SplitHostPort(a)
	hb, pb, err2 := net.SplitHostPort(b)
	if err1 != nil || err2 != nil || pa != pb {
		return false
	}
	wild := func(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }
	return ha == hb || wild(ha) || wild(hb)
}

func checkListen(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("bad address %q: want HOST:PORT", addr)
	}
	if host != "" && !inputurl.ValidHost(host) {
		return fmt.Errorf("bad address %q: bad host %q", addr, host)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 || port[0] == '0' || port[0] == '+' {
		return fmt.Errorf("bad address %q: port must be 1 to 65535", addr)
	}
	return nil
}

// validate checks everything the decoder cannot: names, URLs, ranges and
// references between the parts of the file.
func (d *decoder) validate(t *Topology) {
	if len(t.Nodes) == 0 {
		d.errorf(nil, "no [[node]]: a topology needs at least one node")
	}
	d.validateCluster(t)
	d.validatePlugins(t)
	d.checkPluginEffects(t)
	d.validateAdminKey(t)

	type listener struct {
		addr, node string
		line       int
	}
	var listeners []listener
	names := map[string]int{} // node name -> line
	for i, n := range t.Nodes {
		np := []string{"node", idx(i)}
		n.Line = d.pos.line(np)
		if n.Name == "" {
			d.errorf(np, "node: missing name")
		} else if err := CheckNodeName(n.Name); err != nil {
			d.errorf(sub(np, "name"), "node: %v", err)
		} else if line, dup := names[n.Name]; dup {
			d.errorf(sub(np, "name"), "node %q: duplicate node name (first at line %d)", n.Name, line)
		} else {
			names[n.Name] = d.pos.line(sub(np, "name"))
		}
		label := nodeLabel(n)
		for _, l := range []struct{ key, addr string }{{"listen", n.Listen}, {"replication_listen", n.ReplicationListen}} {
			p := sub(np, l.key)
			if l.addr == "" {
				if l.key == "listen" {
					d.errorf(np, "%s: missing listen", label)
				}
				continue
			}
			if err := checkListen(l.addr); err != nil {
				d.errorf(p, "%s: %s: %v", label, l.key, err)
				continue
			}
			clash := false
			for _, o := range listeners {
				if overlaps(o.addr, l.addr) {
					d.errorf(p, "%s: %s %s is already used by node %q (line %d)", label, l.key, l.addr, o.node, o.line)
					clash = true
					break
				}
			}
			if !clash {
				listeners = append(listeners, listener{l.addr, n.Name, d.pos.line(p)})
			}
		}
		if n.PublicURL != "" {
			u, err := url.Parse(n.PublicURL)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				d.errorf(sub(np, "public_url"), "%s: public_url %q: want http://HOST[:PORT] or https://...", label, n.PublicURL)
			}
		}
		switch {
		case n.ViewerLimit < 0:
			d.errorf(sub(np, "viewer_limit"), "%s: viewer_limit %d: want a positive number of viewers, or 0 for none", label, n.ViewerLimit)
		case n.ViewerLimit > 0 && n.Name != "" && !t.Cluster.IsPeer(n.Name):
			d.errorf(sub(np, "viewer_limit"), "%s: viewer_limit needs the node to be one of the [cluster] peers (viewers go to peers whose load it polls)", label)
		}
		d.validateExternal(label, n.ConfigExternal, sub(np, "config_external"))
		d.validateStreams(t, label, n.Streams, np, func(name string) bool { return hasSourceFor(n, name) })
		for j, s := range n.Streams {
			if s.ClusterIngest != nil && t.Cluster != nil && n.Name != "" && !t.Cluster.IsPeer(n.Name) {
				d.errorf(sub(np, "stream", idx(j), "cluster_ingest"), "%s stream %q: cluster_ingest on a node that is not one of the [cluster] peers", label, s.Name)
			}
		}
		d.validateSources(t, n, np)
		d.validateAccess(n, np)
	}
	d.sameCaptureAt(t)
}

// sameCaptureAt checks that the peers that define a cluster_ingest stream
// in the per-node form agree on its capture_at: the group places it once.
func (d *decoder) sameCaptureAt(t *Topology) {
	type first struct {
		node, captureAt string
		line            int
	}
	seen := map[string]first{}
	for i, n := range t.Nodes {
		for j, s := range n.Streams {
			if s.ClusterIngest == nil || s.Name == "" {
				continue
			}
			p := []string{"node", idx(i), "stream", idx(j), "cluster_ingest"}
			f, ok := seen[s.Name]
			if !ok {
				seen[s.Name] = first{n.Name, s.ClusterIngest.CaptureAt, d.pos.line(p)}
				continue
			}
			if f.captureAt != s.ClusterIngest.CaptureAt {
				d.errorf(p, "%s stream %q: capture_at %q differs from node %q's %q (line %d): peers must agree", nodeLabel(n), s.Name, s.ClusterIngest.CaptureAt, f.node, f.captureAt, f.line)
			}
		}
	}
}

func nodeLabel(n *Node) string {
	if n.Name == "" {
		return "node"
	}
	return fmt.Sprintf("node %q", n.Name)
}

func (d *decoder) validateCluster(t *Topology) {
	c := t.Cluster
	if c == nil {
		return
	}
	cp := []string{"cluster"}
	if len(c.Peers) == 0 {
		d.errorf(cp, "cluster: peers is empty")
	}
	if t.ClusterKey == "" {
		d.errorf(cp, "cluster: needs cluster_key: peers poll each other with signed calls")
	}
	seen := map[string]bool{}
	for i, p := range c.Peers {
		pp := sub(cp, "peers", idx(i))
		if seen[p] {
			d.errorf(pp, "cluster: duplicate peer %q", p)
			continue
		}
		seen[p] = true
		if _, ok := t.Node(p); ok {
			continue
		}
		if err := checkListen(p); err != nil || strings.HasPrefix(p, ":") {
			d.errorf(pp, "cluster: unknown node %q in peers: name a node of this file", p)
		} else {
			d.errorf(pp, "cluster: peer %q: peers outside this file (host:port) are not supported yet; name a node of this file", p)
		}
	}
	d.validateStreams(t, "cluster stream", c.Streams, cp, func(string) bool { return false })
	for j, s := range c.Streams {
		for _, p := range c.Peers {
			n, ok := t.Node(p)
			if !ok || s.Name == "" {
				continue
			}
			if own, dup := n.Stream(s.Name); dup {
				d.errorf(sub(cp, "stream", idx(j), "name"), "cluster stream %q: peer %q also has a [[node.stream]] of that name (line %d)", s.Name, p, own.Line)
			}
		}
	}
	if c.FetchTimeout < 0 || (c.FetchTimeout == 0 && definedZero(d, sub(cp, "fetch_timeout"))) {
		d.errorf(sub(cp, "fetch_timeout"), "cluster: fetch_timeout must be positive")
	}
	if c.StaleTimeout == 0 && definedZero(d, sub(cp, "stale_timeout")) {
		d.errorf(sub(cp, "stale_timeout"), "cluster: stale_timeout must be positive")
	}
}

// definedZero reports whether the key at path was written in the file (so a
// zero value there is the user's and not an absent key).
func definedZero(d *decoder, path []string) bool {
	k := joinPath(path)
	_, ok := d.pos[k]
	return ok && !d.bad[k]
}

func (d *decoder) validatePlugins(t *Topology) {
	for _, p := range []struct{ key, v string }{
		{"udp", t.Plugins.UDP}, {"m4f", t.Plugins.M4F}, {"dvrstore", t.Plugins.DVRStore}, {"balancer", t.Plugins.Balancer},
	} {
		if p.v == "" || p.v == Builtin {
			if p.v == "" && definedZero(d, []string{"plugins", p.key}) {
				d.failf([]string{"plugins", p.key}, "plugins.%s: empty; want \"builtin\" or the path of an executable", p.key)
			}
			continue
		}
		path := t.ResolvePath(p.v)
		fi, err := os.Stat(path)
		switch {
		case err != nil:
			d.failf([]string{"plugins", p.key}, "plugins.%s: %q is neither \"builtin\" nor an existing executable", p.key, p.v)
		case !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0:
			d.failf([]string{"plugins", p.key}, "plugins.%s: %q is not an executable file", p.key, p.v)
		}
	}
}

// validateStreams checks the streams of a node (label "node \"a\"", np
// its path) or of the [cluster] group (label "cluster stream", np
// ["cluster"]); hasSource reports whether a stream without inputs is
// restreamed by a source block.
func (d *decoder) validateStreams(t *Topology, label string, streams []*Stream, np []string, hasSource func(string) bool) {
	group := len(np) == 1 && np[0] == "cluster"
	seen := map[string]int{}
	for j, s := range streams {
		sp := sub(np, "stream", idx(j))
		sl := label + " stream"
		if group {
			sl = label
		}
		switch {
		case s.Name == "":
			d.errorf(sp, "%s: missing name", sl)
		case CheckStreamName(s.Name) != nil:
			d.errorf(sub(sp, "name"), "%s: %v", sl, CheckStreamName(s.Name))
		default:
			sl = fmt.Sprintf("%s %q", sl, s.Name)
			if line, dup := seen[s.Name]; dup {
				d.errorf(sub(sp, "name"), "%s: duplicate stream name (first at line %d)", sl, line)
			} else {
				seen[s.Name] = d.pos.line(sub(sp, "name"))
			}
		}
		for k, raw := range s.Inputs {
			ip := sub(sp, "inputs", idx(k))
			in, err := ParseInput(raw)
			if err != nil {
				d.errorf(ip, "%s: %v", sl, err)
				continue
			}
			d.checkM4FTarget(t, in, ip, sl)
		}
		if len(s.Inputs) == 0 && s.Name != "" && group {
			d.errorf(sp, "%s: no inputs", sl)
		} else if len(s.Inputs) == 0 && s.Name != "" && !hasSource(s.Name) {
			d.errorf(sp, "%s: no inputs and no [[node.source]] restreams it", sl)
		}
		if definedZero(d, sub(sp, "source_timeout")) && s.SourceTimeout == 0 {
			d.errorf(sub(sp, "source_timeout"), "%s: source_timeout must be positive", sl)
		}
		if definedZero(d, sub(sp, "segment_duration")) {
			if sd := s.SegmentDuration.D(); sd < MinSegmentDuration || sd > MaxSegmentDuration {
				d.errorf(sub(sp, "segment_duration"), "%s: segment_duration %s is outside 1s..15s", sl, sd)
			}
		}
		d.validateDVR(s.DVR, sub(sp, "dvr"), sl)
		d.validateStreamReplication(t, s, sub(sp, "dvr"), sl)
		d.validateCache(s.Cache, sub(sp, "cache"), sl)
		d.checkStreamEffects(s, sp, sl, group)
		if s.ClusterIngest != nil {
			ip := sub(sp, "cluster_ingest")
			switch {
			case t.Cluster == nil:
				d.errorf(ip, "%s: cluster_ingest needs a [cluster] section", sl)
			case s.ClusterIngest.CaptureAt != "" && !contains(t.Cluster.Peers, s.ClusterIngest.CaptureAt):
				d.errorf(sub(ip, "capture_at"), "%s: capture_at %q is not one of the [cluster] peers", sl, s.ClusterIngest.CaptureAt)
			}
		}
	}
}

func hasSourceFor(n *Node, stream string) bool {
	for _, src := range n.Sources {
		if src.Admits(stream) {
			return true
		}
	}
	return false
}

// checkM4FTarget reports an m4f URL without a port whose host names no node
// of the file.
func (d *decoder) checkM4FTarget(t *Topology, in Input, path []string, label string) {
	if in.Scheme != SchemeM4F || in.Port != 0 {
		return
	}
	if _, ok := t.Node(in.Host); !ok {
		d.errorf(path, "%s: unknown node %q in %s: name a node of this file or give host:port", label, in.Host, shownURL(in.Raw))
	}
}

func (d *decoder) validateSources(t *Topology, n *Node, np []string) {
	label := nodeLabel(n)
	for j, src := range n.Sources {
		sp := sub(np, "source", idx(j))
		sl := label + " source"
		if src.URL == "" {
			d.errorf(sp, "%s: missing url", sl)
		} else if in, err := ParseSourceURL(src.URL); err != nil {
			d.errorf(sub(sp, "url"), "%s: %v", sl, err)
		} else {
			d.checkM4FTarget(t, in, sub(sp, "url"), sl)
		}
		if len(src.Only) > 0 && len(src.Except) > 0 {
			d.errorf(sub(sp, "except"), "%s: only and except exclude each other; set one", sl)
		}
		for _, list := range []struct {
			key   string
			names []string
		}{{"only", src.Only}, {"except", src.Except}} {
			for k, name := range list.names {
				if err := CheckStreamName(name); err != nil {
					d.errorf(sub(sp, list.key, idx(k)), "%s: %s: %v", sl, list.key, err)
				}
			}
		}
		d.checkSourceEffects(src, sp, sl)
		if definedZero(d, sub(sp, "idle_timeout")) && src.IdleTimeout == 0 {
			d.errorf(sub(sp, "idle_timeout"), "%s: idle_timeout must be positive", sl)
		}
		if src.RemoteDVR != "" && !validRemoteDVR(src.RemoteDVR) {
			d.errorf(sub(sp, "remote_dvr"), "%s: bad remote_dvr %q; want chain, nochain or none", sl, src.RemoteDVR)
		}
		d.validateDVR(src.DVR, sub(sp, "dvr"), sl)
		if in, err := t.SourceInput(src.URL); err == nil {
			d.checkReplicationPort(t, src.DVR, in, sub(sp, "dvr"), sl)
		}
		d.validateCache(src.Cache, sub(sp, "cache"), sl)
	}
}

func (d *decoder) validateDVR(v *DVR, path []string, label string) {
	if v == nil {
		return
	}
	if v.Root == "" {
		d.errorf(path, "%s: dvr: missing root", label)
	} else if isURLRoot(v.Root) {
		if err := checkS3Root(v.Root); err != nil {
			d.errorf(sub(path, "root"), "%s: dvr: %v", label, err)
		}
	}
	if v.ReplicationPort < 0 || v.ReplicationPort > 65535 {
		d.errorf(sub(path, "replication_port"), "%s: dvr: replication_port %d is not 1 to 65535", label, v.ReplicationPort)
	}
	if v.ReplicationSpeed < 0 {
		d.errorf(sub(path, "replication_speed"), "%s: dvr: replication_speed %d is negative", label, v.ReplicationSpeed)
	}
	if !v.Replicate {
		for _, k := range []string{"replication_port", "replication_speed"} {
			if definedZero(d, sub(path, k)) {
				d.errorf(sub(path, k), "%s: dvr: %s needs replicate = true", label, k)
			}
		}
	}
}

// validateStreamReplication checks replicate on a [[node.stream]]: it
// copies from the stream's first m4f:// input, so the stream needs one.
func (d *decoder) validateStreamReplication(t *Topology, s *Stream, path []string, label string) {
	if s.DVR == nil || !s.DVR.Replicate || len(s.Inputs) == 0 {
		return // a stream without inputs takes its settings to a source block's stream
	}
	for _, raw := range s.Inputs {
		in, err := ParseInput(raw)
		if err != nil {
			return
		}
		if in.Scheme == SchemeM4F {
			d.checkReplicationPort(t, s.DVR, t.resolveInput(in), path, label)
			return
		}
	}
	d.errorf(sub(path, "replicate"), "%s: dvr: replicate needs an m4f:// input to copy from", label)
}

// checkReplicationPort checks that a replication_port that points at a
// node of this file is that node's replication_listen port.
func (d *decoder) checkReplicationPort(t *Topology, v *DVR, in Input, path []string, label string) {
	if v == nil || !v.Replicate || v.ReplicationPort == 0 {
		return
	}
	n := t.NodeOf(in)
	if n == nil {
		return
	}
	if n.ReplicationListen == "" {
		d.errorf(sub(path, "replication_port"), "%s: dvr: replication_port %d: node %q has no replication_listen", label, v.ReplicationPort, n.Name)
		return
	}
	if _, port, err := net.SplitHostPort(n.ReplicationListen); err == nil && port != strconv.Itoa(v.ReplicationPort) {
		d.errorf(sub(path, "replication_port"), "%s: dvr: replication_port %d is not the port of node %q's replication_listen %s", label, v.ReplicationPort, n.Name, n.ReplicationListen)
	}
}

func (d *decoder) validateCache(c *Cache, path []string, label string) {
	if c == nil {
		return
	}
	if c.Root == "" {
		d.errorf(path, "%s: cache: missing root", label)
	} else if isURLRoot(c.Root) {
		d.errorf(sub(path, "root"), "%s: cache: root %q must be a local directory (the segment cache is served with sendfile)", label, c.Root)
	}
	if c.Misses < 0 {
		d.errorf(sub(path, "misses"), "%s: cache: misses %d is negative", label, c.Misses)
	}
}

// setDefaults fills what the file leaves out, as the fields' comments say,
// and makes relative roots and plugin paths absolute. It runs on valid
// topologies only.
func (t *Topology) setDefaults() {
	if t.Cluster != nil {
		setDuration(&t.Cluster.FetchTimeout, DefaultFetchTimeout)
		setDuration(&t.Cluster.StaleTimeout, DefaultStaleTimeout)
	}
	for _, p := range []*string{&t.Plugins.UDP, &t.Plugins.M4F, &t.Plugins.DVRStore, &t.Plugins.Balancer} {
		if *p == "" {
			*p = Builtin
		} else if *p != Builtin {
			*p = t.absPath(*p)
		}
	}
	if t.Cluster != nil {
		for _, s := range t.Cluster.Streams {
			if s.ClusterIngest == nil {
				s.ClusterIngest = &Ingest{}
			}
			for _, p := range t.Cluster.Peers {
				if n, ok := t.Node(p); ok {
					n.Streams = append(n.Streams, peerCopy(s, p))
				}
			}
		}
	}
	for _, n := range t.Nodes {
		if n.PublicURL == "" {
			n.PublicURL = "http://" + n.Listen
		}
		if n.OnPlayFailure == "" {
			n.OnPlayFailure = DefaultOnPlayFailure
		}
		if e := n.ConfigExternal; e != nil {
			setDuration(&e.Refresh, DefaultExternalRefresh)
			setDuration(&e.Timeout, DefaultExternalTimeout)
		}
		for _, s := range n.Streams {
			setDuration(&s.SourceTimeout, DefaultSourceTimeout)
			setDuration(&s.SegmentDuration, DefaultSegmentDuration)
			t.archiveDefaults(s.DVR, s.Cache)
		}
		for _, src := range n.Sources {
			if src.RemoteDVR == "" {
				src.RemoteDVR = DefaultRemoteDVR
			}
			setDuration(&src.IdleTimeout, DefaultIdleTimeout)
			t.archiveDefaults(src.DVR, src.Cache)
		}
	}
}

func (t *Topology) archiveDefaults(v *DVR, c *Cache) {
	if v != nil && !isURLRoot(v.Root) {
		v.Root = t.absPath(v.Root)
	}
	if c != nil {
		c.Root = t.absPath(c.Root)
		if c.Misses == 0 {
			c.Misses = DefaultCacheMisses
		}
	}
}

// absPath is ResolvePath made absolute when it can be.
func (t *Topology) absPath(p string) string {
	p = t.ResolvePath(p)
	if abs, err := filepath.Abs(p); err == nil && p != "" {
		return abs
	}
	return p
}

func setDuration(d *Duration, def time.Duration) {
	if *d == 0 {
		*d = Duration(def)
	}
}

// peerCopy is a [[cluster.stream]] as peer node captures it: its own
// copy, with the archive and cache roots under a directory named after
// the peer.
func peerCopy(s *Stream, node string) *Stream {
	c := *s
	c.Inputs = append([]string(nil), s.Inputs...)
	ci := *s.ClusterIngest
	c.ClusterIngest = &ci
	c.Group = true
	if s.DVR != nil {
		v := *s.DVR
		v.Root = joinRoot(v.Root, node)
		c.DVR = &v
	}
	if s.Cache != nil {
		v := *s.Cache
		v.Root = joinRoot(v.Root, node)
		c.Cache = &v
	}
	return &c
}

// joinRoot appends a directory to a dvr or cache root, a path or an s3:// URL.
func joinRoot(root, dir string) string {
	if strings.Contains(root, "://") {
		return strings.TrimRight(root, "/") + "/" + dir
	}
	return filepath.Join(root, dir)
}

package config

import (
	"net/url"
	"strings"
)

// OnPlayOf returns the on_play backend URL that guards the stream name on
// node n, "" when none: the stream's own on_play, else that of the first
// [[node.source]] that restreams it (for a stream without inputs, or one
// the file does not list), else the node's.
func (n *Node) OnPlayOf(name string) string {
	sc, listed := n.Stream(name)
	if listed && sc.OnPlay != "" {
		return sc.OnPlay
	}
	if !listed || len(sc.Inputs) == 0 {
		for _, src := range n.Sources {
			if src.Admits(name) {
				if src.OnPlay != "" {
					return src.OnPlay
				}
				break
			}
		}
	}
	return n.OnPlay
}

// OnPlayFunc returns OnPlayOf as a function that answers from a map for
// the streams the file lists (it is asked on every viewer request), or nil
// when nothing on the node has an on_play.
func (n *Node) OnPlayFunc() func(stream string) string {
	set := n.OnPlay != ""
	for _, s := range n.Streams {
		set = set || s.OnPlay != ""
	}
	for _, src := range n.Sources {
		set = set || src.OnPlay != ""
	}
	if !set {
		return nil
	}
	listed := make(map[string]string, len(n.Streams))
	for _, s := range n.Streams {
		listed[s.Name] = n.OnPlayOf(s.Name)
	}
	return func(name string) string {
		if v, ok := listed[name]; ok {
			return v
		}
		return n.OnPlayOf(name)
	}
}

// checkOnPlay reports what is wrong with an on_play URL, "" when nothing:
// it must be an absolute http:// or https:// URL with a host, no fragment
// and no user info (credentials would end up in logs).
func checkOnPlay(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return "not a URL"
	case u.Scheme != "http" && u.Scheme != "https":
		return "want http:// or https://"
	case u.Host == "" || strings.HasPrefix(u.Host, ":"):
		return "no host"
	case u.User != nil:
		return "user info is not allowed; let the backend trust the node by address"
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return "a fragment is not allowed"
	}
	return ""
}

// validateAccess checks the node's viewer authorization and admin keys.
func (d *decoder) validateAccess(n *Node, np []string) {
	label := nodeLabel(n)
	if n.OnPlay != "" {
		if why := checkOnPlay(n.OnPlay); why != "" {
			d.errorf(sub(np, "on_play"), "%s: on_play %q: %s", label, n.OnPlay, why)
		}
	}
	switch n.OnPlayFailure {
	case "", OnPlayDeny, OnPlayAllow:
	default:
		d.errorf(sub(np, "on_play_failure"), "%s: bad on_play_failure %q; want deny or allow", label, n.OnPlayFailure)
	}
	if n.MetricsListen != "" {
		p := sub(np, "metrics_listen")
		if err := checkListen(n.MetricsListen); err != nil {
			d.errorf(p, "%s: metrics_listen: %v", label, err)
		} else {
			for _, o := range []struct{ key, addr string }{{"listen", n.Listen}, {"replication_listen", n.ReplicationListen}} {
				if o.addr != "" && overlaps(o.addr, n.MetricsListen) {
					d.errorf(p, "%s: metrics_listen %s collides with its %s %s", label, n.MetricsListen, o.key, o.addr)
				}
			}
		}
	}
	for j, s := range n.Streams {
		if s.OnPlay == "" {
			continue
		}
		if why := checkOnPlay(s.OnPlay); why != "" {
			d.errorf(sub(np, "stream", idx(j), "on_play"), "%s stream %q: on_play %q: %s", label, s.Name, s.OnPlay, why)
		}
	}
	for j, src := range n.Sources {
		if src.OnPlay == "" {
			continue
		}
		if why := checkOnPlay(src.OnPlay); why != "" {
			d.errorf(sub(np, "source", idx(j), "on_play"), "%s source: on_play %q: %s", label, src.OnPlay, why)
		}
	}
}

// MinAdminKeyLen is the shortest admin_key accepted: it guards every node
// of the file from the network.
const MinAdminKeyLen = 16

// validateAdminKey checks admin_key, and the on_play of [[cluster.stream]]
// blocks (each peer gets a copy).
func (d *decoder) validateAdminKey(t *Topology) {
	if t.AdminKey != "" && len(t.AdminKey) < MinAdminKeyLen {
		d.errorf([]string{"admin_key"}, "admin_key is shorter than %d characters", MinAdminKeyLen)
	}
	if t.Cluster == nil {
		return
	}
	for j, s := range t.Cluster.Streams {
		if s.OnPlay == "" {
			continue
		}
		if why := checkOnPlay(s.OnPlay); why != "" {
			d.errorf([]string{"cluster", "stream", idx(j), "on_play"}, "cluster stream %q: on_play %q: %s", s.Name, s.OnPlay, why)
		}
	}
}

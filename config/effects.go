package config

import "strings"

// No key may be accepted and then ignored. A key whose feature is not built
// yet is refused by name (notBuilt), and so is a key that the rest of the
// file makes meaningless (the checks below). TestEveryKeyHasAnEffect proves
// that every other key of docs/configuration.md is read by the node.

// notBuilt maps keys (dotted TOML paths, as docs/configuration.md writes
// them) whose feature is not built yet to that feature's name: `edge check`
// refuses such a key wherever it appears. It is empty while every
// documented key works; a key added before its feature goes here.
var notBuilt = map[string]string{}

// checkNotBuilt refuses a key of notBuilt.
func (d *decoder) checkNotBuilt(path []string) {
	k := keyName(path)
	if feature, ok := notBuilt[k]; ok {
		d.errorf(path, "%s: %s is not built yet; remove the key", k, feature)
	}
}

func (d *decoder) defined(path []string) bool {
	_, ok := d.pos[joinPath(path)]
	return ok
}

// checkStreamEffects refuses the keys of a stream (at path sp, label sl)
// that would do nothing: segment_duration on a stream that cuts no
// segments, cluster_ingest on a stream with nothing to capture, and a cache
// on a stream that fetches no archive from anywhere.
func (d *decoder) checkStreamEffects(s *Stream, sp []string, sl string, group bool) {
	var cuts, pulls bool // has a udp:// or file:// input; has an m4f:// input
	for _, raw := range s.Inputs {
		in, err := ParseInput(raw)
		if err != nil {
			return // reported already
		}
		cuts = cuts || in.Scheme == SchemeUDP || in.Scheme == SchemeFile
		pulls = pulls || in.Scheme == SchemeM4F
	}
	replicates := s.DVR != nil && s.DVR.Replicate
	if d.defined(sub(sp, "segment_duration")) {
		switch {
		case len(s.Inputs) == 0:
			d.errorf(sub(sp, "segment_duration"), "%s: segment_duration has no effect on a stream without inputs: its segments come as the [[node.source]] that restreams it cut them", sl)
		case !cuts && !replicates:
			d.errorf(sub(sp, "segment_duration"), "%s: segment_duration has no effect: the stream has no udp:// or file:// input to cut, and m4f:// inputs keep the source's segments", sl)
		}
	}
	if s.ClusterIngest != nil && len(s.Inputs) == 0 && !group {
		d.errorf(sub(sp, "cluster_ingest"), "%s: cluster_ingest needs inputs to capture: a stream without inputs is the one a [[node.source]] restreams", sl)
	}
	if s.Cache != nil && !isURLRoot(s.Cache.Root) && len(s.Inputs) > 0 && !pulls {
		ingest := (group || s.ClusterIngest != nil) && s.DVR != nil
		object := s.DVR != nil && strings.HasPrefix(s.DVR.Root, "s3://")
		if !ingest && !object {
			d.errorf(sub(sp, "cache"), "%s: cache has no effect: the stream fetches no archive (it has no m4f:// input, no s3:// dvr, and is not a recorded cluster_ingest stream)", sl)
		}
	}
}

// checkSourceEffects refuses the keys of a [[node.source]] that would do
// nothing: idle_timeout on a source whose streams record, and so are pulled
// all the time.
func (d *decoder) checkSourceEffects(src *Source, sp []string, sl string) {
	if src.DVR != nil && d.defined(sub(sp, "idle_timeout")) {
		d.errorf(sub(sp, "idle_timeout"), "%s: idle_timeout has no effect with a dvr: streams that record are pulled all the time", sl)
	}
}

// checkPluginEffects refuses a [plugins] executable for a kind of plugin
// that no node of the file runs: the operator would believe it serves, and
// it would never start. ("builtin", the default, is always accepted.)
func (d *decoder) checkPluginEffects(t *Topology) {
	var udp, m4f, store, balancer bool
	streams := func(ss []*Stream) {
		for _, s := range ss {
			for _, raw := range s.Inputs {
				switch {
				case strings.HasPrefix(raw, SchemeUDP+"://"), strings.HasPrefix(raw, SchemeFile+"://"):
					udp = true
				case strings.HasPrefix(raw, SchemeM4F+"://"):
					m4f = true
				}
			}
			store = store || s.DVR != nil
		}
	}
	if t.Cluster != nil {
		streams(t.Cluster.Streams)
		balancer = len(t.Cluster.Streams) > 0
	}
	for _, n := range t.Nodes {
		streams(n.Streams)
		if n.ConfigExternal != nil {
			udp, m4f, store = true, true, true
		}
		for _, src := range n.Sources {
			m4f = true
			store = store || src.DVR != nil
		}
		if t.Cluster.IsPeer(n.Name) {
			balancer = balancer || n.ViewerLimit > 0
			for _, s := range n.Streams {
				balancer = balancer || s.ClusterIngest != nil
			}
		}
	}
	for _, p := range []struct {
		key, v, uses string
		used         bool
	}{
		{"udp", t.Plugins.UDP, "captures a udp:// or file:// input or has config_external", udp},
		{"m4f", t.Plugins.M4F, "pulls over M4F (an m4f:// input or a [[node.source]]) or has config_external", m4f},
		{"dvrstore", t.Plugins.DVRStore, "records (a dvr) or has config_external", store},
		{"balancer", t.Plugins.Balancer, "is a [cluster] peer with cluster_ingest streams or a viewer_limit", balancer},
	} {
		if !p.used && p.v != "" && p.v != Builtin && !d.bad[joinPath([]string{"plugins", p.key})] {
			d.errorf([]string{"plugins", p.key}, "plugins.%s: no node of the file %s, so %q would never run", p.key, p.uses, p.v)
		}
	}
}

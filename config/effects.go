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

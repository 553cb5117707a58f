package node

import "github.com/edgedvr/edge/internal/safe"

// recoverEvent, deferred by handle, turns a panic while one input event
// (an init or a segment from outside) is handled into a dropped event,
// counted in edge_panics_total{where="stream_event"} and logged with its
// stack: the stream's loop, and the node, go on.
func (s *Stream) recoverEvent(ie inputEvent) {
	if r := recover(); r != nil {
		log := s.log
		if ie.input >= 0 && ie.input < len(s.inputs) {
			log = log.With("input", s.inputs[ie.input].url)
		}
		if ie.ev.Segment != nil {
			log = log.With("start", ie.ev.Segment.Start)
		}
		safe.Recovered(log, "stream_event", r)
	}
}

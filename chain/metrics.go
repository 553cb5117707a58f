package chain

import "github.com/prometheus/client_golang/prometheus"

// Metrics counts the upstream work of a node's archive lookups (namespace
// "edge", subsystem "chain"). One set is shared by all the lookups of a
// node; register its Collectors once.
type Metrics struct {
	calls     *prometheus.CounterVec
	errors    *prometheus.CounterVec
	loops     *prometheus.CounterVec
	coalesced *prometheus.CounterVec
	recalled  prometheus.Counter
	aborts    *prometheus.CounterVec
}

// NewMetrics returns an unregistered set of counters.
func NewMetrics() *Metrics {
	return &Metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "edge", Subsystem: "chain", Name: "upstream_calls_total",
			Help: "Archive calls made to sources, by source and kind (ranges, segments, segment, init).",
		}, []string{"source", "kind"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "edge", Subsystem: "chain", Name: "upstream_errors_total",
			Help: "Archive calls to sources that failed (down, timeout, bad answer), by source and kind.",
		}, []string{"source", "kind"}),
		loops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "edge", Subsystem: "chain", Name: "loops_total",
			Help: "Archive calls a source answered with 508 (chain loop), by source.",
		}, []string{"source"}),
		coalesced: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "edge", Subsystem: "chain", Name: "coalesced_total",
			Help: "Archive requests that waited for an identical request in flight instead of calling upstream, by kind.",
		}, []string{"kind"}),
		recalled: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "edge", Subsystem: "chain", Name: "listings_recalled_total",
			Help: "One-segment listings answered from what a source listed moments before (or the disk cache is writing) instead of asking the sources.",
		}),
		aborts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "edge", Subsystem: "chain", Name: "stream_aborts_total",
			Help: "Segment bodies that ended short, long or with a wrong checksum after they began to be passed on: the viewers' answers were cut and nothing was cached, by source.",
		}, []string{"source"}),
	}
}

// Collectors returns the collectors to register.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.calls, m.errors, m.loops, m.coalesced, m.recalled, m.aborts}
}

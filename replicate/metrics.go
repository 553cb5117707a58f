package replicate

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the collectors of a node's replication jobs (namespace
// "edge", subsystem "replication"), labelled by stream. One set is shared
// by all the jobs of a node; register its Collectors once.
type Metrics struct {
	segments       *prometheus.CounterVec
	bytes          *prometheus.CounterVec
	errors         *prometheus.CounterVec
	checksumErrors *prometheus.CounterVec
	missingSegs    *prometheus.GaugeVec
	missingSecs    *prometheus.GaugeVec
	rate           *prometheus.GaugeVec
}

// NewMetrics returns an unregistered set.
func NewMetrics() *Metrics {
	return &Metrics{
		segments: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "edge", Subsystem: "replication", Name: "segments_copied_total",
			Help: "Segments replication copied into the local archive, by stream.",
		}, []string{"stream"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "edge", Subsystem: "replication", Name: "bytes_copied_total",
			Help: "Segment bytes replication copied into the local archive, by stream.",
		}, []string{"stream"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "edge", Subsystem: "replication", Name: "errors_total",
			Help: "Replication failures (a pass or a segment), by stream.",
		}, []string{"stream"}),
		checksumErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "edge", Subsystem: "replication", Name: "checksum_errors_total",
			Help: "Segments or inits from the source whose bytes did not match the listed checksum or hash (not stored), by stream.",
		}, []string{"stream"}),
		missingSegs: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "edge", Subsystem: "replication", Name: "missing_segments",
			Help: "Segments of the source still missing here, by stream.",
		}, []string{"stream"}),
		missingSecs: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "edge", Subsystem: "replication", Name: "missing_seconds",
			Help: "Seconds of the source's archive still missing here, by stream.",
		}, []string{"stream"}),
		rate: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "edge", Subsystem: "replication", Name: "rate_bytes_per_second",
			Help: "Copy rate over the last progress interval (10 s), by stream.",
		}, []string{"stream"}),
	}
}

// Collectors returns the collectors to register.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.segments, m.bytes, m.errors, m.checksumErrors, m.missingSegs, m.missingSecs, m.rate}
}

func (m *Metrics) setMissing(stream string, segs int, secs float64) {
	m.missingSegs.WithLabelValues(stream).Set(float64(segs))
	m.missingSecs.WithLabelValues(stream).Set(secs)
}

// forget drops the gauges of a stream whose job ended (counters stay).
func (m *Metrics) forget(stream string) {
	m.missingSegs.DeleteLabelValues(stream)
	m.missingSecs.DeleteLabelValues(stream)
	m.rate.DeleteLabelValues(stream)
}

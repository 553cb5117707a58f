package node

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edgedvr/edge/media"
)

// Metrics are the node's counters, registered under the "edge" namespace.
type Metrics struct {
	SegmentsIn      *prometheus.CounterVec
	SegmentsWritten *prometheus.CounterVec
	BytesWritten    *prometheus.CounterVec
	RecordErrors    *prometheus.CounterVec
	RecordDropped   *prometheus.CounterVec
	// RecordRefused counts segments the store refused for good (dropped).
	RecordRefused *prometheus.CounterVec
	// RecordStalled is 1 while a stream's archive writes fail and are
	// retried; DiskFull is 1 while the reason is a full archive disk.
	RecordStalled  *prometheus.GaugeVec
	DiskFull       *prometheus.GaugeVec
	CaptureErrors  *prometheus.CounterVec
	InputSwitches  *prometheus.CounterVec
	IngestErrors   *prometheus.CounterVec
	PluginRestarts *prometheus.CounterVec
	// Cluster ingest: streams started here, handed over to another peer,
	// and placements that failed (the last one was kept).
	ClusterStarts        *prometheus.CounterVec
	ClusterHandovers     *prometheus.CounterVec
	ClusterPlaceFailures prometheus.Counter

	mu   sync.Mutex
	seen map[string]media.Stats // last stats per stream+input, to count deltas
}

// NewMetrics creates the node's metrics and registers them on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	counter := func(sub, name, help string, labels ...string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "edge", Subsystem: sub, Name: name, Help: help}, labels)
		reg.MustRegister(c)
		return c
	}
	return &Metrics{
		SegmentsIn:      counter("ingest", "segments_total", "Segments accepted from the active input.", "stream"),
		SegmentsWritten: counter("dvr", "segments_written_total", "Segments written to the archive.", "stream"),
		BytesWritten:    counter("dvr", "bytes_written_total", "Segment bytes written to the archive.", "stream"),
		RecordErrors:    counter("dvr", "write_errors_total", "Failed archive write attempts (temporary ones are retried, refused ones dropped).", "stream"),
		RecordDropped:   counter("dvr", "dropped_segments_total", "Segments dropped because the archive write queue overflowed.", "stream"),
		RecordRefused:   counter("dvr", "refused_segments_total", "Segments the archive store refused for good, dropped.", "stream"),
		RecordStalled:   gauge(reg, "dvr", "write_stalled", "1 while archive writes fail and are retried, else 0.", "stream"),
		DiskFull:        gauge(reg, "dvr", "disk_full", "1 while archive writes wait for space on a full disk, else 0.", "stream"),
		CaptureErrors:   counter("ingest", "capture_errors_total", "Capture calls that failed and were retried.", "stream"),
		InputSwitches:   counter("ingest", "input_switches_total", "Switches of the active input.", "stream"),
		IngestErrors:    counter("ingest", "errors_total", "Bad input seen by the ingest plugins, by kind.", "stream", "kind"),
		PluginRestarts:  counter("plugin", "restarts_total", "Plugin processes restarted after they died.", "plugin"),
		ClusterStarts:   counter("cluster", "captures_started_total", "Cluster-ingest streams this node started because the group placed them here.", "stream"),
		ClusterHandovers: counter("cluster", "handovers_total",
			"Cluster-ingest streams this node stopped once their new owner ran them.", "stream"),
		ClusterPlaceFailures: placeFailures(reg),
		seen:                 make(map[string]media.Stats),
	}
}

func gauge(reg prometheus.Registerer, sub, name, help string, labels ...string) *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "edge", Subsystem: sub, Name: name, Help: help}, labels)
	reg.MustRegister(g)
	return g
}

func placeFailures(reg prometheus.Registerer) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Namespace: "edge", Subsystem: "cluster", Name: "placement_failures_total",
		Help: "Placements that failed (balancer down or wrong); the last placement was kept."})
	reg.MustRegister(c)
	return c
}

// observeStats turns a plugin's cumulative counters into metric increments.
func (m *Metrics) observeStats(stream, input string, st media.Stats) {
	key := stream + "\x00" + input
	m.mu.Lock()
	prev, ok := m.seen[key]
	m.seen[key] = st
	m.mu.Unlock()
	if !ok || st.Packets < prev.Packets {
		// A new Capture call (plugin restart): counters started again.
		prev = media.Stats{}
	}
	add := func(kind string, now, before uint64) {
		if now > before {
			m.IngestErrors.WithLabelValues(stream, kind).Add(float64(now - before))
		}
	}
	add("garbage_bytes", st.GarbageBytes, prev.GarbageBytes)
	add("cc_errors", st.CCErrors, prev.CCErrors)
	add("unsupported", st.Unsupported, prev.Unsupported)
	add("discontinuities", st.Discontinuities, prev.Discontinuities)
}

package proxy

import (
	"errors"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edgedvr/edge/cluster"
)

// m4fMetrics are the collectors of the M4F server side (namespace "edge",
// subsystem "m4f").
type m4fMetrics struct {
	authFailures *prometheus.CounterVec // by reason
	requests     *prometheus.CounterVec // by endpoint and code
	liveClients  prometheus.Gauge
	frames       *prometheus.CounterVec // by frame type
	bytes        prometheus.Counter
	skipped      prometheus.Counter
	replication  *prometheus.CounterVec // by endpoint and code, on the replication listener only
	bulkSegments prometheus.Counter
}

func newM4FMetrics(reg prometheus.Registerer) *m4fMetrics {
	m := &m4fMetrics{
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "edge", Subsystem: "m4f", Name: "auth_failures_total",
			Help: "M4F calls refused with 403 by reason: no_key, missing, malformed, stale, bad_signature.",
		}, []string{"reason"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "edge", Subsystem: "m4f", Name: "requests_total",
			Help: "M4F calls answered by endpoint and status code (live: the status the stream started with).",
		}, []string{"endpoint", "code"}),
		liveClients: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "edge", Subsystem: "m4f", Name: "live_clients",
			Help: "Live M4F responses being streamed now.",
		}),
		frames: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "edge", Subsystem: "m4f", Name: "frames_sent_total",
			Help: "Live M4F frames sent by type: init, segment, heartbeat, end.",
		}, []string{"type"}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "edge", Subsystem: "m4f", Name: "live_bytes_sent_total",
			Help: "Live M4F body bytes sent (magic, frame headers and data).",
		}),
		skipped: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "edge", Subsystem: "m4f", Name: "skipped_segments_total",
			Help: "Segments a slow live M4F client never got: they left the live window before it read them.",
		}),
		replication: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "edge", Subsystem: "m4f", Name: "replication_requests_total",
			Help: "M4F calls answered on the replication listener (replication_listen), by endpoint and status code; requests_total counts them too.",
		}, []string{"endpoint", "code"}),
		bulkSegments: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "edge", Subsystem: "m4f", Name: "bulk_segments_sent_total",
			Help: "Segments sent in bulk answers (GET /m4f/v1/bulk), the way replication fetches runs of segments.",
		}),
	}
	reg.MustRegister(m.authFailures, m.requests, m.liveClients, m.frames, m.bytes, m.skipped, m.replication, m.bulkSegments)
	return m
}

// authReason is the metric label of a cluster.Verifier error.
func authReason(err error) string {
	switch {
	case errors.Is(err, cluster.ErrNoKey):
		return "no_key"
	case errors.Is(err, cluster.ErrMissing):
		return "missing"
	case errors.Is(err, cluster.ErrMalformed):
		return "malformed"
	case errors.Is(err, cluster.ErrStale):
		return "stale"
	case errors.Is(err, cluster.ErrBadSignature):
		return "bad_signature"
	}
	return "other"
}

func (m *m4fMetrics) observe(endpoint string, status int) {
	m.requests.WithLabelValues(endpoint, strconv.Itoa(status)).Inc()
}

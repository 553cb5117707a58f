package proxy

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the server's collectors (namespace "edge", subsystem "http").
type metrics struct {
	requests *prometheus.CounterVec
	bytes    *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "edge", Subsystem: "http", Name: "requests_total",
			Help: "HTTP requests by route and status code.",
		}, []string{"route", "code"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "edge", Subsystem: "http", Name: "response_bytes_total",
			Help: "Response body bytes by route (as announced by Content-Length).",
		}, []string{"route"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "edge", Subsystem: "http", Name: "handler_duration_seconds",
			Help:    "Time to prepare a response by route (streamed bodies are sent afterwards).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route"}),
	}
	reg.MustRegister(m.requests, m.bytes, m.duration)
	return m
}

func (m *metrics) observe(rt route, status, size int, d time.Duration) {
	name := rt.String()
	m.requests.WithLabelValues(name, strconv.Itoa(status)).Inc()
	if size > 0 {
		m.bytes.WithLabelValues(name).Add(float64(size))
	}
	m.duration.WithLabelValues(name).Observe(d.Seconds())
}

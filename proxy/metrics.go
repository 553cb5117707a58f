package proxy

import (
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the server's collectors (namespace "edge", subsystem "http").
type metrics struct {
	requests *prometheus.CounterVec
	bytes    *prometheus.CounterVec
	duration *prometheus.HistogramVec
	// byRoute holds each route's series once a request of it was answered
	// (a series appears in /metrics only then, as with WithLabelValues),
	// so a request looks no label up.
	byRoute [len(routeNames)]atomic.Pointer[routeSeries]
}

// routeSeries are the series of one route; ok is its 200 answers'.
type routeSeries struct {
	ok       prometheus.Counter
	bytes    prometheus.Counter
	duration prometheus.Observer
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
	rs := m.byRoute[rt].Load()
	if rs == nil || (status == 200 && rs.ok == nil) || (size > 0 && rs.bytes == nil) {
		rs = m.addSeries(rt, rs, status == 200, size > 0)
	}
	if status == 200 {
		rs.ok.Inc()
	} else {
		m.requests.WithLabelValues(rt.String(), strconv.Itoa(status)).Inc()
	}
	if size > 0 {
		rs.bytes.Add(float64(size))
	}
	rs.duration.Observe(d.Seconds())
}

// addSeries returns rt's series with the ones this answer needs added (a
// series is created when its first value comes, as WithLabelValues on
// each request would). Two requests adding at once store either's: the
// series they look up are the same, and a missing one is added again.
func (m *metrics) addSeries(rt route, rs *routeSeries, ok, bytes bool) *routeSeries {
	name := rt.String()
	n := &routeSeries{duration: m.duration.WithLabelValues(name)}
	if rs != nil {
		*n = *rs
	}
	if ok && n.ok == nil {
		n.ok = m.requests.WithLabelValues(name, "200")
	}
	if bytes && n.bytes == nil {
		n.bytes = m.bytes.WithLabelValues(name)
	}
	m.byRoute[rt].Store(n)
	return n
}

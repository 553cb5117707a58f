package cache

import "github.com/prometheus/client_golang/prometheus"

var (
	descHits      = prometheus.NewDesc("edge_cache_hits_total", "Memory cache lookups that found the segment.", nil, nil)
	descMisses    = prometheus.NewDesc("edge_cache_misses_total", "Memory cache lookups that did not find the segment.", nil, nil)
	descEvictions = prometheus.NewDesc("edge_cache_evictions_total", "Segments evicted from the memory cache to stay within its byte budget.", nil, nil)
	descBytes     = prometheus.NewDesc("edge_cache_bytes", "Bytes of segment data held by the memory cache.", nil, nil)
	descEntries   = prometheus.NewDesc("edge_cache_entries", "Segments held by the memory cache.", nil, nil)
	descBudget    = prometheus.NewDesc("edge_cache_budget_bytes", "Byte budget of the memory cache.", nil, nil)
)

// Collector returns a prometheus collector that exports the counters of m
// (namespace "edge", subsystem "cache"). Register it once per registry.
func (m *Memory) Collector() prometheus.Collector { return memoryCollector{m} }

type memoryCollector struct{ m *Memory }

func (c memoryCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descHits, descMisses, descEvictions, descBytes, descEntries, descBudget} {
		ch <- d
	}
}

func (c memoryCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.m.Stats()
	ch <- prometheus.MustNewConstMetric(descHits, prometheus.CounterValue, float64(s.Hits))
	ch <- prometheus.MustNewConstMetric(descMisses, prometheus.CounterValue, float64(s.Misses))
	ch <- prometheus.MustNewConstMetric(descEvictions, prometheus.CounterValue, float64(s.Evictions))
	ch <- prometheus.MustNewConstMetric(descBytes, prometheus.GaugeValue, float64(s.Bytes))
	ch <- prometheus.MustNewConstMetric(descEntries, prometheus.GaugeValue, float64(s.Entries))
	ch <- prometheus.MustNewConstMetric(descBudget, prometheus.GaugeValue, float64(s.Budget))
}

package cache

import "github.com/prometheus/client_golang/prometheus"

var (
	descDiskHits      = prometheus.NewDesc("edge_cache_disk_hits_total", "Disk cache lookups that found the segment.", nil, nil)
	descDiskMisses    = prometheus.NewDesc("edge_cache_disk_misses_total", "Disk cache lookups that did not find the segment.", nil, nil)
	descDiskEvictions = prometheus.NewDesc("edge_cache_disk_evictions_total", "Segments deleted from the disk cache by depth or size.", nil, nil)
	descDiskBytes     = prometheus.NewDesc("edge_cache_disk_bytes", "Bytes of segment data held by the disk cache.", nil, nil)
	descDiskEntries   = prometheus.NewDesc("edge_cache_disk_entries", "Segments held by the disk cache.", nil, nil)
	descDiskWriteErrs = prometheus.NewDesc("edge_cache_disk_write_errors_total", "Segment writes to the disk cache that failed (the segment stays a miss).", nil, nil)
	descDiskSkipped   = prometheus.NewDesc("edge_cache_disk_writes_skipped_total", "Segment writes to the disk cache not started because too many were in flight.", nil, nil)
	descDiskInFlight  = prometheus.NewDesc("edge_cache_disk_writes_in_flight", "Background segment writes to the disk cache running now.", nil, nil)
)

// Collector returns a prometheus collector that exports the counters of d
// (namespace "edge", subsystem "cache", names edge_cache_disk_*). Register
// it once per registry.
func (d *Disk) Collector() prometheus.Collector { return diskCollector{d} }

type diskCollector struct{ d *Disk }

func (c diskCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descDiskHits, descDiskMisses, descDiskEvictions, descDiskBytes, descDiskEntries, descDiskWriteErrs, descDiskSkipped, descDiskInFlight} {
		ch <- d
	}
}

func (c diskCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.d.Stats()
	ch <- prometheus.MustNewConstMetric(descDiskHits, prometheus.CounterValue, float64(s.Hits))
	ch <- prometheus.MustNewConstMetric(descDiskMisses, prometheus.CounterValue, float64(s.Misses))
	ch <- prometheus.MustNewConstMetric(descDiskEvictions, prometheus.CounterValue, float64(s.Evictions))
	ch <- prometheus.MustNewConstMetric(descDiskBytes, prometheus.GaugeValue, float64(s.Bytes))
	ch <- prometheus.MustNewConstMetric(descDiskEntries, prometheus.GaugeValue, float64(s.Entries))
	ch <- prometheus.MustNewConstMetric(descDiskWriteErrs, prometheus.CounterValue, float64(s.WriteErrors))
	ch <- prometheus.MustNewConstMetric(descDiskSkipped, prometheus.CounterValue, float64(s.WritesSkipped))
	ch <- prometheus.MustNewConstMetric(descDiskInFlight, prometheus.GaugeValue, float64(s.WritesInFlight))
}

// DiskStats is a snapshot of the counters of a Disk.
type DiskStats struct {
	Hits, Misses, Evictions uint64
	Bytes, Entries, MaxSize int64
	// WriteErrors counts segment writes that failed (the segment stays a
	// miss); WritesSkipped those not started because MaxBehind background
	// writes, or MaxSize bytes, were in flight; WritesInFlight is the
	// background writes running now.
	WriteErrors, WritesSkipped uint64
	WritesInFlight             int64
}

// Stats returns the counters so far.
func (d *Disk) Stats() DiskStats {
	return DiskStats{
		Hits:      d.hits.Load(),
		Misses:    d.misses.Load(),
		Evictions: d.evictions.Load(),
		Bytes:     d.bytesGauge.Load(),
		Entries:   d.entries.Load(),
		MaxSize:   d.cfg.MaxSize,

		WriteErrors:    d.writeErrors.Load(),
		WritesSkipped:  d.writesSkipped.Load(),
		WritesInFlight: d.inFlight.Load(),
	}
}

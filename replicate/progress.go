package replicate

import (
	"time"

	"github.com/edgedvr/edge/sdk"
)

// progress counts a stored segment and logs at most every ProgressLogInterval.
func (j *Job) progress(s sdk.SegmentInfo) {
	j.m.segments.WithLabelValues(j.cfg.Stream).Inc()
	j.m.bytes.WithLabelValues(j.cfg.Stream).Add(float64(s.Size))
	now := j.cfg.Now()
	j.mu.Lock()
	j.st.SegmentsCopied++
	j.st.BytesCopied += s.Size
	if j.st.SegmentsMissing > 0 {
		j.st.SegmentsMissing--
		j.st.SecondsMissing = max(0, j.st.SecondsMissing-float64(s.Duration)/1000)
	}
	if j.rateAt.IsZero() {
		j.rateAt, j.rateBytes = now, j.st.BytesCopied-s.Size
		j.lastLog = now
	}
	missing, secs := j.st.SegmentsMissing, j.st.SecondsMissing
	logNow := now.Sub(j.lastLog) >= ProgressLogInterval
	var rateNow float64
	var eta time.Duration
	if logNow {
		rateNow = j.rateLocked(now)
		if rateNow > 0 {
			eta = time.Duration(float64(j.missingBytes()) / rateNow * float64(time.Second))
		}
		j.lastLog = now
		j.rateAt, j.rateBytes = now, j.st.BytesCopied
	}
	copied, bytes := j.st.SegmentsCopied, j.st.BytesCopied
	j.mu.Unlock()
	j.m.setMissing(j.cfg.Stream, int(missing), secs)
	if logNow {
		j.m.rate.WithLabelValues(j.cfg.Stream).Set(rateNow)
		j.log.Info("replicating", "copied_segments", copied, "copied_bytes", bytes, "missing_segments", missing,
			"missing_seconds", int64(secs), "rate_bytes_per_s", int64(rateNow), "eta", eta.Round(time.Second).String())
	}
}

package media

import (
	"testing"
	"time"
)

func TestRestartsTimeline(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_000)
	ms := now.UnixMilli()
	hour := int64(time.Hour / time.Millisecond)
	tests := []struct {
		name           string
		lastEnd, start int64
		want           bool
	}{
		{"after the end: not an overlap at all", ms, ms + 10, false},
		{"at the end", ms, ms, false},
		{"overlap of a timeline at the clock (failover, replay)", ms, ms - 3000, false},
		{"overlap of a timeline a little ahead (clock skew)", ms + 9000, ms - 3000, false},
		{"timeline an hour ahead, segment now: a future segment or a step back", ms + hour, ms, true},
		{"timeline an hour ahead, segment just inside MaxAhead", ms + hour, ms + 10_000, true},
		{"timeline an hour ahead, segment also ahead (source ahead all along)", ms + hour, ms + hour - 3000, false},
		{"timeline an hour ahead, segment an hour behind (clock stepped further back)", ms + hour, ms - hour, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := RestartsTimeline(tc.lastEnd, tc.start, now); got != tc.want {
				t.Fatalf("RestartsTimeline(%d, %d) = %v, want %v", tc.lastEnd-ms, tc.start-ms, got, tc.want)
			}
		})
	}
}

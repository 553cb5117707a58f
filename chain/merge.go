package chain

import (
	"sort"

	"github.com/edgedvr/edge/cache"
	"github.com/edgedvr/edge/sdk"
)

// rangeTolerance is the largest hole between two ranges that still joins
// them: the gap tolerance of a segment of unknown (short) duration.
var rangeTolerance = cache.GapTolerance(0)

// MergeRanges returns the union of lists, in order: ranges that overlap or
// touch (within the gap tolerance) become one.
func MergeRanges(lists ...[]sdk.Range) []sdk.Range {
	n := 0
	for _, l := range lists {
		n += len(l)
	}
	if n == 0 {
		return nil
	}
	all := make([]sdk.Range, 0, n)
	for _, l := range lists {
		for _, r := range l {
			if r.To > r.From {
				all = append(all, r)
			}
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].From < all[j].From })
	out := all[:0]
	for _, r := range all {
		if k := len(out) - 1; k >= 0 && r.From <= out[k].To+rangeTolerance {
			if r.To > out[k].To {
				out[k].To = r.To
			}
			continue
		}
		out = append(out, r)
	}
	return out
}

// rangesOf returns the stretches covered by segs (sorted by start).
func rangesOf(segs []sdk.SegmentInfo) []sdk.Range {
	var out []sdk.Range
	for _, s := range segs {
		if k := len(out) - 1; k >= 0 && s.Start <= out[k].To+cache.GapTolerance(s.Duration) {
			if s.End() > out[k].To {
				out[k].To = s.End()
			}
			continue
		}
		out = append(out, sdk.Range{From: s.Start, To: s.End()})
	}
	return out
}

// overlaps reports whether b, which starts at or after a, overlaps a by
// more than the gap tolerance (the rule of the front's playlists).
func overlaps(a, b *sdk.SegmentInfo) bool {
	return b.Start <= a.Start || b.Start < a.End()-cache.GapTolerance(a.Duration)
}

// mergeSegments adds the segments of add (a later place in priority order)
// to chosen (sorted by start, no overlap): a segment of add that overlaps
// one already there is dropped. add need not be sorted. The result is sorted
// by start and has no overlap. src tells, for each segment added, its index
// in add (nil when not wanted).
func mergeSegments(chosen, add []sdk.SegmentInfo, added func(k int)) []sdk.SegmentInfo {
	if len(add) == 0 {
		return chosen
	}
	idx := make([]int, len(add))
	for k := range idx {
		idx[k] = k
	}
	if !sort.SliceIsSorted(add, func(i, j int) bool { return add[i].Start < add[j].Start }) {
		sort.SliceStable(idx, func(i, j int) bool { return add[idx[i]].Start < add[idx[j]].Start })
	}
	out := make([]sdk.SegmentInfo, 0, len(chosen)+len(add))
	i := 0
	for _, k := range idx {
		s := &add[k]
		if s.Duration <= 0 {
			continue
		}
		for i < len(chosen) && chosen[i].Start <= s.Start {
			out = append(out, chosen[i])
			i++
		}
		if n := len(out); n > 0 && overlaps(&out[n-1], s) {
			continue
		}
		if i < len(chosen) && overlaps(s, &chosen[i]) {
			continue
		}
		out = append(out, *s)
		if added != nil {
			added(k)
		}
	}
	return append(out, chosen[i:]...)
}

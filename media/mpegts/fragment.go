package mpegts

import (
	"errors"
	"fmt"
	"math"

	"github.com/Eyevinn/mp4ff/bits"
	"github.com/Eyevinn/mp4ff/mp4"
)

// sample is one media sample of a segment on the 90 kHz clock (not yet
// taken modulo 2^33).
type sample struct {
	dts, pts int64
	dur      int64
	key      bool
	data     []byte  // a slice of the segment
	nals     nalInfo // video: what the NAL units hold (set by Muxer.check)
}

var errTruncated = errors.New("truncated")

// parseSegment appends the samples of every carried track of seg (one or
// more moof+mdat pairs) to samples, indexed like st.tracks. It checks
// every offset and size against the segment; samples of tracks st does not
// carry are counted in skipped.
func parseSegment(st *stream, seg []byte, samples [][]sample) (skipped int, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("parse segment: mp4ff: %v", r)
		}
	}()
	var moof *mp4.MoofBox
	pairs := 0
	for pos := 0; pos < len(seg); {
		hdr, err := mp4.DecodeHeaderSR(bits.NewFixedSliceReader(seg[pos:]))
		if err != nil {
			return 0, fmt.Errorf("parse segment: box at %d: %w", pos, err)
		}
		if hdr.Size > uint64(len(seg)-pos) {
			return 0, fmt.Errorf("parse segment: %s box at %d declares %d bytes, %d left: %w", hdr.Name, pos, hdr.Size, len(seg)-pos, errTruncated)
		}
		start, end := pos, pos+int(hdr.Size)
		pos = end
		// The box decoder reads from its own slice: it cannot pass the declared end.
		body := bits.NewFixedSliceReader(seg[start+hdr.Hdrlen : end])
		box, err := mp4.DecodeBoxBodySR(uint64(start), hdr, body)
		if err != nil {
			return 0, fmt.Errorf("parse segment: box at %d: %w", start, err)
		}
		if err := body.AccError(); err != nil {
			return 0, fmt.Errorf("parse segment: %s box at %d: %w", hdr.Name, start, errTruncated)
		}
		switch b := box.(type) {
		case *mp4.MoofBox:
			if moof != nil {
				return 0, fmt.Errorf("parse segment: moof at %d follows a moof without mdat", start)
			}
			moof = b
		case *mp4.MdatBox:
			if moof == nil {
				return 0, fmt.Errorf("parse segment: mdat at %d without moof", start)
			}
			n, err := fragmentSamples(st, seg, moof, b, samples)
			if err != nil {
				return 0, fmt.Errorf("parse segment: fragment %d: %w", pairs, err)
			}
			skipped += n
			moof = nil
			pairs++
		}
	}
	if moof != nil {
		return 0, fmt.Errorf("parse segment: moof without mdat: %w", errTruncated)
	}
	if pairs == 0 {
		return 0, errors.New("parse segment: no moof+mdat")
	}
	return skipped, nil
}

// fragmentSamples adds the samples of one moof+mdat.
func fragmentSamples(st *stream, seg []byte, moof *mp4.MoofBox, mdat *mp4.MdatBox, samples [][]sample) (skipped int, err error) {
	payStart := int64(mdat.PayloadAbsoluteOffset())
	payEnd := payStart + int64(len(mdat.Data))
	if payEnd > int64(len(seg)) {
		return 0, fmt.Errorf("mdat: %w", errTruncated)
	}
	moofStart := int64(moof.StartPos)
	dataEnd := moofStart // where the previous track fragment's data ended
	for i, traf := range moof.Trafs {
		if traf.Tfhd == nil {
			return 0, errors.New("traf without tfhd")
		}
		ti := -1
		for j := range st.tracks {
			if st.tracks[j].id == traf.Tfhd.TrackID {
				ti = j
			}
		}
		if ti < 0 {
			for _, trun := range traf.Truns {
				skipped += int(trun.SampleCount())
			}
			continue
		}
		t := &st.tracks[ti]
		if traf.Tfdt == nil {
			return 0, fmt.Errorf("track %d: traf without tfdt", t.id)
		}
		bmdt := traf.Tfdt.BaseMediaDecodeTime()
		if bmdt > math.MaxInt64/2 {
			return 0, fmt.Errorf("track %d: tfdt %d out of range", t.id, bmdt)
		}
		decode := int64(bmdt)
		// ISO/IEC 14496-12 8.8.7.1: the base is the explicit base data
		// offset, the moof (default-base-is-moof, or the first traf), or the
		// end of the previous traf's data.
		base := dataEnd
		switch {
		case traf.Tfhd.HasBaseDataOffset():
			if traf.Tfhd.BaseDataOffset > math.MaxInt32 {
				return 0, fmt.Errorf("track %d: base data offset %d out of range", t.id, traf.Tfhd.BaseDataOffset)
			}
			base = int64(traf.Tfhd.BaseDataOffset)
		case traf.Tfhd.DefaultBaseIfMoof() || i == 0:
			base = moofStart
		}
		off := base
		for _, trun := range traf.Truns {
			trun.AddSampleDefaultValues(traf.Tfhd, t.trex)
			if trun.HasDataOffset() {
				off = base + int64(trun.DataOffset)
			}
			for _, s := range trun.Samples {
				end := off + int64(s.Size)
				if off < payStart || end > payEnd {
					return 0, fmt.Errorf("track %d: sample of %d bytes at %d, outside mdat data %d..%d", t.id, s.Size, off, payStart, payEnd)
				}
				dts := decode
				decode += int64(s.Dur)
				if s.Size == 0 {
					skipped++
					off = end
					continue
				}
				samples[ti] = append(samples[ti], sample{
					dts:  to90(dts, t.timescale),
					pts:  to90(dts+int64(s.CompositionTimeOffset), t.timescale),
					dur:  to90(decode, t.timescale) - to90(dts, t.timescale),
					key:  s.Flags&nonSyncFlag == 0 && (s.Flags>>24)&3 != 1,
					data: seg[off:end],
				})
				off = end
			}
		}
		dataEnd = off
	}
	return skipped, nil
}

const nonSyncFlag = 0x00010000 // sample_is_non_sync_sample

// to90 converts ticks of timescale to the 90 kHz clock, rounding down.
func to90(t int64, timescale uint32) int64 {
	if timescale == 90000 {
		return t
	}
	ts := int64(timescale)
	q, r := t/ts, t%ts
	if r < 0 {
		q, r = q-1, r+ts
	}
	return q*90000 + r*90000/ts
}

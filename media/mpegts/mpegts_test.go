package mpegts

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const (
	pidPAT   = 0x0000
	pidVideo = firstPID     // the segmenter's init has video first
	pidAudio = firstPID + 1 // and AAC second
)

// TestMuxerSample remuxes every segment the segmenter makes of the
// committed sample through one Muxer and lets ffprobe and ffmpeg judge it.
func TestMuxerSample(t *testing.T) {
	r := sampleSegments(t)
	if len(r.segs) < 3 {
		t.Fatalf("%d segments of the sample, want at least 3", len(r.segs))
	}
	var ts bytes.Buffer
	w := &chunkWriter{}
	m := NewMuxer(w)
	for i, sg := range r.segs {
		if err := m.WriteSegment(r.init, sg.Data); err != nil {
			t.Fatalf("segment %d: %v", i, err)
		}
	}
	// One Write per segment, each starting with PAT and PMT.
	if len(w.chunks) != len(r.segs) {
		t.Errorf("%d writes for %d segments", len(w.chunks), len(r.segs))
	}
	for i, c := range w.chunks {
		if pk := parsePackets(t, c); pk[0].pid != pidPAT || pk[1].pid != pidPMT || pk[2].pid != pidVideo || !pk[2].rai {
			t.Errorf("write %d starts on pids %#x %#x %#x: want PAT, PMT, a video keyframe", i, pk[0].pid, pk[1].pid, pk[2].pid)
		}
		ts.Write(c)
	}
	dir := t.TempDir()
	tsPath := writeTemp(t, dir, "out.ts", ts.Bytes())
	mp4Path := writeTemp(t, dir, "in.mp4", mp4Concat(r))

	p := ffprobe(t, tsPath)
	if p.Format.FormatName != "mpegts" {
		t.Errorf("format %q, want mpegts", p.Format.FormatName)
	}
	var sawV, sawA bool
	for _, s := range p.Streams {
		switch s.CodecType {
		case "video":
			sawV = true
			if s.CodecName != "h264" || s.Width != 480 || s.Height != 270 {
				t.Errorf("video %s %dx%d, want h264 480x270", s.CodecName, s.Width, s.Height)
			}
		case "audio":
			sawA = true
			if s.CodecName != "aac" || s.SampleRate != "48000" {
				t.Errorf("audio %s %s Hz, want aac 48000", s.CodecName, s.SampleRate)
			}
		}
	}
	if !sawV || !sawA || len(p.Streams) != 2 {
		t.Fatalf("streams %+v: want one h264 and one aac", p.Streams)
	}
	if msg := decodeErrors(t, tsPath); msg != "" {
		t.Errorf("ffmpeg decode printed errors:\n%s", msg)
	}
	want := float64(totalMs(r.segs)) / 1000
	if got := p.duration(t); !near(got, want, 0.040) {
		t.Errorf("ts duration %.3f s, segments sum to %.3f s (one frame is 0.040)", got, want)
	}
	in := ffprobe(t, mp4Path)
	if got, want := p.packets(t, "video"), in.packets(t, "video"); got != want {
		t.Errorf("%d video packets in the ts, %d in the fmp4", got, want)
	}
	if got, want := p.packets(t, "audio"), in.packets(t, "audio"); got != want {
		t.Errorf("%d audio packets in the ts, %d in the fmp4", got, want)
	}
	st := m.Stats()
	if st.Segments != uint64(len(r.segs)) || st.InitChanges != 1 || st.SkippedTracks != 0 || st.SkippedSamples != 0 || st.Bytes != uint64(ts.Len()) {
		t.Errorf("stats %+v", st)
	}
	pkts := parsePackets(t, ts.Bytes())
	checkContinuity(t, pkts)
	if pkts[0].pid != pidPAT || pkts[1].pid != pidPMT {
		t.Errorf("first packets on pids %#x, %#x: want PAT then PMT", pkts[0].pid, pkts[1].pid)
	}
}

// TestTimestamps: the DTS of each segment's first video packet is its
// UTC start (the segmenter's tfdt) in 90 kHz ticks modulo 2^33, and a
// segment left out is a gap of its duration in the timestamps.
func TestTimestamps(t *testing.T) {
	r := sampleSegments(t)
	var ts bytes.Buffer
	m := NewMuxer(&ts)
	order := []int{0, 2} // segment 1 left out: a hole in the archive
	for _, i := range order {
		if err := m.WriteSegment(r.init, r.segs[i].Data); err != nil {
			t.Fatal(err)
		}
	}
	path := writeTemp(t, t.TempDir(), "gap.ts", ts.Bytes())
	p := ffprobe(t, path, "-show_packets", "-select_streams", "v")
	var dts []int64
	for _, pk := range p.Packets {
		if pk.DTS != nil {
			dts = append(dts, *pk.DTS)
		}
	}
	n0 := countVideoSamples(t, r.segs[0].Data)
	if len(dts) != n0+countVideoSamples(t, r.segs[2].Data) {
		t.Fatalf("%d video packets", len(dts))
	}
	const mask = 1<<33 - 1
	if got, want := dts[0], (r.segs[0].Start*90)&mask; got != want {
		t.Errorf("first dts %d, want UTC start %d ms * 90 mod 2^33 = %d", got, r.segs[0].Start, want)
	}
	if got, want := dts[n0]-dts[0], (r.segs[2].Start-r.segs[0].Start)*90; got != want {
		t.Errorf("dts of segment 2 is %d after segment 0, want %d (the hole included)", got, want)
	}
	// The PCR after the hole says the time base jumps.
	var di int
	for _, pk := range parsePackets(t, ts.Bytes()) {
		if pk.di {
			di++
		}
	}
	if di != 1 {
		t.Errorf("%d packets with the discontinuity indicator, want 1 (after the hole)", di)
	}
}

// TestRemuxStandalone: each standalone segment starts with PAT, PMT and a
// keyframe carrying AUD, SPS and PPS, and plays alone.
func TestRemuxStandalone(t *testing.T) {
	r := sampleSegments(t)
	dir := t.TempDir()
	for i, sg := range r.segs {
		ts, err := Remux(r.init, sg.Data)
		if err != nil {
			t.Fatalf("segment %d: %v", i, err)
		}
		pkts := parsePackets(t, ts)
		checkContinuity(t, pkts)
		if pkts[0].pid != pidPAT || pkts[1].pid != pidPMT || pkts[2].pid != pidVideo || !pkts[2].pusi || !pkts[2].rai || pkts[2].pcr < 0 {
			t.Fatalf("segment %d starts with %+v %+v %+v: want PAT, PMT, then a random access video PES with PCR", i, pkts[0].pid, pkts[1].pid, pkts[2])
		}
		if pkts[0].cc != 0 || pkts[2].cc != 0 {
			t.Errorf("segment %d: continuity counters start at %d/%d, documented as 0", i, pkts[0].cc, pkts[2].cc)
		}
		// The PES payload: header, then AUD, SPS, PPS, IDR in Annex B.
		pes := firstPES(pkts, pidVideo)
		if len(pes) < 9 || !bytes.Equal(pes[:3], []byte{0, 0, 1}) || pes[3] != 0xe0 {
			t.Fatalf("segment %d: no video PES header: % x", i, pes[:min(len(pes), 16)])
		}
		es := pes[9+int(pes[8]):]
		if got := nalTypes(es); !strings.HasPrefix(got, "9 7 8 ") || !strings.Contains(got, " 5") {
			t.Errorf("segment %d: first access unit has NAL types %q, want AUD, SPS, PPS, ..., IDR", i, got)
		}
		path := writeTemp(t, dir, fmt.Sprintf("seg%d.ts", i), ts)
		p := ffprobe(t, path)
		if p.Format.FormatName != "mpegts" || len(p.Streams) != 2 || p.Streams[0].Width != 480 {
			t.Errorf("segment %d: ffprobe sees %+v", i, p)
		}
		// The format duration also counts the composition offset of the
		// first frame (B-frames, no edit list), as it does for the fMP4.
		if got, want := p.streamDuration(t, "video"), float64(sg.Duration)/1000; !near(got, want, 0.040) {
			t.Errorf("segment %d: video duration %.3f s, want %.3f", i, got, want)
		}
		if got, want := p.packets(t, "video"), countVideoSamples(t, sg.Data); got != want {
			t.Errorf("segment %d: %d video packets, %d samples", i, got, want)
		}
		if msg := decodeErrors(t, path); msg != "" {
			t.Errorf("segment %d: ffmpeg decode printed errors:\n%s", i, msg)
		}
	}
}

// nalTypes lists the H.264 NAL unit types of an Annex B access unit.
func nalTypes(b []byte) string {
	var out []string
	for i := 0; i+3 < len(b); i++ {
		if b[i] == 0 && b[i+1] == 0 && b[i+2] == 1 {
			out = append(out, fmt.Sprint(b[i+3]&0x1f))
			i += 3
		}
	}
	return strings.Join(out, " ") + " "
}

// TestRemuxHLS: a playlist of standalone segments reads as one stream of
// the right length.
func TestRemuxHLS(t *testing.T) {
	r := sampleSegments(t)
	dir := t.TempDir()
	var pl strings.Builder
	maxDur := int64(0)
	for _, sg := range r.segs {
		maxDur = max(maxDur, sg.Duration)
	}
	fmt.Fprintf(&pl, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:%d\n#EXT-X-MEDIA-SEQUENCE:0\n", (maxDur+999)/1000)
	for i, sg := range r.segs {
		ts, err := Remux(r.init, sg.Data)
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("%d.ts", sg.Start)
		writeTemp(t, dir, name, ts)
		fmt.Fprintf(&pl, "#EXTINF:%.3f,\n%s\n", float64(sg.Duration)/1000, name)
		_ = i
	}
	pl.WriteString("#EXT-X-ENDLIST\n")
	path := writeTemp(t, dir, "index.m3u8", []byte(pl.String()))
	p := ffprobe(t, path)
	if !strings.Contains(p.Format.FormatName, "hls") {
		t.Errorf("format %q, want hls", p.Format.FormatName)
	}
	want := float64(totalMs(r.segs)) / 1000
	if got := p.duration(t); !near(got, want, 0.040) {
		t.Errorf("playlist duration %.3f s, segments sum to %.3f s", got, want)
	}
	if got, want := p.packets(t, "video"), ffprobe(t, writeTemp(t, dir, "in.mp4", mp4Concat(r))).packets(t, "video"); got != want {
		t.Errorf("%d video packets through the playlist, %d in the fmp4", got, want)
	}
	if msg := decodeErrors(t, path); msg != "" {
		t.Errorf("ffmpeg decode of the playlist printed errors:\n%s", msg)
	}
}

// countVideoSamples counts the samples of track 1 with mp4ff-independent
// means: ffprobe on init+segment.
func countVideoSamples(t *testing.T, seg []byte) int {
	t.Helper()
	r := sampleSegments(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "one.mp4")
	if err := os.WriteFile(path, append(bytes.Clone(r.init.Data), seg...), 0o644); err != nil {
		t.Fatal(err)
	}
	return ffprobe(t, path).packets(t, "video")
}

// chunkWriter keeps every Write apart.
type chunkWriter struct{ chunks [][]byte }

func (w *chunkWriter) Write(p []byte) (int, error) {
	w.chunks = append(w.chunks, bytes.Clone(p))
	return len(p), nil
}

// TestWrap33: a stream whose UTC time in 90 kHz ticks crosses 2^33 (every
// 26.5 hours) stays one continuous TS: timestamps and PCR wrap, no
// discontinuity is flagged, and ffmpeg reads it through.
func TestWrap33(t *testing.T) {
	ts, err := os.ReadFile(samplePath)
	if err != nil {
		t.Fatal(err)
	}
	// 1700807045216 ms * 90 is 17820 * 2^33 - 4 s: the wrap falls 4 s in.
	const startMs = 1700807045216
	r, err := segmentTS(ts, 3*time.Second, time.UnixMilli(startMs))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	m := NewMuxer(&out)
	for _, sg := range r.segs {
		if err := m.WriteSegment(r.init, sg.Data); err != nil {
			t.Fatal(err)
		}
	}
	pkts := parsePackets(t, out.Bytes())
	checkContinuity(t, pkts)
	var pcrs []int64
	for _, p := range pkts {
		if p.di {
			t.Errorf("discontinuity indicator on pid %#x", p.pid)
		}
		if p.pcr >= 0 {
			pcrs = append(pcrs, p.pcr)
		}
	}
	wrapped := false
	for i := 1; i < len(pcrs); i++ {
		wrapped = wrapped || pcrs[i] < pcrs[i-1]
		if d := (pcrs[i] - pcrs[i-1]) & (1<<33 - 1); d > 90000/4 {
			t.Errorf("PCR %d moves %d ticks", i, d)
		}
	}
	if !wrapped {
		t.Error("the PCR never wrapped")
	}
	path := writeTemp(t, t.TempDir(), "wrap.ts", out.Bytes())
	if msg := decodeErrors(t, path); msg != "" {
		t.Errorf("ffmpeg decode printed errors:\n%s", msg)
	}
	want := float64(totalMs(r.segs)) / 1000
	if got := ffprobe(t, path).duration(t); !near(got, want, 0.040) {
		t.Errorf("ts duration %.3f s, segments sum to %.3f s", got, want)
	}
}

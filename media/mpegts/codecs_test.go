package mpegts

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgedvr/edge/media"
)

// ffmpegFMP4 encodes a test pattern with ffmpeg into a fragmented MP4 (one
// fragment per keyframe) and splits it into the init (ftyp+moov) and the
// rest (all moof+mdat pairs, taken as one segment).
func ffmpegFMP4(t *testing.T, args ...string) (media.Init, []byte) {
	t.Helper()
	return ffmpegFMP4Flags(t, "frag_keyframe+empty_moov+default_base_moof+delay_moov", args...)
}

func ffmpegFMP4Flags(t *testing.T, movflags string, args ...string) (media.Init, []byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "in.mp4")
	full := append([]string{"-v", "error", "-y"}, args...)
	full = append(full, "-f", "mp4", "-movflags", movflags, path)
	if out, err := exec.Command(needTool(t, "ffmpeg"), full...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg %s: %v\n%s", strings.Join(full, " "), err, out)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Split after moov by walking the top-level box sizes.
	for off := 0; off+8 <= len(data); {
		size := int(binary.BigEndian.Uint32(data[off:]))
		if size < 8 || off+size > len(data) {
			t.Fatalf("box at %d: size %d", off, size)
		}
		typ := string(data[off+4 : off+8])
		off += size
		if typ == "moov" {
			return media.Init{Data: data[:off]}, data[off:]
		}
	}
	t.Fatal("no moov in ffmpeg's output")
	return media.Init{}, nil
}

var (
	videoIn = []string{"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25"}
	audioIn = []string{"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"}
	h264    = []string{"-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-pix_fmt", "yuv420p"}
)

func cat(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// TestCodecs remuxes what ffmpeg writes for each codec the TS carries and
// checks what ffprobe finds, packet for packet.
func TestCodecs(t *testing.T) {
	tests := []struct {
		name         string
		args         []string
		video, audio string // ffprobe codec names
		skipped      uint64 // tracks skipped
	}{
		{"h265 aac", cat(videoIn, audioIn, []string{"-t", "3", "-c:v", "libx265", "-preset", "ultrafast", "-tag:v", "hvc1",
			"-x265-params", "keyint=25:min-keyint=25:scenecut=0:bframes=2:log-level=error", "-pix_fmt", "yuv420p", "-c:a", "aac"}), "hevc", "aac", 0},
		{"h264 ac3", cat(videoIn, audioIn, []string{"-t", "3"}, h264, []string{"-c:a", "ac3"}), "h264", "ac3", 0},
		{"h264 eac3", cat(videoIn, audioIn, []string{"-t", "3"}, h264, []string{"-c:a", "eac3"}), "h264", "eac3", 0},
		{"h264 mp2 in french", cat(videoIn, audioIn, []string{"-t", "3"}, h264, []string{"-c:a", "mp2", "-metadata:s:a:0", "language=fra"}), "h264", "mp2", 0},
		{"h264 aac mono 44.1k", cat(videoIn, []string{"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100", "-t", "3"}, h264,
			[]string{"-c:a", "aac", "-ac", "1"}), "h264", "aac", 0},
		{"aac only", cat(audioIn, []string{"-t", "3", "-c:a", "aac"}), "", "aac", 0},
		{"second video track in mpeg4 part 2 is skipped", cat(videoIn, audioIn, []string{"-t", "3", "-map", "0:v", "-map", "1:a", "-map", "0:v"}, h264,
			[]string{"-c:v:1", "mpeg4", "-c:a", "aac"}), "h264", "aac", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			init, seg := ffmpegFMP4(t, tc.args...)
			var ts bytes.Buffer
			m := NewMuxer(&ts)
			if err := m.WriteSegment(init, seg); err != nil {
				t.Fatal(err)
			}
			if st := m.Stats(); st.SkippedTracks != tc.skipped || (tc.skipped > 0) != (st.SkippedSamples > 0) {
				t.Errorf("stats %+v, want %d skipped tracks", st, tc.skipped)
			}
			dir := t.TempDir()
			tsPath := writeTemp(t, dir, "out.ts", ts.Bytes())
			p := ffprobe(t, tsPath)
			in := ffprobe(t, writeTemp(t, dir, "in.mp4", append(bytes.Clone(init.Data), seg...)))
			kinds := []string{"video", "audio"}
			if tc.video == "" {
				kinds = kinds[1:]
			}
			if len(p.Streams) != len(kinds) {
				t.Fatalf("streams %+v, want %v", p.Streams, kinds)
			}
			for _, s := range p.Streams {
				want := tc.video
				if s.CodecType == "audio" {
					want = tc.audio
				}
				if s.CodecName != want {
					t.Errorf("%s stream is %q, want %q", s.CodecType, s.CodecName, want)
				}
				if lang := s.Tags.Language; s.CodecType == "audio" && (lang == "fra") != strings.Contains(tc.name, "french") {
					t.Errorf("audio language %q", lang)
				}
			}
			for _, kind := range kinds {
				if got, want := p.packets(t, kind), in.packets(t, kind); got != want {
					t.Errorf("%d %s packets in the ts, %d in the fmp4", got, kind, want)
				}
			}
			if msg := decodeErrors(t, tsPath); msg != "" {
				t.Errorf("ffmpeg decode printed errors:\n%s", msg)
			}
			pkts := parsePackets(t, ts.Bytes())
			checkContinuity(t, pkts)
			// ATSC A/52: AC-3 and E-AC-3 are registered in the PMT.
			reg := map[string]string{"ac3": "AC-3", "eac3": "EAC3"}[tc.audio]
			if reg != "" && !bytes.Contains(pkts[1].payload, append([]byte{0x05, 4}, reg...)) {
				t.Errorf("PMT % x lacks the %s registration descriptor", pkts[1].payload[:40], reg)
			}
			if pkts[0].pid != pidPAT || pkts[1].pid != pidPMT || !pkts[2].rai || pkts[2].pcr < 0 {
				t.Errorf("ts starts with pids %#x %#x and %+v: want PAT, PMT, a random access PES with PCR", pkts[0].pid, pkts[1].pid, pkts[2])
			}
		})
	}
}

// TestInitChange: a stream that changes codec (H.264 to H.265) keeps one
// continuous TS: a new PMT version, the new track on a new PID, and no
// continuity counter that jumps.
func TestInitChange(t *testing.T) {
	r := sampleSegments(t)
	hevcInit, hevcSeg := ffmpegFMP4(t, cat(videoIn, audioIn, []string{"-t", "2", "-c:v", "libx265", "-preset", "ultrafast", "-tag:v", "hvc1",
		"-x265-params", "keyint=25:log-level=error", "-pix_fmt", "yuv420p", "-c:a", "aac"})...)
	var ts bytes.Buffer
	m := NewMuxer(&ts)
	for _, step := range []struct {
		init media.Init
		seg  []byte
	}{{r.init, r.segs[0].Data}, {hevcInit, hevcSeg}, {r.init, r.segs[1].Data}} {
		if err := m.WriteSegment(step.init, step.seg); err != nil {
			t.Fatal(err)
		}
	}
	if st := m.Stats(); st.InitChanges != 3 {
		t.Errorf("stats %+v, want 3 init changes", st)
	}
	pkts := parsePackets(t, ts.Bytes())
	checkContinuity(t, pkts)
	versions := map[byte]bool{}
	pids := map[uint16]bool{}
	for _, p := range pkts {
		if p.pid == pidPMT && p.pusi {
			// pointer field, table id, 2 length bytes, program number (2), version byte
			versions[p.payload[1+5]>>1&0x1f] = true
		}
		if p.pid >= firstPID && p.pid < pidPMT {
			pids[p.pid] = true
		}
	}
	if len(versions) != 3 {
		t.Errorf("PMT versions %v, want 3 different ones", versions)
	}
	// H.264 on 0x100, AAC on 0x101 (kept through all three), H.265 on
	// 0x102, H.264 again on a new PID 0x103 (its old one was dropped).
	if len(pids) != 4 || !pids[pidVideo] || !pids[pidAudio] || !pids[pidAudio+1] || !pids[pidAudio+2] {
		t.Errorf("elementary PIDs %v", pids)
	}
	path := writeTemp(t, t.TempDir(), "change.ts", ts.Bytes())
	if msg := decodeErrors(t, path); msg != "" {
		t.Errorf("ffmpeg decode printed errors:\n%s", msg)
	}
}

// TestSegmentWithoutVideo: a segment that holds audio only while the init
// has video (video stopped, audio went on) still gets PCRs, on
// adaptation-field-only packets of the video PID.
func TestSegmentWithoutVideo(t *testing.T) {
	init, frags := ffmpegFMP4Flags(t, "frag_keyframe+empty_moov+default_base_moof+delay_moov+separate_moof",
		cat(videoIn, audioIn, []string{"-t", "3"}, h264, []string{"-c:a", "aac"})...)
	// Keep the moof+mdat pairs of track 2 (the audio) only.
	var audio []byte
	for off := 0; off < len(frags); {
		size := int(binary.BigEndian.Uint32(frags[off:]))
		if string(frags[off+4:off+8]) == "moof" {
			tfhd := bytes.Index(frags[off:off+size], []byte("tfhd"))
			mdatSize := int(binary.BigEndian.Uint32(frags[off+size:]))
			if binary.BigEndian.Uint32(frags[off+tfhd+8:]) == 2 {
				audio = append(audio, frags[off:off+size+mdatSize]...)
			}
			size += mdatSize
		}
		off += size
	}
	if len(audio) == 0 {
		t.Fatal("no audio fragments")
	}
	ts, err := Remux(init, audio)
	if err != nil {
		t.Fatal(err)
	}
	pkts := parsePackets(t, ts)
	checkContinuity(t, pkts)
	var pcrs []int64
	for _, p := range pkts {
		if p.pid == pidVideo {
			if p.hasPayload || p.pcr < 0 {
				t.Fatalf("video pid packet %+v: want PCR only", p)
			}
			pcrs = append(pcrs, p.pcr)
		}
	}
	if len(pcrs) < 30 {
		t.Errorf("%d PCRs in 3 s, want one every 100 ms or less", len(pcrs))
	}
	for i := 1; i < len(pcrs); i++ {
		if d := (pcrs[i] - pcrs[i-1]) & (1<<33 - 1); d <= 0 || d > 9000 {
			t.Errorf("PCR %d moves %d ticks", i, d)
		}
	}
	path := writeTemp(t, t.TempDir(), "audio.ts", ts)
	p := ffprobe(t, path)
	in := ffprobe(t, writeTemp(t, t.TempDir(), "in.mp4", append(bytes.Clone(init.Data), audio...)))
	if got, want := p.packets(t, "audio"), in.packets(t, "audio"); got != want {
		t.Errorf("%d audio packets, %d in the fmp4", got, want)
	}
	if msg := decodeErrors(t, path); msg != "" {
		t.Errorf("ffmpeg decode printed errors:\n%s", msg)
	}
	// Between segments with video, the PCR-only packets repeat the video
	// PID's counter and the next video PES continues it.
	var out bytes.Buffer
	m := NewMuxer(&out)
	for _, seg := range [][]byte{frags, audio, frags} {
		if err := m.WriteSegment(init, seg); err != nil {
			t.Fatal(err)
		}
	}
	checkContinuity(t, parsePackets(t, out.Bytes()))
}

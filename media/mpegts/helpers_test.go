package mpegts

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgedvr/edge/media"
)

// samplePath is the committed H.264 480x270 + AAC TS the tests start from.
var samplePath = filepath.Join("..", "..", "examples", "topologies", "sample.ts")

// sampleStart is the UTC time the segmenter anchors the sample to.
var sampleStart = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type segmented struct {
	init media.Init
	segs []media.Segment
}

var (
	sampleOnce sync.Once
	sampleRes  segmented
	sampleErr  error
)

// segmentTS runs the project's segmenter over a TS file with a clock fixed at start.
func segmentTS(ts []byte, target time.Duration, start time.Time) (segmented, error) {
	var r segmented
	var inits int
	s := media.NewSegmenter(media.SegmenterConfig{
		TargetDuration: target,
		Now:            func() time.Time { return start },
		OnInit:         func(in media.Init) { r.init = in; inits++ },
		OnSegment:      func(sg media.Segment) { r.segs = append(r.segs, sg) },
	})
	if _, err := s.Write(ts); err != nil {
		return r, err
	}
	s.Flush()
	if inits != 1 || len(r.segs) == 0 {
		return r, fmt.Errorf("segmenter made %d inits and %d segments, stats %+v", inits, len(r.segs), s.Stats())
	}
	return r, nil
}

// sample returns the init and the 3 s segments of the committed sample TS.
func sampleSegments(t testing.TB) segmented {
	t.Helper()
	sampleOnce.Do(func() {
		ts, err := os.ReadFile(samplePath)
		if err != nil {
			sampleErr = err
			return
		}
		sampleRes, sampleErr = segmentTS(ts, 3*time.Second, sampleStart)
	})
	if sampleErr != nil {
		t.Fatalf("segment %s: %v", samplePath, sampleErr)
	}
	return sampleRes
}

func needTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found in PATH: these tests need a real %s (apt-get install -y ffmpeg)", name, name)
	}
	return p
}

func writeTemp(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

type probe struct {
	Streams []struct {
		Index         int    `json:"index"`
		CodecName     string `json:"codec_name"`
		CodecType     string `json:"codec_type"`
		Width         int    `json:"width"`
		Height        int    `json:"height"`
		SampleRate    string `json:"sample_rate"`
		NbReadPackets string `json:"nb_read_packets"`
		Duration      string `json:"duration"`
		Tags          struct {
			Language string `json:"language"`
		} `json:"tags"`
	} `json:"streams"`
	Packets []struct {
		CodecType string `json:"codec_type"`
		PTS       *int64 `json:"pts"`
		DTS       *int64 `json:"dts"`
		Flags     string `json:"flags"`
	} `json:"packets"`
	Format struct {
		FormatName string `json:"format_name"`
		Duration   string `json:"duration"`
	} `json:"format"`
}

// ffprobe runs ffprobe with -show_streams -show_format -count_packets and extra args.
func ffprobe(t testing.TB, path string, extra ...string) probe {
	t.Helper()
	args := append([]string{"-v", "error", "-of", "json", "-show_streams", "-show_format", "-count_packets"}, extra...)
	args = append(args, path)
	out, err := exec.Command(needTool(t, "ffprobe"), args...).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("ffprobe %s: %v\n%s", path, err, stderr)
	}
	var p probe
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatalf("ffprobe output: %v", err)
	}
	return p
}

func (p probe) duration(t testing.TB) float64 {
	t.Helper()
	d, err := strconv.ParseFloat(p.Format.Duration, 64)
	if err != nil {
		t.Fatalf("ffprobe duration %q: %v", p.Format.Duration, err)
	}
	return d
}

// streamDuration returns ffprobe's duration of the first stream of a type.
func (p probe) streamDuration(t testing.TB, codecType string) float64 {
	t.Helper()
	for _, s := range p.Streams {
		if s.CodecType == codecType {
			d, err := strconv.ParseFloat(s.Duration, 64)
			if err != nil {
				t.Fatalf("ffprobe %s duration %q: %v", codecType, s.Duration, err)
			}
			return d
		}
	}
	t.Fatalf("no %s stream in %+v", codecType, p.Streams)
	return 0
}

// packets returns ffprobe's packet count of the first stream of a type.
func (p probe) packets(t testing.TB, codecType string) int {
	t.Helper()
	for _, s := range p.Streams {
		if s.CodecType == codecType {
			n, err := strconv.Atoi(s.NbReadPackets)
			if err != nil {
				t.Fatalf("nb_read_packets %q: %v", s.NbReadPackets, err)
			}
			return n
		}
	}
	t.Fatalf("no %s stream in %+v", codecType, p.Streams)
	return 0
}

// decodeErrors decodes the whole file with ffmpeg and returns what it printed.
func decodeErrors(t testing.TB, path string, extra ...string) string {
	t.Helper()
	args := append([]string{"-v", "error"}, extra...)
	args = append(args, "-i", path, "-f", "null", "-")
	out, err := exec.Command(needTool(t, "ffmpeg"), args...).CombinedOutput()
	if err != nil {
		return fmt.Sprintf("ffmpeg failed: %v: %s", err, out)
	}
	return strings.TrimSpace(string(out))
}

// mp4Concat is the init and segments as one fragmented MP4 file.
func mp4Concat(r segmented) []byte {
	var b bytes.Buffer
	b.Write(r.init.Data)
	for _, sg := range r.segs {
		b.Write(sg.Data)
	}
	return b.Bytes()
}

func totalMs(segs []media.Segment) int64 {
	var d int64
	for _, sg := range segs {
		d += sg.Duration
	}
	return d
}

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

// tsPacket is the header of one TS packet, parsed by hand.
type tsPacket struct {
	pid        uint16
	pusi       bool
	hasPayload bool
	cc         uint8
	rai, di    bool
	pcr        int64 // -1 when absent
	payload    []byte
}

func parsePackets(t testing.TB, ts []byte) []tsPacket {
	t.Helper()
	if len(ts)%188 != 0 {
		t.Fatalf("ts of %d bytes is not whole packets", len(ts))
	}
	var out []tsPacket
	for i := 0; i < len(ts); i += 188 {
		p := ts[i : i+188]
		if p[0] != 0x47 {
			t.Fatalf("packet %d: sync byte %#x", i/188, p[0])
		}
		k := tsPacket{pid: uint16(p[1]&0x1f)<<8 | uint16(p[2]), pusi: p[1]&0x40 != 0, hasPayload: p[3]&0x10 != 0, cc: p[3] & 0x0f, pcr: -1}
		off := 4
		if p[3]&0x20 != 0 {
			l := int(p[4])
			if l > 0 {
				f := p[5]
				k.di, k.rai = f&0x80 != 0, f&0x40 != 0
				if f&0x10 != 0 {
					k.pcr = int64(p[6])<<25 | int64(p[7])<<17 | int64(p[8])<<9 | int64(p[9])<<1 | int64(p[10])>>7
				}
			}
			off = 5 + l
		}
		if k.hasPayload && off < 188 {
			k.payload = p[off:]
		}
		out = append(out, k)
	}
	return out
}

// firstPES reassembles the first PES on pid from the packets.
func firstPES(pkts []tsPacket, pid uint16) []byte {
	var pes []byte
	for _, p := range pkts {
		if p.pid != pid {
			continue
		}
		if p.pusi && pes != nil {
			break
		}
		if p.pusi || pes != nil {
			pes = append(pes, p.payload...)
		}
	}
	return pes
}

// checkContinuity reports every continuity counter that does not follow
// the previous one of its PID (a packet without payload repeats it).
func checkContinuity(t testing.TB, pkts []tsPacket) {
	t.Helper()
	last := map[uint16]uint8{}
	for i, p := range pkts {
		if !p.hasPayload {
			if prev, ok := last[p.pid]; ok && p.cc != prev {
				t.Errorf("packet %d pid %#x without payload: cc %d, the last was %d", i, p.pid, p.cc, prev)
			}
			continue
		}
		if prev, ok := last[p.pid]; ok && p.cc != (prev+1)&15 {
			t.Errorf("packet %d pid %#x: cc %d after %d", i, p.pid, p.cc, prev)
		}
		last[p.pid] = p.cc
	}
}

package media

import (
	"bytes"
	"encoding/binary"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Eyevinn/mp4ff/mp4"
)

// broadcastArgs makes a 3 s 128x72 25 fps TS with the given video and audio
// encoder arguments, as broadcast and IPTV feeds come.
func broadcastArgs(video, audio []string) []string {
	a := []string{"-f", "lavfi", "-i", "testsrc2=size=128x72:rate=25", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", "3", "-pix_fmt", "yuv420p", "-b:v", "150k"}
	a = append(a, video...)
	a = append(a, audio...)
	return append(a, "-f", "mpegts")
}

var (
	x264OpenGOP      = []string{"-c:v", "libx264", "-preset", "ultrafast", "-bf", "3", "-x264-params", "open-gop=1:keyint=25:min-keyint=25:scenecut=0"}
	x264IntraRefresh = []string{"-c:v", "libx264", "-preset", "ultrafast", "-x264-params", "intra-refresh=1:keyint=25"}
	x265OpenGOP      = []string{"-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "keyint=25:min-keyint=25:scenecut=0:open-gop=1:bframes=3:log-level=error"}
)

// firstPicture returns the NAL unit type of the first coded slice of the
// first video sample of a segment (4-byte lengths, video in track 1 and
// first in the mdat).
func firstPicture(t *testing.T, data []byte, hevc bool) int {
	t.Helper()
	f, err := mp4.DecodeFile(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("decode segment: %v", err)
	}
	mdat := f.Segments[0].Fragments[0].Mdat.Data
	for len(mdat) > 5 {
		n := int(binary.BigEndian.Uint32(mdat))
		if n <= 0 || n > len(mdat)-4 {
			break
		}
		if hevc {
			if typ := int(mdat[4]>>1) & 0x3f; typ < 32 {
				return typ
			}
		} else if typ := int(mdat[4] & 0x1f); typ >= 1 && typ <= 5 {
			return typ
		}
		mdat = mdat[4+n:]
	}
	t.Fatal("no coded slice in the first sample")
	return 0
}

// TestSegmenterBroadcastFeeds: feeds whose random access points are not
// IDR pictures (x264 open GOP, x264 intra refresh, x265 open GOP with CRA)
// and with the audio of DVB and IPTV feeds (MPEG-1 Layer II, AC-3,
// E-AC-3) record both tracks, also when joined mid-stream, after the only
// IDR; ffprobe reads both tracks with the right codec and ffmpeg decodes
// the result.
func TestSegmenterBroadcastFeeds(t *testing.T) {
	tests := []struct {
		name           string
		video, audio   []string
		hevc           bool
		vcodec, acodec string // as ffprobe names them; it names MPEG audio in MP4 (type 0x6B) mp3, also in ffmpeg's own MP4 of mp2
		codecs         string // the init's codecs string, after the video's
		frameSamples   uint32 // samples per audio frame
		midNAL         int    // NAL type of the first picture when joined mid-stream
	}{
		{"open-gop mp2", x264OpenGOP, []string{"-c:a", "mp2", "-b:a", "64k"}, false, "h264", "mp3", "mp4a.6B", 1152, 1},
		{"intra-refresh ac3", x264IntraRefresh, []string{"-c:a", "ac3", "-b:a", "64k"}, false, "h264", "ac3", "ac-3", 1536, 1},
		{"intra-refresh mp3", x264IntraRefresh, []string{"-c:a", "libmp3lame", "-b:a", "64k"}, false, "h264", "mp3", "mp4a.6B", 1152, 1},
		{"hevc cra eac3", x265OpenGOP, []string{"-c:a", "eac3", "-b:a", "96k"}, true, "hevc", "eac3", "ec-3", 1536, 21},
		{"ac3 dvb", x264OpenGOP, []string{"-c:a", "ac3", "-b:a", "64k", "-mpegts_flags", "system_b"}, false, "h264", "ac3", "ac-3", 1536, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := genTS(t, strings.ReplaceAll(tc.name, " ", "_")+".ts", broadcastArgs(tc.video, tc.audio)...)
			// Whole, and joined after the only IDR: a third of the bytes
			// in (the IDR is the biggest picture), so that at least the
			// random access point at 2 s is left, and the second after it.
			mid := len(ts) / 3 / tsPacketSize * tsPacketSize
			for _, in := range []struct {
				name     string
				data     []byte
				min, max float64 // seconds the segments must span
			}{{"whole", ts, 2.8, 3.2}, {"joined", ts[mid:], 0.9, 2.2}} {
				now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
				r := feed(t, SegmenterConfig{TargetDuration: time.Second, Now: func() time.Time { return now }}, 3, in.data)
				if len(r.segs) == 0 {
					t.Fatalf("%s: no segment (stats %+v)", in.name, r.stats)
				}
				in0 := r.inits[len(r.inits)-1]
				if !strings.HasSuffix(in0.Codecs, ","+tc.codecs) {
					t.Errorf("%s: codecs %q, want the video and %s", in.name, in0.Codecs, tc.codecs)
				}
				var span int64
				for i, sg := range r.segs {
					fi := parseFrag(t, sg.Data)
					if !fi.firstKey {
						t.Errorf("%s: segment %d does not start with a sync sample", in.name, i)
					}
					if _, ok := fi.tracks[2]; !ok {
						t.Errorf("%s: segment %d has no audio", in.name, i)
					}
					span += sg.Duration
				}
				if in.name == "joined" {
					if nal := firstPicture(t, r.segs[0].Data, tc.hevc); nal != tc.midNAL {
						t.Errorf("joined: first picture is NAL type %d, want %d (a random access point that is not IDR)", nal, tc.midNAL)
					}
				}
				if got := float64(span) / 1000; got < in.min || got > in.max {
					t.Errorf("%s: segments span %.2f s, want %.1f to %.1f", in.name, got, in.min, in.max)
				}
				path := writeMP4(t, r)
				p := ffprobe(t, path)
				var v, a bool
				for _, st := range p.Streams {
					v = v || st.CodecType == "video" && st.CodecName == tc.vcodec
					a = a || st.CodecType == "audio" && st.CodecName == tc.acodec && st.SampleRate == "48000"
				}
				if !v || !a {
					t.Errorf("%s: ffprobe streams %+v, want %s video and %s 48 kHz audio", in.name, p.Streams, tc.vcodec, tc.acodec)
				}
				// Every audio packet lasts one frame: 1152 or 1536 samples.
				init, err := mp4.DecodeFile(bytes.NewReader(in0.Data))
				if err != nil {
					t.Fatal(err)
				}
				if ts := init.Init.Moov.Traks[1].Mdia.Mdhd.Timescale; ts != 48000 {
					t.Errorf("%s: audio timescale %d", in.name, ts)
				}
				checkAudioDurations(t, r.segs, tc.frameSamples)
				if in.name == "whole" {
					if msg := decodeErrors(t, path); msg != "" {
						t.Errorf("ffmpeg decode printed errors:\n%s", msg)
					}
				}
			}
		})
	}
}

// checkAudioDurations checks that every audio sample but the last of a
// segment (which may stretch over a gap) lasts one frame.
func checkAudioDurations(t *testing.T, segs []Segment, frame uint32) {
	t.Helper()
	for i, sg := range segs {
		f, err := mp4.DecodeFile(bytes.NewReader(sg.Data))
		if err != nil {
			t.Fatal(err)
		}
		for _, traf := range f.Segments[0].Fragments[0].Moof.Trafs {
			if traf.Tfhd.TrackID != 2 {
				continue
			}
			ss := traf.Trun.Samples
			for j := 0; j+1 < len(ss); j++ {
				dur := ss[j].Dur
				if dur == 0 && traf.Tfhd.HasDefaultSampleDuration() {
					dur = traf.Tfhd.DefaultSampleDuration
				}
				if dur != frame {
					t.Fatalf("segment %d audio sample %d lasts %d, want %d", i, j, dur, frame)
				}
			}
		}
	}
}

// BenchmarkSegmenterBroadcast is BenchmarkSegmenter with a feed as
// broadcast headends send it: 720p H.264 at 4 Mbit/s in open GOPs with
// HRD (buffering period and picture timing SEI in every access unit, so
// every picture's SEI is read for a recovery point) and AC-3 audio. The
// reuse sub-benchmarks build the segments as the udp plugin does
// (ReuseData): in memory mappings whose pages go back after each segment,
// and in Go memory (as where the system refuses mappings).
func BenchmarkSegmenterBroadcast(b *testing.B) {
	path := filepath.Join(os.TempDir(), "edge-media-bench-broadcast-v1.ts")
	ts, err := os.ReadFile(path)
	if err != nil {
		ff := needTool(b, "ffmpeg")
		args := []string{"-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
			"-t", "20", "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "3900k", "-minrate", "3900k", "-maxrate", "3900k", "-bufsize", "2000k",
			"-bf", "3", "-x264-params", "open-gop=1:keyint=50:min-keyint=50:scenecut=0:nal-hrd=cbr", "-pix_fmt", "yuv420p",
			"-c:a", "ac3", "-b:a", "192k", "-muxrate", "4400k", "-f", "mpegts", path + ".tmp"}
		if out, err := exec.Command(ff, args...).CombinedOutput(); err != nil {
			b.Fatalf("ffmpeg: %v\n%s", err, out)
		}
		if err := os.Rename(path+".tmp", path); err != nil {
			b.Fatal(err)
		}
		if ts, err = os.ReadFile(path); err != nil {
			b.Fatal(err)
		}
	}
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(slog.DiscardHandler))
	b.Run("reuse=false", func(b *testing.B) { benchFeed(b, ts, false, false) })
	b.Run("reuse=mapped", func(b *testing.B) { benchFeed(b, ts, true, false) })
	b.Run("reuse=gomemory", func(b *testing.B) { benchFeed(b, ts, true, true) })
}

func benchFeed(b *testing.B, ts []byte, reuse, noPages bool) {
	const streamSec = 20.0
	b.SetBytes(int64(len(ts)))
	b.ReportAllocs()
	var segs int
	s := NewSegmenter(SegmenterConfig{ReuseData: reuse, OnSegment: func(Segment) { segs++ }})
	s.noPages = noPages
	cpu0 := cpuTime()
	for b.Loop() {
		for off := 0; off < len(ts); off += 1316 {
			s.Write(ts[off:min(off+1316, len(ts))])
		}
	}
	cpu := cpuTime() - cpu0
	if segs < 4*b.N { // 3 s target, a random access point every 2 s: a cut every 4 s
		b.Fatalf("%d segments for %d passes of 20 s: open GOPs not cut", segs, b.N)
	}
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N)/streamSec, "cpu-ms/s")
}

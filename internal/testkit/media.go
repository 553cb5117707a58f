package testkit

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// Sender is an ffmpeg process that encodes a test pattern live (libx264 +
// AAC, so every loop point still has keyframes) and sends MPEG-TS to url.
type Sender struct{ *Proc }

// SenderOptions tune a Sender.
type SenderOptions struct {
	Size    string // WxH; by default 320x240
	Rate    int    // frames/s; by default 25
	Seconds int    // how long to send; 0 sends until killed
	GOP     int    // keyframe interval in frames; by default Rate (1 s)
	Bitrate string // video bitrate, e.g. "4M"; by default ffmpeg's choice
}

// Send starts ffmpeg sending to url (e.g. "udp://127.0.0.1:5000?pkt_size=1316").
func Send(t testing.TB, url string, o SenderOptions) *Sender {
	t.Helper()
	Need(t, "ffmpeg")
	if o.Size == "" {
		o.Size = "320x240"
	}
	if o.Rate == 0 {
		o.Rate = 25
	}
	if o.GOP == 0 {
		o.GOP = o.Rate
	}
	args := []string{"-hide_banner", "-loglevel", "error", "-nostdin", "-re",
		"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%s:rate=%d", o.Size, o.Rate),
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"}
	if o.Seconds > 0 {
		args = append(args, "-t", strconv.Itoa(o.Seconds))
	}
	args = append(args, "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
		"-g", strconv.Itoa(o.GOP), "-keyint_min", strconv.Itoa(o.GOP), "-sc_threshold", "0", "-pix_fmt", "yuv420p")
	if o.Bitrate != "" {
		args = append(args, "-b:v", o.Bitrate, "-maxrate", o.Bitrate, "-bufsize", o.Bitrate)
	}
	args = append(args, "-c:a", "aac", "-b:a", "64k", "-f", "mpegts", url)
	return &Sender{Start(t, "ffmpeg", args...)}
}

// Probe is what ffprobe says of a file or URL.
type Probe struct {
	Streams []struct {
		CodecName    string `json:"codec_name"`
		CodecType    string `json:"codec_type"`
		Width        int    `json:"width"`
		Height       int    `json:"height"`
		AvgFrameRate string `json:"avg_frame_rate"`
		RFrameRate   string `json:"r_frame_rate"`
	} `json:"streams"`
	Format struct {
		FormatName string `json:"format_name"`
		Duration   string `json:"duration"`
	} `json:"format"`
}

// Duration is the container duration in seconds.
func (p Probe) Duration() float64 {
	f, _ := strconv.ParseFloat(p.Format.Duration, 64)
	return f
}

// Video returns the first video stream's codec, size and frame rate.
func (p Probe) Video() (codec string, w, h int, fps float64) {
	for _, s := range p.Streams {
		if s.CodecType == "video" {
			return s.CodecName, s.Width, s.Height, parseRate(s.RFrameRate)
		}
	}
	return "", 0, 0, 0
}

// HasAudio reports whether an audio stream with codec is present.
func (p Probe) HasAudio(codec string) bool {
	for _, s := range p.Streams {
		if s.CodecType == "audio" && s.CodecName == codec {
			return true
		}
	}
	return false
}

func parseRate(r string) float64 {
	n, d, ok := strings.Cut(r, "/")
	if !ok {
		f, _ := strconv.ParseFloat(r, 64)
		return f
	}
	a, _ := strconv.ParseFloat(n, 64)
	b, _ := strconv.ParseFloat(d, 64)
	if b == 0 {
		return 0
	}
	return a / b
}

// FFprobe runs ffprobe on a file or URL.
func FFprobe(t testing.TB, target string) Probe {
	t.Helper()
	Need(t, "ffprobe")
	out, err := exec.Command("ffprobe", "-v", "error", "-print_format", "json", "-show_streams", "-show_format", target).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v\n%s", target, err, exitStderr(err))
	}
	var p Probe
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatalf("ffprobe %s: %v", target, err)
	}
	return p
}

// Decode runs `ffmpeg -v error -i target -f null -` and returns what it printed.
func Decode(t testing.TB, target string) string {
	t.Helper()
	Need(t, "ffmpeg")
	out, err := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-i", target, "-f", "null", "-").CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg decode %s: %v\n%s", target, err, out)
	}
	return string(out)
}

// PacketTimes returns the decode timestamps, in seconds, of every packet of
// the given stream type ("v" or "a") of target, in file order.
func PacketTimes(t testing.TB, target, kind string) []float64 {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", kind, "-show_entries", "packet=dts_time",
		"-of", "csv=p=0", target).Output()
	if err != nil {
		t.Fatalf("ffprobe packets %s: %v\n%s", target, err, exitStderr(err))
	}
	var ts []float64
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		line = strings.TrimSuffix(strings.TrimSpace(line), ",")
		if line == "" || line == "N/A" {
			continue
		}
		f, err := strconv.ParseFloat(line, 64)
		if err == nil {
			ts = append(ts, f)
		}
	}
	return ts
}

func exitStderr(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}

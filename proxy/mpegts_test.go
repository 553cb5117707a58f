package proxy

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// remuxCount reads edge_mpegts_remuxed_segments_total from the world's registry.
func remuxCount(t *testing.T, w *world) float64 {
	t.Helper()
	mfs, err := w.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "edge_mpegts_remuxed_segments_total" {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatal("edge_mpegts_remuxed_segments_total not registered")
	return 0
}

// TestTSSegmentRemuxedOnce asks for one archive segment as MPEG-TS from
// many viewers at once, twice: it is remuxed once, every viewer gets the
// same bytes, and ffprobe reads them as MPEG-TS with H.264 and AAC.
func TestTSSegmentRemuxedOnce(t *testing.T) {
	w := newWorld(t)
	start := w.baseMs + 5*testSegMs
	url := fmt.Sprintf("%s/cam/s-%d.ts", w.url, start)
	// Its own client, whose idle connections are closed at the end, so the
	// server's shutdown does not wait for them.
	client := &http.Client{Timeout: 20 * time.Second}
	defer client.CloseIdleConnections()
	var wg sync.WaitGroup
	bodies := make([][]byte, 20)
	for round := 0; round < 2; round++ {
		for i := range bodies {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := client.Get(url)
				if err != nil {
					t.Error(err)
					return
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != ctypeTS {
					t.Errorf("GET %s: %d %q", url, resp.StatusCode, resp.Header.Get("Content-Type"))
				}
				bodies[i] = b
			}()
		}
		wg.Wait()
	}
	for i, b := range bodies {
		if len(b) == 0 || len(b)%188 != 0 || b[0] != 0x47 || !bytes.Equal(b, bodies[0]) {
			t.Fatalf("viewer %d got %d bytes (first %x), not the same TS as viewer 0 (%d bytes)", i, len(b), b[:min(1, len(b))], len(bodies[0]))
		}
	}
	if n := remuxCount(t, w); n != 1 {
		t.Errorf("segment remuxed %v times for 40 requests, want 1", n)
	}
	out := ffprobe(t, "-show_entries", "stream=codec_name:format=format_name", "-of", "csv=p=0", url)
	if !strings.Contains(out, "mpegts") || !strings.Contains(out, "h264") || !strings.Contains(out, "aac") {
		t.Errorf("ffprobe of a TS segment: %q", out)
	}
	if resp, _ := get(t, "GET", fmt.Sprintf("%s/cam/s-%d.ts", w.url, start+1)); resp.StatusCode != 404 {
		t.Errorf("TS of a segment that does not exist: %d, want 404", resp.StatusCode)
	}
}

// TestTSRangeAndLive reads a finite TS range (its video spans the range)
// and the start of the live TS stream.
func TestTSRangeAndLive(t *testing.T) {
	w := newWorld(t)
	url := fmt.Sprintf("%s/cam/archive-%d-20.ts?token=x", w.url, w.from+4)
	out := ffprobe(t, "-select_streams", "v", "-show_entries", "packet=pts_time", "-of", "csv=p=0", url)
	var first, last float64
	lines := strings.Fields(out)
	if len(lines) < 100 {
		t.Fatalf("archive .ts: %d video packets", len(lines))
	}
	fmt.Sscanf(strings.TrimSuffix(lines[0], ","), "%g", &first)
	fmt.Sscanf(strings.TrimSuffix(lines[len(lines)-1], ","), "%g", &last)
	// The segments that start in [from, from+20): 20 s of video, give or take a segment.
	if span := last - first; span < 20-float64(testSegMs)/1000-0.1 || span > 20+float64(testSegMs)/1000 {
		t.Errorf("archive .ts video spans %.2f s, want about 20", span)
	}

	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	resp, err := client.Get(w.url + "/cam/mpegts")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 188*100)
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		t.Fatalf("live mpegts: %v", err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != ctypeTS || buf[0] != 0x47 || buf[188] != 0x47 {
		t.Errorf("live mpegts: %d %q, first bytes %x", resp.StatusCode, resp.Header.Get("Content-Type"), buf[:4])
	}
	if resp, _ := get(t, "GET", w.url+"/gap/mpegts"); resp.StatusCode != 404 {
		t.Errorf("live mpegts of a stream that is not live: %d, want 404", resp.StatusCode)
	}
}

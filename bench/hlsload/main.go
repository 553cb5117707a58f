// Command hlsload is a bounded HLS load generator: N clients each follow a
// live media playlist like a player (reload, fetch the init and every new
// segment) for a fixed time on 127.0.0.1, then it prints error counts and
// the latency percentiles of segment and playlist requests.
//
//	go run ./bench/hlsload -url http://127.0.0.1:8080/sample/index.m3u8 -clients 500 -duration 60s
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

type stats struct {
	mu        sync.Mutex
	segLat    []time.Duration
	plLat     []time.Duration
	errors    map[string]int
	segBytes  int64
	segments  int
	playlists int
}

func (s *stats) add(kind string, d time.Duration, n int64, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.errors[kind+": "+err.Error()]++
		return
	}
	switch kind {
	case "segment":
		s.segLat = append(s.segLat, d)
		s.segBytes += n
		s.segments++
	case "playlist":
		s.plLat = append(s.plLat, d)
		s.playlists++
	}
}

func main() {
	target := flag.String("url", "", "live playlist URL (127.0.0.1 only)")
	clients := flag.Int("clients", 500, "concurrent players")
	duration := flag.Duration("duration", 60*time.Second, "how long to run")
	flag.Parse()
	u, err := url.Parse(*target)
	if err != nil || u.Hostname() != "127.0.0.1" {
		fmt.Fprintln(os.Stderr, "hlsload: -url must be an http://127.0.0.1:PORT/... URL")
		os.Exit(2)
	}
	tr := &http.Transport{
		MaxIdleConns:        *clients * 2,
		MaxIdleConnsPerHost: *clients * 2,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	}
	hc := &http.Client{Transport: tr, Timeout: 15 * time.Second}
	st := &stats{errors: map[string]int{}}
	ctx, cancel := context.WithTimeout(context.Background(), *duration)
	defer cancel()
	var wg sync.WaitGroup
	for i := 0; i < *clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			// Spread the starts over the first second, as players arrive.
			select {
			case <-time.After(time.Duration(i) * time.Second / time.Duration(*clients)):
			case <-ctx.Done():
				return
			}
			play(ctx, hc, u, st)
		}(i)
	}
	wg.Wait()
	report(st, *clients, *duration)
}

// play follows the live playlist until ctx ends.
func play(ctx context.Context, hc *http.Client, pl *url.URL, st *stats) {
	seen := map[string]bool{}
	first := true
	for ctx.Err() == nil {
		t0 := time.Now()
		body, err := get(ctx, hc, pl.String())
		if ctx.Err() != nil {
			return
		}
		st.add("playlist", time.Since(t0), int64(len(body)), err)
		target := 2 * time.Second
		if err == nil {
			uris, td := parse(body)
			if td > 0 {
				target = td
			}
			if first && len(uris) > 3 {
				// A player starts three segments from the live edge.
				for _, u := range uris[:len(uris)-3] {
					seen[u] = true
				}
			}
			first = false
			for _, ref := range uris {
				if seen[ref] {
					continue
				}
				seen[ref] = true
				t1 := time.Now()
				data, err := get(ctx, hc, pl.ResolveReference(&url.URL{Path: ref}).String())
				if ctx.Err() != nil {
					return
				}
				st.add("segment", time.Since(t1), int64(len(data)), err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(target / 2):
		}
	}
}

func get(ctx context.Context, hc *http.Client, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("request failed")
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("body read failed")
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	return data, nil
}

// parse returns the init and segment URIs of a media playlist, in order,
// and its target duration.
func parse(body []byte) ([]string, time.Duration) {
	var uris []string
	var td time.Duration
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "#EXT-X-TARGETDURATION:"):
			n, _ := strconv.Atoi(strings.TrimPrefix(line, "#EXT-X-TARGETDURATION:"))
			td = time.Duration(n) * time.Second
		case strings.HasPrefix(line, "#EXT-X-MAP:URI=\""):
			uris = append(uris, strings.TrimSuffix(strings.TrimPrefix(line, "#EXT-X-MAP:URI=\""), "\""))
		case line != "" && !strings.HasPrefix(line, "#"):
			uris = append(uris, line)
		}
	}
	return uris, td
}

func pct(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[min(len(d)-1, int(float64(len(d))*p))]
}

func report(st *stats, clients int, dur time.Duration) {
	st.mu.Lock()
	defer st.mu.Unlock()
	errs := 0
	for _, n := range st.errors {
		errs += n
	}
	fmt.Printf("clients=%d duration=%s playlists=%d segments=%d segment_bytes=%d errors=%d\n",
		clients, dur, st.playlists, st.segments, st.segBytes, errs)
	fmt.Printf("segment latency p50=%s p99=%s max=%s\n", pct(st.segLat, 0.50), pct(st.segLat, 0.99), pct(st.segLat, 1))
	fmt.Printf("playlist latency p50=%s p99=%s max=%s\n", pct(st.plLat, 0.50), pct(st.plLat, 0.99), pct(st.plLat, 1))
	for e, n := range st.errors {
		fmt.Printf("error x%d: %s\n", n, e)
	}
	if errs > 0 {
		os.Exit(1)
	}
}

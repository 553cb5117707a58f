package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"time"

	"github.com/edgedvr/edge/config"
)

// followExternal asks the node's configuration backend for its streams
// at start and every Refresh, and swaps in each answer that differs from
// the last good one. A bad answer (an error, a timeout, a non-200 status,
// invalid JSON, an invalid stream) is logged and the last good streams are
// kept.
func (r *reloader) followExternal(ctx context.Context, e *config.External) {
	log := r.log.With("config_external", e.URL)
	c := &http.Client{Timeout: time.Duration(e.Timeout)}
	t := time.NewTicker(time.Duration(e.Refresh))
	defer t.Stop()
	var last []*config.Stream
	first := true
	for {
		streams, err := r.fetchExternal(ctx, c, e)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			log.Warn("configuration backend answer refused, last good streams kept", "error", err)
		case first || !reflect.DeepEqual(streams, last):
			rctx, cancel := context.WithTimeout(ctx, stopTimeout)
			res, err := r.setExternal(rctx, streams)
			cancel()
			if err != nil {
				log.Error("configuration backend streams not applied, last good streams kept", "error", err)
				break
			}
			first, last = false, streams
			log.Info("configuration backend streams applied", "streams", len(streams), "started", res.Started,
				"restarted", res.Restarted, "stopped", res.Stopped)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// fetchExternal asks the backend once: GET URL?node=NAME.
func (r *reloader) fetchExternal(ctx context.Context, c *http.Client, e *config.External) ([]*config.Stream, error) {
	u, err := url.Parse(e.URL)
	if err != nil {
		return nil, err
	}
	q := u.Query()
	q.Set("node", r.node)
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("backend answered %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, config.MaxExternalAnswer+1))
	if err != nil {
		return nil, fmt.Errorf("read answer: %w", err)
	}
	if len(body) > config.MaxExternalAnswer {
		return nil, fmt.Errorf("answer larger than %d bytes", config.MaxExternalAnswer)
	}
	r.mu.Lock()
	topo := r.topo
	r.mu.Unlock()
	return config.ParseExternal(topo, r.node, body)
}

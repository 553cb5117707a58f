package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/edgedvr/edge/config"
)

// maxMisses bounds the names remembered as unknown to the backend.
const maxMisses = 10_000

// external follows a node's configuration backend (config_external): the
// streams it lists for the node at each refresh, and the streams it
// confirms one by one when a viewer asks for a name the node does not know
// (Flussonic's name= lookups).
type external struct {
	r   *reloader
	cfg *config.External
	c   *http.Client
	log *slog.Logger

	group   singleflight.Group // one lookup per unknown name at a time
	applyMu sync.Mutex         // one swap at a time, each from the state of its moment

	mu       sync.Mutex
	listed   []*config.Stream          // the last good list
	ondemand map[string]*config.Stream // streams found by lookup, not listed
	misses   map[string]time.Time      // names the backend did not know, until when
	applied  []*config.Stream          // what was last swapped in
	didApply bool                      // applied holds a swap
}

func newExternal(r *reloader, e *config.External) *external {
	return &external{r: r, cfg: e, c: &http.Client{Timeout: time.Duration(e.Timeout)},
		log: r.log.With("config_external", e.URL), ondemand: map[string]*config.Stream{}, misses: map[string]time.Time{}}
}

// follow asks the backend for the node's streams at start and every
// Refresh, and swaps in each answer that changes them. A bad answer (an
// error, a timeout, a non-200 status, invalid JSON, an invalid stream) is
// logged and the last good streams are kept. Streams found by lookup that
// the list does not name are confirmed with one name= request; those the
// backend no longer confirms stop.
func (x *external) follow(ctx context.Context) {
	t := time.NewTicker(time.Duration(x.cfg.Refresh))
	defer t.Stop()
	for {
		x.refresh(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (x *external) refresh(ctx context.Context) {
	listed, err := x.fetch(ctx, nil)
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		x.log.Warn("configuration backend answer refused, last good streams kept", "error", err)
		return
	}
	x.mu.Lock()
	var check []string
	inList := map[string]bool{}
	for _, s := range listed {
		inList[s.Name] = true
	}
	for name := range x.ondemand {
		if !inList[name] {
			check = append(check, name)
		}
	}
	x.mu.Unlock()
	ondemand := map[string]*config.Stream{}
	if len(check) > 0 {
		sort.Strings(check)
		confirmed, err := x.fetch(ctx, check)
		if err != nil {
			x.log.Warn("configuration backend answer refused, last good streams kept", "error", err, "names", check)
			return
		}
		for _, s := range confirmed {
			if !inList[s.Name] && hasName(check, s.Name) {
				ondemand[s.Name] = s
			}
		}
	}
	x.mu.Lock()
	x.listed, x.ondemand = listed, ondemand
	clear(x.misses) // a new list: names may have appeared
	x.mu.Unlock()
	x.apply(ctx)
}

// apply swaps in the listed and on-demand streams when they changed.
func (x *external) apply(ctx context.Context) {
	x.applyMu.Lock()
	defer x.applyMu.Unlock()
	x.mu.Lock()
	all := append([]*config.Stream(nil), x.listed...)
	for _, s := range x.ondemand {
		all = append(all, s)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Name < all[j].Name })
	if x.didApply && reflect.DeepEqual(all, x.applied) {
		x.mu.Unlock()
		return
	}
	x.mu.Unlock()
	rctx, cancel := context.WithTimeout(ctx, stopTimeout)
	defer cancel()
	res, err := x.r.setExternal(rctx, all)
	if err != nil {
		x.log.Error("configuration backend streams not applied, last good streams kept", "error", err)
		return
	}
	x.mu.Lock()
	x.applied, x.didApply = all, true
	x.mu.Unlock()
	x.log.Info("configuration backend streams applied", "streams", len(all), "started", res.Started,
		"restarted", res.Restarted, "stopped", res.Stopped)
}

// lookup asks the backend for one stream name the node does not know (a
// viewer asked for it) and starts it when the backend answers with it. It
// reports whether the stream now runs here. A name the backend did not
// know is not asked again before the next refresh.
func (x *external) lookup(ctx context.Context, name string) bool {
	x.mu.Lock()
	until, missed := x.misses[name]
	x.mu.Unlock()
	if missed && time.Now().Before(until) {
		return false
	}
	v, _, _ := x.group.Do(name, func() (any, error) {
		ss, err := x.fetch(ctx, []string{name})
		var found *config.Stream
		for _, s := range ss {
			if s.Name == name {
				found = s
			}
		}
		if err != nil || found == nil {
			if err != nil {
				x.log.Warn("configuration backend lookup refused", "stream", name, "error", err)
			}
			x.mu.Lock()
			if len(x.misses) >= maxMisses {
				clear(x.misses)
			}
			x.misses[name] = time.Now().Add(time.Duration(x.cfg.Refresh))
			x.mu.Unlock()
			return false, nil
		}
		x.mu.Lock()
		x.ondemand[name] = found
		x.mu.Unlock()
		x.apply(context.WithoutCancel(ctx))
		_, ok := x.r.n.Stream(name)
		return ok, nil
	})
	return v.(bool)
}

// fetch asks the backend once: GET URL?node=NODE, with name=A,B,... when
// names are given.
func (x *external) fetch(ctx context.Context, names []string) ([]*config.Stream, error) {
	u, err := url.Parse(x.cfg.URL)
	if err != nil {
		return nil, err
	}
	q := u.Query()
	q.Set("node", x.r.node)
	if len(names) > 0 {
		q.Set("name", strings.Join(names, ","))
	}
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := x.c.Do(req)
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
	x.r.mu.Lock()
	topo := x.r.topo
	x.r.mu.Unlock()
	return config.ParseExternal(topo, x.r.node, body)
}

func hasName(l []string, s string) bool {
	for _, v := range l {
		if v == s {
			return true
		}
	}
	return false
}

package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sort"
	"sync"
	"time"
)

// StatePath is the signed node-to-node call that answers a peer's poll
// with the node's State (docs/m4f.md).
const StatePath = "/m4f/v1/cluster"

// maxStateSize bounds a State answer read from a peer.
const maxStateSize = 4 << 20

// Load is how busy a node is, as it reports it to its peers.
type Load struct {
	// Streams is how many cluster-ingest streams the node captures.
	Streams int `json:"streams"`
	// Viewers is how many viewer requests the node is answering now.
	Viewers int64 `json:"viewers"`
	// BytesOut is how many bytes the node has sent to viewers since it started.
	BytesOut int64 `json:"bytes_out"`
	// Watchers is how many viewers the node has: clients that followed one
	// of its live playlists in the last 30 s, over all its streams. It is
	// what a node's viewer_limit bounds.
	Watchers int64 `json:"watchers"`
}

// State is what a node answers to a peer's poll (GET StatePath).
type State struct {
	// Node is the answering node's name.
	Node string `json:"node"`
	// PublicURL is where viewers reach the node (its public_url).
	PublicURL string `json:"public_url"`
	// Capturing lists the cluster-ingest streams the node runs, sorted.
	Capturing []string `json:"capturing"`
	// Serving lists, sorted, every stream the node runs itself now (it
	// captures, restreams or replicates it): the streams a balanced viewer
	// may be sent to it for. Empty from a node that predates it.
	Serving []string `json:"serving,omitempty"`
	Load    Load     `json:"load"`
}

// Serves reports whether the state lists stream among the ones it runs.
func (s State) Serves(stream string) bool {
	i := sort.SearchStrings(s.Serving, stream)
	return i < len(s.Serving) && s.Serving[i] == stream
}

// Captures reports whether the state lists stream among the ones it captures.
func (s State) Captures(stream string) bool {
	i := sort.SearchStrings(s.Capturing, stream)
	return i < len(s.Capturing) && s.Capturing[i] == stream
}

// ParseState decodes a State answer and checks it: a node name, sorted
// stream names without duplicates.
func ParseState(b []byte) (State, error) {
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return State{}, fmt.Errorf("cluster: decode state: %w", err)
	}
	if err := checkToken(s.Node, maxNodeLen, false); err != nil || s.Node == "" {
		return State{}, fmt.Errorf("cluster: state: bad node name %.64q", s.Node)
	}
	for i, name := range s.Capturing {
		if name == "" || (i > 0 && s.Capturing[i-1] >= name) {
			return State{}, fmt.Errorf("cluster: state of %s: capturing is not a sorted list of names", s.Node)
		}
	}
	for i, name := range s.Serving {
		if name == "" || (i > 0 && s.Serving[i-1] >= name) {
			return State{}, fmt.Errorf("cluster: state of %s: serving is not a sorted list of names", s.Node)
		}
	}
	if s.Load.Streams < 0 || s.Load.Viewers < 0 || s.Load.BytesOut < 0 || s.Load.Watchers < 0 {
		return State{}, fmt.Errorf("cluster: state of %s: negative load", s.Node)
	}
	return s, nil
}

// PeerState is one peer as this node sees it.
type PeerState struct {
	Name string
	// Self is set on this node's own entry, which is always alive.
	Self bool
	// Known is false until the peer has answered once or stayed silent
	// for StaleTimeout since polling (re)started: until then nobody can
	// tell whether it is alive.
	Known bool
	// Alive: the peer answered within the last StaleTimeout.
	Alive bool
	// LastSeen is when its last good answer arrived; zero when none did.
	LastSeen time.Time
	// State is its last good answer.
	State State
	// Error is why its last poll failed, "" when it succeeded.
	Error string
}

// PeersConfig configures Peers.
type PeersConfig struct {
	// Self is this node's name.
	Self string
	// Peers maps each other peer's name to the base URL its poll goes to
	// (http://host:port).
	Peers map[string]string
	// Key is cluster_key: it signs every poll.
	Key string
	// FetchTimeout is how often each peer is polled, and each poll's
	// deadline. By default, 1s.
	FetchTimeout time.Duration
	// StaleTimeout is how long a silent peer is still alive. By default, 3s.
	StaleTimeout time.Duration
	// Local returns this node's own State.
	Local func() State
	// Client makes the polls. By default, a client with no keep-alive limit.
	Client *http.Client
	// Logger for peers that come and go. By default, slog.Default().
	Logger *slog.Logger
}

// Defaults of PeersConfig.
const (
	defaultFetchTimeout = time.Second
	defaultStaleTimeout = 3 * time.Second
)

// Peers polls every other peer of a cluster-ingest group every
// FetchTimeout with a signed request, and keeps what each answered. A
// peer that has not answered for StaleTimeout is dead. Since a lost
// connection and a long delay look the same, a pause of this process
// itself (a SIGSTOP, a stall longer than half the StaleTimeout) forgets
// what it knew: every peer is unknown again until it answers or stays
// silent for a whole StaleTimeout afterwards.
type Peers struct {
	cfg    PeersConfig
	log    *slog.Logger
	signer Signer
	cancel context.CancelFunc
	wg     sync.WaitGroup

	changed chan struct{} // a peer's answer or liveness changed

	mu       sync.Mutex
	peers    map[string]*peer
	resetAt  time.Time // polling (re)started: start, or the end of a stall
	lastBeat time.Time // when this process last showed it was running
}

type peer struct {
	url      string
	lastSeen time.Time
	state    State
	err      string
}

// NewPeers starts polling; Close stops it.
func NewPeers(cfg PeersConfig) (*Peers, error) {
	if cfg.Self == "" || cfg.Local == nil {
		return nil, errors.New("cluster: peers: Self and Local are required")
	}
	if cfg.FetchTimeout <= 0 {
		cfg.FetchTimeout = defaultFetchTimeout
	}
	if cfg.StaleTimeout <= 0 {
		cfg.StaleTimeout = defaultStaleTimeout
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2, IdleConnTimeout: 30 * time.Second}}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	p := &Peers{cfg: cfg, log: cfg.Logger, signer: Signer{Node: cfg.Self, Key: cfg.Key}, peers: map[string]*peer{}, changed: make(chan struct{}, 1)}
	p.resetAt = time.Now()
	p.lastBeat = p.resetAt
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	for name, url := range cfg.Peers {
		if name == cfg.Self {
			continue
		}
		p.peers[name] = &peer{url: url}
		p.wg.Add(1)
		go func() { defer p.wg.Done(); p.poll(ctx, name) }()
	}
	p.wg.Add(1)
	go func() { defer p.wg.Done(); p.watchdog(ctx) }()
	return p, nil
}

// Close stops polling. It is safe to call more than once.
func (p *Peers) Close() error {
	p.cancel()
	p.wg.Wait()
	return nil
}

// FetchTimeout is the poll interval in use.
func (p *Peers) FetchTimeout() time.Duration { return p.cfg.FetchTimeout }

// StaleTimeout is the staleness limit in use.
func (p *Peers) StaleTimeout() time.Duration { return p.cfg.StaleTimeout }

// Changed is signalled (without blocking, at most one pending) when a
// peer's answer or liveness changes.
func (p *Peers) Changed() <-chan struct{} { return p.changed }

func (p *Peers) notify() {
	select {
	case p.changed <- struct{}{}:
	default:
	}
}

// watchdog beats often, so that a stall of this process is noticed.
func (p *Peers) watchdog(ctx context.Context) {
	tick := time.NewTicker(p.cfg.FetchTimeout / 4)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			p.mu.Lock()
			p.beatLocked(now)
			p.mu.Unlock()
		}
	}
}

// beatLocked notices that this process did not run for a while (stopped,
// starved): every peer becomes unknown again, since what was last heard
// from them is old and silence during the stall proves nothing.
func (p *Peers) beatLocked(now time.Time) {
	if gap := now.Sub(p.lastBeat); gap > p.cfg.StaleTimeout/2 {
		p.resetAt = now
		p.log.Warn("cluster view reset after a stall", "stall", gap.Round(time.Millisecond).String())
	}
	p.lastBeat = now
}

// poll asks one peer for its state every FetchTimeout.
func (p *Peers) poll(ctx context.Context, name string) {
	tick := time.NewTicker(p.cfg.FetchTimeout)
	defer tick.Stop()
	wasAlive := false
	for {
		st, err := p.fetchSafe(ctx, name)
		if ctx.Err() != nil {
			return
		}
		now := time.Now()
		p.mu.Lock()
		p.beatLocked(now)
		pr := p.peers[name]
		changed := false
		if err != nil {
			pr.err = err.Error()
		} else {
			changed = !equalStrings(pr.state.Capturing, st.Capturing)
			pr.err, pr.state, pr.lastSeen = "", st, now
		}
		alive := p.aliveLocked(pr, now)
		p.mu.Unlock()
		if changed || alive != wasAlive {
			p.notify()
		}
		if alive != wasAlive {
			if alive {
				p.log.Info("peer alive", "peer", name)
			} else {
				p.log.Warn("peer stale", "peer", name, "error", pr.err)
			}
			wasAlive = alive
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// fetchSafe is fetch, with a panic (on a peer's answer) turned into the
// poll's error and logged with its stack: the node keeps polling. This
// package stays on the standard library, so the panic is logged here and
// not counted in edge_panics_total.
func (p *Peers) fetchSafe(ctx context.Context, name string) (st State, err error) {
	defer func() {
		if r := recover(); r != nil {
			p.log.Error("panic recovered", "where", "cluster_poll", "peer", name, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			st, err = State{}, fmt.Errorf("panic in cluster poll of %s: %v", name, r)
		}
	}()
	return p.fetch(ctx, name)
}

// fetch makes one signed poll with a FetchTimeout deadline.
func (p *Peers) fetch(ctx context.Context, name string) (State, error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.FetchTimeout)
	defer cancel()
	p.mu.Lock()
	url := p.peers[name].url
	p.mu.Unlock()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+StatePath, nil)
	if err != nil {
		return State{}, fmt.Errorf("cluster: poll %s: %w", name, err)
	}
	p.signer.SignRequest(req)
	resp, err := p.cfg.Client.Do(req)
	if err != nil {
		return State{}, fmt.Errorf("cluster: poll %s: %w", name, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxStateSize))
	if err != nil {
		return State{}, fmt.Errorf("cluster: poll %s: %w", name, err)
	}
	if resp.StatusCode != http.StatusOK {
		return State{}, fmt.Errorf("cluster: poll %s: %s: %.200s", name, resp.Status, body)
	}
	st, err := ParseState(body)
	if err != nil {
		return State{}, fmt.Errorf("cluster: poll %s: %w", name, err)
	}
	if st.Node != name {
		return State{}, fmt.Errorf("cluster: poll %s: answered as node %q", name, st.Node)
	}
	return st, nil
}

// aliveLocked: answered since the last reset and within StaleTimeout.
func (p *Peers) aliveLocked(pr *peer, now time.Time) bool {
	return !pr.lastSeen.IsZero() && !pr.lastSeen.Before(p.resetAt) && now.Sub(pr.lastSeen) < p.cfg.StaleTimeout
}

// Alive reports whether the peer called name is alive in this node's view
// (this node always is). Unlike Snapshot it does not ask Local.
func (p *Peers) Alive(name string) bool {
	if name == p.cfg.Self {
		return true
	}
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	pr, ok := p.peers[name]
	return ok && p.aliveLocked(pr, now)
}

// Snapshot returns every peer, this node included, sorted by name.
func (p *Peers) Snapshot() []PeerState {
	now := time.Now()
	self := PeerState{Name: p.cfg.Self, Self: true, Known: true, Alive: true, LastSeen: now, State: p.cfg.Local()}
	out := append([]PeerState{self}, p.others(now)...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Others returns every other peer, sorted by name. Unlike Snapshot it does
// not ask Local (a viewer's request path uses it).
func (p *Peers) Others() []PeerState { return p.others(time.Now()) }

func (p *Peers) others(now time.Time) []PeerState {
	var out []PeerState
	p.mu.Lock()
	p.beatLocked(now)
	for name, pr := range p.peers {
		alive := p.aliveLocked(pr, now)
		known := alive || now.Sub(p.resetAt) >= p.cfg.StaleTimeout
		out = append(out, PeerState{Name: name, Known: known, Alive: alive, LastSeen: pr.lastSeen, State: pr.state, Error: pr.err})
	}
	p.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

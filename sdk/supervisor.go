package sdk

import (
	"context"
	"fmt"
	"log/slog"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc/health/grpc_health_v1"
)

// Supervisor runs one plugin process on the host side, hands out its client,
// and restarts the process with exponential backoff when it dies.
//
// Lifecycle: fill the exported fields, call Start, get clients with Ingest
// or Store for each use (do not keep one across calls: after a restart the
// old one only returns errors), and Close at the end. The fields must not be
// changed after Start.
type Supervisor struct {
	// Name is the plugin's name in logs and errors, e.g. "dvrstore".
	Name string
	// Kind is the plugin kind to dispense: KindIngest, KindDVRStore or KindBalancer.
	Kind string
	// Command returns a new, unstarted command for each (re)start: for a
	// built-in plugin the host binary itself with args "plugin", NAME; for
	// a third-party one the path from the topology's [plugins] table.
	Command func() *exec.Cmd
	// Logger receives the Supervisor's messages and the plugin's log lines.
	// By default, slog.Default().
	Logger *slog.Logger
	// OnStart, if set, runs after each (re)start and before the new
	// process's client is handed out to anyone else. Inside it, Ingest(ctx)
	// and Store(ctx) with the ctx it was given (or one derived from it)
	// return the new client, so a store host can call OpenStream again for
	// its streams. An error fails the start; the process is killed and
	// started again after the backoff.
	OnStart func(ctx context.Context) error
	// OnRestart, if set, is called after each successful restart (not the
	// first start), e.g. to count restarts in metrics.
	OnRestart func()
	// MinBackoff is the wait before the first restart after a death. It
	// doubles with each death or failed start, up to MaxBackoff, and goes
	// back to MinBackoff once a process has stayed up StableAfter. By
	// default, 100ms, 5s and 30s.
	MinBackoff, MaxBackoff, StableAfter time.Duration
	// PingInterval is how often the process is health-checked; two failed
	// checks in a row count as a death. By default, 5s.
	PingInterval time.Duration

	log      *slog.Logger
	restarts atomic.Uint64
	wake     chan struct{}
	ctx      context.Context
	cancel   context.CancelFunc
	done     chan struct{}

	mu      sync.Mutex
	cur     *generation   // the live process, nil while there is none
	ready   chan struct{} // closed when cur becomes non-nil
	started bool
	closed  bool
}

// generation is one plugin process.
type generation struct {
	client  *plugin.Client
	rpc     *plugin.GRPCClient
	impl    any
	exited  <-chan struct{}
	pid     int
	started time.Time
}

// startKey marks the context given to OnStart.
type startKey struct{ s *Supervisor }

const (
	startTimeout = 20 * time.Second
	pingTimeout  = 5 * time.Second
)

// Start starts the first plugin process and the loop that restarts it. It
// returns the first start's error: a missing executable, a failed
// handshake (ErrVersionMismatch for a plugin of another ProtocolVersion),
// a plugin that does not serve Kind, or OnStart's error. ctx bounds only
// OnStart during the first start.
func (s *Supervisor) Start(ctx context.Context) error {
	if s.Kind != KindIngest && s.Kind != KindDVRStore && s.Kind != KindBalancer {
		return fmt.Errorf("plugin %s: unknown kind %q", s.Name, s.Kind)
	}
	if s.Command == nil {
		return fmt.Errorf("plugin %s: no Command", s.Name)
	}
	s.mu.Lock()
	if s.started || s.closed {
		s.mu.Unlock()
		return fmt.Errorf("plugin %s: supervisor already started", s.Name)
	}
	s.started = true
	if s.MinBackoff <= 0 {
		s.MinBackoff = 100 * time.Millisecond
	}
	if s.MaxBackoff <= 0 {
		s.MaxBackoff = 5 * time.Second
	}
	if s.StableAfter <= 0 {
		s.StableAfter = 30 * time.Second
	}
	if s.PingInterval <= 0 {
		s.PingInterval = 5 * time.Second
	}
	s.log = s.Logger
	if s.log == nil {
		s.log = slog.Default()
	}
	s.log = s.log.With("plugin", s.Name)
	s.wake = make(chan struct{}, 1)
	s.ready = make(chan struct{})
	s.done = make(chan struct{})
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.mu.Unlock()

	startCtx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		select {
		case <-s.ctx.Done():
			stop()
		case <-startCtx.Done():
		}
	}()
	gen, err := s.start(startCtx)
	if err != nil {
		s.cancel()
		close(s.done)
		return err
	}
	s.log.Info("plugin started", "pid", gen.pid)
	go s.run(gen)
	return nil
}

// start launches one process, runs OnStart, and publishes it.
func (s *Supervisor) start(ctx context.Context) (*generation, error) {
	pl := &grpcPlugin{kind: s.Kind, onUnavailable: s.poke}
	stdio := func(name string) *lineWriter {
		return &lineWriter{log: func(line string) { s.log.Info("plugin output", "fd", name, "line", line) }}
	}
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  Handshake,
		Plugins:          plugin.PluginSet{s.Kind: pl},
		Cmd:              s.Command(),
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           newHCLogAdapter(s.log),
		GRPCDialOptions:  grpcDialOptions,
		StartTimeout:     startTimeout,
		SyncStdout:       stdio("stdout"),
		SyncStderr:       stdio("stderr"),
	})
	proto, err := client.Client()
	if err != nil {
		client.Kill()
		if strings.Contains(err.Error(), "incompatible API version") {
			return nil, fmt.Errorf("start plugin %s: %w: host speaks version %d (%v)", s.Name, ErrVersionMismatch, ProtocolVersion, err)
		}
		return nil, fmt.Errorf("start plugin %s: %w", s.Name, err)
	}
	rpc, ok := proto.(*plugin.GRPCClient)
	if !ok {
		client.Kill()
		return nil, fmt.Errorf("start plugin %s: plugin does not speak gRPC", s.Name)
	}
	impl, err := rpc.Dispense(s.Kind)
	if err != nil {
		client.Kill()
		return nil, fmt.Errorf("start plugin %s: plugin does not serve %s: %w", s.Name, s.Kind, err)
	}
	gen := &generation{client: client, rpc: rpc, impl: impl, exited: pl.exited.Done(), started: time.Now()}
	if rc := client.ReattachConfig(); rc != nil {
		gen.pid = rc.Pid
	}
	if err := gen.ping(ctx, s.Kind); err != nil {
		client.Kill()
		return nil, fmt.Errorf("start plugin %s: %w", s.Name, err)
	}
	if s.OnStart != nil {
		if err := s.OnStart(context.WithValue(ctx, startKey{s}, gen)); err != nil {
			client.Kill()
			return nil, fmt.Errorf("start plugin %s: on start: %w", s.Name, err)
		}
	}
	s.mu.Lock()
	s.cur = gen
	close(s.ready)
	s.mu.Unlock()
	return gen, nil
}

// ping health-checks the process's gRPC server.
func (g *generation) ping(ctx context.Context, kind string) error {
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	_, err := grpc_health_v1.NewHealthClient(g.rpc.Conn).Check(ctx, &grpc_health_v1.HealthCheckRequest{Service: plugin.GRPCServiceName})
	if err != nil {
		return fmt.Errorf("ping %s plugin: %w", kind, err)
	}
	return nil
}

// poke asks the loop to check the process now (an RPC saw Unavailable).
func (s *Supervisor) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// run watches the live process and restarts it until Close.
func (s *Supervisor) run(gen *generation) {
	defer close(s.done)
	backoff := s.MinBackoff
	for {
		reason := s.watch(gen)
		if s.ctx.Err() != nil {
			return
		}
		s.mu.Lock()
		s.cur = nil
		s.ready = make(chan struct{})
		s.mu.Unlock()
		gen.client.Kill()
		up := time.Since(gen.started)
		if up >= s.StableAfter {
			backoff = s.MinBackoff
		}
		s.log.Warn("plugin died", "pid", gen.pid, "reason", reason, "uptime", up.Round(time.Millisecond).String(), "restart_in", backoff.String())
		for {
			t := time.NewTimer(backoff)
			select {
			case <-s.ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			backoff = min(2*backoff, s.MaxBackoff)
			next, err := s.start(s.ctx)
			if err != nil {
				if s.ctx.Err() != nil {
					return
				}
				s.log.Error("plugin restart failed", "error", err, "retry_in", backoff.String())
				continue
			}
			n := s.restarts.Add(1)
			s.log.Info("plugin restarted", "pid", next.pid, "restarts", n)
			if s.OnRestart != nil {
				s.OnRestart()
			}
			gen = next
			break
		}
	}
}

// watch returns why gen is dead, or "" when the Supervisor is closing.
func (s *Supervisor) watch(gen *generation) string {
	tick := time.NewTicker(s.PingInterval)
	defer tick.Stop()
	failures := 0
	for {
		select {
		case <-s.ctx.Done():
			return ""
		case <-gen.exited:
			return "process exited"
		case <-s.wake:
		case <-tick.C:
		}
		if gen.client.Exited() {
			return "process exited"
		}
		if err := gen.ping(s.ctx, s.Kind); err != nil {
			if s.ctx.Err() != nil {
				return ""
			}
			// A process that is exiting fails its ping just before go-plugin
			// notices the exit; give it a moment to tell.
			t := time.NewTimer(200 * time.Millisecond)
			select {
			case <-gen.exited:
				t.Stop()
				return "process exited"
			case <-s.ctx.Done():
				t.Stop()
				return ""
			case <-t.C:
			}
			failures++
			s.log.Warn("plugin ping failed", "pid", gen.pid, "error", err, "failures", failures)
			if failures >= 2 {
				return "not answering: " + err.Error()
			}
			continue
		}
		failures = 0
	}
}

// live returns the live process, waiting for one within ctx.
func (s *Supervisor) live(ctx context.Context) (*generation, error) {
	if g, ok := ctx.Value(startKey{s}).(*generation); ok {
		return g, nil
	}
	for {
		s.mu.Lock()
		g, ready, started, closed := s.cur, s.ready, s.started, s.closed
		s.mu.Unlock()
		switch {
		case closed:
			return nil, fmt.Errorf("plugin %s: supervisor closed", s.Name)
		case !started:
			return nil, fmt.Errorf("plugin %s: supervisor not started", s.Name)
		case g != nil:
			return g, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("plugin %s: waiting for a live process: %w", s.Name, ctx.Err())
		case <-s.done:
			return nil, fmt.Errorf("plugin %s: supervisor stopped", s.Name)
		case <-ready:
		}
	}
}

// Ingest returns the live process's ingest client, waiting (bounded by ctx)
// while the process is being restarted.
func (s *Supervisor) Ingest(ctx context.Context) (Ingest, error) {
	g, err := s.live(ctx)
	if err != nil {
		return nil, err
	}
	c, ok := g.impl.(*IngestClient)
	if !ok {
		return nil, fmt.Errorf("plugin %s: is a %s plugin, not %s", s.Name, s.Kind, KindIngest)
	}
	return c, nil
}

// Store returns the live process's store client, waiting (bounded by ctx)
// while the process is being restarted.
func (s *Supervisor) Store(ctx context.Context) (Store, error) {
	g, err := s.live(ctx)
	if err != nil {
		return nil, err
	}
	c, ok := g.impl.(*StoreClient)
	if !ok {
		return nil, fmt.Errorf("plugin %s: is a %s plugin, not %s", s.Name, s.Kind, KindDVRStore)
	}
	return c, nil
}

// Balancer returns the live process's balancer client, waiting (bounded by
// ctx) while the process is being restarted.
func (s *Supervisor) Balancer(ctx context.Context) (Balancer, error) {
	g, err := s.live(ctx)
	if err != nil {
		return nil, err
	}
	c, ok := g.impl.(*BalancerClient)
	if !ok {
		return nil, fmt.Errorf("plugin %s: is a %s plugin, not %s", s.Name, s.Kind, KindBalancer)
	}
	return c, nil
}

// Restarts returns how many times the process has been restarted.
func (s *Supervisor) Restarts() uint64 { return s.restarts.Load() }

// Pid returns the live process's id, or 0 while there is none.
func (s *Supervisor) Pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur == nil {
		return 0
	}
	return s.cur.pid
}

// Close stops the restart loop and ends the plugin process. It is safe to
// call more than once.
func (s *Supervisor) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	started := s.started
	s.mu.Unlock()
	if !started {
		return nil
	}
	s.cancel()
	<-s.done
	s.mu.Lock()
	g := s.cur
	s.cur = nil
	s.mu.Unlock()
	if g != nil {
		g.client.Kill()
	}
	return nil
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/edgedvr/edge/cache"
	"github.com/edgedvr/edge/config"
	"github.com/edgedvr/edge/node"
	"github.com/edgedvr/edge/proxy"
	"github.com/edgedvr/edge/sdk"
)

// defaultMemoryBudget is the memory segment cache's size unless
// EDGE_MEMORY_CACHE says otherwise (a size such as "512M").
const defaultMemoryBudget = 256 << 20

func memoryBudget() int64 {
	if v := os.Getenv("EDGE_MEMORY_CACHE"); v != "" {
		if n, err := config.ParseSize(v); err == nil && n > 0 {
			return n
		}
	}
	return defaultMemoryBudget
}

// stopTimeout bounds a graceful stop: captures flush, archive writes finish.
const stopTimeout = 15 * time.Second

func logLevel() slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(os.Getenv("EDGE_LOG_LEVEL"))); err != nil {
		return slog.LevelInfo
	}
	return l
}

// parseArgs parses flags that may come before or after positional arguments.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func cmdCheck(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintln(stderr, "usage: edge check FILE")
		return 2
	}
	return config.Check(args[0], stdout)
}

// loadNode parses `edge CMD FILE [--node NAME]`, loads FILE and picks the
// node. On failure it has said why on stderr and returns the exit code
// (2: usage, 1: a bad file or node).
func loadNode(cmd string, args []string, stderr io.Writer) (*config.Topology, *config.Node, int) {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	nodeName := fs.String("node", "", "the node of FILE to "+cmd+" (may be left out when FILE has one node)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return nil, nil, 2
	}
	if len(pos) != 1 {
		fmt.Fprintf(stderr, "usage: edge %s FILE [--node NAME]\n", cmd)
		return nil, nil, 2
	}
	topo, err := config.Load(pos[0])
	if err != nil {
		fmt.Fprintln(stderr, err)
		return nil, nil, 1
	}
	nc, err := pickNode(topo, *nodeName)
	if err != nil {
		fmt.Fprintf(stderr, "edge %s: %v\n", cmd, err)
		return nil, nil, 1
	}
	return topo, nc, 0
}

func cmdRun(args []string, stderr io.Writer) int {
	topo, nc, code := loadNode("run", args, stderr)
	if nc == nil {
		return code
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: logLevel()})).With("node", nc.Name)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := runNode(ctx, topo, nc, log); err != nil {
		log.Error("node failed", "err", err)
		return 1
	}
	return 0
}

func pickNode(topo *config.Topology, name string) (*config.Node, error) {
	if name == "" {
		if len(topo.Nodes) != 1 {
			return nil, fmt.Errorf("%s has %d nodes: say which with --node NAME", topo.Path, len(topo.Nodes))
		}
		return topo.Nodes[0], nil
	}
	n, ok := topo.Node(name)
	if !ok {
		return nil, fmt.Errorf("%s has no node %q", topo.Path, name)
	}
	return n, nil
}

// runNode runs one node until ctx ends, then stops it gracefully.
func runNode(ctx context.Context, topo *config.Topology, nc *config.Node, log *slog.Logger) error {
	hup, stopHUP := notifySIGHUP()
	defer stopHUP()
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own executable for built-in plugins: %w", err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := node.NewMetrics(reg)

	sups := &supervisors{exe: exe, topo: topo, log: log, metrics: metrics}
	defer sups.close()

	cl, err := newClusterNode(topo, nc, reg, log, sups.balancer)
	if err != nil {
		return err
	}
	defer cl.close()
	var ingest *node.ClusterIngest
	if cl != nil && hasClusterStreams(nc) {
		ingest = &node.ClusterIngest{Peers: cl.peers, Balancer: sups.balancer}
	}
	repls := newReplications(nc.Name, sups.store, log, reg)

	var n *node.Node
	n, err = node.New(node.Config{
		Topology: topo,
		Node:     nc,
		Logger:   log,
		Metrics:  metrics,
		Plugins: node.Plugins{
			Ingest: sups.ingest,
			Store:  sups.store,
		},
		ListSource: listSource(nc.Name),
		Cluster:    ingest,
		Replicate:  repls.start,
	})
	if err != nil {
		return err
	}
	if cl != nil {
		cl.n.Store(n)
	}
	if err := sups.start(ctx, nc, n); err != nil {
		return err
	}

	ln, err := net.Listen("tcp", nc.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	ars := newArchives(nc.Name, sups.store, log, reg)
	rl := &reloader{path: topo.Path, node: nc.Name, n: n, archives: ars, log: log, topo: topo, nc: nc}
	var ext *external
	var lookup func(string) bool
	if nc.ConfigExternal != nil {
		ext = newExternal(rl, nc.ConfigExternal)
		lookup = func(name string) bool { return ext.lookup(ctx, name) }
	}
	var be proxy.Backend = backend{n: n, archives: ars, repls: repls, lookup: lookup}
	if cl != nil {
		ars.peers = peerArchives(topo, nc.Name, n)
		be = clusterBackend{backend: be.(backend), c: cl}
	}
	srv := proxy.New(proxy.Config{
		Reload:     rl.api,
		Plugins:    sups.plugins,
		Backend:    be,
		Memory:     cache.NewMemory(memoryBudget()),
		Logger:     log,
		Registry:   reg,
		Node:       nc.Name,
		ClusterKey: topo.ClusterKey,
	})
	if cl != nil {
		cl.srv.Store(srv)
	}
	srv.SetPolicy(policyOf(topo, nc))
	rl.onApply = func(topo *config.Topology, nc *config.Node) { srv.SetPolicy(policyOf(topo, nc)) }
	srvErr := make(chan error, 3)
	go func() { srvErr <- srv.Serve(ln) }()
	if nc.ReplicationListen != "" {
		rln, err := net.Listen("tcp", nc.ReplicationListen)
		if err != nil {
			ln.Close()
			return fmt.Errorf("replication_listen: %w", err)
		}
		go func() { srvErr <- srv.ServeReplication(rln) }()
	}
	if nc.MetricsListen != "" {
		mln, err := net.Listen("tcp", nc.MetricsListen)
		if err != nil {
			ln.Close()
			return fmt.Errorf("metrics_listen: %w", err)
		}
		go func() { srvErr <- srv.ServeMetrics(mln) }()
	}

	n.Start(ctx)
	go rl.onSIGHUP(ctx, hup)
	if ext != nil {
		go ext.follow(ctx)
	}
	log.Info("node running", "listen", ln.Addr().String(), "streams", n.StreamNames())

	select {
	case <-ctx.Done():
	case err := <-srvErr:
		if err != nil {
			log.Error("http server stopped", "err", err)
		}
	}
	log.Info("stopping: flushing open segments")
	sctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	stopErr := n.Stop(sctx)
	_ = srv.Shutdown(sctx)
	if stopErr != nil {
		return stopErr
	}
	log.Info("stopped")
	return nil
}

// policyOf is who may watch and who may steer on node nc of topo.
func policyOf(topo *config.Topology, nc *config.Node) proxy.Policy {
	return proxy.Policy{
		AdminKey: topo.AdminKey,
		OnPlay:   nc.OnPlayFunc(),
		FailOpen: nc.OnPlayFailure == config.OnPlayAllow,
	}
}

// supervisors starts plugin processes on first use and keeps them alive.
type supervisors struct {
	exe          string
	topo         *config.Topology
	log          *slog.Logger
	metrics      *node.Metrics
	onStoreStart func(ctx context.Context) error

	udpSup      *sdk.Supervisor
	m4fSup      *sdk.Supervisor
	storeSup    *sdk.Supervisor
	balancerSup *sdk.Supervisor
}

// start starts the plugin processes the node needs: the udp ingest plugin
// when a stream has a udp:// or file:// input, the store when a stream
// records. The store re-opens the archives each time it (re)starts.
func (s *supervisors) start(ctx context.Context, nc *config.Node, n *node.Node) error {
	// A node with config_external runs every plugin a stream may need: the
	// backend may list any stream.
	ext := nc.ConfigExternal != nil
	needUDP, needM4F := ext, ext || len(nc.Sources) > 0
	for _, st := range nc.Streams {
		for _, in := range st.Inputs {
			switch {
			case strings.HasPrefix(in, "udp://"), strings.HasPrefix(in, "file://"):
				needUDP = true
			case strings.HasPrefix(in, "m4f://"):
				needM4F = true
			}
		}
	}
	mk := func(dst **sdk.Supervisor, name, kind, configured string, onStart func(context.Context) error) error {
		sup := &sdk.Supervisor{
			Name:      name,
			Kind:      kind,
			Command:   s.command(name, configured),
			Logger:    s.log,
			OnStart:   onStart,
			OnRestart: func() { s.metrics.PluginRestarts.WithLabelValues(name).Inc() },
		}
		s.metrics.PluginRestarts.WithLabelValues(name).Add(0)
		*dst = sup // OnStart reaches the new client through it
		if err := sup.Start(ctx); err != nil {
			return err
		}
		return nil
	}
	if n.HasArchive() || ext {
		if err := mk(&s.storeSup, "dvrstore", sdk.KindDVRStore, s.topo.Plugins.DVRStore, n.OpenArchives); err != nil {
			return err
		}
	}
	if needUDP {
		if err := mk(&s.udpSup, "udp", sdk.KindIngest, s.topo.Plugins.UDP, nil); err != nil {
			return err
		}
	}
	if needM4F {
		if err := mk(&s.m4fSup, "m4f", sdk.KindIngest, s.topo.Plugins.M4F, nil); err != nil {
			return err
		}
	}
	if s.topo.Cluster.IsPeer(nc.Name) && (hasClusterStreams(nc) || nc.ViewerLimit > 0) {
		if err := mk(&s.balancerSup, "balancer", sdk.KindBalancer, s.topo.Plugins.Balancer, nil); err != nil {
			return err
		}
	}
	return nil
}

// hasClusterStreams reports whether the node has cluster_ingest streams.
func hasClusterStreams(nc *config.Node) bool {
	for _, st := range nc.Streams {
		if st.ClusterIngest != nil {
			return true
		}
	}
	return false
}

func (s *supervisors) balancer(ctx context.Context) (sdk.Balancer, error) {
	if s.balancerSup == nil {
		return nil, errors.New("no balancer plugin on this node")
	}
	return s.balancerSup.Balancer(ctx)
}

func (s *supervisors) command(name, configured string) func() *exec.Cmd {
	return func() *exec.Cmd {
		var cmd *exec.Cmd
		if configured == "" || configured == "builtin" {
			cmd = exec.Command(s.exe, "plugin", name)
		} else {
			cmd = exec.Command(configured)
		}
		// A plugin dies with its host, even when the host is SIGKILLed.
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		cmd.Env = append(os.Environ(), "EDGE_LOG_LEVEL="+logLevel().String())
		return cmd
	}
}

var errNoPlugin = errors.New("no plugin serves this input scheme")

func (s *supervisors) ingest(ctx context.Context, scheme string) (sdk.Ingest, error) {
	switch scheme {
	case "udp", "file":
		if s.udpSup == nil {
			return nil, errNoPlugin
		}
		return s.udpSup.Ingest(ctx)
	case "m4f":
		if s.m4fSup == nil {
			return nil, errNoPlugin
		}
		return s.m4fSup.Ingest(ctx)
	}
	return nil, fmt.Errorf("%w: %s", errNoPlugin, scheme)
}

func (s *supervisors) store(ctx context.Context) (sdk.Store, error) {
	if s.storeSup == nil {
		return nil, errors.New("no archive store on this node")
	}
	return s.storeSup.Store(ctx)
}

func (s *supervisors) close() {
	for _, sup := range []*sdk.Supervisor{s.udpSup, s.m4fSup, s.storeSup, s.balancerSup} {
		if sup != nil {
			sup.Close()
		}
	}
}

// Package config decodes and validates the TOML topology file: nodes, streams, sources, inputs, archive and cache settings.
package config

import (
	"time"

	"github.com/edgedvr/edge/config/inputurl"
)

// Topology is a whole deployment: every node of one file.
type Topology struct {
	// Path is the file the topology was read from. Relative paths in the
	// file (file:// inputs, dvr and cache roots, plugin executables) resolve
	// against its directory.
	Path string `toml:"-"`
	// ClusterKey is the shared secret that signs node-to-node calls. It is never sent or logged.
	ClusterKey string `toml:"cluster_key"`
	// AdminKey is the credential of the admin surfaces of every node (the
	// web overview, /api/v1, /metrics on listen): clients send it as
	// "Authorization: Bearer KEY" (or as the password of HTTP Basic, which
	// browsers ask for). It is never logged. By default, empty: those
	// surfaces answer loopback callers only (access.go).
	AdminKey string   `toml:"admin_key"`
	Cluster  *Cluster `toml:"cluster"`
	Plugins  Plugins  `toml:"plugins"`
	Nodes    []*Node  `toml:"node"`

	warnings []Error // static check findings that do not make the file invalid
}

// Cluster lists the peers of a cluster-ingest group.
type Cluster struct {
	// Peers are node names of this file (or host:port of nodes elsewhere)
	// that share the capture of cluster_ingest streams.
	Peers []string `toml:"peers"`
	// FetchTimeout is how often peers are polled. By default, 1s.
	FetchTimeout Duration `toml:"fetch_timeout"`
	// StaleTimeout is how long a silent peer is still considered alive. By default, 3s.
	StaleTimeout Duration `toml:"stale_timeout"`
	// Streams are cluster_ingest streams written once for the whole group
	// ([[cluster.stream]]): every peer may capture them. cluster_ingest is
	// implied; capture_at goes in it as in [[node.stream]]. Load gives each
	// peer node its own copy, and a copy's dvr and cache roots get the
	// peer's name as a last path element so peers that share a disk never
	// write one directory.
	Streams []*Stream `toml:"stream"`
}

// IsPeer reports whether node is one of the cluster's peers.
func (c *Cluster) IsPeer(node string) bool { return c != nil && contains(c.Peers, node) }

// Plugins says what serves each plugin kind: "builtin" (the default) or the
// path of an executable that speaks the sdk handshake. A relative path
// resolves against the topology file's directory. By default, "builtin".
type Plugins struct {
	UDP      string `toml:"udp"`
	M4F      string `toml:"m4f"`
	DVRStore string `toml:"dvrstore"`
	Balancer string `toml:"balancer"`
}

// Builtin is the Plugins value that selects the plugin compiled into edge.
const Builtin = "builtin"

// Node is one process of the deployment.
type Node struct {
	// Name identifies the node in m4f:// URLs, [cluster] peers and `edge run --node`.
	Name string `toml:"name"`
	// Listen is the host:port for viewers, M4F and the API.
	Listen string `toml:"listen"`
	// ReplicationListen is an optional separate listener for replication traffic.
	ReplicationListen string `toml:"replication_listen"`
	// PublicURL is used in redirects. By default, http://<listen>.
	PublicURL string `toml:"public_url"`
	// ViewerLimit turns on viewer balancing: while the node has this many
	// viewers or more (clients that followed one of its live playlists in
	// the last 30 s, over all its streams), a new viewer of a stream is
	// redirected (302) to a less loaded [cluster] peer that serves the
	// stream itself, as the balancer plugin chooses. Only on a [cluster]
	// peer. By default, 0: no limit, no balancing.
	ViewerLimit int `toml:"viewer_limit"`
	// OnPlay is the HTTP authorization backend of the node's viewers
	// (http://HOST/PATH): each viewer session is allowed by a GET to it
	// (access.go). A stream's or a source's on_play overrides it. By
	// default, empty: viewers are not checked.
	OnPlay string `toml:"on_play"`
	// OnPlayFailure is what a viewer gets when the on_play backend cannot
	// answer (down, slow, a 5xx): "deny" (403) or "allow". By default, "deny".
	OnPlayFailure string `toml:"on_play_failure"`
	// MetricsListen is an optional separate host:port that serves /metrics
	// to anyone; on listen, /metrics needs admin_key. By default, empty.
	MetricsListen string    `toml:"metrics_listen"`
	Streams       []*Stream `toml:"stream"`
	Sources       []*Source `toml:"source"`
	// ConfigExternal, when set, adds the streams an HTTP configuration
	// backend lists for this node (external.go). By default, none.
	ConfigExternal *External `toml:"config_external"`
	Line           int       `toml:"-"` // line of the [[node]] header, for messages
}

// Stream is one stream captured or restreamed by a node.
type Stream struct {
	Name string `toml:"name"`
	// Inputs in priority order: udp://, file:// or m4f:// URLs. A stream
	// without inputs takes its video from a matching [[node.source]].
	Inputs []string `toml:"inputs"`
	// SourceTimeout: no frames this long and the next input is tried. By default, 10s.
	SourceTimeout Duration `toml:"source_timeout"`
	// SegmentDuration is the target segment length, 1s to 15s. By default, 3s.
	SegmentDuration Duration `toml:"segment_duration"`
	DVR             *DVR     `toml:"dvr"`
	Cache           *Cache   `toml:"cache"`
	ClusterIngest   *Ingest  `toml:"cluster_ingest"`
	// OnPlay overrides the node's (or the source's) on_play for this stream.
	OnPlay string `toml:"on_play"`
	Line   int    `toml:"-"` // line of the [[node.stream]] header, for messages
	// Group is set on a peer's copy of a [[cluster.stream]].
	Group bool `toml:"-"`
}

// Source restreams streams of another node.
type Source struct {
	// URL is m4f://NODE or m4f://host:port.
	URL string `toml:"url"`
	// Only restreams just these streams. Only and Except exclude each other.
	Only []string `toml:"only"`
	// Except restreams every stream of the source but these.
	Except []string `toml:"except"`
	// RemoteDVR is nochain, chain or none. By default, "nochain".
	RemoteDVR string `toml:"remote_dvr"`
	// IdleTimeout: a stream restreamed without a DVR is pulled only while
	// someone watches it, and released this long after the last viewer.
	// By default, 30s.
	IdleTimeout Duration `toml:"idle_timeout"`
	// Key overrides cluster_key for this source.
	Key string `toml:"key"`
	// OnPlay overrides the node's on_play for the streams this source
	// restreams (a stream's own on_play wins).
	OnPlay string `toml:"on_play"`
	Cache  *Cache `toml:"cache"`
	DVR    *DVR   `toml:"dvr"`
	Line   int    `toml:"-"`
}

// Admits reports whether the source restreams the stream name, by its Only
// and Except lists.
func (s *Source) Admits(name string) bool {
	if len(s.Only) > 0 {
		return contains(s.Only, name)
	}
	return !contains(s.Except, name)
}

// DVR is an on-disk archive.
type DVR struct {
	// Root is the archive directory; a relative root resolves against the
	// topology file's directory (Load makes it absolute).
	Root string `toml:"root"`
	// Depth is how long to keep segments; 0 keeps them until MaxSize.
	Depth Duration `toml:"depth"`
	// MaxSize bounds the archive's bytes; 0 means no size limit.
	MaxSize Size `toml:"max_size"`
	// Replicate copies the archive of the stream's first m4f:// input (or
	// of the [[node.source]]) over [now - depth, now], newest first, and
	// keeps it complete while following live; where both archives have
	// video, the one of the earlier input wins. It turns recording on. By
	// default, false.
	Replicate bool `toml:"replicate"`
	// ReplicationPort is the port of the source's replication_listen, on the
	// source's host; only with replicate. By default, 0: the source's listen.
	ReplicationPort int `toml:"replication_port"`
	// ReplicationSpeed caps the bytes per second replication copies for
	// this stream (each stream of a source block has its own cap); only with
	// replicate. By default, 0: unlimited.
	ReplicationSpeed Size `toml:"replication_speed"`
}

// Cache is a disk segment cache for archive fetched from sources.
type Cache struct {
	// Root is the cache directory; a relative root resolves against the
	// topology file's directory (Load makes it absolute).
	Root string `toml:"root"`
	// Depth drops cached segments older than this; 0 keeps them until MaxSize.
	Depth Duration `toml:"depth"`
	// MaxSize bounds the cache's bytes; 0 means no size limit.
	MaxSize Size `toml:"max_size"`
	// Misses: cache a segment only after its Nth request. By default, 1.
	Misses int `toml:"misses"`
}

// Ingest places a stream in a cluster-ingest group.
type Ingest struct {
	// CaptureAt is the peer that should capture the stream while it is
	// alive; empty lets the balancer choose.
	CaptureAt string `toml:"capture_at"`
}

// Duration is a time.Duration that decodes from Go syntax ("90s", "1h30m") or days ("3d").
type Duration time.Duration

// Size is a byte count that decodes from an integer or a string with a K, M, G or T suffix (powers of 1024).
type Size int64

// Defaults, as documented on the fields.
const (
	DefaultSourceTimeout   = 10 * time.Second
	DefaultSegmentDuration = 3 * time.Second
	DefaultRemoteDVR       = "nochain"
	DefaultCacheMisses     = 1
	DefaultFetchTimeout    = 1 * time.Second
	DefaultStaleTimeout    = 3 * time.Second
	DefaultIdleTimeout     = 30 * time.Second
	DefaultOnPlayFailure   = OnPlayDeny

	MinSegmentDuration = 1 * time.Second
	MaxSegmentDuration = 15 * time.Second
)

// on_play_failure policies.
const (
	OnPlayDeny  = "deny"
	OnPlayAllow = "allow"
)

// Remote DVR modes of a source or m4f input.
const (
	RemoteDVRNoChain = inputurl.RemoteDVRNoChain
	RemoteDVRChain   = inputurl.RemoteDVRChain
	RemoteDVRNone    = inputurl.RemoteDVRNone
)

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

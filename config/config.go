// Package config decodes and validates the TOML topology file: nodes, streams, sources, inputs, archive and cache settings.
package config

import "time"

// Topology is a whole deployment: every node of one file.
type Topology struct {
	// Path is the file the topology was read from.
	Path string `toml:"-"`
	// ClusterKey is the shared secret that signs node-to-node calls. It is never sent or logged.
	ClusterKey string   `toml:"cluster_key"`
	Cluster    *Cluster `toml:"cluster"`
	Plugins    Plugins  `toml:"plugins"`
	Nodes      []*Node  `toml:"node"`
}

// Cluster lists the peers of a cluster-ingest group.
type Cluster struct {
	Peers []string `toml:"peers"`
	// FetchTimeout is how often peers are polled. By default, 1s.
	FetchTimeout Duration `toml:"fetch_timeout"`
	// StaleTimeout is how long a silent peer is still considered alive. By default, 3s.
	StaleTimeout Duration `toml:"stale_timeout"`
}

// Plugins says what serves each plugin kind: "builtin" (the default) or the
// path of an executable that speaks the sdk handshake.
type Plugins struct {
	UDP      string `toml:"udp"`
	M4F      string `toml:"m4f"`
	DVRStore string `toml:"dvrstore"`
	Balancer string `toml:"balancer"`
}

// Node is one process of the deployment.
type Node struct {
	Name string `toml:"name"`
	// Listen is the host:port for viewers, M4F and the API.
	Listen string `toml:"listen"`
	// ReplicationListen is an optional separate listener for replication traffic.
	ReplicationListen string `toml:"replication_listen"`
	// PublicURL is used in redirects. By default, http://<listen>.
	PublicURL string    `toml:"public_url"`
	Streams   []*Stream `toml:"stream"`
	Sources   []*Source `toml:"source"`
}

// Stream is one stream captured or restreamed by a node.
type Stream struct {
	Name string `toml:"name"`
	// Inputs in priority order.
	Inputs []string `toml:"inputs"`
	// SourceTimeout: no frames this long and the next input is tried. By default, 10s.
	SourceTimeout Duration `toml:"source_timeout"`
	// SegmentDuration is the target segment length, 1s to 15s. By default, 3s.
	SegmentDuration Duration `toml:"segment_duration"`
	DVR             *DVR     `toml:"dvr"`
	Cache           *Cache   `toml:"cache"`
	ClusterIngest   *Ingest  `toml:"cluster_ingest"`
	Line            int      `toml:"-"` // line of the [[node.stream]] header, for messages
}

// Source restreams streams of another node.
type Source struct {
	// URL is m4f://NODE or m4f://host:port.
	URL    string   `toml:"url"`
	Only   []string `toml:"only"`
	Except []string `toml:"except"`
	// RemoteDVR is nochain (the default), chain or none.
	RemoteDVR string `toml:"remote_dvr"`
	// Key overrides cluster_key for this source.
	Key   string `toml:"key"`
	Cache *Cache `toml:"cache"`
	DVR   *DVR   `toml:"dvr"`
	Line  int    `toml:"-"`
}

// DVR is an on-disk archive.
type DVR struct {
	Root string `toml:"root"`
	// Depth is how long to keep segments; 0 keeps them until MaxSize.
	Depth   Duration `toml:"depth"`
	MaxSize Size     `toml:"max_size"`
	// Replicate copies missing archive from the stream's m4f sources.
	Replicate       bool `toml:"replicate"`
	ReplicationPort int  `toml:"replication_port"`
}

// Cache is a disk segment cache for archive fetched from sources.
type Cache struct {
	Root    string   `toml:"root"`
	Depth   Duration `toml:"depth"`
	MaxSize Size     `toml:"max_size"`
	// Misses: cache a segment only after its Nth request. By default, 1.
	Misses int `toml:"misses"`
}

// Ingest places a stream in a cluster-ingest group.
type Ingest struct {
	CaptureAt string `toml:"capture_at"`
}

// Duration is a time.Duration that decodes from Go syntax ("90s", "1h30m") or days ("3d").
type Duration time.Duration

// Size is a byte count that decodes from an integer or a string with a K, M, G or T suffix (powers of 1024).
type Size int64

package proxy

import "github.com/valyala/fasthttp"

// PluginStatus is one plugin process of the node, for GET /api/v1/plugins.
type PluginStatus struct {
	// Name is the plugin's name: udp, m4f, dvrstore or balancer.
	Name string `json:"name"`
	// Kind is what it serves: ingest, dvrstore or balancer.
	Kind string `json:"kind"`
	// Command is "builtin" or the path of a third-party executable.
	Command string `json:"command"`
	// Pid of the running process, 0 while it restarts.
	Pid int `json:"pid"`
	// Restarts counts the times it was restarted after it died.
	Restarts uint64 `json:"restarts"`
}

// serveAPIPlugins answers GET /api/v1/plugins: {"plugins":[...]} sorted by
// name, as Config.Plugins gives them.
func (s *Server) serveAPIPlugins(ctx *fasthttp.RequestCtx) error {
	out := struct {
		Plugins []PluginStatus `json:"plugins"`
	}{Plugins: []PluginStatus{}}
	if s.cfg.Plugins != nil {
		out.Plugins = append(out.Plugins, s.cfg.Plugins()...)
	}
	return writeJSON(ctx, out)
}

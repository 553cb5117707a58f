package main

import (
	"github.com/edgedvr/edge/proxy"
	"github.com/edgedvr/edge/sdk"
)

// plugins lists the plugin processes the node runs, for GET /api/v1/plugins.
func (s *supervisors) plugins() []proxy.PluginStatus {
	var out []proxy.PluginStatus
	for _, sup := range []*sdk.Supervisor{s.balancerSup, s.storeSup, s.m4fSup, s.udpSup} { // by name
		if sup == nil {
			continue
		}
		cmd := map[string]string{"udp": s.topo.Plugins.UDP, "m4f": s.topo.Plugins.M4F, "dvrstore": s.topo.Plugins.DVRStore,
			"balancer": s.topo.Plugins.Balancer}[sup.Name]
		if cmd == "" {
			cmd = "builtin"
		}
		out = append(out, proxy.PluginStatus{Name: sup.Name, Kind: sup.Kind, Command: cmd, Pid: sup.Pid(), Restarts: sup.Restarts()})
	}
	return out
}

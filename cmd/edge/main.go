// Command edge is the clustered DVR and restreaming server: one binary that runs any node of a topology, checks topology files, and serves the built-in plugins.
package main

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"
)

const usage = `usage:
  edge up [FILE]                 run every node of FILE on this machine (default: the embedded quickstart)
  edge run FILE [--node NAME]    run one node of FILE (--node may be left out when FILE has one node)
  edge check FILE                validate FILE; exit 0 when valid, 1 otherwise
  edge reload FILE [--node NAME] make the running node of FILE reload FILE (a call signed with its cluster_key; or send it SIGHUP)
  edge plugin NAME               serve a built-in plugin (udp, m4f, dvrstore, balancer); started by edge itself
  edge version                   print the version and build information
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	name := args[0]
	if name == "plugin" && len(args) > 1 {
		name = "plugin-" + args[1]
	}
	startProfile(name)
	switch args[0] {
	case "up":
		return cmdUp(args[1:], stdout, stderr)
	case "run":
		return cmdRun(args[1:], stderr)
	case "check":
		return cmdCheck(args[1:], stdout, stderr)
	case "reload":
		return cmdReload(args[1:], stdout, stderr)
	case "plugin":
		return cmdPlugin(args[1:], stderr)
	case "version", "--version", "-v":
		printVersion(stdout)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "edge: unknown command %q\n%s", args[0], usage)
	return 2
}

// version is the module version, or the VCS revision for a development build.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	if v != "" && v != "(devel)" {
		return v
	}
	rev, dirty := "", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "devel"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return "devel-" + rev
}

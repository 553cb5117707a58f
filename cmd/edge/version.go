package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// versionDeps are the dependencies whose versions `edge version` prints:
// the media and network stack a bug report needs.
var versionDeps = []string{
	"github.com/valyala/fasthttp",
	"github.com/Eyevinn/mp4ff",
	"github.com/asticode/go-astits",
	"github.com/hashicorp/go-plugin",
	"google.golang.org/grpc",
}

// printVersion writes `edge version`: the version on the first line, then
// the build information of the binary (debug.ReadBuildInfo): Go version
// and platform, VCS revision and time when the build recorded them, and
// the versions of the main dependencies.
func printVersion(w io.Writer) {
	fmt.Fprintln(w, "edge", version())
	fmt.Fprintf(w, "go        %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return
	}
	fmt.Fprintf(w, "module    %s\n", bi.Main.Path)
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	if rev := settings["vcs.revision"]; rev != "" {
		mod := ""
		if settings["vcs.modified"] == "true" {
			mod = " (modified)"
		}
		fmt.Fprintf(w, "revision  %s %s%s\n", rev, settings["vcs.time"], mod)
	}
	deps := map[string]string{}
	for _, d := range bi.Deps {
		v := d.Version
		if d.Replace != nil {
			v += " => " + d.Replace.Path + " " + d.Replace.Version
		}
		deps[d.Path] = v
	}
	for _, p := range versionDeps {
		if v, ok := deps[p]; ok {
			fmt.Fprintf(w, "dep       %s %s\n", p, v)
		}
	}
}

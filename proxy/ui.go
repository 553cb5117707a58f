package proxy

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"path"
	"sync"

	"github.com/valyala/fasthttp"
)

// The web overview at / is a static page (ui/index.html) with its script,
// style sheet and an embedded copy of hls.js (ui/hls.min.js, version
// 1.7.4 from npm, Apache-2.0: ui/hls.js-LICENSE), all compiled into the
// binary so the page works with no internet and no build step. The page
// reads the JSON API; nothing is rendered on the server.
//
//go:embed ui/index.html ui/app.js ui/app.css ui/hls.min.js ui/hls.js-LICENSE
var uiFiles embed.FS

// uiAsset is one embedded file of the overview.
type uiAsset struct {
	body  []byte
	ctype string
	etag  string
}

// uiAssets returns the files served under /assets/, by name; "" is the
// page. They are loaded on first use, not at package init: plugin
// processes run the same binary and never serve them.
var uiAssets = sync.OnceValue(loadUIAssets)

func loadUIAssets() map[string]uiAsset {
	ctypes := map[string]string{
		".html": "text/html; charset=utf-8",
		".js":   "text/javascript; charset=utf-8",
		".css":  "text/css; charset=utf-8",
		"":      "text/plain; charset=utf-8",
	}
	out := map[string]uiAsset{}
	for _, name := range []string{"index.html", "app.js", "app.css", "hls.min.js", "hls.js-LICENSE"} {
		b, err := uiFiles.ReadFile("ui/" + name)
		if err != nil {
			panic("proxy: embedded overview file missing: " + name) // a build mistake, caught by every test
		}
		ext := path.Ext(name)
		if name == "hls.js-LICENSE" {
			ext = ""
		}
		sum := sha256.Sum256(b)
		a := uiAsset{body: b, ctype: ctypes[ext], etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		if name == "index.html" {
			name = ""
		}
		out[name] = a
	}
	return out
}

// isUIAsset reports whether /assets/{name} is a file of the overview. A
// stream may be called "assets": its URLs (index.m3u8, ...) never collide
// with these names.
func isUIAsset(name string) bool {
	_, ok := uiAssets()[name]
	return ok && name != ""
}

// serveUI answers / (name "") and /assets/{name}. The files change only
// with the binary: clients revalidate with the ETag.
func (s *Server) serveUI(ctx *fasthttp.RequestCtx, name string) error {
	a, ok := uiAssets()[name]
	if !ok {
		return notFound("no such asset")
	}
	h := &ctx.Response.Header
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", a.etag)
	h.Set("X-Content-Type-Options", "nosniff")
	ctx.SetContentType(a.ctype)
	if string(ctx.Request.Header.Peek("If-None-Match")) == a.etag {
		ctx.SetStatusCode(fasthttp.StatusNotModified)
		return nil
	}
	if ctx.IsHead() {
		h.SetContentLength(len(a.body))
		return nil
	}
	ctx.Response.SetBodyRaw(a.body)
	return nil
}

// nodeJSON is GET /api/v1/node: who answers, and how busy it is.
type nodeJSON struct {
	Node string `json:"node"`
	// Cluster is true when the node is a peer of a cluster-ingest group
	// (GET /api/v1/cluster answers).
	Cluster bool `json:"cluster"`
	// Connections is how many client connections the node holds now.
	Connections int64 `json:"connections"`
}

// serveAPINode answers GET /api/v1/node.
func (s *Server) serveAPINode(ctx *fasthttp.RequestCtx) error {
	_, isCluster := s.cfg.Backend.(ClusterBackend)
	return writeJSON(ctx, nodeJSON{Node: s.cfg.Node, Cluster: isCluster, Connections: s.OpenConnections()})
}

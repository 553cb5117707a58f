package proxy

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net"

	"github.com/valyala/fasthttp"
)

// The admin surfaces (the web overview and its assets, /api/v1, /metrics
// on the viewers' listener) answer only a caller that shows the topology's
// admin_key: "Authorization: Bearer KEY", or HTTP Basic with KEY as the
// password (any user name), which is what a browser sends after it asked
// for it. With no admin_key, they answer loopback callers only: a node
// reachable from the network is never open to it by default. POST
// /api/v1/reload stays signed with cluster_key (reload.go) and node-to-node
// /m4f/ calls with cluster_key; neither takes admin_key.

// adminRealm names the credential a browser asks for.
const adminRealm = `Basic realm="edge admin (admin_key)", charset="UTF-8"`

// adminRoute reports whether rt is an admin surface.
func adminRoute(rt route) bool {
	switch rt {
	case routeMetrics, routeAPIStreams, routeAPIStream, routeAPICluster, routeAPINode,
		routeAPIPlugins, routeOpenAPI, routeUI:
		return true
	}
	return false
}

var (
	errAdminCredential = &httpError{status: fasthttp.StatusUnauthorized, msg: "unauthorized: send admin_key as Authorization: Bearer KEY"}
	errAdminNoKey      = &httpError{status: fasthttp.StatusForbidden, msg: "forbidden: set admin_key in the topology to reach this from another host"}
)

// checkAdmin lets a request for an admin surface through, or returns why
// not: 401 (with a Basic challenge) without the admin_key, 403 for a
// caller that is not on loopback when no admin_key is set.
func (s *Server) checkAdmin(ctx *fasthttp.RequestCtx) error {
	pol := s.policy.Load()
	if pol == nil || pol.AdminKey == "" {
		if isLoopback(ctx.RemoteIP()) {
			return nil
		}
		return errAdminNoKey
	}
	if s.adminAuthorized(ctx, pol) {
		return nil
	}
	ctx.Response.Header.Set("WWW-Authenticate", adminRealm)
	return errAdminCredential
}

func isLoopback(ip net.IP) bool { return ip != nil && ip.IsLoopback() }

// adminAuthorized reports whether the request carries pol's admin_key. The
// comparison takes the same time whatever the key and the guess (their
// SHA-256 digests are compared with crypto/subtle), and neither is logged.
func (s *Server) adminAuthorized(ctx *fasthttp.RequestCtx, pol *Policy) bool {
	if pol.AdminKey == "" {
		return false
	}
	h := ctx.Request.Header.Peek(fasthttp.HeaderAuthorization)
	if len(h) == 0 {
		return false
	}
	var given []byte
	switch {
	case hasPrefixFold(h, "Bearer "):
		given = bytes.TrimSpace(h[len("Bearer "):])
	case hasPrefixFold(h, "Basic "):
		dec, err := base64.StdEncoding.AppendDecode(nil, bytes.TrimSpace(h[len("Basic "):]))
		if err != nil {
			return false
		}
		i := bytes.IndexByte(dec, ':')
		if i < 0 {
			return false
		}
		given = dec[i+1:]
	default:
		return false
	}
	a, b := sha256.Sum256(given), sha256.Sum256([]byte(pol.AdminKey))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

func hasPrefixFold(b []byte, prefix string) bool {
	return len(b) >= len(prefix) && bytes.EqualFold(b[:len(prefix)], []byte(prefix))
}

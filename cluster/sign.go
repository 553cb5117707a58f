// Package cluster holds what nodes of a cluster share: cluster_key request signing, the Via/Hops chain of archive calls, and the polling of cluster-ingest peers.
package cluster

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Request headers of a signed node-to-node call (docs/m4f.md).
const (
	HeaderNode      = "X-Edge-Node"      // name of the calling node
	HeaderTime      = "X-Edge-Time"      // Unix seconds when it signed
	HeaderSignature = "X-Edge-Signature" // "v1=" + hex HMAC-SHA256
	HeaderVia       = "X-Edge-Via"       // nodes a chained archive call has passed, comma-separated
	HeaderHops      = "X-Edge-Hops"      // calls a chained archive request may still make
)

// DefaultWindow is how far X-Edge-Time may be from the verifier's clock,
// either way.
const DefaultWindow = 30 * time.Second

// signaturePrefix names the signing scheme; a future scheme gets "v2=".
const signaturePrefix = "v1="

// Limits of the header values a Verifier accepts.
const (
	maxNodeLen = 255
	maxViaLen  = 4096
)

// Errors of Verify match (errors.Is) one of these; the server answers 403
// with the error's message in every case.
var (
	// ErrNoKey: this node has no cluster_key, so it accepts no signed call.
	ErrNoKey = errors.New("cluster: cluster_key is not set on this node")
	// ErrMissing: a signing header is absent.
	ErrMissing = errors.New("cluster: missing signature header")
	// ErrMalformed: a signing header does not parse.
	ErrMalformed = errors.New("cluster: malformed signature header")
	// ErrStale: X-Edge-Time is outside the window, in the past or the future.
	ErrStale = errors.New("cluster: stale signature")
	// ErrBadSignature: the signature does not match the request and key.
	ErrBadSignature = errors.New("cluster: bad signature")
)

// kindError is an error with a one-line message that matches a sentinel.
type kindError struct {
	msg  string
	kind error
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

func fail(kind error, format string, args ...any) error {
	return &kindError{fmt.Sprintf("cluster: "+format, args...), kind}
}

// Signer signs the calls a node makes to other nodes.
type Signer struct {
	// Node is this node's name, sent as X-Edge-Node.
	Node string
	// Key is the shared secret: cluster_key, or the key of the source or
	// input being called when it overrides cluster_key. An empty Key means
	// signing is off: Sign then sends no X-Edge-Signature (never an HMAC
	// made with an empty key), and a node that has a key refuses the call.
	Key string
}

// Headers are the header values of one signed call. Fields left empty are
// not sent.
type Headers struct {
	Node      string // X-Edge-Node
	Time      string // X-Edge-Time
	Signature string // X-Edge-Signature; empty when the Signer has no key
	Via       string // X-Edge-Via, exactly as signed
}

// Apply sets the non-empty headers with set: pass req.Header.Set of a
// net/http request or of a fasthttp request.
func (h Headers) Apply(set func(name, value string)) {
	for _, kv := range [...][2]string{{HeaderNode, h.Node}, {HeaderTime, h.Time}, {HeaderSignature, h.Signature}, {HeaderVia, h.Via}} {
		if kv[1] != "" {
			set(kv[0], kv[1])
		}
	}
}

// Sign returns the headers of a call: method, the request target exactly as
// sent on the wire (path with its raw query, e.g. "/m4f/v1/ranges/x?from=1&to=2"),
// and the X-Edge-Via value the call carries ("" for none).
func (s Signer) Sign(method, pathAndQuery, via string, now time.Time) Headers {
	h := Headers{Node: s.Node, Time: strconv.FormatInt(now.Unix(), 10), Via: via}
	if s.Key != "" {
		h.Signature = signaturePrefix + hex.EncodeToString(mac(s.Key, method, pathAndQuery, h.Time, s.Node, via))
	}
	return h
}

// SignRequest signs a net/http request now, covering the X-Edge-Via header
// it already has. Set the URL, method and Via before calling it.
func (s Signer) SignRequest(req *http.Request) {
	s.Sign(req.Method, req.URL.RequestURI(), req.Header.Get(HeaderVia), time.Now()).Apply(req.Header.Set)
}

// mac is HMAC-SHA256(key, "v1\n" METHOD "\n" path "\n" time "\n" node "\n" via).
func mac(key, method, pathAndQuery, unix, node, via string) []byte {
	m := hmac.New(sha256.New, []byte(key))
	for i, part := range [...]string{"v1", method, pathAndQuery, unix, node, via} {
		if i > 0 {
			m.Write([]byte{'\n'})
		}
		m.Write([]byte(part))
	}
	return m.Sum(nil)
}

// Verifier checks the signatures of calls a node receives.
type Verifier struct {
	// Key is this node's cluster_key. An empty Key rejects every call
	// with ErrNoKey: a node without a key serves no node-to-node calls.
	Key string
	// Window is how far X-Edge-Time may be from Now, either way. By default, DefaultWindow.
	Window time.Duration
	// Now is the clock. By default, time.Now.
	Now func() time.Time
}

// Verify checks a call's signature and returns the calling node's name.
// pathAndQuery is the request target exactly as received (net/http's
// r.RequestURI, fasthttp's ctx.RequestURI()); get returns a request
// header's first value or "". The error never holds the key or the
// expected signature.
func (v Verifier) Verify(method, pathAndQuery string, get func(header string) string) (node string, err error) {
	if v.Key == "" {
		return "", ErrNoKey
	}
	node, unix, sig, via := get(HeaderNode), get(HeaderTime), get(HeaderSignature), get(HeaderVia)
	for _, h := range [...][2]string{{HeaderNode, node}, {HeaderTime, unix}, {HeaderSignature, sig}} {
		if h[1] == "" {
			return "", fail(ErrMissing, "missing %s header", h[0])
		}
	}
	if err := checkToken(node, maxNodeLen, false); err != nil {
		return "", fail(ErrMalformed, "malformed %s header: %v", HeaderNode, err)
	}
	if err := checkToken(via, maxViaLen, true); err != nil {
		return "", fail(ErrMalformed, "malformed %s header: %v", HeaderVia, err)
	}
	if strings.ContainsAny(method, "\r\n") || strings.ContainsAny(pathAndQuery, "\r\n") {
		return "", fail(ErrMalformed, "malformed request line")
	}
	secs, ok := parseUnix(unix)
	if !ok {
		return "", fail(ErrMalformed, "malformed %s header %.24q: want Unix seconds", HeaderTime, unix)
	}
	got, ok := strings.CutPrefix(sig, signaturePrefix)
	if !ok {
		return "", fail(ErrMalformed, "malformed %s header: want %q and 64 hex digits", HeaderSignature, signaturePrefix)
	}
	gotMAC, err := hex.DecodeString(got)
	if err != nil || len(gotMAC) != sha256.Size {
		return "", fail(ErrMalformed, "malformed %s header: want %q and 64 hex digits", HeaderSignature, signaturePrefix)
	}
	window := v.Window
	if window <= 0 {
		window = DefaultWindow
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	nowSecs := now().Unix()
	// Compare in seconds without overflow: secs has at most 12 digits.
	if skew := secs - nowSecs; skew > int64(window/time.Second) || -skew > int64(window/time.Second) {
		dir := "behind"
		if skew > 0 {
			dir = "ahead of"
		} else {
			skew = -skew
		}
		return "", fail(ErrStale, "stale request from node %q: %s is %ds %s this node's clock (window %s)", node, HeaderTime, skew, dir, window)
	}
	if !hmac.Equal(gotMAC, mac(v.Key, method, pathAndQuery, unix, node, via)) {
		return "", fail(ErrBadSignature, "bad signature from node %q (different cluster_key, or the request was altered)", node)
	}
	return node, nil
}

// parseUnix parses 1 to 12 decimal digits (up to year 33658).
func parseUnix(s string) (int64, bool) {
	if s == "" || len(s) > 12 {
		return 0, false
	}
	var v int64
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		v = v*10 + int64(s[i]-'0')
	}
	return v, true
}

// checkToken accepts visible ASCII without spaces; commas only in a list.
func checkToken(s string, max int, list bool) error {
	if len(s) > max {
		return fmt.Errorf("longer than %d bytes", max)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || (c == ',' && !list) {
			return fmt.Errorf("character %q not allowed", c)
		}
	}
	return nil
}

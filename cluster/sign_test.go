package cluster

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

const testKey = "s3cret-cluster-key"

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func verifier(now time.Time) Verifier {
	return Verifier{Key: testKey, Now: func() time.Time { return now }}
}

// headerGetter turns Headers into the get function Verify takes.
func headerGetter(h Headers) func(string) string {
	hdr := http.Header{}
	h.Apply(hdr.Set)
	return hdr.Get
}

func TestRoundTrip(t *testing.T) {
	s := Signer{Node: "edge1", Key: testKey}
	for _, via := range []string{"", "edge1", "edge1,cache-2"} {
		h := s.Sign("GET", "/m4f/v1/ranges/cam?from=1&to=2", via, t0)
		node, err := verifier(t0.Add(29*time.Second)).Verify("GET", "/m4f/v1/ranges/cam?from=1&to=2", headerGetter(h))
		if err != nil || node != "edge1" {
			t.Fatalf("via %q: got %q, %v", via, node, err)
		}
		if h.Via != via || h.Node != "edge1" || h.Time != strconv.FormatInt(t0.Unix(), 10) || !strings.HasPrefix(h.Signature, "v1=") || len(h.Signature) != 67 {
			t.Fatalf("headers %+v", h)
		}
	}
}

func TestTampered(t *testing.T) {
	const method, path, via = "GET", "/m4f/v1/segment/cam/1000?x=1", "a,b"
	h := Signer{Node: "edge1", Key: testKey}.Sign(method, path, via, t0)
	tests := []struct {
		name         string
		method, path string
		edit         func(*Headers)
		key          string
	}{
		{"method", "HEAD", path, nil, ""},
		{"path", method, "/m4f/v1/segment/cam/1001?x=1", nil, ""},
		{"query", method, "/m4f/v1/segment/cam/1000?x=2", nil, ""},
		{"query dropped", method, "/m4f/v1/segment/cam/1000", nil, ""},
		{"time", method, path, func(h *Headers) { h.Time = strconv.FormatInt(t0.Unix()+1, 10) }, ""},
		{"node", method, path, func(h *Headers) { h.Node = "edge2" }, ""},
		{"via", method, path, func(h *Headers) { h.Via = "a" }, ""},
		{"via removed", method, path, func(h *Headers) { h.Via = "" }, ""},
		{"signature", method, path, func(h *Headers) {
			b := []byte(h.Signature)
			b[10] ^= 1
			h.Signature = string(b)
		}, ""},
		{"other key", method, path, nil, "another-key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hh := h
			if tc.edit != nil {
				tc.edit(&hh)
			}
			v := verifier(t0)
			if tc.key != "" {
				v.Key = tc.key
			}
			_, err := v.Verify(tc.method, tc.path, headerGetter(hh))
			if !errors.Is(err, ErrBadSignature) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("got %v, want a bad signature", err)
			}
			checkSecretFree(t, err, h)
		})
	}
}

func TestStale(t *testing.T) {
	h := Signer{Node: "n", Key: testKey}.Sign("GET", "/x", "", t0)
	tests := []struct {
		now    time.Time
		window time.Duration
		ok     bool
		msg    string
	}{
		{t0, 0, true, ""},
		{t0.Add(30 * time.Second), 0, true, ""},
		{t0.Add(-30 * time.Second), 0, true, ""},
		{t0.Add(31 * time.Second), 0, false, "is 31s behind this node's clock (window 30s)"},
		{t0.Add(-31 * time.Second), 0, false, "is 31s ahead of this node's clock"},
		{t0.Add(-time.Hour), 0, false, "3600s ahead of"},
		{t0.Add(5 * time.Second), 2 * time.Second, false, "5s behind this node's clock (window 2s)"},
		{t0.Add(5 * time.Second), time.Minute, true, ""},
	}
	for _, tc := range tests {
		v := verifier(tc.now)
		v.Window = tc.window
		_, err := v.Verify("GET", "/x", headerGetter(h))
		if tc.ok != (err == nil) || (!tc.ok && (!errors.Is(err, ErrStale) || !strings.Contains(err.Error(), tc.msg))) {
			t.Errorf("now %v window %v: %v; want ok=%v %q", tc.now.Sub(t0), tc.window, err, tc.ok, tc.msg)
		}
		checkSecretFree(t, err, h)
	}
}

func TestMissingAndMalformed(t *testing.T) {
	good := Signer{Node: "n", Key: testKey}.Sign("GET", "/x", "", t0)
	tests := []struct {
		name string
		edit func(*Headers)
		kind error
		msg  string
	}{
		{"no node", func(h *Headers) { h.Node = "" }, ErrMissing, "missing X-Edge-Node header"},
		{"no time", func(h *Headers) { h.Time = "" }, ErrMissing, "missing X-Edge-Time header"},
		{"no signature", func(h *Headers) { h.Signature = "" }, ErrMissing, "missing X-Edge-Signature header"},
		{"time not a number", func(h *Headers) { h.Time = "yesterday" }, ErrMalformed, `malformed X-Edge-Time header "yesterday"`},
		{"time negative", func(h *Headers) { h.Time = "-5" }, ErrMalformed, "want Unix seconds"},
		{"time huge", func(h *Headers) { h.Time = "99999999999999999999" }, ErrMalformed, "want Unix seconds"},
		{"signature version", func(h *Headers) { h.Signature = "v2=" + h.Signature[3:] }, ErrMalformed, `want "v1=" and 64 hex digits`},
		{"signature not hex", func(h *Headers) { h.Signature = "v1=" + strings.Repeat("z", 64) }, ErrMalformed, "64 hex digits"},
		{"signature short", func(h *Headers) { h.Signature = h.Signature[:40] }, ErrMalformed, "64 hex digits"},
		{"node with comma", func(h *Headers) { h.Node = "a,b" }, ErrMalformed, "malformed X-Edge-Node header"},
		{"node too long", func(h *Headers) { h.Node = strings.Repeat("n", 300) }, ErrMalformed, "longer than 255 bytes"},
		{"via with space", func(h *Headers) { h.Via = "a, b" }, ErrMalformed, "malformed X-Edge-Via header"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := good
			tc.edit(&h)
			get := func(name string) string {
				return map[string]string{HeaderNode: h.Node, HeaderTime: h.Time, HeaderSignature: h.Signature, HeaderVia: h.Via}[name]
			}
			_, err := verifier(t0).Verify("GET", "/x", get)
			if !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %v, want %v with %q", err, tc.kind, tc.msg)
			}
			checkSecretFree(t, err, good)
		})
	}
}

func TestEmptyKey(t *testing.T) {
	// A signer without a key sends no signature at all.
	h := Signer{Node: "n"}.Sign("GET", "/x", "", t0)
	if h.Signature != "" || h.Node != "n" || h.Time == "" {
		t.Fatalf("keyless headers %+v", h)
	}
	if _, err := verifier(t0).Verify("GET", "/x", headerGetter(h)); !errors.Is(err, ErrMissing) {
		t.Fatalf("keyless call to a keyed node: %v", err)
	}
	// A verifier without a key refuses everything, even a call signed with
	// an empty key by hand.
	forged := h
	forged.Signature = "v1=" + hexMAC("", "GET", "/x", h.Time, "n", "")
	for _, hh := range []Headers{h, forged, Signer{Node: "n", Key: testKey}.Sign("GET", "/x", "", t0)} {
		_, err := Verifier{Now: func() time.Time { return t0 }}.Verify("GET", "/x", headerGetter(hh))
		if !errors.Is(err, ErrNoKey) || err.Error() != "cluster: cluster_key is not set on this node" {
			t.Fatalf("keyless verifier: %v", err)
		}
	}
}

func TestSignRequest(t *testing.T) {
	var gotNode string
	var gotErr error
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotNode, gotErr = Verifier{Key: testKey}.Verify(r.Method, r.RequestURI, r.Header.Get)
	}))
	defer srv.Close()
	req, err := http.NewRequest("GET", srv.URL+"/m4f/v1/ranges/cam%2Ex?from=1&to=2&x=%20y", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(HeaderVia, "edge1,cache1")
	Signer{Node: "cache1", Key: testKey}.SignRequest(req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if gotErr != nil || gotNode != "cache1" {
		t.Fatalf("server saw %q, %v", gotNode, gotErr)
	}
	for name, vals := range req.Header {
		for _, v := range vals {
			if strings.Contains(v, testKey) {
				t.Fatalf("header %s holds the key", name)
			}
		}
	}
}

// checkSecretFree fails if err's message holds the key or the right signature.
func checkSecretFree(t *testing.T, err error, h Headers) {
	t.Helper()
	if err == nil {
		return
	}
	msg := err.Error()
	if strings.Contains(msg, testKey) || (h.Signature != "" && strings.Contains(msg, h.Signature[3:])) || strings.Contains(msg, "\n") {
		t.Fatalf("error %q leaks the key or the signature, or is not one line", msg)
	}
	if !strings.HasPrefix(msg, "cluster: ") {
		t.Fatalf("error %q lacks the cluster: prefix", msg)
	}
}

func hexMAC(key, method, path, unix, node, via string) string {
	const hexdigits = "0123456789abcdef"
	m := mac(key, method, path, unix, node, via)
	b := make([]byte, 0, 64)
	for _, c := range m {
		b = append(b, hexdigits[c>>4], hexdigits[c&15])
	}
	return string(b)
}

// The worked example in docs/m4f.md is what Sign produces, so the docs
// cannot rot (and other implementations can check themselves against it).
func TestDocumentedExample(t *testing.T) {
	doc, err := os.ReadFile("../docs/m4f.md")
	if err != nil {
		t.Fatalf("docs/m4f.md: %v", err)
	}
	h := Signer{Node: "edge1", Key: "change-me"}.Sign("GET", "/m4f/v1/ranges/example?from=1700000000000&to=1700003600000", "edge1", time.Unix(1700000000, 0))
	for _, line := range []string{HeaderNode + ": " + h.Node, HeaderTime + ": " + h.Time, HeaderSignature + ": " + h.Signature, HeaderVia + ": " + h.Via} {
		if !strings.Contains(string(doc), line) {
			t.Errorf("docs/m4f.md lacks %q", line)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	h := Signer{Node: "edge1", Key: testKey}.Sign("GET", "/m4f/v1/segment/cam/1700000000000", "", t0)
	get := headerGetter(h)
	v := verifier(t0)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := v.Verify("GET", "/m4f/v1/segment/cam/1700000000000", get); err != nil {
			b.Fatal(err)
		}
	}
}

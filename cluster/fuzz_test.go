package cluster

import (
	"errors"
	"strings"
	"testing"
)

// FuzzVerify feeds random header values and request lines to Verify: it
// must never panic, never verify (the fuzzer does not know the key), and
// never leak the key.
func FuzzVerify(f *testing.F) {
	good := Signer{Node: "edge1", Key: testKey}.Sign("GET", "/m4f/v1/live/cam", "a,b", t0)
	f.Add("GET", "/m4f/v1/live/cam", good.Node, good.Time, good.Signature, good.Via)
	f.Add("GET", "/m4f/v1/live/cam", good.Node, good.Time, "v1="+strings.Repeat("0", 64), "")
	f.Add("POST", "/x?y=z", "", "", "", "")
	f.Add("GET", "/", "n", "1740830400", "v1=zz", "a,,b")
	f.Add("GET", "/\n", "n\nx", "-1", "v2=", "a b")
	f.Fuzz(func(t *testing.T, method, path, node, unix, sig, via string) {
		get := func(h string) string {
			return map[string]string{HeaderNode: node, HeaderTime: unix, HeaderSignature: sig, HeaderVia: via}[h]
		}
		n, err := verifier(t0).Verify(method, path, get)
		if err == nil {
			// Only the seed signed with the real key may pass (hex digits
			// may change case: they decode to the same MAC).
			if !strings.EqualFold(sig, good.Signature) || method != "GET" || path != "/m4f/v1/live/cam" || node != good.Node || unix != good.Time || via != good.Via {
				t.Fatalf("forged call verified as node %q", n)
			}
			return
		}
		if !errors.Is(err, ErrMissing) && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrStale) && !errors.Is(err, ErrBadSignature) {
			t.Fatalf("error of no known kind: %v", err)
		}
		if strings.Contains(err.Error(), testKey) || strings.Contains(err.Error(), good.Signature[3:]) {
			t.Fatalf("error %q leaks a secret", err)
		}
		_, _ = ParseChain(via, unix)
	})
}

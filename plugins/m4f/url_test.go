package m4f

import (
	"strings"
	"testing"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		raw  string
		want Source
		err  string
	}{
		{"m4f://10.0.0.1:8081/cam", Source{Addr: "10.0.0.1:8081", Stream: "cam", RemoteDVR: "nochain"}, ""},
		{"m4f://origin.example:80/replica_example?remote_dvr=chain", Source{Addr: "origin.example:80", Stream: "replica_example", RemoteDVR: "chain"}, ""},
		{"m4f://[::1]:9000/a.b-c?remote_dvr=none", Source{Addr: "[::1]:9000", Stream: "a.b-c", RemoteDVR: "none"}, ""},
		{"m4f://h:1/cam?remote_dvr=nochain", Source{Addr: "h:1", Stream: "cam", RemoteDVR: "nochain"}, ""},
		{"udp://h:1/cam", Source{}, "scheme must be m4f://"},
		{"m4f://origin/cam", Source{}, "want HOST:PORT"},
		{"m4f://:80/cam", Source{}, "want HOST:PORT"},
		{"m4f://h:0/cam", Source{}, "port"},
		{"m4f://h:65536/cam", Source{}, "port"},
		{"m4f://h:080/cam", Source{}, "port"},
		{"m4f://h:80/", Source{}, "exactly one stream name"},
		{"m4f://h:80", Source{}, "exactly one stream name"},
		{"m4f://h:80/a/b", Source{}, "exactly one stream name"},
		{"m4f://h:80/.hidden", Source{}, "starts with '.'"},
		{"m4f://h:80/a%2Fb", Source{}, "escapes are not allowed"},
		{"m4f://h:80/a%20b", Source{}, "escapes are not allowed"},
		{"m4f://user:pw@h:80/cam", Source{}, "want m4f://HOST:PORT/STREAM"},
		{"m4f://h:80/cam#frag", Source{}, "want m4f://HOST:PORT/STREAM"},
		{"m4f://h:80/cam?remote_dvr=sometimes", Source{}, "want chain, nochain or none"},
		{"m4f://h:80/cam?remote_dvr=chain&remote_dvr=none", Source{}, "given 2 times"},
		{"m4f://h:80/cam?iface=eth0", Source{}, `unknown option "iface"`},
		{"m4f://h:80/cam?key=hunter2-secret", Source{}, "key= must be removed"},
		{"m4f://h:80/cam?a=%zz", Source{}, "malformed query"},
		{"m4f:h:80/cam", Source{}, "want m4f://HOST:PORT/STREAM"},
	}
	for _, tc := range tests {
		t.Run(tc.raw, func(t *testing.T) {
			got, err := ParseURL(tc.raw)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.HasPrefix(err.Error(), "m4f: ") {
					t.Fatalf("got %+v, %v; want an error with %q", got, err, tc.err)
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Fatalf("error %q repeats the key", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
			if again, err := ParseURL(got.String()); err != nil || again != got {
				t.Fatalf("String() %q parses to %+v, %v", got.String(), again, err)
			}
		})
	}
}

// FuzzParseURL checks that ParseURL never panics, never repeats a query
// value in its errors, and that what it accepts survives String().
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{
		"m4f://10.0.0.1:8081/cam", "m4f://h:1/cam?remote_dvr=chain", "m4f://[::1]:9000/a.b-c?remote_dvr=none",
		"m4f://h:80/cam?key=SECRETVALUE", "m4f://u:SECRETVALUE@h:80/cam", "m4f://h:80/a/b", "m4f://h:80/a%2Fb",
		"m4f://h:99999/cam", "m4f://h:80/cam?remote_dvr=SECRETVALUE", "m4f://h:80/cam?x=1&x=2#f", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		s, err := ParseURL(raw)
		if err != nil {
			if _, q, ok := strings.Cut(raw, "?"); ok && strings.Contains(q, "SECRETVALUE") && strings.Contains(err.Error(), "SECRETVALUE") {
				t.Fatalf("error %q repeats a query value", err)
			}
			if strings.Contains(err.Error(), "\n") || !strings.HasPrefix(err.Error(), "m4f: ") {
				t.Fatalf("error %q is not one m4f: line", err)
			}
			return
		}
		if s.Addr == "" || s.Stream == "" || strings.ContainsAny(s.Stream, "/?#%") {
			t.Fatalf("ParseURL(%q) = %+v", raw, s)
		}
		if again, err := ParseURL(s.String()); err != nil || again != s {
			t.Fatalf("String() %q of %q parses to %+v, %v", s.String(), raw, again, err)
		}
	})
}

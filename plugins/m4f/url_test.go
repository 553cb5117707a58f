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
		{"m4f://origin.example/cam", Source{}, "want HOST:PORT"},
		{"m4f://:80/cam", Source{}, "missing node or host"},
		{"m4f://h:0/cam", Source{}, "port"},
		{"m4f://h:65536/cam", Source{}, "port"},
		{"m4f://h:080/cam", Source{}, "port"},
		{"m4f://h:80/", Source{}, "missing stream name"},
		{"m4f://h:80", Source{}, "missing stream name"},
		{"m4f://h:80/a/b", Source{}, "has character '/'"},
		{"m4f://h:80/.hidden", Source{}, "starts with '.'"},
		{"m4f://h:80/a%2Fb", Source{}, "has character '%'"},
		{"m4f://h:80/a%20b", Source{}, "has character '%'"},
		{"m4f://user:pw@h:80/cam", Source{}, "user info is not allowed"},
		{"m4f://h:80/cam#frag", Source{}, "fragment is not allowed"},
		{"m4f://h:80/cam?remote_dvr=sometimes", Source{}, "want chain, nochain or none"},
		{"m4f://h:80/cam?remote_dvr=chain&remote_dvr=none", Source{}, "given 2 times"},
		{"m4f://h:80/cam?iface=eth0", Source{}, `unknown parameter "iface"`},
		{"m4f://h:80/cam?key=hunter2-secret", Source{}, "key= must be removed"},
		{"m4f://h:80/cam?a=%zz", Source{}, "malformed query"},
		{"m4f:h:80/cam", Source{}, "scheme must be m4f://"},
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

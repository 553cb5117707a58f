package inputurl

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/edgedvr/edge/config/names"
)

// FuzzParse checks that Parse and ParseSource never panic, that every error
// is one line naming the URL without its query values, and that what they
// accept is well formed and survives String(). Its corpus merges those of
// the three parsers this package replaced (config.ParseInput,
// plugins/udp.ParseURL and plugins/m4f.ParseURL).
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"udp://239.1.2.3:1234", "udp://@239.1.2.3:1234?iface=eth0&source=10.0.0.1&program=3",
		"udp://:1234?iface=eth0&source=10.0.0.1&program=2", "udp://[ff02::1]:5000", "udp://cam.example.com:1234",
		"file://sample.ts", "file:///var/x.ts?program=2", "file:rel/a%20b.ts", "file://localhost/x.ts",
		"m4f://origin/example", "m4f://10.0.0.1:8081/s?remote_dvr=chain&key=k", "m4f://[::1]:9000/a.b-c?remote_dvr=none",
		"m4f://h:80/cam?key=SECRETVALUE", "m4f://u:SECRETVALUE@h:80/cam", "m4f://h:80/a%2Fb",
		"m4f://h:99999/cam", "m4f://h:80/cam?remote_dvr=SECRETVALUE", "m4f://h:80/cam?x=1&x=2#f",
		"m4f://origin", "rtmp://x/y", "udp://a:0", "m4f://a/%2e%2e", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := Parse(raw)
		checkErr(t, raw, err, "input ")
		if err == nil {
			checkURL(t, raw, u)
			want := u
			want.Key = ""
			if again, err := Parse(u.String()); err != nil || again != want {
				t.Fatalf("Parse(%q) = %+v, but its String %q parses to %+v, %v", raw, u, u.String(), again, err)
			}
		}
		s, err := ParseSource(raw)
		checkErr(t, raw, err, "source url ")
		if err == nil {
			if s.Scheme != M4F || s.Host == "" || !ValidHost(s.Host) || s.Stream != "" || s.Key != "" {
				t.Fatalf("ParseSource(%q) = %+v", raw, s)
			}
			if again, err := ParseSource(s.String()); err != nil || again != s {
				t.Fatalf("ParseSource(%q) = %+v, but its String %q parses to %+v, %v", raw, s, s.String(), again, err)
			}
		}
	})
}

func checkErr(t *testing.T, raw string, err error, prefix string) {
	t.Helper()
	if err == nil {
		return
	}
	var ue *Error
	if !errors.As(err, &ue) || !strings.HasPrefix(err.Error(), prefix) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("error %q of %q is not one %s line", err, raw, prefix)
	}
	// A secret that appears only as a query value is never repeated.
	base, query, ok := strings.Cut(raw, "?")
	if !ok || strings.Contains(base, "SECRETVALUE") || !strings.Contains(query, "SECRETVALUE") {
		return
	}
	if q, perr := url.ParseQuery(query); perr == nil {
		for k := range q {
			if strings.Contains(k, "SECRETVALUE") {
				return // a parameter's name may be quoted
			}
		}
	}
	if strings.Contains(err.Error(), "SECRETVALUE") && strings.HasPrefix(raw, "m4f://") {
		t.Fatalf("error %q repeats a query value of %q", err, raw)
	}
}

func checkURL(t *testing.T, raw string, u URL) {
	t.Helper()
	switch u.Scheme {
	case UDP:
		if !u.UDPAddr.Addr().Is4() || u.UDPAddr.Port() == 0 || u.Program < 0 || u.Program > 65535 ||
			(u.Source.IsValid() && (!u.Source.Is4() || u.Source.IsMulticast() || u.Source.IsUnspecified())) {
			t.Fatalf("Parse(%q) = udp %+v", raw, u)
		}
	case File:
		if u.Path == "" || strings.ContainsAny(u.Path, "?#\x00") {
			t.Fatalf("Parse(%q) = file %+v", raw, u)
		}
	case M4F:
		if u.Host == "" || !ValidHost(u.Host) || u.Port < 0 || u.Port > 65535 ||
			names.CheckStream(u.Stream) != nil || !ValidRemoteDVR(u.RemoteDVR) {
			t.Fatalf("Parse(%q) = m4f %+v", raw, u)
		}
	default:
		t.Fatalf("Parse(%q): scheme %q accepted", raw, u.Scheme)
	}
}

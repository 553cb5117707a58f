package main

import (
	"bytes"
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/edgedvr/edge/cluster"
	"github.com/edgedvr/edge/internal/testkit"
	"github.com/edgedvr/edge/proxy"
)

// apiRoutesInSource lists the /api/v1 routes that proxy/urls.go parses
// (each `parts[2] == "X"`; "streams" also has /streams/{name}), and the
// reload call.
func apiRoutesInSource(t *testing.T) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "../../proxy/urls.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	routes := []string{proxy.ReloadPath}
	ast.Inspect(f, func(n ast.Node) bool {
		be, ok := n.(*ast.BinaryExpr)
		if !ok || be.Op != token.EQL {
			return true
		}
		ix, ok := be.X.(*ast.IndexExpr)
		lit, ok2 := be.Y.(*ast.BasicLit)
		if !ok || !ok2 {
			return true
		}
		if id, ok := ix.X.(*ast.Ident); !ok || id.Name != "parts" {
			return true
		}
		if i, ok := ix.Index.(*ast.BasicLit); !ok || i.Value != "2" {
			return true
		}
		name, _ := strconv.Unquote(lit.Value)
		routes = append(routes, "/api/v1/"+name)
		if name == "streams" {
			routes = append(routes, "/api/v1/streams/{name}")
		}
		return true
	})
	sort.Strings(routes)
	return routes
}

// TestOpenAPI checks /api/v1/openapi.json against the routes of the front
// and against real answers of a running cluster-ingest peer that records.
func TestOpenAPI(t *testing.T) {
	t.Parallel()
	testkit.Need(t, "ffmpeg")
	tp := newTopo(t)
	const key = "openapi-test-key"
	port := testkit.FreeUDPPort(t)
	tp.body.Reset()
	fmt.Fprintf(&tp.body, "cluster_key = %q\n[cluster]\npeers = [\"origin\"]\n\n[[node]]\nname = \"origin\"\nlisten = %q\n", key, tp.listen)
	tp.stream("cam", []string{fmt.Sprintf("udp://127.0.0.1:%d", port)}, `segment_duration = "1s"`, tp.dvr(""))
	tp.stream("grp", []string{fmt.Sprintf("udp://127.0.0.1:%d", testkit.FreeUDPPort(t))}, "cluster_ingest = {}")
	node := testkit.StartNode(t, tp.write(t), "origin", tp.listen)
	testkit.Send(t, fmt.Sprintf("udp://127.0.0.1:%d?pkt_size=1316", port), testkit.SenderOptions{})
	testkit.Eventually(t, 20*time.Second, "cam recorded", func() bool {
		var rs []struct {
			Ranges []struct{ Duration int64 } `json:"ranges"`
		}
		return testkit.JSON(node.URL+"/cam/recording_status.json", &rs) && len(rs) == 1 && len(rs[0].Ranges) == 1 && rs[0].Ranges[0].Duration >= 2
	})

	doc, check := openAPICheck(t, node.URL, key)

	// The document describes every route, and nothing else.
	var documented []string
	for p := range doc.Paths.Map() {
		if strings.HasPrefix(p, "/api/") {
			documented = append(documented, p)
		}
	}
	sort.Strings(documented)
	if got, want := strings.Join(documented, " "), strings.Join(apiRoutesInSource(t), " "); got != want {
		t.Errorf("openapi.json documents %s; proxy/urls.go routes %s", got, want)
	}

	// Every documented GET, with the streams of the topology.
	for _, p := range documented {
		item := doc.Paths.Value(p)
		if item.Get == nil {
			continue
		}
		for _, name := range []string{"cam", "grp"} {
			check("GET", strings.ReplaceAll(p, "{name}", name), false, 200)
		}
	}
	check("GET", "/cam/recording_status.json", false, 200)
	check("GET", "/cam/recording_status.json?from=1&to=now", false, 200)
	check("GET", "/api/v1/streams/nosuch", false, 404)
	check("POST", "/api/v1/reload", true, 200)
	check("POST", "/api/v1/reload", false, 403)

	// /api/v1/plugins: the udp plugin killed is restarted, and counted.
	type plugins struct {
		Plugins []struct {
			Name     string `json:"name"`
			Pid      int    `json:"pid"`
			Restarts int    `json:"restarts"`
		} `json:"plugins"`
	}
	udp := func() (pid, restarts int, names []string) {
		var p plugins
		testkit.JSON(node.URL+"/api/v1/plugins", &p)
		for _, pl := range p.Plugins {
			names = append(names, pl.Name)
			if pl.Name == "udp" {
				pid, restarts = pl.Pid, pl.Restarts
			}
		}
		return
	}
	pid, restarts, names := udp()
	if want := []string{"balancer", "dvrstore", "udp"}; strings.Join(names, ",") != strings.Join(want, ",") {
		t.Errorf("/api/v1/plugins lists %v, want %v", names, want)
	}
	if real := testkit.ChildPID(t, node.Cmd.Process.Pid, "plugin", "udp"); pid != real || restarts != 0 {
		t.Fatalf("udp plugin: pid %d restarts %d; the process is %d and never restarted", pid, restarts, real)
	}
	testkit.KillPID(t, pid)
	testkit.Eventually(t, 20*time.Second, "the udp plugin restarted and counted", func() bool {
		p, r, _ := udp()
		return r == 1 && p != 0 && p != pid
	})
	check("GET", "/api/v1/plugins", false, 200)
}

// openAPICheck loads /api/v1/openapi.json from the node at base, checks
// that it is a valid OpenAPI 3 document, and returns it with a function
// that makes a request (signed with key when sign is set) and fails the
// test unless the answer has wantStatus and matches the document.
func openAPICheck(t *testing.T, base, key string) (*openapi3.T, func(method, path string, sign bool, wantStatus int)) {
	t.Helper()
	code, body := testkit.Get(t, base+"/api/v1/openapi.json")
	if code != 200 {
		t.Fatalf("GET /api/v1/openapi.json: %d", code)
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(body)
	if err != nil {
		t.Fatalf("openapi.json does not load: %v", err)
	}
	ctx := context.Background()
	if err := doc.Validate(ctx); err != nil {
		t.Fatalf("openapi.json is not a valid OpenAPI 3 document: %v", err)
	}
	doc.Servers = openapi3.Servers{{URL: base}}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}

	check := func(method, path string, sign bool, wantStatus int) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if sign {
			cluster.Signer{Node: "test", Key: key}.SignRequest(req)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != wantStatus {
			t.Errorf("%s %s: %d %s, want %d", method, path, resp.StatusCode, b, wantStatus)
			return
		}
		route, params, err := router.FindRoute(req)
		if err != nil {
			t.Errorf("%s %s: not in openapi.json: %v", method, path, err)
			return
		}
		in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route}
		out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode,
			Header: resp.Header, Body: io.NopCloser(bytes.NewReader(b))}
		if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
			t.Errorf("%s %s: the answer does not match openapi.json: %v\n%s", method, path, err, b)
		}
	}
	return doc, check
}

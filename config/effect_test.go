package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

const modulePath = "github.com/edgedvr/edge"

// readInConfig lists the fields that config/ itself turns into what the
// node uses, with the exported function of config/ that does it; the test
// checks that the function reads the field and that code outside config/
// calls it. Every other key must be read outside config/ directly.
var readInConfig = map[string]string{
	"Topology.Nodes":  "Topology.Node",
	"Cluster.Streams": "", // copied into each peer's Node.Streams by Parse (TestClusterStreamsGoToEveryPeer)
	"Cluster.Peers":   "Cluster.IsPeer",
	"Source.Only":     "Source.Admits",
	"Source.Except":   "Source.Admits",
	"Node.OnPlay":     "Node.OnPlayFunc", // a stream's backend, resolved by OnPlayOf
	"Stream.OnPlay":   "Node.OnPlayFunc",
	"Source.OnPlay":   "Node.OnPlayFunc",
}

// TestEveryKeyHasAnEffect proves that every key of the configuration
// reference does something: it is read by code outside config/ (found by
// type-checking every package of the module but config/, the examples and
// the benchmarks, and looking for selections of its field), or config/
// turns it into something that is (readInConfig), or `edge check` refuses it
// with an error that names the feature it needs (notBuilt).
//
// A read is not yet proof of a right effect; the behaviour tests of each
// feature give that. This test catches the key nobody reads at all. Run it
// with EDGE_AUDIT=1 and -v to list every place that reads each field.
func TestEveryKeyHasAnEffect(t *testing.T) {
	if testing.Short() {
		t.Skip("type-checks the whole module")
	}
	read := fieldsReadOutsideConfig(t)
	for _, k := range decoderKeys() {
		name := k.owner.Name() + "." + k.field
		if feature, ok := notBuilt[k.path]; ok {
			checkRefused(t, k.path, feature)
			continue
		}
		if read[name] {
			continue
		}
		if _, ok := readInConfig[name]; ok {
			continue
		}
		t.Errorf("key %s (%s) is accepted, but nothing outside config/ reads %s: implement it or list it in notBuilt so that edge check refuses it", k.path, k.kind, name)
	}
}

// fieldsReadOutsideConfig returns "Type.Field" for every field of a config
// type that a non-test file of another package of the module selects.
func fieldsReadOutsideConfig(t *testing.T) map[string]bool {
	t.Helper()
	cmd := exec.Command("go", "list", "-e", "-export", "-deps", "-json=ImportPath,Dir,GoFiles,Export,Standard", "./...")
	cmd.Dir = ".."
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	type pkg struct {
		ImportPath, Dir, Export string
		GoFiles                 []string
		Standard                bool
	}
	var pkgs []pkg
	exports := map[string]string{}
	for dec := json.NewDecoder(bytes.NewReader(out)); ; {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		exports[p.ImportPath] = p.Export
		pkgs = append(pkgs, p)
	}
	fset := token.NewFileSet()
	imp := importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		if exports[path] == "" {
			return nil, errors.New("no export data for " + path)
		}
		return os.Open(exports[path])
	})
	cfgPkg, err := imp.Import(modulePath + "/config")
	if err != nil {
		t.Fatal(err)
	}
	fieldName := map[*types.Var]string{}
	for _, n := range cfgPkg.Scope().Names() {
		tn, ok := cfgPkg.Scope().Lookup(n).(*types.TypeName)
		if !ok {
			continue
		}
		if st, ok := tn.Type().Underlying().(*types.Struct); ok {
			for i := 0; i < st.NumFields(); i++ {
				fieldName[st.Field(i)] = n + "." + st.Field(i).Name()
			}
		}
	}
	read := map[string]bool{}
	checked := 0
	for _, p := range pkgs {
		if p.Standard || !strings.HasPrefix(p.ImportPath, modulePath+"/") || consumerExcluded(p.ImportPath) {
			continue
		}
		var files []*ast.File
		for _, name := range p.GoFiles {
			f, err := parser.ParseFile(fset, filepath.Join(p.Dir, name), nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			files = append(files, f)
		}
		info := &types.Info{Selections: map[*ast.SelectorExpr]*types.Selection{}, Uses: map[*ast.Ident]types.Object{}}
		conf := types.Config{Importer: imp.(types.ImporterFrom)}
		if _, err := conf.Check(p.ImportPath, fset, files, info); err != nil {
			t.Fatalf("type-check %s: %v", p.ImportPath, err)
		}
		checked++
		for se, sel := range info.Selections {
			if v, ok := sel.Obj().(*types.Var); ok && sel.Kind() == types.FieldVal && fieldName[v] != "" {
				read[fieldName[v]] = true
				if os.Getenv("EDGE_AUDIT") != "" {
					t.Logf("AUDIT %s %s", fieldName[v], fset.Position(se.Pos()).String())
				}
			}
			if fn, ok := sel.Obj().(*types.Func); ok && fn.Pkg() == cfgPkg {
				if recv := fn.Type().(*types.Signature).Recv(); recv != nil {
					read[recvName(recv.Type())+"."+fn.Name()] = true
				}
			}
		}
	}
	if checked < 10 {
		t.Fatalf("type-checked %d packages; go list found too few", checked)
	}
	// A field that config/ turns into something counts when the function
	// that does it is called outside config/ and reads the field.
	for field, fn := range readInConfig {
		if fn == "" || read[field] {
			continue
		}
		if !read[fn] {
			t.Errorf("readInConfig: %s is read through %s, which nothing outside config/ calls", field, fn)
			continue
		}
		if !configFuncReads(t, fn, strings.Split(field, ".")[1]) {
			t.Errorf("readInConfig: %s does not read %s", fn, field)
			continue
		}
		read[field] = true
	}
	return read
}

func recvName(t types.Type) string {
	if p, ok := t.(*types.Pointer); ok {
		t = p.Elem()
	}
	if n, ok := t.(*types.Named); ok {
		return n.Obj().Name()
	}
	return t.String()
}

// consumerExcluded reports whether reads in a package do not count: config/
// itself, the examples, the benchmark tools and the test kit.
func consumerExcluded(path string) bool {
	rel := strings.TrimPrefix(path, modulePath+"/")
	for _, p := range []string{"config", "examples", "bench", "internal/testkit"} {
		if rel == p || strings.HasPrefix(rel, p+"/") {
			return true
		}
	}
	return false
}

// configFuncReads reports whether the method "Type.Method" of config/
// selects the field in its body (parsed from the sources of config/).
func configFuncReads(t *testing.T, fn, field string) bool {
	t.Helper()
	typ, method, _ := strings.Cut(fn, ".")
	fset := token.NewFileSet()
	names, _ := filepath.Glob("*.go")
	sort.Strings(names)
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Name.Name != method || fd.Recv == nil || len(fd.Recv.List) != 1 {
				continue
			}
			rt := fd.Recv.List[0].Type
			if st, ok := rt.(*ast.StarExpr); ok {
				rt = st.X
			}
			if id, ok := rt.(*ast.Ident); !ok || id.Name != typ {
				continue
			}
			found := false
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				if se, ok := n.(*ast.SelectorExpr); ok && se.Sel.Name == field {
					found = true
				}
				return !found
			})
			return found
		}
	}
	return false
}

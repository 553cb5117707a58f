package config

import (
	"bufio"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// The configuration reference (docs/configuration.md) is checked against
// the decoder in two ways:
//
//   - TestConfigurationReference: the keys its key tables document are
//     exactly the keys the decoder accepts, so nothing is documented that is
//     refused as unknown, and nothing is accepted that is undocumented;
//   - TestEveryKeyHasAnEffect (effect_test.go): every one of those keys is
//     either refused by `edge check` with an error naming the feature it
//     needs (notBuilt), or read by code outside config/.

const referencePath = "../docs/configuration.md"

// docKey is one key documented in docs/configuration.md.
type docKey struct {
	path string // dotted TOML path: node.stream.dvr.depth
	line int
}

var (
	keysMarker = regexp.MustCompile(`^<!-- keys: (.+) -->$`)
	keyCell    = regexp.MustCompile("^\\| `([a-z0-9_]+)` \\|")
)

// documentedKeys reads the key tables of the configuration reference. A key
// table is a Markdown table on the lines right after a `<!-- keys: T1 T2 -->`
// line, which names the tables (dotted TOML paths, "." for the top level)
// whose keys it lists; each row's first cell is a key in backticks.
func documentedKeys(t *testing.T) []docKey {
	t.Helper()
	f, err := os.Open(referencePath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		keys   []docKey
		tables []string // of the key table being read
		inRows bool
		n      int
		line   int
	)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if m := keysMarker.FindStringSubmatch(text); m != nil {
			tables, inRows = strings.Fields(m[1]), false
			n++
			continue
		}
		if tables == nil {
			if strings.HasPrefix(text, "| key |") {
				t.Errorf("%s:%d: key table without a <!-- keys: TABLE ... --> line above it", referencePath, line)
			}
			continue
		}
		switch {
		case !strings.HasPrefix(text, "|"):
			if inRows || text != "" {
				if !inRows {
					t.Errorf("%s:%d: a <!-- keys: --> line must be followed by a key table", referencePath, line)
				}
				tables, inRows = nil, false
			}
		case strings.HasPrefix(text, "| key |"), strings.HasPrefix(text, "|---"), strings.HasPrefix(text, "| ---"):
			inRows = true
		default:
			m := keyCell.FindStringSubmatch(text)
			if m == nil {
				t.Errorf("%s:%d: key table row does not start with a key in backticks: %s", referencePath, line, text)
				continue
			}
			for _, tb := range tables {
				p := m[1]
				if tb != "." {
					p = tb + "." + p
				}
				keys = append(keys, docKey{path: p, line: line})
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n == 0 || len(keys) == 0 {
		t.Fatalf("%s has no key tables (<!-- keys: ... --> lines)", referencePath)
	}
	return keys
}

// decoderKey is one key the decoder accepts, with the Go field it fills.
type decoderKey struct {
	path  string       // dotted TOML path
	owner reflect.Type // struct type that holds the field
	field string       // Go field name
	kind  reflect.Type // field type
}

// decoderKeys walks the toml tags of Topology as the decoder does (fields
// with a toml tag other than "-"), into tables, arrays of tables and inline
// tables.
func decoderKeys() []decoderKey {
	var out []decoderKey
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := strings.Split(f.Tag.Get("toml"), ",")[0]
			if !f.IsExported() || tag == "" || tag == "-" {
				continue
			}
			p := prefix + tag
			out = append(out, decoderKey{path: p, owner: t, field: f.Name, kind: f.Type})
			ft := f.Type
			for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct && ft != durationType && ft != sizeType {
				walk(ft, p+".")
			}
		}
	}
	walk(reflect.TypeOf(Topology{}), "")
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	return out
}

// TestConfigurationReference checks that docs/configuration.md documents
// exactly the keys the decoder accepts.
func TestConfigurationReference(t *testing.T) {
	documented := map[string]int{}
	for _, k := range documentedKeys(t) {
		if line, dup := documented[k.path]; dup {
			t.Errorf("%s:%d: key %s documented twice (first at line %d)", referencePath, k.line, k.path, line)
		}
		documented[k.path] = k.line
	}
	accepted := map[string]bool{}
	for _, k := range decoderKeys() {
		accepted[k.path] = true
		if _, ok := documented[k.path]; !ok {
			t.Errorf("key %s (%s.%s) is accepted but not in a key table of %s", k.path, k.owner.Name(), k.field, referencePath)
		}
	}
	for p, line := range documented {
		if !accepted[p] {
			t.Errorf("%s:%d: key %s is documented but the decoder does not know it", referencePath, line, p)
		}
	}
	// The walk itself must see the keys every topology uses, or it proves nothing.
	for _, p := range []string{"cluster_key", "node.name", "node.stream.inputs", "node.source.dvr.replicate", "cluster.stream.cache.misses"} {
		if !accepted[p] {
			t.Errorf("decoderKeys misses %s", p)
		}
		if _, ok := documented[p]; !ok {
			t.Errorf("documentedKeys misses %s", p)
		}
	}
}

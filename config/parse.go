package config

import (
	"encoding"
	"errors"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Error is one problem of a topology file, at a line.
type Error struct {
	File string
	Line int
	Msg  string
	// Warning marks a finding that does not make the file invalid.
	Warning bool
}

// Error formats the problem as FILE:LINE: message.
func (e Error) Error() string {
	if e.Warning {
		return fmt.Sprintf("%s:%d: warning: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// Errors is every problem found in a topology file, in line order.
type Errors []Error

// Error prints one problem per line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Load reads, decodes and validates the topology file at path.
func Load(path string) (*Topology, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes and validates a topology read from path, then fills the
// defaults. On failure the error is an Errors listing every problem found.
// Findings that do not make the file invalid are in (*Topology).Warnings.
func Parse(path string, data []byte) (*Topology, error) {
	t, errs, _ := parse(path, data)
	if len(errs) > 0 {
		return nil, errs
	}
	return t, nil
}

// Warnings returns the static check findings of a valid file (remote_dvr
// chain loops), each printing as FILE:LINE: warning: message.
func (t *Topology) Warnings() []Error { return t.warnings }

// parse returns the topology (defaults filled only when it is valid), its
// errors and its warnings.
func parse(path string, data []byte) (*Topology, Errors, []Error) {
	d := &decoder{file: path}
	var raw map[string]any
	if _, err := toml.Decode(string(data), &raw); err != nil {
		var pe toml.ParseError
		line := 1
		msg := err.Error()
		if errors.As(err, &pe) {
			line, msg = pe.Position.Line, pe.Message
			if line < 1 {
				line = 1
			}
		}
		return nil, Errors{{File: path, Line: line, Msg: "syntax error: " + msg}}, nil
	}
	d.pos = scanPositions(string(data))
	t := &Topology{Path: path}
	d.decodeStruct(reflect.ValueOf(t).Elem(), raw, nil)
	d.validate(t)
	warnings := d.chainLoops(t)
	sortErrors(d.errs)
	sortErrors(warnings)
	t.warnings = warnings
	if len(d.errs) == 0 {
		t.setDefaults()
	}
	return t, d.errs, warnings
}

func sortErrors(es []Error) {
	sort.SliceStable(es, func(i, j int) bool { return es[i].Line < es[j].Line })
}

// decoder walks the generic decoded TOML into the Topology types, collecting
// every problem with its line instead of stopping at the first.
type decoder struct {
	file string
	pos  positions
	errs Errors
	bad  map[string]bool // paths whose value did not decode
}

func (d *decoder) errorf(path []string, format string, args ...any) {
	d.errs = append(d.errs, Error{File: d.file, Line: d.pos.line(path), Msg: fmt.Sprintf(format, args...)})
}

// failf reports a value that did not decode, so validation does not report
// it a second time.
func (d *decoder) failf(path []string, format string, args ...any) {
	if d.bad == nil {
		d.bad = map[string]bool{}
	}
	d.bad[joinPath(path)] = true
	d.errorf(path, format, args...)
}

// keyName is the dotted key of an indexed path without the indices, as a user
// writes it: node.stream.dvr.depth.
func keyName(path []string) string {
	var parts []string
	for _, p := range path {
		if strings.HasPrefix(p, "\x00") {
			continue
		}
		parts = append(parts, p)
	}
	return toml.Key(parts).String()
}

func sub(path []string, parts ...string) []string {
	return append(append([]string(nil), path...), parts...)
}

var (
	durationType = reflect.TypeOf(Duration(0))
	sizeType     = reflect.TypeOf(Size(0))
	textType     = reflect.TypeOf((*encoding.TextUnmarshaler)(nil)).Elem()
)

// fields maps the toml tags of a struct type to field indices.
func fields(t reflect.Type) map[string]int {
	m := map[string]int{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("toml"), ",")[0]
		if !f.IsExported() || tag == "-" || tag == "" {
			continue
		}
		m[tag] = i
	}
	return m
}

func (d *decoder) decodeStruct(rv reflect.Value, m map[string]any, path []string) {
	fs := fields(rv.Type())
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { // file order, then by name
		si, sj := d.pos.seq(sub(path, keys[i])), d.pos.seq(sub(path, keys[j]))
		if si != sj {
			return si < sj
		}
		return keys[i] < keys[j]
	})
	for _, k := range keys {
		p := sub(path, k)
		i, ok := fs[k]
		if !ok {
			if near := nearest(k, fs); near != "" {
				d.errorf(p, "unknown key %q (did you mean %q?)", keyName(p), near)
			} else {
				d.errorf(p, "unknown key %q", keyName(p))
			}
			continue
		}
		d.decodeValue(rv.Field(i), m[k], p)
		d.checkNotBuilt(p)
	}
	if f, ok := rv.Type().FieldByName("Line"); ok && f.Type.Kind() == reflect.Int && f.Tag.Get("toml") == "-" {
		rv.FieldByIndex(f.Index).SetInt(int64(d.pos.line(path)))
	}
}

// nearest returns the known key within two edits of key, if one is.
func nearest(key string, known map[string]int) string {
	best, bestDist := "", 3
	for k := range known {
		if dist := editDistance(key, k); dist < bestDist || dist == bestDist && k < best {
			best, bestDist = k, dist
		}
	}
	if bestDist > 2 || bestDist >= len(key) {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance of a and b (bytes), capped for
// long keys.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func (d *decoder) decodeValue(rv reflect.Value, v any, path []string) {
	t := rv.Type()
	switch {
	case t == sizeType:
		switch v := v.(type) {
		case int64:
			if v < 0 {
				d.failf(path, "%s: negative size %d", keyName(path), v)
				return
			}
			rv.SetInt(v)
		case string:
			n, err := ParseSize(v)
			if err != nil {
				d.failf(path, "%s: %v", keyName(path), err)
				return
			}
			rv.SetInt(n)
		default:
			d.typeError(path, "a size (bytes or a string like \"500G\")", v)
		}
		return
	case t == durationType:
		s, ok := v.(string)
		if !ok {
			d.typeError(path, "a duration string like \"10s\" or \"3d\"", v)
			return
		}
		n, err := ParseDuration(s)
		if err != nil {
			d.failf(path, "%s: %v", keyName(path), err)
			return
		}
		rv.SetInt(int64(n))
		return
	case reflect.PointerTo(t).Implements(textType) && t.Kind() != reflect.Struct:
		s, ok := v.(string)
		if !ok {
			d.typeError(path, "a string", v)
			return
		}
		if err := rv.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
			d.failf(path, "%s: %v", keyName(path), err)
		}
		return
	}
	switch t.Kind() {
	case reflect.String:
		s, ok := v.(string)
		if !ok {
			d.typeError(path, "a string", v)
			return
		}
		rv.SetString(s)
	case reflect.Bool:
		b, ok := v.(bool)
		if !ok {
			d.typeError(path, "true or false", v)
			return
		}
		rv.SetBool(b)
	case reflect.Int:
		n, ok := v.(int64)
		if !ok {
			d.typeError(path, "an integer", v)
			return
		}
		if int64(int(n)) != n {
			d.failf(path, "%s: %d is out of range", keyName(path), n)
			return
		}
		rv.SetInt(n)
	case reflect.Pointer:
		m, ok := v.(map[string]any)
		if !ok {
			d.typeError(path, "a table", v)
			return
		}
		nv := reflect.New(t.Elem())
		d.decodeStruct(nv.Elem(), m, path)
		rv.Set(nv)
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			d.typeError(path, "a table", v)
			return
		}
		d.decodeStruct(rv, m, path)
	case reflect.Slice:
		var items []any
		switch v := v.(type) {
		case []any:
			items = v
		case []map[string]any:
			for _, m := range v {
				items = append(items, m)
			}
		default:
			d.typeError(path, "an array", v)
			return
		}
		s := reflect.MakeSlice(t, len(items), len(items))
		for i, item := range items {
			d.decodeValue(s.Index(i), item, sub(path, idx(i)))
		}
		rv.Set(s)
	default:
		d.failf(path, "%s: cannot decode into %s", keyName(path), t) // a config.go type this walker does not know
	}
}

func (d *decoder) typeError(path []string, want string, got any) {
	d.failf(path, "%s: want %s, got %s", keyName(path), want, tomlType(got))
}

func tomlType(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case time.Time:
		return "a date-time"
	case []any, []map[string]any:
		return "an array"
	case map[string]any:
		return "a table"
	default:
		return fmt.Sprintf("%T", v)
	}
}

package config

import (
	"strconv"
	"strings"
)

// positions maps an indexed key path (parts joined by pathSep, array
// elements by their index: node, 0, stream, 1, dvr, depth) to the 1-based
// line where the key, table header or array element starts.
//
// BurntSushi/toml keeps key positions private and stops decoding at the first
// type error, so Parse decodes into plain maps and walks them itself; this
// scanner supplies the lines. It only ever sees text that toml has already
// parsed without error, and it never fails: a path it cannot place falls back
// to its parent's line.
type positions map[string]keyPos

// keyPos is where a key starts: its line, and its rank in the file.
type keyPos struct{ line, seq int }

const pathSep = "\x1f"

func joinPath(parts []string) string { return strings.Join(parts, pathSep) }

// idx is the path part of an array element; the NUL prefix keeps it apart
// from a key that happens to be a number.
func idx(i int) string { return "\x00" + strconv.Itoa(i) }

// line returns the line of path or of its nearest placed ancestor, or 1.
func (p positions) line(path []string) int {
	for n := len(path); n > 0; n-- {
		if kp, ok := p[joinPath(path[:n])]; ok {
			return kp.line
		}
	}
	return 1
}

// seq returns the rank of path in the file, or -1 when it was not placed.
func (p positions) seq(path []string) int {
	if kp, ok := p[joinPath(path)]; ok {
		return kp.seq
	}
	return -1
}

type scanner struct {
	s     string
	i     int
	line  int
	pos   positions
	index map[string]int // array-of-tables path -> index of its last element
}

func scanPositions(data string) positions {
	sc := &scanner{s: data, line: 1, pos: positions{}, index: map[string]int{}}
	sc.document()
	return sc.pos
}

func (sc *scanner) peek(k int) byte {
	if sc.i+k < len(sc.s) {
		return sc.s[sc.i+k]
	}
	return 0
}

func (sc *scanner) advance() {
	if sc.i < len(sc.s) {
		if sc.s[sc.i] == '\n' {
			sc.line++
		}
		sc.i++
	}
}

// skip skips blanks, and newlines and comments when nl is set.
func (sc *scanner) skip(nl bool) {
	for sc.i < len(sc.s) {
		switch c := sc.s[sc.i]; {
		case c == ' ' || c == '\t' || c == '\r':
			sc.i++
		case nl && c == '\n':
			sc.advance()
		case nl && c == '#':
			for sc.i < len(sc.s) && sc.s[sc.i] != '\n' {
				sc.i++
			}
		default:
			return
		}
	}
}

func (sc *scanner) record(path []string, line int) {
	k := joinPath(path)
	if _, ok := sc.pos[k]; !ok {
		sc.pos[k] = keyPos{line, len(sc.pos)}
	}
}

func (sc *scanner) document() {
	var table []string
	for sc.i < len(sc.s) {
		start := sc.i
		sc.skip(true)
		if sc.i >= len(sc.s) {
			return
		}
		if sc.s[sc.i] == '[' {
			array := sc.peek(1) == '['
			sc.i++
			if array {
				sc.i++
			}
			line := sc.line
			key := sc.key()
			for sc.i < len(sc.s) && sc.s[sc.i] != '\n' && sc.s[sc.i] != '#' {
				sc.i++
			}
			table = sc.resolve(key, array)
			sc.record(table, line)
		} else {
			line := sc.line
			key := sc.key()
			sc.skip(false)
			if sc.peek(0) == '=' {
				sc.i++
				path := append(append([]string(nil), table...), key...)
				sc.recordKey(path, len(table), line)
				sc.skip(false)
				sc.value(path)
			}
		}
		if sc.i == start { // never loop without progress
			sc.advance()
		}
	}
}

// recordKey records every dotted prefix of path from its from'th part on.
func (sc *scanner) recordKey(path []string, from, line int) {
	for n := from + 1; n <= len(path); n++ {
		sc.record(path[:n], line)
	}
}

// resolve turns a table header's key into an indexed path: each prefix that
// is an array of tables refers to its last element; an [[array]] header adds
// a new element.
func (sc *scanner) resolve(key []string, array bool) []string {
	var path []string
	for n, part := range key {
		path = append(path, part)
		k := joinPath(path)
		last := n == len(key)-1
		if last && array {
			i, ok := sc.index[k]
			if ok {
				i++
			}
			sc.index[k] = i
			sc.record(path, sc.line)
			return append(path, idx(i))
		}
		if i, ok := sc.index[k]; ok {
			path = append(path, idx(i))
		}
	}
	return path
}

// key reads a possibly dotted, possibly quoted key.
func (sc *scanner) key() []string {
	var parts []string
	for {
		sc.skip(false)
		switch sc.peek(0) {
		case '"':
			raw := sc.basicString()
			if u, err := strconv.Unquote(raw); err == nil {
				parts = append(parts, u)
			} else {
				parts = append(parts, strings.Trim(raw, `"`))
			}
		case '\'':
			parts = append(parts, strings.Trim(sc.literalString(), "'"))
		default:
			start := sc.i
			for sc.i < len(sc.s) && isBare(sc.s[sc.i]) {
				sc.i++
			}
			parts = append(parts, sc.s[start:sc.i])
		}
		sc.skip(false)
		if sc.peek(0) != '.' {
			return parts
		}
		sc.i++
	}
}

func isBare(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// basicString reads "..." and returns it with its quotes.
func (sc *scanner) basicString() string {
	start := sc.i
	sc.i++
	for sc.i < len(sc.s) && sc.s[sc.i] != '"' && sc.s[sc.i] != '\n' {
		if sc.s[sc.i] == '\\' {
			sc.i++
		}
		sc.i++
	}
	if sc.i < len(sc.s) && sc.s[sc.i] == '"' {
		sc.i++
	}
	if sc.i > len(sc.s) {
		sc.i = len(sc.s)
	}
	return sc.s[start:sc.i]
}

func (sc *scanner) literalString() string {
	start := sc.i
	sc.i++
	for sc.i < len(sc.s) && sc.s[sc.i] != '\'' && sc.s[sc.i] != '\n' {
		sc.i++
	}
	if sc.i < len(sc.s) && sc.s[sc.i] == '\'' {
		sc.i++
	}
	return sc.s[start:sc.i]
}

// multiline skips a triple-quoted string, basic or literal, counting its lines.
func (sc *scanner) multiline(q byte) {
	sc.i += 3
	for sc.i < len(sc.s) {
		c := sc.s[sc.i]
		if c == '\\' && q == '"' {
			sc.advance()
			sc.advance()
			continue
		}
		if c == q && sc.peek(1) == q && sc.peek(2) == q {
			sc.i += 3
			for k := 0; k < 2 && sc.peek(0) == q; k++ { // up to two quotes may close the content
				sc.i++
			}
			return
		}
		sc.advance()
	}
}

// value skips one value, recording the lines of array elements and of keys
// inside inline tables under path.
func (sc *scanner) value(path []string) {
	switch c := sc.peek(0); {
	case c == '"' && sc.peek(1) == '"' && sc.peek(2) == '"':
		sc.multiline('"')
	case c == '\'' && sc.peek(1) == '\'' && sc.peek(2) == '\'':
		sc.multiline('\'')
	case c == '"':
		sc.basicString()
	case c == '\'':
		sc.literalString()
	case c == '[':
		sc.i++
		for n := 0; sc.i < len(sc.s); n++ {
			sc.skip(true)
			if sc.peek(0) == ']' {
				sc.i++
				return
			}
			start := sc.i
			el := append(append([]string(nil), path...), idx(n))
			sc.record(el, sc.line)
			sc.value(el)
			sc.skip(true)
			if sc.peek(0) == ',' {
				sc.i++
			}
			if sc.i == start {
				sc.advance()
			}
		}
	case c == '{':
		sc.i++
		for sc.i < len(sc.s) {
			sc.skip(true)
			if sc.peek(0) == '}' {
				sc.i++
				return
			}
			start := sc.i
			line := sc.line
			key := sc.key()
			sc.skip(false)
			if sc.peek(0) == '=' {
				sc.i++
				kp := append(append([]string(nil), path...), key...)
				sc.recordKey(kp, len(path), line)
				sc.skip(true)
				sc.value(kp)
			}
			sc.skip(true)
			if sc.peek(0) == ',' {
				sc.i++
			}
			if sc.i == start {
				sc.advance()
			}
		}
	default:
		for sc.i < len(sc.s) {
			switch sc.s[sc.i] {
			case ',', ']', '}', '\n', '#', ' ', '\t', '\r':
				return
			}
			sc.i++
		}
	}
}

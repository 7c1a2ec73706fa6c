package anp

import (
	"bytes"
	"slices"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// appendCanonicalRaw appends JCS of the raw JSON text (a json.RawMessage
// inside a typed value) to dst. Nil raw is null, as encoding/json writes
// it; empty raw that is not nil is an error there. It reads objects, arrays, strings, true, false, null and integers
// within ±(2^53-1) written without a sign on zero; anything else (floats,
// exponents, -0, duplicate member names, lone surrogates, invalid JSON)
// fails with errSlowPath for the reference path to handle.
func appendCanonicalRaw(dst, raw []byte) ([]byte, error) {
	if raw == nil {
		return append(dst, "null"...), nil
	}
	r := rawReader{data: raw}
	dst, err := r.value(dst, 0)
	if err != nil {
		return dst, err
	}
	r.space()
	if r.i != len(r.data) {
		return dst, errSlowPath
	}
	return dst, nil
}

// maxRawDepth bounds the nesting the raw reader follows.
const maxRawDepth = 64

type rawReader struct {
	data []byte
	i    int
}

func (r *rawReader) space() { r.i = skipSpace(r.data, r.i) }

// skipSpace returns the index of the first byte at or after i in data that
// is not JSON white space.
func skipSpace(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// runeAt returns the length of the valid UTF-8 sequence at data[i] (a
// non-ASCII byte), or 0 when it is not valid.
func runeAt(data []byte, i int) int {
	rn, size := utf8.DecodeRune(data[i:])
	if rn == utf8.RuneError && size == 1 {
		return 0
	}
	return size
}

func (r *rawReader) value(dst []byte, depth int) ([]byte, error) {
	r.space()
	if r.i >= len(r.data) || depth > maxRawDepth {
		return dst, errSlowPath
	}
	switch c := r.data[r.i]; {
	case c == '{':
		return r.object(dst, depth)
	case c == '[':
		return r.array(dst, depth)
	case c == '"':
		s, err := r.str()
		if err != nil {
			return dst, err
		}
		return appendCanonString(dst, s), nil
	case c == '-' || c >= '0' && c <= '9':
		return r.integer(dst)
	}
	for _, lit := range [...]string{"true", "false", "null"} {
		if len(r.data)-r.i >= len(lit) && string(r.data[r.i:r.i+len(lit)]) == lit {
			r.i += len(lit)
			return append(dst, lit...), nil
		}
	}
	return dst, errSlowPath
}

// rawMember is one member of an object: its name (decoded) and where
// its canonical "name":value sits in the output.
type rawMember struct {
	name       []byte
	start, end int
}

// object writes the members as they come, each "name":value canonical.
// Members already in JCS order (the usual case) need only the name before
// each; an object that is not is read again, noting where each member
// sits, and its members are reordered.
func (r *rawReader) object(dst []byte, depth int) ([]byte, error) {
	open, out := r.i, len(dst)
	dst, ordered, err := r.members(dst, depth, nil)
	if err == nil && !ordered {
		dst, err = r.reordered(dst[:out], open, depth)
	}
	if err != nil {
		return dst, err
	}
	return append(dst, '}'), nil
}

// reordered reads the object at open again, noting where each member
// sits, and writes '{' and its members in JCS order.
func (r *rawReader) reordered(dst []byte, open, depth int) ([]byte, error) {
	r.i = open
	body := len(dst) + 1
	members := make([]rawMember, 0, 16)
	dst, _, err := r.members(dst, depth, &members)
	if err != nil {
		return dst, err
	}
	return reorderMembers(dst, body, members)
}

// members reads an object from its opening brace through its closing one
// and writes '{' and its members, each "name":value canonical, but not the
// closing brace. Without note, it stops at the first member out of JCS
// order (ordered is false); with it, it reads all and notes each member.
func (r *rawReader) members(dst []byte, depth int, note *[]rawMember) (_ []byte, ordered bool, err error) {
	r.i++ // {
	dst = append(dst, '{')
	r.space()
	if r.i < len(r.data) && r.data[r.i] == '}' {
		r.i++
		return dst, true, nil
	}
	var prev []byte
	for n := 0; ; n++ {
		m, more, err := r.member(&dst, depth)
		if err != nil {
			return dst, false, err
		}
		if n > 0 && compareUTF16(prev, m.name) >= 0 && note == nil {
			return dst, false, nil
		}
		if note != nil {
			*note = append(*note, m)
		}
		prev = m.name
		if !more {
			return dst, true, nil
		}
		dst = append(dst, ',')
	}
}

// reorderMembers rewrites the members written from dst[body:] in JCS
// order; a name that comes twice fails with errSlowPath.
func reorderMembers(dst []byte, body int, members []rawMember) ([]byte, error) {
	written := append([]byte(nil), dst[body:]...)
	slices.SortFunc(members, func(a, b rawMember) int { return compareUTF16(a.name, b.name) })
	dst = dst[:body]
	for i, m := range members {
		if i > 0 {
			if bytes.Equal(m.name, members[i-1].name) {
				return dst, errSlowPath
			}
			dst = append(dst, ',')
		}
		dst = append(dst, written[m.start-body:m.end-body]...)
	}
	return dst, nil
}

// member reads "name": value and the comma or brace after it and writes
// "name":value canonical to *dst. more is false after the closing brace.
func (r *rawReader) member(dst *[]byte, depth int) (m rawMember, more bool, err error) {
	r.space()
	if r.i >= len(r.data) || r.data[r.i] != '"' {
		return m, false, errSlowPath
	}
	if m.name, err = r.str(); err != nil {
		return m, false, err
	}
	r.space()
	if r.i >= len(r.data) || r.data[r.i] != ':' {
		return m, false, errSlowPath
	}
	r.i++
	m.start = len(*dst)
	*dst = append(appendCanonString(*dst, m.name), ':')
	if *dst, err = r.value(*dst, depth+1); err != nil {
		return m, false, err
	}
	m.end = len(*dst)
	r.space()
	if r.i >= len(r.data) || r.data[r.i] != ',' && r.data[r.i] != '}' {
		return m, false, errSlowPath
	}
	r.i++
	return m, r.data[r.i-1] == ',', nil
}

func (r *rawReader) array(dst []byte, depth int) ([]byte, error) {
	r.i++ // [
	dst = append(dst, '[')
	r.space()
	if r.i < len(r.data) && r.data[r.i] == ']' {
		r.i++
		return append(dst, ']'), nil
	}
	var err error
	for n := 0; ; n++ {
		if n > 0 {
			dst = append(dst, ',')
		}
		if dst, err = r.value(dst, depth+1); err != nil {
			return dst, err
		}
		r.space()
		if r.i >= len(r.data) {
			return dst, errSlowPath
		}
		if r.data[r.i] == ']' {
			r.i++
			return append(dst, ']'), nil
		}
		if r.data[r.i] != ',' {
			return dst, errSlowPath
		}
		r.i++
	}
}

// integer copies -?(0|[1-9][0-9]*) within ±(2^53-1), not -0.
func (r *rawReader) integer(dst []byte) ([]byte, error) {
	start := r.i
	if r.data[r.i] == '-' {
		r.i++
	}
	digits := r.i
	for r.i < len(r.data) && r.data[r.i] >= '0' && r.data[r.i] <= '9' {
		r.i++
	}
	if !plainInteger(r.data[start:r.i], r.i-digits) || r.i < len(r.data) && bytes.IndexByte([]byte(".eE"), r.data[r.i]) >= 0 {
		return dst, errSlowPath
	}
	return append(dst, r.data[start:r.i]...), nil
}

// plainInteger reports whether lit (an optional minus and n digits) is an
// integer JCS writes as is: no leading zero, within ±(2^53-1), not -0.
func plainInteger(lit []byte, n int) bool {
	digits := lit[len(lit)-n:]
	if n == 0 || n > 16 || n > 1 && digits[0] == '0' {
		return false
	}
	v, err := strconv.ParseUint(string(digits), 10, 64)
	return err == nil && v <= MaxSafeInteger && !(v == 0 && n != len(lit))
}

// str reads a JSON string and returns its value: without an escape, the
// bytes between the quotes (not copied); with one, a new buffer. Invalid
// UTF-8, raw control characters and lone surrogates fail with errSlowPath.
func (r *rawReader) str() ([]byte, error) {
	r.i++ // opening quote
	start := r.i
	for r.i < len(r.data) {
		c := r.data[r.i]
		switch {
		case c == '"':
			s := r.data[start:r.i:r.i]
			r.i++
			return s, nil
		case c == '\\':
			return r.escapedStr(start)
		case c < 0x20:
			return nil, errSlowPath
		case c >= utf8.RuneSelf:
			size := runeAt(r.data, r.i)
			if size == 0 {
				return nil, errSlowPath
			}
			r.i += size
		default:
			r.i++
		}
	}
	return nil, errSlowPath
}

// escapedStr continues str from the first backslash.
func (r *rawReader) escapedStr(start int) ([]byte, error) {
	buf := append([]byte(nil), r.data[start:r.i]...)
	for r.i < len(r.data) {
		c := r.data[r.i]
		switch {
		case c == '"':
			r.i++
			return buf, nil
		case c == '\\':
			var err error
			if buf, err = r.escape(buf); err != nil {
				return nil, err
			}
		case c < 0x20:
			return nil, errSlowPath
		case c >= utf8.RuneSelf:
			size := runeAt(r.data, r.i)
			if size == 0 {
				return nil, errSlowPath
			}
			buf = append(buf, r.data[r.i:r.i+size]...)
			r.i += size
		default:
			buf = append(buf, c)
			r.i++
		}
	}
	return nil, errSlowPath
}

// escape decodes one escape sequence at r.i into buf.
func (r *rawReader) escape(buf []byte) ([]byte, error) {
	if r.i+1 >= len(r.data) {
		return buf, errSlowPath
	}
	c := r.data[r.i+1]
	r.i += 2
	if s, ok := simpleEscapes[c]; ok {
		return append(buf, s), nil
	}
	if c != 'u' {
		return buf, errSlowPath
	}
	u, ok := r.hex4()
	if !ok {
		return buf, errSlowPath
	}
	if !utf16.IsSurrogate(u) {
		return utf8.AppendRune(buf, u), nil
	}
	if u >= 0xdc00 || r.i+1 >= len(r.data) || r.data[r.i] != '\\' || r.data[r.i+1] != 'u' {
		return buf, errSlowPath
	}
	r.i += 2
	lo, ok := r.hex4()
	if !ok || lo < 0xdc00 || lo > 0xdfff {
		return buf, errSlowPath
	}
	return utf8.AppendRune(buf, utf16.DecodeRune(u, lo)), nil
}

var simpleEscapes = map[byte]byte{'"': '"', '\\': '\\', '/': '/', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}

func (r *rawReader) hex4() (rune, bool) {
	if r.i+4 > len(r.data) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(r.data[r.i:r.i+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	r.i += 4
	return rune(v), true
}

package anp

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"unicode/utf8"
)

// tokenSource is what the strict pre-pass reads: json.Decoder's Token and
// More (with UseNumber), or fastTokens.
type tokenSource interface {
	Token() (json.Token, error)
	More() bool
}

// errFastTokens: fastTokens met something it leaves to json.Decoder.
var errFastTokens = errors.New("anp: strict scan: use json.Decoder")

// fastTokens yields the tokens json.Decoder.Token yields (with UseNumber)
// for valid JSON, without its allocations. It is stricter than needed, not
// looser: any input it is not sure of (malformed JSON, a literal not
// followed by a delimiter, a string with escapes or invalid UTF-8 it leaves
// to encoding/json to read) fails with an error, and the caller scans
// again with json.Decoder, whose result (value or error) then stands.
type fastTokens struct {
	data  []byte
	i     int
	state tokState
	stack []tokState // the enclosing containers' states
	// keys, when set, holds key tokens already boxed (the field names of
	// the struct being read): a key with one of these names is returned
	// as that token, the same string, without a new allocation.
	keys map[string]string
	// opaque: string values and integer numbers are returned as shared
	// tokens that keep only what the strict scan reads of them: whether a
	// string is empty, and an integer's zeroness and its verdict under
	// CheckNumber (an integer it would refuse is returned as it is). The
	// token stream is otherwise json.Decoder's.
	opaque bool
	// text is data as a string, made on the first key or string token
	// that needs one: the tokens are slices of it, one allocation in all.
	text string
}

// textOf returns data[start:end] as a string sliced from f.text.
func (f *fastTokens) textOf(start, end int) string {
	if f.text == "" {
		f.text = string(f.data)
	}
	return f.text[start:end]
}

// The shared tokens of opaque mode.
var (
	opaqueString  json.Token = "s"
	emptyString   json.Token = ""
	opaqueZero    json.Token = json.Number("0")
	opaqueInteger json.Token = json.Number("1")
)

type tokState uint8

const (
	tokTop tokState = iota
	tokTopDone
	tokArrayStart
	tokArrayValue
	tokArrayComma
	tokObjectStart
	tokObjectKey
	tokObjectColon
	tokObjectValue
	tokObjectComma
)

func (f *fastTokens) space() { f.i = skipSpace(f.data, f.i) }

// More is json.Decoder.More: another element or member follows.
func (f *fastTokens) More() bool {
	f.space()
	return f.i < len(f.data) && f.data[f.i] != ']' && f.data[f.i] != '}'
}

func (f *fastTokens) valueAllowed() bool {
	switch f.state {
	case tokTop, tokArrayStart, tokArrayValue, tokObjectValue:
		return true
	}
	return false
}

// afterValue moves past a complete value in the current container.
func (f *fastTokens) afterValue() {
	switch f.state {
	case tokTop:
		f.state = tokTopDone
	case tokArrayStart, tokArrayValue:
		f.state = tokArrayComma
	case tokObjectValue:
		f.state = tokObjectComma
	}
}

// Token returns the next token: json.Delim, string, json.Number, bool or
// nil, and io.EOF after the one top-level value.
func (f *fastTokens) Token() (json.Token, error) {
	for {
		f.space()
		if f.i >= len(f.data) {
			if f.state == tokTopDone {
				return nil, io.EOF
			}
			return nil, errFastTokens
		}
		switch c := f.data[f.i]; c {
		case '[', '{':
			return f.open(c)
		case ']', '}':
			return f.close(c)
		case ':':
			if f.state != tokObjectColon {
				return nil, errFastTokens
			}
			f.state = tokObjectValue
			f.i++
		case ',':
			if err := f.comma(); err != nil {
				return nil, err
			}
		case '"':
			return f.stringToken()
		default:
			return f.literal()
		}
	}
}

func (f *fastTokens) open(c byte) (json.Token, error) {
	if !f.valueAllowed() {
		return nil, errFastTokens
	}
	f.stack = append(f.stack, f.state)
	f.state = tokArrayStart
	if c == '{' {
		f.state = tokObjectStart
	}
	f.i++
	return json.Delim(c), nil
}

func (f *fastTokens) close(c byte) (json.Token, error) {
	switch {
	case c == ']' && (f.state == tokArrayStart || f.state == tokArrayComma),
		c == '}' && (f.state == tokObjectStart || f.state == tokObjectComma):
	default:
		return nil, errFastTokens
	}
	f.state = f.stack[len(f.stack)-1]
	f.stack = f.stack[:len(f.stack)-1]
	f.afterValue()
	f.i++
	return json.Delim(c), nil
}

func (f *fastTokens) comma() error {
	switch f.state {
	case tokArrayComma:
		f.state = tokArrayValue
	case tokObjectComma:
		f.state = tokObjectKey
	default:
		return errFastTokens
	}
	f.i++
	return nil
}

// stringToken reads a key or a string value. Strings with an escape, a
// control character or invalid UTF-8 are left to json.Decoder.
func (f *fastTokens) stringToken() (json.Token, error) {
	if f.state == tokObjectStart || f.state == tokObjectKey {
		return f.keyString()
	}
	if !f.valueAllowed() {
		return nil, errFastTokens
	}
	start, end, ok := f.plainString()
	if !ok {
		return nil, errFastTokens
	}
	f.afterValue()
	if f.opaque {
		if end == start {
			return emptyString, nil
		}
		return opaqueString, nil
	}
	return f.textOf(start, end), nil
}

// key is Token for the key of the next member of an object, unboxed.
func (f *fastTokens) key() (string, error) {
	f.space()
	if f.i < len(f.data) && f.data[f.i] == ',' {
		if err := f.comma(); err != nil {
			return "", err
		}
		f.space()
	}
	if f.i >= len(f.data) || f.data[f.i] != '"' || f.state != tokObjectStart && f.state != tokObjectKey {
		return "", errFastTokens
	}
	return f.keyString()
}

// keyString reads a key at f.i: one of keys when it is there, else a slice
// of the input's text.
func (f *fastTokens) keyString() (string, error) {
	start, end, ok := f.plainString()
	if !ok {
		return "", errFastTokens
	}
	f.state = tokObjectColon
	if k, ok := f.keys[string(f.data[start:end])]; ok {
		return k, nil
	}
	return f.textOf(start, end), nil
}

// plainString reads the string at f.i, which has no escape, no control
// character and is valid UTF-8, and returns where its contents are.
func (f *fastTokens) plainString() (start, end int, ok bool) {
	start = f.i + 1
	for j := start; j < len(f.data); {
		c := f.data[j]
		switch {
		case c == '"':
			f.i = j + 1
			return start, j, true
		case c == '\\' || c < 0x20:
			return 0, 0, false
		case c >= utf8.RuneSelf:
			size := runeAt(f.data, j)
			if size == 0 {
				return 0, 0, false
			}
			j += size
		default:
			j++
		}
	}
	return 0, 0, false
}

// literal reads true, false, null or a number that follows JSON's grammar
// and is followed by white space, a comma, a closing bracket or the end.
func (f *fastTokens) literal() (json.Token, error) {
	if !f.valueAllowed() {
		return nil, errFastTokens
	}
	start := f.i
	var tok json.Token
	switch {
	case f.hasPrefix("true"):
		tok, f.i = true, f.i+4
	case f.hasPrefix("false"):
		tok, f.i = false, f.i+5
	case f.hasPrefix("null"):
		tok, f.i = nil, f.i+4
	default:
		n := numberLen(f.data[f.i:])
		if n == 0 {
			return nil, errFastTokens
		}
		f.i += n
		tok = f.number(f.data[start:f.i])
	}
	if f.i < len(f.data) {
		switch f.data[f.i] {
		case ' ', '\t', '\n', '\r', ',', ']', '}':
		default:
			return nil, errFastTokens
		}
	}
	f.afterValue()
	return tok, nil
}

// number is the token of a number literal: in opaque mode an integer that
// CheckNumber accepts is a shared token of the same zeroness.
func (f *fastTokens) number(lit []byte) json.Token {
	if f.opaque && !bytes.ContainsAny(lit, ".eE") && CheckNumber(string(lit)) == nil {
		if string(bytes.TrimPrefix(lit, []byte("-"))) == "0" {
			return opaqueZero
		}
		return opaqueInteger
	}
	return json.Number(lit)
}

func (f *fastTokens) hasPrefix(lit string) bool {
	return len(f.data)-f.i >= len(lit) && string(f.data[f.i:f.i+len(lit)]) == lit
}

// numberLen returns the length of the JSON number at the start of b
// (-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?), or 0.
func numberLen(b []byte) int {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digitsFrom(b, i)
	default:
		return 0
	}
	if i < len(b) && b[i] == '.' {
		if i = digitsFrom(b, i+1); b[i-1] == '.' {
			return 0
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		return exponentEnd(b, i+1)
	}
	return i
}

// exponentEnd returns where the exponent after e or E (at i) ends, or 0.
func exponentEnd(b []byte, i int) int {
	if i < len(b) && (b[i] == '+' || b[i] == '-') {
		i++
	}
	if j := digitsFrom(b, i); j > i {
		return j
	}
	return 0
}

func digitsFrom(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

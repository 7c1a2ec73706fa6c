package anp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// The named failures of strict decoding. Each is wrapped in a *DecodeError
// that names the path of the offending member (body.price.amount) and
// carries the code bad_request; test with errors.Is.
var (
	ErrDuplicateKey = errors.New("duplicate key")
	ErrKeyCase      = errors.New("key differs from the specified name")
	ErrIntegerRange = errors.New("integer outside ±(2^53-1)")
	ErrNotInteger   = errors.New("number is not an integer")
	ErrTrailingData = errors.New("unexpected data after the JSON value")
	ErrNestingDepth = errors.New("JSON nested too deeply")
	// ErrNullMember is a JSON null anywhere: as a member's value, as an
	// element of a list or as the whole value. encoding/json reads null as
	// the zero value or as absent, so "key_index":null would verify like
	// "key_index":0 and "demo":null like no demo: a second reading.
	ErrNullMember = errors.New("null is not a value in the protocol")
	// ErrInvalidUTF8 is a byte sequence that is not UTF-8. encoding/json
	// reads it as U+FFFD in a decoded string but keeps it in a raw body,
	// which has no canonical form (RFC 8785 hashes UTF-8): a second reading.
	ErrInvalidUTF8   = errors.New("JSON text is not valid UTF-8")
	errMalformedJSON = errors.New("malformed JSON")
)

// MaxSafeInteger is 2^53-1, the largest integer every JSON reader (and
// RFC 8785's IEEE 754 doubles) holds exactly. Every integer on the wire is
// within ±MaxSafeInteger.
const MaxSafeInteger = 1<<53 - 1

// maxStrictDepth is the nesting limit of the strict pre-pass (encoding/json's).
const maxStrictDepth = 10000

// DecodeError is a strict-decoding failure: Err is one of the named
// failures above (or the encoding/json error), Path where it happened.
type DecodeError struct {
	Path   string // "" for the top-level value, else e.g. body.price.amount or items[2]
	Err    error
	Detail string
}

func (e *DecodeError) Error() string {
	var b strings.Builder
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	return b.String()
}

// Unwrap gives both the named failure and the protocol code bad_request.
func (e *DecodeError) Unwrap() []error {
	return []error{e.Err, &Error{Code: CodeBadRequest, Message: e.Error()}}
}

// DecodeStrict decodes JSON into v with one reading: it refuses duplicate
// keys at any depth, keys that are not exactly a field's name (Go's
// encoding/json would match them case-insensitively), unknown fields
// (with encoding/json's message), null anywhere (which encoding/json reads
// as the zero value), integers outside ±(2^53-1), fractions or exponents
// where an integer is expected, and anything after the value. Every decoder
// of signed JSON goes through it. Errors are *DecodeError (code bad_request).
func DecodeStrict(data []byte, v any) error {
	return decodeStrictAt("", data, v)
}

// decodeStrictAt is DecodeStrict with the paths of errors under prefix.
func decodeStrictAt(prefix string, data []byte, v any) error {
	return decodeStrictWith(prefix, data, v, decodeAccepted)
}

// decodeStrictWith is decodeStrictAt with decode reading what the strict
// pre-pass accepted.
func decodeStrictWith(prefix string, data []byte, v any, decode func(data []byte, v any, known bool) error) error {
	var t reflect.Type
	if v != nil {
		t = reflect.TypeOf(v)
	}
	if !utf8.Valid(data) {
		return &DecodeError{Path: prefix, Err: ErrInvalidUTF8, Detail: fmt.Sprintf("at byte %d", firstInvalidUTF8(data))}
	}
	known, err := strictPass(data, t, false)
	if err != nil {
		if errors.Is(err, errMalformedJSON) {
			// Syntax errors in encoding/json's words, with its offsets.
			if derr := decodeRefusingUnknown(data, v); derr != nil {
				return &DecodeError{Path: prefix, Err: derr}
			}
		}
		var de *DecodeError
		if prefix != "" && errors.As(err, &de) {
			de.Path = joinPath(prefix, de.Path)
		}
		return err
	}
	if err := decode(data, v, known); err != nil {
		return &DecodeError{Path: prefix, Err: err}
	}
	return nil
}

// decodeAccepted decodes data, which the strict pre-pass has accepted for
// v's type, into v. An envelope (or a relay's answer holding one) whose
// members all have their fields is read by decodeEnvelopeFast, a struct of
// scalar members (an offer body, Money) by decodeFlatFast, when they are
// sure of it.
func decodeAccepted(data []byte, v any, known bool) error {
	if !known {
		return decodeRefusingUnknown(data, v)
	}
	switch v := v.(type) {
	case *Envelope:
		if v != nil && decodeEnvelopeFast(data, v) {
			return nil
		}
	case *RelayResponse:
		if v != nil && decodeRelayResponseFast(data, v) {
			return nil
		}
	default:
		if decodeFlatFast(data, v) {
			return nil
		}
	}
	// Every member has its field: json.Unmarshal reads what a decoder
	// refusing unknown fields reads, with the same errors.
	return json.Unmarshal(data, v)
}

// decodeRefusingUnknown is encoding/json's decode of one value with
// unknown fields refused.
func decodeRefusingUnknown(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// firstInvalidUTF8 is the offset of the first byte of data that does not
// start a valid UTF-8 sequence (len(data) when there is none).
func firstInvalidUTF8(data []byte) int {
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return len(data)
}

func joinPath(prefix, p string) string {
	switch {
	case p == "":
		return prefix
	case strings.HasPrefix(p, "["):
		return prefix + p
	}
	return prefix + "." + p
}

// CheckStrict runs the strict pre-pass over data against type t (nil: any
// value) without decoding: one JSON value, no duplicate keys anywhere,
// exact keys, no null, integers in range. DecodeStrict runs it before decoding.
func CheckStrict(data []byte, t reflect.Type) error {
	_, err := strictPass(data, t, false)
	return err
}

// CheckNoDuplicateKeys refuses JSON with a duplicate key at any depth or
// malformed JSON, and nothing else: for free-form input such as tool
// arguments, where numbers, key spellings and null are checked by a schema.
func CheckNoDuplicateKeys(data []byte) error {
	_, err := strictPass(data, nil, true)
	return err
}

// strictPass scans data with fastTokens and, when that fails for any
// reason, again with json.Decoder, whose verdict and error then stand:
// the fast reading decides only what it accepts. known is the scan's
// (see strictScan.unsure).
func strictPass(data []byte, t reflect.Type, dupOnly bool) (known bool, err error) {
	if known, err := scanFast(data, t, dupOnly); err == nil {
		return known, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return scanWith(dec, t, dupOnly)
}

// fastScan is what a scan with fastTokens needs, in one allocation: the
// tokenizer, with room for the containers, keys and path of the usual
// nesting (more grow on the heap).
type fastScan struct {
	tokens fastTokens
	scan   strictScan
	stack  [8]tokState
	seen   [16]string
	path   [8]pathStep
}

// scanFast is scanWith over fastTokens.
func scanFast(data []byte, t reflect.Type, dupOnly bool) (known bool, err error) {
	f := new(fastScan)
	f.tokens = fastTokens{data: data, opaque: true, stack: f.stack[:0]}
	f.scan = strictScan{dec: &f.tokens, fast: &f.tokens, dupOnly: dupOnly, seen: f.seen[:0]}
	return f.scan.run(t, f.path[:0])
}

// scanWith is the strict pre-pass over the tokens of src. known reports
// that every object member met is a field of its struct as encoding/json
// reads them too, so that a decode refusing unknown fields refuses none.
func scanWith(src tokenSource, t reflect.Type, dupOnly bool) (known bool, err error) {
	s := strictScan{dec: src, dupOnly: dupOnly, seen: make([]string, 0, 16)}
	s.fast, _ = src.(*fastTokens)
	return s.run(t, make([]pathStep, 0, 16))
}

// run scans one value and the end of the input. The path grows and
// shrinks with the nesting, in path's backing array: a member's path is
// read only when the scan fails there.
func (s *strictScan) run(t reflect.Type, path []pathStep) (known bool, err error) {
	if err := s.value(t, path, 0); err != nil {
		return false, err
	}
	if _, err := s.dec.Token(); err != io.EOF {
		return false, &DecodeError{Err: ErrTrailingData}
	}
	return !s.unsure, nil
}

type strictScan struct {
	dec     tokenSource
	fast    *fastTokens // dec, when it is the fast tokenizer
	dupOnly bool
	// seen holds the keys of the objects being read, innermost last: an
	// object's own keys start where they started when it opened.
	seen []string
	// refuseEmpty is set for the next value: a member that a one-form
	// object omits when empty (see omitsEmpty in oneform.go).
	refuseEmpty bool
	// unsure is set when the decode might meet a member without its
	// field: a key that is not a field's exact name, a struct whose names
	// encoding/json might read otherwise (structFields.plain), or an
	// interface, which may hold a struct of its own.
	unsure bool
}

// pathStep is a step of a path: a member's key, or an element's index.
type pathStep struct {
	key   string
	index int
	isKey bool
}

// pathString renders a path of keys and indexes.
func pathString(path []pathStep) string {
	var b strings.Builder
	for _, p := range path {
		if !p.isKey {
			fmt.Fprintf(&b, "[%d]", p.index)
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(p.key)
	}
	return b.String()
}

func (s *strictScan) malformed(path []pathStep, err error) error {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return s.fail(path, errMalformedJSON, err.Error())
}

func (s *strictScan) fail(path []pathStep, err error, detail string) error {
	return &DecodeError{Path: pathString(path), Err: err, Detail: detail}
}

var (
	rawMessageType  = reflect.TypeFor[json.RawMessage]()
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
)

// shape reduces t to what the scan needs: nil for "any value" (interfaces,
// RawMessage, types with their own UnmarshalJSON), pointers followed.
func shape(t reflect.Type) reflect.Type {
	for t != nil {
		if t == rawMessageType || t.Implements(unmarshalerType) || reflect.PointerTo(t).Implements(unmarshalerType) {
			return nil
		}
		switch t.Kind() {
		case reflect.Pointer:
			t = t.Elem()
		case reflect.Interface:
			return nil
		default:
			return t
		}
	}
	return nil
}

// holdsInterface reports whether t, its pointers followed, is an interface.
func holdsInterface(t reflect.Type) bool {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t != nil && t.Kind() == reflect.Interface
}

func (s *strictScan) value(t reflect.Type, path []pathStep, depth int) error {
	if depth > maxStrictDepth {
		return &DecodeError{Err: ErrNestingDepth, Detail: fmt.Sprintf("more than %d levels", maxStrictDepth)}
	}
	s.unsure = s.unsure || holdsInterface(t)
	t = shape(t)
	refuseEmpty := s.refuseEmpty
	s.refuseEmpty = false
	tok, err := s.dec.Token()
	if err != nil {
		return s.malformed(path, err)
	}
	if tok == nil && !s.dupOnly {
		return s.fail(path, ErrNullMember, "")
	}
	if refuseEmpty && s.emptyValue(tok) {
		return s.fail(path, ErrEmptyMember, "")
	}
	switch tok := tok.(type) {
	case json.Delim:
		switch tok {
		case '{':
			return s.object(t, path, depth)
		case '[':
			return s.array(t, path, depth)
		}
		return s.fail(path, errMalformedJSON, "unexpected "+tok.String())
	case json.Number:
		if s.dupOnly {
			return nil
		}
		return s.number(t, string(tok), path)
	}
	return nil
}

func (s *strictScan) array(t reflect.Type, path []pathStep, depth int) error {
	var elem reflect.Type
	if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
		elem = t.Elem()
	}
	for i := 0; s.dec.More(); i++ {
		if err := s.value(elem, append(path, pathStep{index: i}), depth+1); err != nil {
			return err
		}
	}
	if _, err := s.dec.Token(); err != nil {
		return s.malformed(path, err)
	}
	return nil
}

func (s *strictScan) object(t reflect.Type, path []pathStep, depth int) error {
	fields, elem := s.members(t)
	mark := len(s.seen)
	var many map[string]struct{} // past manyKeys members, the keys seen
	for s.dec.More() {
		if s.fast != nil && fields != nil {
			s.fast.keys = fields.keys
		}
		key, err := s.key(path)
		if err != nil {
			return err
		}
		at := append(path, pathStep{key: key, isKey: true})
		if s.duplicate(key, mark, &many) {
			return s.fail(at, ErrDuplicateKey, strconv.Quote(key))
		}
		vt := elem
		if fields != nil {
			if vt, err = s.field(fields, key, at); err != nil {
				return err
			}
		}
		if err := s.value(vt, at, depth+1); err != nil {
			return err
		}
	}
	s.seen = s.seen[:mark]
	if _, err := s.dec.Token(); err != nil {
		return s.malformed(path, err)
	}
	return nil
}

// key reads the key of the next member of an object.
func (s *strictScan) key(path []pathStep) (string, error) {
	if s.fast != nil {
		return s.fast.key()
	}
	tok, err := s.dec.Token()
	if err != nil {
		return "", s.malformed(path, err)
	}
	key, ok := tok.(string)
	if !ok {
		return "", s.fail(path, errMalformedJSON, "object key is not a string")
	}
	return key, nil
}

// members returns what the members of an object decoded into t are
// checked against: a struct's fields, or a map's element type.
func (s *strictScan) members(t reflect.Type) (*structFields, reflect.Type) {
	if t == nil || s.dupOnly {
		return nil, nil
	}
	switch t.Kind() {
	case reflect.Struct:
		fields := fieldsOf(t)
		s.unsure = s.unsure || !fields.plain
		return fields, nil
	case reflect.Map:
		return nil, t.Elem()
	}
	return nil, nil
}

// field is the type of the struct member key (nil for an unknown one: the
// decode that follows refuses it with encoding/json's message), or the
// failure of a key that differs from a field's name only in case. It sets
// refuseEmpty for a member a one-form object omits when empty.
func (s *strictScan) field(fields *structFields, key string, at []pathStep) (reflect.Type, error) {
	f, ok := fields.exact[key]
	if !ok {
		s.unsure = true
		if name, ok := fields.folded[strings.ToLower(key)]; ok {
			return nil, s.fail(at, ErrKeyCase, fmt.Sprintf("%q is not %q", key, name))
		}
	}
	s.refuseEmpty = fields.oneForm && fields.omitEmpty[key]
	return f, nil
}

// manyKeys: an object with more members than this finds duplicates in a
// map; below it, by comparing with the keys before.
const manyKeys = 32

// duplicate records key as a member of the object whose keys start at
// mark and reports whether it was there already.
func (s *strictScan) duplicate(key string, mark int, many *map[string]struct{}) bool {
	if *many != nil {
		if _, dup := (*many)[key]; dup {
			return true
		}
		(*many)[key] = struct{}{}
		return false
	}
	if slices.Contains(s.seen[mark:], key) {
		return true
	}
	s.seen = append(s.seen, key)
	if len(s.seen)-mark > manyKeys {
		*many = make(map[string]struct{}, 2*manyKeys)
		for _, k := range s.seen[mark:] {
			(*many)[k] = struct{}{}
		}
	}
	return false
}

// number checks a number literal against the type it decodes into.
func (s *strictScan) number(t reflect.Type, lit string, path []pathStep) error {
	if t != nil {
		switch t.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
			if !isIntegerLiteral(lit) {
				return s.fail(path, ErrNotInteger, lit)
			}
		}
	}
	if err := CheckNumber(lit); err != nil {
		return s.fail(path, err, lit)
	}
	return nil
}

// isIntegerLiteral reports whether a JSON number literal has no fraction
// and no exponent.
func isIntegerLiteral(lit string) bool {
	return !strings.ContainsAny(lit, ".eE")
}

// CheckNumber is the protocol's one rule for a JSON number literal, applied
// by Canonical before signing and by DecodeStrict before verifying: its
// value must be within ±(2^53-1). Integers are compared exactly (2^53 and
// 2^60+1 are refused); fractions and exponents by their double value.
func CheckNumber(lit string) error {
	if isIntegerLiteral(lit) {
		digits := strings.TrimPrefix(lit, "-")
		// 2^53-1 has 16 digits; JSON forbids leading zeros.
		if len(digits) > 16 {
			return ErrIntegerRange
		}
		n, err := strconv.ParseUint(digits, 10, 64)
		if err != nil || n > MaxSafeInteger {
			return ErrIntegerRange
		}
		return nil
	}
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil || math.IsInf(f, 0) || math.Abs(f) > MaxSafeInteger {
		return ErrIntegerRange
	}
	return nil
}

// checkNumbers applies CheckNumber to every number in valid JSON (the output
// of json.Marshal), skipping strings.
func checkNumbers(data []byte) error {
	for i := 0; i < len(data); i++ {
		c := data[i]
		switch {
		case c == '"':
			for i++; i < len(data) && data[i] != '"'; i++ {
				if data[i] == '\\' {
					i++
				}
			}
		case c == '-' || (c >= '0' && c <= '9'):
			j := i
			for j < len(data) && strings.IndexByte("+-.eE0123456789", data[j]) >= 0 {
				j++
			}
			if err := CheckNumber(string(data[i:j])); err != nil {
				return fmt.Errorf("%w: %s", err, data[i:j])
			}
			i = j - 1
		}
	}
	return nil
}

// structFields are the exact JSON names of a struct's fields (with
// embedded structs promoted, as encoding/json does) and their types, and
// the same names lower-cased, to name a case-variant key.
type structFields struct {
	exact  map[string]reflect.Type
	folded map[string]string
	// omitEmpty names the fields tagged omitempty; oneForm says the struct
	// is a one-form object (omitsEmpty), whose decoding refuses them empty.
	omitEmpty map[string]bool
	oneForm   bool
	// plain: no embedded struct, no two fields of one name, and every
	// name plain ASCII, so that encoding/json has these fields and names.
	plain bool
	// keys holds each field name as a token, boxed once: the fast
	// tokenizer hands these out for an object's keys instead of a new
	// string each time (see fastTokens.keys).
	keys map[string]string
}

var fieldCache sync.Map // reflect.Type -> *structFields

func fieldsOf(t reflect.Type) *structFields {
	if f, ok := fieldCache.Load(t); ok {
		return f.(*structFields)
	}
	f := &structFields{exact: map[string]reflect.Type{}, folded: map[string]string{}, omitEmpty: map[string]bool{}, oneForm: isOneFormType(t),
		keys: map[string]string{}, plain: plainStruct(t)}
	// Breadth first: a shallower field hides a deeper one of the same name.
	level := []reflect.Type{t}
	visited := map[reflect.Type]bool{}
	for len(level) > 0 {
		var next []reflect.Type
		names := map[string]reflect.Type{}
		for _, st := range level {
			if visited[st] {
				continue
			}
			visited[st] = true
			for i := range st.NumField() {
				sf := st.Field(i)
				tag := sf.Tag.Get("json")
				if tag == "-" {
					continue
				}
				name, opts, _ := strings.Cut(tag, ",")
				ft := sf.Type
				if sf.Anonymous && name == "" {
					et := ft
					if et.Kind() == reflect.Pointer {
						et = et.Elem()
					}
					if et.Kind() == reflect.Struct {
						next = append(next, et)
						continue
					}
				}
				if !sf.IsExported() {
					continue
				}
				if name == "" {
					name = sf.Name
				}
				if _, ok := f.exact[name]; !ok {
					names[name] = ft
					f.omitEmpty[name] = hasOption(opts, "omitempty")
				}
			}
		}
		for n, ft := range names {
			f.exact[n] = ft
			f.folded[strings.ToLower(n)] = n
			f.keys[n] = n
		}
		level = next
	}
	got, _ := fieldCache.LoadOrStore(t, f)
	return got.(*structFields)
}

// plainStruct reports whether t has no embedded field and its fields'
// JSON names are distinct and of ASCII letters, digits, '_', '-' and '.'
// only (names encoding/json takes as they are written).
func plainStruct(t reflect.Type) bool {
	seen := map[string]bool{}
	for i := range t.NumField() {
		sf := t.Field(i)
		if sf.Anonymous {
			return false
		}
		name, _, decoded := jsonName(sf)
		if !decoded {
			continue
		}
		if seen[name] || !plainName(name) {
			return false
		}
		seen[name] = true
	}
	return true
}

// jsonName is the JSON name of a field and its tag's options; decoded is
// false for a field encoding/json leaves alone (unexported, or tagged "-").
func jsonName(sf reflect.StructField) (name, opts string, decoded bool) {
	tag := sf.Tag.Get("json")
	if tag == "-" || !sf.IsExported() {
		return "", "", false
	}
	name, opts, _ = strings.Cut(tag, ",")
	if name == "" {
		name = sf.Name
	}
	return name, opts, true
}

func plainName(name string) bool {
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return name != ""
}

package anp

import (
	"encoding"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// The typed canonical writer: RFC 8785 bytes written straight from Go
// values, without marshalling JSON and parsing it again. It follows
// encoding/json's field rules (json tags, omitempty, "-", nil as null) and
// JCS's output rules (members sorted by UTF-16 code units, the shortest
// string escapes, integers as digits). Whatever it does not handle exactly
// (floats, json.Number, byte slices, arrays, embedded structs, types with their own
// MarshalJSON or MarshalText, non-string map keys, integers beyond ±(2^53-1),
// raw JSON it does not read) makes it give up with errSlowPath, and
// Canonical takes the reference path (json.Marshal and jcs.Transform)
// instead, so the bytes and the errors are those of the reference.
// TestCanonicalWriterMatchesReference and FuzzCanonicalWriter hold the two
// paths to the same bytes.

// maxCanonDepth bounds the nesting the writer follows; deeper values (a
// cycle among them) take the reference path.
const maxCanonDepth = 100

// errSlowPath: the value needs the reference path.
var errSlowPath = errors.New("anp: canonical writer: use the reference path")

var (
	jsonMarshalerType = reflect.TypeFor[json.Marshaler]()
	jsonNumberType    = reflect.TypeFor[json.Number]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)

// appendCanonicalAny appends JCS(v) to dst: from the typed writer when it
// can, from the reference path (canonicalReference) otherwise.
func appendCanonicalAny(dst []byte, v any) ([]byte, error) {
	n := len(dst)
	out, err := appendCanonical(dst, reflect.ValueOf(v), 0)
	if err == nil {
		return out, nil
	}
	c, err := canonicalReference(v)
	if err != nil {
		return nil, err
	}
	return append(out[:n], c...), nil
}

// canonField is one member a struct writes.
type canonField struct {
	name      string // the JSON name, as written (already escaped)
	index     int
	omitEmpty bool
	kind      canonKind // of the field's type
}

// canonKind is how the writer treats the values of a type.
type canonKind uint8

const (
	kindWalk canonKind = iota // written by its reflect.Kind
	kindRaw                   // json.RawMessage, read and written again
	kindSlow                  // json.Number or the type's own encoding: the reference path
)

var canonKinds sync.Map // reflect.Type -> canonKind

// canonKindOf is the kind of t, worked out once per type.
func canonKindOf(t reflect.Type) canonKind {
	if k, ok := canonKinds.Load(t); ok {
		return k.(canonKind)
	}
	k := kindWalk
	switch {
	case t == rawMessageType:
		k = kindRaw
	case t == jsonNumberType || ownEncoding(t):
		k = kindSlow
	}
	canonKinds.Store(t, k)
	return k
}

// canonStruct is the cached plan of a struct type: its members in JCS
// order, or slow when the type needs the reference path.
type canonStruct struct {
	fields []canonField
	slow   bool
}

var canonPlans sync.Map // reflect.Type -> *canonStruct

func canonPlanOf(t reflect.Type) *canonStruct {
	if p, ok := canonPlans.Load(t); ok {
		return p.(*canonStruct)
	}
	p, _ := canonPlans.LoadOrStore(t, buildCanonPlan(t))
	return p.(*canonStruct)
}

// buildCanonPlan lists a struct's members as encoding/json writes them,
// sorted as JCS orders them.
func buildCanonPlan(t reflect.Type) *canonStruct {
	p := &canonStruct{}
	seen := map[string]bool{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous {
			return &canonStruct{slow: true}
		}
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		if !plainOptions(opts) || !validTagName(name) || seen[name] {
			return &canonStruct{slow: true}
		}
		seen[name] = true
		p.fields = append(p.fields, canonField{name: name, index: i, omitEmpty: strings.Contains(","+opts+",", ",omitempty,"), kind: canonKindOf(f.Type)})
	}
	slices.SortFunc(p.fields, func(a, b canonField) int { return compareUTF16(a.name, b.name) })
	for i := range p.fields {
		p.fields[i].name = string(appendCanonString(nil, p.fields[i].name))
	}
	return p
}

// plainOptions reports whether a json tag's options are at most omitempty.
func plainOptions(opts string) bool {
	for _, o := range strings.Split(opts, ",") {
		if o != "" && o != "omitempty" {
			return false
		}
	}
	return true
}

// validTagName accepts the tag names encoding/json takes as written: ASCII
// letters, digits and the punctuation it allows, nothing to escape.
func validTagName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return s != ""
}

// appendCanonical appends JCS(v) to dst, or fails with errSlowPath.
func appendCanonical(dst []byte, v reflect.Value, depth int) ([]byte, error) {
	if !v.IsValid() {
		if depth > maxCanonDepth {
			return dst, errSlowPath
		}
		return append(dst, "null"...), nil
	}
	return appendCanonicalOf(dst, v, canonKindOf(v.Type()), depth)
}

// appendCanonicalOf is appendCanonical of a valid v whose type is of kind k.
func appendCanonicalOf(dst []byte, v reflect.Value, k canonKind, depth int) ([]byte, error) {
	switch {
	case depth > maxCanonDepth:
		return dst, errSlowPath // encoding/json reports a cycle
	case k == kindRaw:
		return appendCanonicalRaw(dst, v.Bytes())
	case k == kindSlow:
		return dst, errSlowPath // a number literal, or the type's own MarshalJSON or MarshalText
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return append(dst, "null"...), nil
		}
		return appendCanonical(dst, v.Elem(), depth+1)
	case reflect.Struct:
		return appendCanonStruct(dst, v, depth)
	case reflect.Slice:
		return appendCanonSlice(dst, v, depth)
	case reflect.Map:
		return appendCanonMap(dst, v, depth)
	}
	return appendCanonScalar(dst, v)
}

// ownEncoding reports whether encoding/json would call a method of t (or
// of *t) to encode it.
func ownEncoding(t reflect.Type) bool {
	if t.Kind() == reflect.Interface {
		return false
	}
	pt := reflect.PointerTo(t)
	return t.Implements(jsonMarshalerType) || t.Implements(textMarshalerType) ||
		pt.Implements(jsonMarshalerType) || pt.Implements(textMarshalerType)
}

// appendCanonScalar writes booleans, integers within ±(2^53-1) and strings.
func appendCanonScalar(dst []byte, v reflect.Value) ([]byte, error) {
	switch v.Kind() {
	case reflect.Bool:
		return strconv.AppendBool(dst, v.Bool()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if n := v.Int(); n <= MaxSafeInteger && n >= -MaxSafeInteger {
			return strconv.AppendInt(dst, n, 10), nil
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if n := v.Uint(); n <= MaxSafeInteger {
			return strconv.AppendUint(dst, n, 10), nil
		}
	case reflect.String:
		return appendCanonString(dst, v.String()), nil
	}
	return dst, errSlowPath
}

func appendCanonStruct(dst []byte, v reflect.Value, depth int) ([]byte, error) {
	return appendCanonStructOmitting(dst, v, depth, -1)
}

// appendCanonStructOmitting is appendCanonStruct that leaves out the field
// of index omit (none when it is -1), as if it were empty and omitempty.
func appendCanonStructOmitting(dst []byte, v reflect.Value, depth, omit int) ([]byte, error) {
	p := canonPlanOf(v.Type())
	if p.slow {
		return dst, errSlowPath
	}
	dst = append(dst, '{')
	first := true
	var err error
	for _, f := range p.fields {
		fv := v.Field(f.index)
		if f.index == omit || f.omitEmpty && isEmptyJSON(fv) {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, f.name...)
		dst = append(dst, ':')
		if dst, err = appendCanonicalOf(dst, fv, f.kind, depth+1); err != nil {
			return dst, err
		}
	}
	return append(dst, '}'), nil
}

func appendCanonSlice(dst []byte, v reflect.Value, depth int) ([]byte, error) {
	if v.Type().Elem().Kind() == reflect.Uint8 {
		return dst, errSlowPath // base64 in encoding/json
	}
	if v.IsNil() {
		return append(dst, "null"...), nil
	}
	dst = append(dst, '[')
	k := canonKindOf(v.Type().Elem())
	var err error
	for i := 0; i < v.Len(); i++ {
		if i > 0 {
			dst = append(dst, ',')
		}
		if dst, err = appendCanonicalOf(dst, v.Index(i), k, depth+1); err != nil {
			return dst, err
		}
	}
	return append(dst, ']'), nil
}

func appendCanonMap(dst []byte, v reflect.Value, depth int) ([]byte, error) {
	kt := v.Type().Key()
	if kt.Kind() != reflect.String || kt.Implements(textMarshalerType) || reflect.PointerTo(kt).Implements(textMarshalerType) {
		return dst, errSlowPath
	}
	if v.IsNil() {
		return append(dst, "null"...), nil
	}
	keys := make([]string, 0, v.Len())
	for _, k := range v.MapKeys() {
		s := k.String()
		if !utf8.ValidString(s) {
			return dst, errSlowPath // encoding/json would merge keys into U+FFFD
		}
		keys = append(keys, s)
	}
	slices.SortFunc(keys, compareUTF16[string])
	dst = append(dst, '{')
	var err error
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendCanonString(dst, k)
		dst = append(dst, ':')
		if dst, err = appendCanonical(dst, v.MapIndex(reflect.ValueOf(k).Convert(kt)), depth+1); err != nil {
			return dst, err
		}
	}
	return append(dst, '}'), nil
}

// isEmptyJSON is encoding/json's omitempty test.
func isEmptyJSON(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool:
		return !v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int() == 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return v.Uint() == 0
	case reflect.Float32, reflect.Float64:
		return v.Float() == 0
	case reflect.Interface, reflect.Pointer:
		return v.IsNil()
	}
	return false
}

// appendCanonString writes s as JCS does: invalid UTF-8 as U+FFFD (as
// encoding/json leaves it), the two-character escapes for " \ \b \f \n \r
// \t, \u00xx for the other control characters, everything else as is.
func appendCanonString[S string | []byte](dst []byte, s S) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := firstRune(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, s[start:i]...)
				dst = append(dst, "\ufffd"...)
				i++
				start = i
				continue
			}
			i += size
			continue
		}
		dst = append(dst, s[start:i]...)
		dst = appendEscape(dst, c)
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

func appendEscape(dst []byte, c byte) []byte {
	switch c {
	case '"', '\\':
		return append(dst, '\\', c)
	case '\b':
		return append(dst, '\\', 'b')
	case '\f':
		return append(dst, '\\', 'f')
	case '\n':
		return append(dst, '\\', 'n')
	case '\r':
		return append(dst, '\\', 'r')
	case '\t':
		return append(dst, '\\', 't')
	}
	const hexDigits = "0123456789abcdef"
	return append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
}

// compareUTF16 orders two strings by their UTF-16 code units (RFC 8785
// §3.2.3). UTF-8 byte order is code point order, which differs only where
// a character above U+FFFF meets one in U+E000–U+FFFF.
func compareUTF16[S string | []byte](a, b S) int {
	for len(a) > 0 && len(b) > 0 {
		ra, na := firstRune(a)
		rb, nb := firstRune(b)
		if ra != rb {
			return cmpUnits(ra, rb)
		}
		a, b = a[na:], b[nb:]
	}
	return len(a) - len(b)
}

// firstRune decodes the first rune of a non-empty s as
// utf8.DecodeRuneInString does.
func firstRune[S string | []byte](s S) (rune, int) {
	if s[0] < utf8.RuneSelf {
		return rune(s[0]), 1
	}
	return utf8.DecodeRuneInString(string(s[:min(len(s), utf8.UTFMax)]))
}

func cmpUnits(ra, rb rune) int {
	ua, ub := ra, rb
	if ra > 0xffff {
		ua, _ = utf16.EncodeRune(ra)
	}
	if rb > 0xffff {
		ub, _ = utf16.EncodeRune(rb)
	}
	if ua != ub {
		return int(ua) - int(ub)
	}
	return int(ra) - int(rb) // same first unit: both above U+FFFF, order by the rest
}

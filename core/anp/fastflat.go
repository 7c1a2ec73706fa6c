package anp

import (
	"encoding"
	"reflect"
	"strings"
	"sync"
	"unicode/utf8"
)

// flatPlan is how decodeFlatFast reads a struct whose members are all
// scalars (strings, integers, booleans), maps of strings to strings (deal
// terms) or structs of the same kind, such as the offer bodies, Money and
// the propose body: the field of each JSON name.
type flatPlan struct {
	fields map[string]flatField
}

// flatField is one field of a flat struct.
type flatField struct {
	index int
	kind  reflect.Kind
	bits  int // the size of an integer field
	// elem is the plan of a struct field or of the struct a pointer field
	// points to; ptr says which, elemType is the pointed-to type (the
	// map's type, for a map field).
	elem     *flatPlan
	ptr      bool
	elemType reflect.Type
}

// flatPlans memoises flatPlanOf, a pure function of a type: reflect.Type →
// *flatPlan (nil for a type the fast path does not read). It holds one
// entry per Go type decoded, a bounded set.
var flatPlans sync.Map

var textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()

// flatPlanOf returns the plan of struct type t, or nil when the fast path
// does not read it: an embedded field, names encoding/json might read
// otherwise, a field of another kind (float, slice, map but of strings to
// strings, interface), a type
// with its own UnmarshalJSON or UnmarshalText, or the ",string" option.
func flatPlanOf(t reflect.Type) *flatPlan {
	if p, ok := flatPlans.Load(t); ok {
		return p.(*flatPlan)
	}
	p := buildFlatPlan(t, 0)
	flatPlans.Store(t, p)
	return p
}

// maxFlatDepth bounds the nesting of flat structs (and so recursive types).
const maxFlatDepth = 4

func buildFlatPlan(t reflect.Type, depth int) *flatPlan {
	if depth > maxFlatDepth || t.Kind() != reflect.Struct || ownDecoding(t) || !plainStruct(t) {
		return nil
	}
	p := &flatPlan{fields: make(map[string]flatField, t.NumField())}
	for i := range t.NumField() {
		sf := t.Field(i)
		name, opts, decoded := jsonName(sf)
		if !decoded {
			continue
		}
		f, ok := flatFieldOf(sf.Type, depth)
		if !ok || hasOption(opts, "string") {
			return nil
		}
		f.index = i
		p.fields[name] = f
	}
	return p
}

// ownDecoding reports whether encoding/json decodes t by a method of its.
func ownDecoding(t reflect.Type) bool {
	pt := reflect.PointerTo(t)
	return t.Implements(unmarshalerType) || pt.Implements(unmarshalerType) ||
		t.Implements(textUnmarshalerType) || pt.Implements(textUnmarshalerType)
}

func flatFieldOf(ft reflect.Type, depth int) (flatField, bool) {
	f := flatField{kind: ft.Kind()}
	if ft.Kind() == reflect.Pointer {
		if ownDecoding(ft) {
			return f, false
		}
		f.ptr, f.elemType = true, ft.Elem()
		ft = ft.Elem()
		f.kind = ft.Kind()
	}
	if ownDecoding(ft) {
		return f, false
	}
	switch ft.Kind() {
	case reflect.String, reflect.Bool:
		return f, !f.ptr
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		f.bits = ft.Bits()
		return f, !f.ptr
	case reflect.Struct:
		f.elem = buildFlatPlan(ft, depth+1)
		return f, f.elem != nil
	case reflect.Map:
		f.elemType = ft
		return f, !f.ptr && stringsToStrings(ft)
	}
	return f, false
}

// stringsToStrings reports whether map type t has string keys and values
// that encoding/json reads as plain strings.
func stringsToStrings(t reflect.Type) bool {
	k, e := t.Key(), t.Elem()
	return k.Kind() == reflect.String && e.Kind() == reflect.String && !ownDecoding(k) && !ownDecoding(e)
}

// decodeFlatFast fills v, a pointer to a struct with a flat plan, from
// data, which the strict pre-pass has accepted for it with every member a
// field, as json.Unmarshal would. It reads data twice: once to be sure of
// every member (else it reports false and leaves v as it was), then to
// fill v.
func decodeFlatFast(data []byte, v any) bool {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return false
	}
	p := flatPlanOf(rv.Elem().Type())
	if p == nil {
		return false
	}
	check := envReader{data: data}
	if !check.flatObject(p, reflect.Value{}) || check.skipSpace() != len(data) {
		return false
	}
	fill := envReader{data: data}
	return fill.flatObject(p, rv.Elem())
}

// flatObject reads an object by plan p into the struct sv, or only checks
// it when sv is the zero Value.
func (r *envReader) flatObject(p *flatPlan, sv reflect.Value) bool {
	return r.object(func(key []byte) bool {
		f, ok := p.fields[string(key)]
		if !ok {
			return false
		}
		var fv reflect.Value
		if sv.IsValid() {
			fv = sv.Field(f.index)
		}
		return r.flatValue(f, fv)
	})
}

// flatValue reads the value of a member into field fv (if valid).
func (r *envReader) flatValue(f flatField, fv reflect.Value) bool {
	switch f.kind {
	case reflect.String:
		return r.flatString(fv)
	case reflect.Bool:
		b, ok := r.boolean()
		if ok && fv.IsValid() {
			fv.SetBool(b)
		}
		return ok
	case reflect.Struct:
		return r.flatStruct(f, fv)
	case reflect.Map:
		return r.flatMap(f, fv)
	}
	return r.flatInteger(fv, f)
}

func (r *envReader) flatString(fv reflect.Value) bool {
	s, ok := r.stringValue(fv.IsValid())
	if ok && fv.IsValid() {
		fv.SetString(s)
	}
	return ok
}

// stringValue reads a string value, decoded as encoding/json decodes it;
// only when keep is set is it made into a string.
func (r *envReader) stringValue(keep bool) (string, bool) {
	m, ok := r.str()
	if !ok {
		return "", false
	}
	content := r.data[m.start:m.end]
	if !m.escaped {
		if keep {
			return string(content), true
		}
		return "", true
	}
	var b strings.Builder
	b.Grow(len(content))
	if !writeUnescaped(&b, content) {
		return "", false
	}
	return b.String(), true
}

// flatMap reads an object of strings into a map field, made when it is
// nil and added to when it is not, as encoding/json does. Keys with an
// escape or invalid UTF-8 are left to encoding/json.
func (r *envReader) flatMap(f flatField, fv reflect.Value) bool {
	if r.skipSpace() >= len(r.data) || r.data[r.i] != '{' {
		return false
	}
	if fv.IsValid() && fv.IsNil() {
		fv.Set(reflect.MakeMap(f.elemType))
	}
	var plain map[string]string // the map itself, when it is of that type
	if fv.IsValid() && fv.CanInterface() {
		plain, _ = fv.Interface().(map[string]string)
	}
	return r.object(func(key []byte) bool {
		if !utf8.Valid(key) {
			return false
		}
		value, ok := r.stringValue(fv.IsValid())
		switch {
		case !ok || !fv.IsValid():
			return ok
		case plain != nil:
			plain[string(key)] = value
		default:
			k, v := reflect.New(f.elemType.Key()).Elem(), reflect.New(f.elemType.Elem()).Elem()
			k.SetString(string(key))
			v.SetString(value)
			fv.SetMapIndex(k, v)
		}
		return true
	})
}

// flatStruct reads an object into a struct field, or into the struct a
// pointer field points to (a new one when it is nil, as encoding/json does).
func (r *envReader) flatStruct(f flatField, fv reflect.Value) bool {
	if r.skipSpace() >= len(r.data) || r.data[r.i] != '{' {
		return false
	}
	if fv.IsValid() && f.ptr {
		if fv.IsNil() {
			fv.Set(reflect.New(f.elemType))
		}
		fv = fv.Elem()
	}
	return r.flatObject(f.elem, fv)
}

// flatInteger reads an integer into a field of an integer kind, refusing
// one the field cannot hold.
func (r *envReader) flatInteger(fv reflect.Value, f flatField) bool {
	unsigned := f.kind >= reflect.Uint && f.kind <= reflect.Uint64
	x, ok := r.integer(!unsigned)
	if !ok || !fitsBits(x, f.bits, unsigned) {
		return false
	}
	switch {
	case !fv.IsValid():
	case unsigned:
		fv.SetUint(uint64(x))
	default:
		fv.SetInt(x)
	}
	return true
}

// fitsBits reports whether x, which is within ±MaxSafeInteger (and not
// negative when unsigned), fits an integer of the given size.
func fitsBits(x int64, bits int, unsigned bool) bool {
	switch {
	case bits >= 64:
		return true
	case unsigned:
		return x < 1<<bits
	}
	return x >= -1<<(bits-1) && x < 1<<(bits-1)
}

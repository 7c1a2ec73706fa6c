package anp

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// decodeEnvelopeFast fills e from data, a JSON object the strict pre-pass
// has accepted for Envelope with every member a field (so its shape,
// duplicates, key spellings, integer ranges, nulls and UTF-8 are judged),
// without encoding/json's reflection. It reads what json.Unmarshal reads:
// strings unescaped as encoding/json unescapes them, the body as its exact
// bytes. It reports false, leaving e as it was, for anything it is not
// sure of (a key with an escape, a value of another type than its field's,
// a number other than a plain integer, null); the caller then decodes with
// json.Unmarshal, whose result stands.
func decodeEnvelopeFast(data []byte, e *Envelope) bool {
	r := envReader{data: data}
	n := *e
	var body []byte
	envelopeMember := func(key []byte) bool { return r.member(key, &n, &body) }
	if !r.object(envelopeMember) || r.skipSpace() != len(data) || !r.fillStrings(&n) {
		return false
	}
	if body != nil {
		// json.RawMessage's UnmarshalJSON reuses the slice it had.
		n.Body = append(e.Body[:0], body...)
	}
	*e = n
	return true
}

// decodeRelayResponseFast is decodeEnvelopeFast for a RelayResponse: its
// reply is read by decodeEnvelopeFast (into the envelope it points to
// already, if any, as encoding/json does).
func decodeRelayResponseFast(data []byte, out *RelayResponse) bool {
	r := envReader{data: data}
	pending := out.Pending
	var reply []byte
	relayMember := func(key []byte) bool {
		switch string(key) {
		case "reply":
			reply, _ = r.rawValue()
			return len(reply) > 0 && reply[0] == '{'
		case "pending":
			var ok bool
			pending, ok = r.boolean()
			return ok
		}
		return false
	}
	if !r.object(relayMember) || r.skipSpace() != len(data) {
		return false
	}
	if reply != nil {
		e := out.Reply
		if e == nil {
			e = new(Envelope)
		}
		if !decodeEnvelopeFast(reply, e) {
			return false
		}
		out.Reply = e
	}
	out.Pending = pending
	return true
}

// envReader reads an envelope's JSON object at data[i:].
type envReader struct {
	data []byte
	i    int
	// strings are the string members read, filled in by fillStrings.
	strings [8]stringMember
	count   int
}

// stringMember is a string member: its field and where its contents are
// in the input.
type stringMember struct {
	field      int // an index of envelopeStrings
	start, end int
	escaped    bool
}

// fillStrings decodes the string members into their fields, as slices of
// one string, except the session id, which gets a string of its own: the
// parties keep session ids as map keys long after the envelope is gone,
// and a slice would keep every other member's text alive with it.
// Decoding never makes a string longer than its contents.
func (r *envReader) fillStrings(n *Envelope) bool {
	total := 0
	for _, m := range r.strings[:r.count] {
		total += m.end - m.start
	}
	var b strings.Builder
	b.Grow(total)
	var bounds [len(r.strings)]int
	for i, m := range r.strings[:r.count] {
		if m.field == envelopeSession {
			continue
		}
		if !writeMember(&b, r.data[m.start:m.end], m.escaped) {
			return false
		}
		bounds[i] = b.Len()
	}
	text := b.String()
	start := 0
	for i, m := range r.strings[:r.count] {
		if m.field == envelopeSession {
			var own strings.Builder
			if !writeMember(&own, r.data[m.start:m.end], m.escaped) {
				return false
			}
			n.Session = own.String()
			continue
		}
		*n.stringField(m.field) = text[start:bounds[i]]
		start = bounds[i]
	}
	return true
}

// writeMember writes a string member's contents, unescaped.
func writeMember(b *strings.Builder, content []byte, escaped bool) bool {
	if !escaped {
		b.Write(content)
		return true
	}
	return writeUnescaped(b, content)
}

func (r *envReader) skipSpace() int {
	r.i = skipSpace(r.data, r.i)
	return r.i
}

// next skips white space and consumes c if it is the next byte.
func (r *envReader) next(c byte) bool {
	if r.skipSpace() < len(r.data) && r.data[r.i] == c {
		r.i++
		return true
	}
	return false
}

// object reads the members of an object, each value by member.
func (r *envReader) object(member func(key []byte) bool) bool {
	if !r.next('{') {
		return false
	}
	if r.next('}') {
		return true
	}
	for {
		key, ok := r.key()
		if !ok || !r.next(':') || !member(key) {
			return false
		}
		if r.next('}') {
			return true
		}
		if !r.next(',') {
			return false
		}
	}
}

// key reads a member's key that has no escape.
func (r *envReader) key() ([]byte, bool) {
	if !r.next('"') {
		return nil, false
	}
	start := r.i
	for ; r.i < len(r.data); r.i++ {
		switch c := r.data[r.i]; {
		case c == '"':
			r.i++
			return r.data[start : r.i-1], true
		case c == '\\' || c < ' ':
			return nil, false
		}
	}
	return nil, false
}

// member reads the value of the member key into its field.
func (r *envReader) member(key []byte, n *Envelope, body *[]byte) bool {
	var ok bool
	switch string(key) {
	case "v":
		var x int64
		x, ok = r.integer(true)
		n.V = int(x)
	case "seq":
		var x int64
		x, ok = r.integer(false)
		n.Seq = uint64(x)
	case "ts":
		n.TS, ok = r.integer(true)
	case "exp":
		n.Exp, ok = r.integer(true)
	case "body":
		*body, ok = r.rawValue()
	default:
		return r.stringMember(key)
	}
	return ok
}

// envelopeStrings are the names of the string members of an envelope.
var envelopeStrings = [...]string{"type", "session", "prev", "from", "to", "nonce", "sig"}

// envelopeSession is the index of "session" in envelopeStrings.
const envelopeSession = 1

// stringField is the field of the string member envelopeStrings[i].
func (e *Envelope) stringField(i int) *string {
	switch envelopeStrings[i] {
	case "type":
		return (*string)(&e.Type)
	case "session":
		return &e.Session
	case "prev":
		return &e.Prev
	case "from":
		return &e.From
	case "to":
		return &e.To
	case "nonce":
		return &e.Nonce
	}
	return &e.Sig
}

// stringMember reads the value of a string member.
func (r *envReader) stringMember(key []byte) bool {
	field := slices.Index(envelopeStrings[:], string(key))
	if field < 0 {
		return false
	}
	if r.count == len(r.strings) {
		return false
	}
	m, ok := r.str()
	if !ok {
		return false
	}
	m.field = field
	r.strings[r.count] = m
	r.count++
	return true
}

// integer reads an integer literal within ±MaxSafeInteger (negative only
// when signed), the only numbers the strict pre-pass lets through.
func (r *envReader) integer(signed bool) (int64, bool) {
	r.skipSpace()
	neg := r.i < len(r.data) && r.data[r.i] == '-'
	if neg {
		if !signed {
			return 0, false
		}
		r.i++
	}
	start := r.i
	var x int64
	for ; r.i < len(r.data) && r.data[r.i] >= '0' && r.data[r.i] <= '9'; r.i++ {
		x = x*10 + int64(r.data[r.i]-'0')
		if x > MaxSafeInteger {
			return 0, false
		}
	}
	digits := r.i - start
	if digits == 0 || digits > 1 && r.data[start] == '0' || !r.delimited() {
		return 0, false
	}
	if neg {
		x = -x
	}
	return x, true
}

// boolean reads true or false.
func (r *envReader) boolean() (value, ok bool) {
	start := r.skipSpace()
	for r.i < len(r.data) && r.data[r.i] >= 'a' && r.data[r.i] <= 'z' {
		r.i++
	}
	switch string(r.data[start:r.i]) {
	case "true":
		return true, r.delimited()
	case "false":
		return false, r.delimited()
	}
	return false, false
}

// delimited reports whether a literal ending at r.i is followed by what
// may follow a member's value.
func (r *envReader) delimited() bool {
	if r.i == len(r.data) {
		return true
	}
	switch r.data[r.i] {
	case ' ', '\t', '\n', '\r', ',', '}':
		return true
	}
	return false
}

// rawValue returns the bytes of the next value (an object, array, string,
// number or boolean; not null), which the pre-pass has found well formed.
func (r *envReader) rawValue() ([]byte, bool) {
	start := r.skipSpace()
	if start >= len(r.data) {
		return nil, false
	}
	switch r.data[start] {
	case '{', '[':
		if !r.skipContainer() {
			return nil, false
		}
	case '"':
		if _, ok := r.stringEnd(); !ok {
			return nil, false
		}
	case 'n':
		return nil, false
	default:
		for r.i < len(r.data) && !r.delimited() && r.data[r.i] != ']' {
			r.i++
		}
	}
	return r.data[start:r.i], r.i > start
}

// skipContainer moves past the object or array at r.i.
func (r *envReader) skipContainer() bool {
	depth := 0
	for r.i < len(r.data) {
		switch r.data[r.i] {
		case '"':
			if _, ok := r.stringEnd(); !ok {
				return false
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		}
		r.i++
		if depth == 0 {
			return true
		}
	}
	return false
}

// stringEnd moves past the string at r.i and reports whether it has an
// escape.
func (r *envReader) stringEnd() (escaped, ok bool) {
	for j := r.i + 1; j < len(r.data); j++ {
		switch r.data[j] {
		case '"':
			r.i = j + 1
			return escaped, true
		case '\\':
			escaped = true
			j++
		}
	}
	return false, false
}

// str finds a string value: where its contents are and whether they have
// an escape. Contents without one must be valid UTF-8 without control
// characters.
func (r *envReader) str() (stringMember, bool) {
	start := r.skipSpace()
	if start >= len(r.data) || r.data[start] != '"' {
		return stringMember{}, false
	}
	escaped, ok := r.stringEnd()
	m := stringMember{start: start + 1, end: r.i - 1, escaped: escaped}
	return m, ok && (escaped || plainText(r.data[m.start:m.end]))
}

// plainText reports whether s is valid UTF-8 without control characters.
func plainText(s []byte) bool {
	for _, c := range s {
		if c < ' ' {
			return false
		}
	}
	return utf8.Valid(s)
}

// writeUnescaped writes the contents of a JSON string with escapes, s,
// decoded as encoding/json decodes them: \uXXXX escapes of a valid
// surrogate pair make one rune, a surrogate that is not half of a pair
// becomes U+FFFD. Control characters, invalid UTF-8 and unknown escapes
// report false.
func writeUnescaped(b *strings.Builder, s []byte) bool {
	for r := 0; r < len(s); {
		c := s[r]
		switch {
		case c == '\\':
			var ok bool
			if r, ok = writeEscape(b, s, r); !ok {
				return false
			}
		case c < ' ' || c == '"':
			return false
		case c < utf8.RuneSelf:
			b.WriteByte(c)
			r++
		default:
			rr, size := utf8.DecodeRune(s[r:])
			if rr == utf8.RuneError && size == 1 {
				return false
			}
			b.Write(s[r : r+size])
			r += size
		}
	}
	return true
}

// writeEscape writes what the escape at s[r] stands for and returns where
// the text after it starts.
func writeEscape(b *strings.Builder, s []byte, r int) (int, bool) {
	if r+1 >= len(s) {
		return r, false
	}
	if c, ok := simpleEscapes[s[r+1]]; ok {
		b.WriteByte(c)
		return r + 2, true
	}
	rr := hexRune(s[r:])
	if rr < 0 {
		return r, false
	}
	r += 6
	if utf16.IsSurrogate(rr) {
		if dec := utf16.DecodeRune(rr, hexRune(s[r:])); dec != unicode.ReplacementChar {
			b.WriteRune(dec)
			return r + 6, true
		}
		rr = unicode.ReplacementChar
	}
	b.WriteRune(rr)
	return r, true
}

// hexRune is the rune of the \uXXXX escape at the start of s, or -1.
func hexRune(s []byte) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	var x rune
	for _, c := range s[2:6] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		x = x*16 + rune(c)
	}
	return x
}

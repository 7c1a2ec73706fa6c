package anp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
)

// ErrEmptyMember is the failure of a one-form object — an envelope body,
// deal terms, an artifact, an endpoint record — that holds an optional
// member (omitempty) with its empty value ("", false, 0, {} or []; a null
// is refused anywhere, as ErrNullMember):
// the member must be left out, so that every object has one signed form.
// Strict decoding refuses it (DecodeStrict), naming the member's path.
var ErrEmptyMember = errors.New("optional member is present with its empty value and must be omitted")

// oneFormObject marks the structs whose optional members MUST be omitted
// when empty (docs/protocol.md §3, "Members omitted when empty"): strict
// decoding refuses such a member present with its empty value. The
// envelope and the WebSocket auth object are not marked: their one
// optional member is the signature, and one that is empty is a missing
// signature (bad_signature).
type oneFormObject interface{ omitsEmptyMembers() }

func (ProposeBody) omitsEmptyMembers()    {}
func (OfferBody) omitsEmptyMembers()      {}
func (NoteBody) omitsEmptyMembers()       {}
func (DealTerms) omitsEmptyMembers()      {}
func (Artifact) omitsEmptyMembers()       {}
func (EndpointRecord) omitsEmptyMembers() {}

var oneFormType = reflect.TypeFor[oneFormObject]()

// isOneFormType reports whether struct type t is a one-form object.
func isOneFormType(t reflect.Type) bool {
	return t.Implements(oneFormType) || reflect.PointerTo(t).Implements(oneFormType)
}

// hasOption reports whether a json tag's options (after the name) hold opt.
func hasOption(opts, opt string) bool {
	for o := range strings.SplitSeq(opts, ",") {
		if o == opt {
			return true
		}
	}
	return false
}

// emptyValue reports whether the value starting with tok is empty in the
// sense of omitempty: "", false, a zero number, {} or [] (a null never gets
// here: value refuses it first). For an object or list it peeks whether a
// member follows.
func (s *strictScan) emptyValue(tok json.Token) bool {
	switch tok := tok.(type) {
	case string:
		return tok == ""
	case bool:
		return !tok
	case json.Number:
		f, err := tok.Float64()
		return err == nil && f == 0
	case json.Delim:
		return (tok == '{' || tok == '[') && !s.dec.More()
	}
	return false
}

// oneForm checks that raw, decoded into v, is the canonical form of v:
// JCS(raw) equals JCS(v). Strict decoding has already refused unknown,
// duplicate and case-variant keys, so what remains is a member that the
// encoding of v leaves out: an optional member present with its empty value.
// The error names its path (body.message, body.artifact.seller_sig).
func oneForm(raw []byte, v any) error {
	gotBuf, wantBuf := borrowScratch(), borrowScratch()
	got, err := appendCanonicalRaw(gotBuf.b[:0], raw)
	if err != nil { // what the raw reader leaves to the reference path
		got, err = appendCanonicalAny(got[:0], json.RawMessage(raw))
	}
	defer func() { gotBuf.giveBack(got) }()
	if err != nil {
		return &DecodeError{Path: "body", Err: err}
	}
	want, err := appendCanonicalAny(wantBuf.b[:0], v)
	defer func() { wantBuf.giveBack(want) }()
	if err != nil {
		return &DecodeError{Path: "body", Err: err}
	}
	if bytes.Equal(got, want) {
		return nil
	}
	var a, b any
	if json.Unmarshal(got, &a) != nil || json.Unmarshal(want, &b) != nil {
		return &DecodeError{Path: "body", Err: ErrEmptyMember}
	}
	return &DecodeError{Path: extraMember("body", a, b), Err: ErrEmptyMember}
}

// extraMember returns the path of the first member of a that b lacks,
// descending through objects present in both; path itself if none is found.
func extraMember(path string, a, b any) string {
	ao, ok1 := a.(map[string]any)
	bo, ok2 := b.(map[string]any)
	if !ok1 || !ok2 {
		return path
	}
	keys := make([]string, 0, len(ao))
	for k := range ao {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		bv, ok := bo[k]
		if !ok {
			return path + "." + k
		}
		if fmt.Sprint(ao[k]) != fmt.Sprint(bv) {
			return extraMember(path+"."+k, ao[k], bv)
		}
	}
	return path
}

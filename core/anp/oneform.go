package anp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
)

// ErrEmptyMember is the failure of a body that holds an optional member
// (omitempty) with its empty value ("", false, 0, null, {} or []): the
// member must be left out, so that every body has one signed form.
var ErrEmptyMember = errors.New("optional member is present with its empty value and must be omitted")

// oneForm checks that raw, decoded into v, is the canonical form of v:
// JCS(raw) equals JCS(v). Strict decoding has already refused unknown,
// duplicate and case-variant keys, so what remains is a member that the
// encoding of v leaves out: an optional member present with its empty value.
// The error names its path (body.message, body.artifact.seller_sig).
func oneForm(raw []byte, v any) error {
	got, err := Canonical(json.RawMessage(raw))
	if err != nil {
		return &DecodeError{Path: "body", Err: err}
	}
	want, err := Canonical(v)
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

package tools

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// A duplicate argument has two readings (the schema validator and the
// tool's decoder may each take a different one): it is refused, naming it.
func TestValidateRefusesDuplicateArguments(t *testing.T) {
	schema := json.RawMessage(`{"type":"object","properties":{"max_budget":{"type":"number","maximum":5000},"item":{"type":"object"}}}`)
	v, err := newInputValidator("t", schema)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args, want string // want: "" for accepted, else text the error must contain
	}{
		{`{"max_budget":1000}`, ""},
		{`{"max_budget":1,"max_budget":1000}`, `argument max_budget appears more than once`},
		{`{"max_budget":1000,"max_budget":1}`, `argument max_budget appears more than once`},
		{`{"item":{"sku":"a","sku":"b"}}`, `argument item.sku appears more than once`},
		{`{"max_budget":1,"max_budget":9000}`, `argument max_budget appears more than once`},
		// null is no way to leave out an optional argument: the schema refuses it.
		{`{"max_budget":null}`, `argument max_budget: got null, want number`},
	}
	for _, tt := range tests {
		err := v.validate([]byte(tt.args))
		if tt.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tt.args, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.args, err, tt.want)
			continue
		}
		if got := classify(err); got != CodeInvalidInput {
			t.Errorf("%s: code %q, want %q", tt.args, got, CodeInvalidInput)
		}
	}
}

// TestValidateRemembersOnlyAcceptedArguments: arguments accepted once are
// accepted again from memory; a refusal is never remembered as an
// acceptance, arguments differing by one byte are read afresh, and the
// memory stays bounded.
func TestValidateRemembersOnlyAcceptedArguments(t *testing.T) {
	v, err := newInputValidator("t", json.RawMessage(`{"type":"object","properties":{"max_budget":{"type":"number","maximum":5000}}}`))
	if err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 3; round++ {
		if err := v.validate([]byte(`{"max_budget":1000}`)); err != nil {
			t.Fatalf("round %d: accepted arguments refused: %v", round, err)
		}
		for _, bad := range []string{`{"max_budget":10000}`, `{"max_budget":1000,"max_budget":1000}`, `{"max_budget":"1000"}`} {
			if err := v.validate([]byte(bad)); err == nil {
				t.Fatalf("round %d: %s accepted", round, bad)
			}
		}
	}
	if n := v.valid.len(); n != 1 {
		t.Fatalf("validator remembers %d argument sets, want 1 (only the accepted one)", n)
	}
	for i := 0; i < maxConforming+10; i++ {
		if err := v.validate([]byte(fmt.Sprintf(`{"max_budget":%d}`, i))); err != nil {
			t.Fatal(err)
		}
	}
	if n := v.valid.len(); n == 0 || n > maxConforming {
		t.Fatalf("validator remembers %d argument sets, want 1..%d", n, maxConforming)
	}
}

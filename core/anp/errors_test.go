package anp_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

func TestErrorf(t *testing.T) {
	err := anp.Errorf(anp.CodeNotFound, "session %s is unknown", "s1")
	if err.Code != anp.CodeNotFound || err.Message != "session s1 is unknown" || err.Error() != "not_found: session s1 is unknown" {
		t.Fatalf("Errorf = %+v, %q", err, err.Error())
	}
}

func TestCodeOf(t *testing.T) {
	base := anp.Errorf(anp.CodeReplay, "seen")
	tests := []struct {
		err  error
		want anp.Code
	}{
		{base, anp.CodeReplay},
		{fmt.Errorf("registry: relay to shop.anp: %w", base), anp.CodeReplay},
		{fmt.Errorf("outer: %w", fmt.Errorf("inner: %w", anp.ErrBadSignature)), anp.CodeBadSignature},
		{errors.New("plain"), ""},
		{nil, ""},
		{fmt.Errorf("not wrapped: %v", base), ""},
	}
	for _, tt := range tests {
		if got := anp.CodeOf(tt.err); got != tt.want {
			t.Errorf("CodeOf(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

func TestErrorBodyJSON(t *testing.T) {
	got := string(mustJSON(t, anp.ErrorBody{Error: anp.Errorf(anp.CodeTooLarge, "body is 70000 bytes")}))
	if want := `{"error":{"code":"too_large","message":"body is 70000 bytes"}}`; got != want {
		t.Fatalf("ErrorBody = %s, want %s", got, want)
	}
	var back anp.ErrorBody
	if err := anp.DecodeStrict([]byte(got), &back); err != nil || back.Error.Code != anp.CodeTooLarge {
		t.Fatalf("decode = %+v, %v", back, err)
	}
}

func TestCodesAreDistinct(t *testing.T) {
	codes := []anp.Code{anp.CodeBadRequest, anp.CodeBadSignature, anp.CodeUnauthorized, anp.CodeForbidden, anp.CodeNotFound,
		anp.CodeConflict, anp.CodeExpired, anp.CodeReplay, anp.CodeOutOfOrder, anp.CodeUnknownType, anp.CodeBadState,
		anp.CodeRefused, anp.CodeTooLarge, anp.CodeRateLimited, anp.CodeUnavailable, anp.CodeInternal}
	seen := map[anp.Code]bool{}
	for _, c := range codes {
		if c == "" || seen[c] {
			t.Errorf("code %q is empty or repeated", c)
		}
		seen[c] = true
	}
	if anp.ErrBadSignature.Code != anp.CodeBadSignature {
		t.Fatal("ErrBadSignature has the wrong code")
	}
}

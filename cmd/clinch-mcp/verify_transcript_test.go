package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// TestVerifyWithTranscript: verify checks a transcript given beside the
// artifact (--transcript, as a list or as the MCP transcript resource) or in
// a bundle against the deal it must bind, and refuses one that does not
// match the artifact — too short, reordered, an envelope changed, a
// duplicate key — naming the failure and its code.
func TestVerifyWithTranscript(t *testing.T) {
	var v struct {
		RootKey    string            `json:"root_key"`
		Transcript []json.RawMessage `json:"transcript"`
		Artifact   json.RawMessage   `json:"artifact"`
	}
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "anp", "artifact.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := func(name string, value any) string {
		t.Helper()
		b, err := json.Marshal(value)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	tr := make([]json.RawMessage, len(v.Transcript))
	for i, raw := range v.Transcript {
		var b bytes.Buffer
		if err := json.Compact(&b, raw); err != nil {
			t.Fatal(err)
		}
		tr[i] = b.Bytes()
	}
	edit := func(raw json.RawMessage, old, new string) json.RawMessage {
		t.Helper()
		if !strings.Contains(string(raw), old) {
			t.Fatalf("%q not in %s", old, raw)
		}
		return json.RawMessage(strings.Replace(string(raw), old, new, 1))
	}
	artifact := file("deal.json", v.Artifact)
	changed := append([]json.RawMessage(nil), tr...)
	changed[1] = edit(tr[1], `"amount":`, `"amount":1`)
	dup := append([]json.RawMessage(nil), tr...)
	dup[0] = edit(tr[0], `"seq":1`, `"seq":1,"seq":1`)
	for _, tc := range []struct {
		name string
		args []string
		code anp.Code // "" when it verifies
		want string   // in the output or the error
	}{
		{"artifact alone", []string{"verify", artifact}, "", "no transcript given"},
		{"transcript as a list", []string{"verify", artifact, "--transcript", file("t1.json", tr)}, "", "the transcript (4 envelopes) is the one the deal binds"},
		{"transcript resource", []string{"verify", artifact, "--transcript", file("t2.json", map[string]any{"session_id": "0123456789abcdef0123456789abcdef", "envelopes": tr})}, "", "is the one the deal binds"},
		{"bundle", []string{"verify", file("b1.json", map[string]any{"artifact": v.Artifact, "transcript": tr})}, "", "is the one the deal binds"},
		{"too short", []string{"verify", artifact, "--transcript", file("t3.json", tr[:3])}, anp.CodeBadRequest, "transcript has 3 envelopes, the deal binds 4"},
		{"empty", []string{"verify", file("b2.json", map[string]any{"artifact": v.Artifact, "transcript": []any{}})}, anp.CodeBadRequest, "transcript has 0 envelopes"},
		{"reordered", []string{"verify", artifact, "--transcript", file("t4.json", []json.RawMessage{tr[0], tr[2], tr[1], tr[3]})}, anp.CodeOutOfOrder, "transcript"},
		{"a counter changed", []string{"verify", artifact, "--transcript", file("t5.json", changed)}, anp.CodeBadSignature, "transcript"},
		{"the ACCEPT replaced by a repeated COUNTER", []string{"verify", artifact, "--transcript", file("t6.json", append(append([]json.RawMessage(nil), tr[:3]...), tr[2]))}, anp.CodeOutOfOrder, "transcript"},
		{"duplicate key in an envelope", []string{"verify", artifact, "--transcript", file("t7.json", dup)}, anp.CodeBadRequest, "duplicate key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, out, _ := testEnv(t, nil)
			err := run(context.Background(), env, append(tc.args, "--registry-key", v.RootKey))
			if tc.code == "" {
				if err != nil || !strings.Contains(out.String(), tc.want) {
					t.Fatalf("verify: %v\n%s", err, out.String())
				}
				return
			}
			var ee *exitError
			if !errors.As(err, &ee) || ee.code != 1 || anp.CodeOf(err) != tc.code || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("verify = %v (code %s), want exit 1 with %s naming %q", err, anp.CodeOf(err), tc.code, tc.want)
			}
			// --json says the same.
			env, out, _ = testEnv(t, nil)
			_ = run(context.Background(), env, append(tc.args, "--registry-key", v.RootKey, "--json"))
			var res struct {
				OK    bool     `json:"ok"`
				Code  anp.Code `json:"code"`
				Error string   `json:"error"`
			}
			if err := json.Unmarshal([]byte(out.String()), &res); err != nil || res.OK || res.Code != tc.code {
				t.Fatalf("--json: %s (%v)", out.String(), err)
			}
		})
	}
	// A transcript in the bundle and another from --transcript is ambiguous.
	env, _, _ := testEnv(t, nil)
	bundle := file("b3.json", map[string]any{"artifact": v.Artifact, "transcript": tr})
	if err := run(context.Background(), env, []string{"verify", bundle, "--transcript", file("t8.json", tr)}); err == nil || !strings.Contains(err.Error(), "second one") {
		t.Fatalf("two transcripts: %v", err)
	}
}

// FuzzParseTranscript: any transcript file either fails to parse or gives
// envelopes that the deal check reads without panicking, and a file that
// parses is refused or accepted the same way whatever its form (a list or
// the resource object).
func FuzzParseTranscript(f *testing.F) {
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "anp", "artifact.json"))
	if err != nil {
		f.Fatal(err)
	}
	var v struct {
		Transcript json.RawMessage `json:"transcript"`
		Artifact   json.RawMessage `json:"artifact"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		f.Fatal(err)
	}
	var a anp.Artifact
	if err := anp.DecodeStrict(v.Artifact, &a); err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(v.Transcript))
	f.Add([]byte(`{"session_id":"0123456789abcdef0123456789abcdef","envelopes":` + string(v.Transcript) + `}`))
	for _, s := range []string{`[]`, `{}`, `null`, `[null]`, `[{"seq":1,"seq":2}]`, `{"envelopes":[{}],"Envelopes":[]}`, `[1]`, `{"envelopes":null}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		envs, err := parseTranscript(data)
		if err != nil {
			return
		}
		for i, e := range envs {
			if e == nil {
				t.Fatalf("envelope %d of %q parsed to nil", i+1, data)
			}
		}
		listErr := anp.VerifyDealTranscript(&a.Terms, envs)
		wrapped, err := json.Marshal(map[string]any{"envelopes": envs})
		if err != nil {
			t.Fatal(err)
		}
		again, err := parseTranscript(wrapped)
		if err != nil {
			t.Fatalf("the envelopes of %q do not parse again as a resource: %v", data, err)
		}
		if objErr := anp.VerifyDealTranscript(&a.Terms, again); (listErr == nil) != (objErr == nil) {
			t.Fatalf("%q: %v, as a resource %v", data, listErr, objErr)
		}
	})
}

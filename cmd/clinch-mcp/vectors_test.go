package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var vectorsDir = filepath.Join("..", "..", "testdata", "anp")

// TestVectorsRunnerPasses runs the conformance runner over the repository's
// vectors: every file passes and gets one line.
func TestVectorsRunnerPasses(t *testing.T) {
	env, out, _ := testEnv(t, nil)
	if err := run(context.Background(), env, []string{"vectors", vectorsDir}); err != nil {
		t.Fatalf("vectors: %v\n%s", err, out.String())
	}
	files, err := filepath.Glob(filepath.Join(vectorsDir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no vector files: %v", err)
	}
	for _, f := range files {
		if !strings.Contains(out.String(), "ok   "+filepath.Base(f)+": ") {
			t.Errorf("no ok line for %s in:\n%s", filepath.Base(f), out.String())
		}
	}
	if !strings.Contains(out.String(), " cases, 0 failed\n") {
		t.Errorf("summary line missing:\n%s", out.String())
	}
}

// TestVectorsRunnerFails: a copy of one vector file with one expectation
// flipped, or with its expectations removed, makes the runner fail, name the
// file and the case, and exit 1.
func TestVectorsRunnerFails(t *testing.T) {
	cases := []struct {
		name, file, old, new, want string
	}{
		{"valid address expected refused", "addresses.json", `"expect": "valid"`, `"expect": "label_character"`, "expect label_character, got valid"},
		{"refused address expected valid", "addresses.json", `"expect": "address_length"`, `"expect": "valid"`, "expect valid, got address_length"},
		{"tampered proof expected valid", "merkle.json", `"expect": "root_mismatch"`, `"expect": "valid"`, "expect valid, got root_mismatch"},
		{"money refusal renamed", "money.json", `"expect": "amount_format"`, `"expect": "amount_range"`, "expect amount_range, got amount_format"},
		{"envelope signature expected refused", "envelope_accept.json", `"expect": "valid"`, `"expect": "signature_r_small_order"`, "got valid"},
		{"refused relay signature expected valid", "relay.json", `"expect": "relay_stale"`, `"expect": "valid"`, "expect valid, got relay_stale"},
		{"half-signed rotation expected valid", "key_events.json", `"expect": "key_possession"`, `"expect": "valid"`, "expect valid, got key_possession"},
		{"expired grant expected valid", "key_events.json", `"expect": "grant_expired"`, `"expect": "valid"`, "expect valid, got grant_expired"},
		{"no expect at all", "clean_text.json", `"expect": "valid"`, `"expect_not": "valid"`, "expect (missing), got valid"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(vectorsDir, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			n := 1
			if tc.name == "no expect at all" {
				n = -1
			}
			flipped := strings.Replace(string(data), tc.old, tc.new, n)
			if flipped == string(data) {
				t.Fatalf("%s has no %s", tc.file, tc.old)
			}
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, tc.file), []byte(flipped), 0o600); err != nil {
				t.Fatal(err)
			}
			env, out, _ := testEnv(t, nil)
			err = run(context.Background(), env, []string{"vectors", dir})
			var ee *exitError
			if !errors.As(err, &ee) || ee.code != 1 {
				t.Fatalf("vectors = %v, want exit 1\n%s", err, out.String())
			}
			if !strings.Contains(out.String(), "FAIL "+tc.file+":") || !strings.Contains(out.String(), tc.want) {
				t.Fatalf("output does not name the failure %q:\n%s", tc.want, out.String())
			}
		})
	}
}

func TestVectorsRunnerUsage(t *testing.T) {
	env, _, _ := testEnv(t, nil)
	var ee *exitError
	if err := run(context.Background(), env, []string{"vectors"}); !errors.As(err, &ee) || ee.code != 2 {
		t.Fatalf("vectors without DIR = %v, want exit 2", err)
	}
	if err := run(context.Background(), env, []string{"vectors", t.TempDir()}); !errors.As(err, &ee) || ee.code != 1 {
		t.Fatalf("vectors of an empty dir = %v, want exit 1", err)
	}
}

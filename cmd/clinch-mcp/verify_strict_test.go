package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// verify refuses an artifact file with a duplicate or case-variant key even
// though a lenient reader (last key wins, keys folded) finds every
// signature valid: the tampered files are rejections.json's artifact cases.
func TestVerifyRefusesTamperedArtifactFiles(t *testing.T) {
	vectors := filepath.Join("..", "..", "testdata", "anp")
	var art struct {
		RootKey  string          `json:"root_key"`
		Artifact json.RawMessage `json:"artifact"`
	}
	var rej struct {
		Cases []struct {
			Name, Kind, Expect, Data string
		} `json:"cases"`
	}
	for name, v := range map[string]any{"artifact.json": &art, "rejections.json": &rej} {
		data, err := os.ReadFile(filepath.Join(vectors, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, v); err != nil {
			t.Fatal(err)
		}
	}
	env, _, _ := testEnv(t, nil)
	dir := t.TempDir()
	verify := func(data []byte) error {
		path := filepath.Join(dir, "deal.json")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return run(context.Background(), env, []string{"verify", path, "--registry-key", art.RootKey})
	}
	if err := verify(art.Artifact); err != nil {
		t.Fatalf("the untampered artifact: %v", err)
	}
	want := map[string]error{"duplicate_key": anp.ErrDuplicateKey, "key_case": anp.ErrKeyCase}
	n := 0
	for _, c := range rej.Cases {
		if c.Kind != "artifact" || want[c.Expect] == nil {
			continue
		}
		n++
		// What a lenient reader makes of the file: it verifies.
		var lenient anp.Artifact
		if err := json.Unmarshal([]byte(c.Data), &lenient); err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		if err := anp.VerifyArtifact(&lenient, anp.VerifyOptions{RootKey: art.RootKey}); err != nil {
			t.Fatalf("%s: a lenient reader refuses it too (%v), so the case shows nothing", c.Name, err)
		}
		err := verify([]byte(c.Data))
		if !errors.Is(err, want[c.Expect]) || !strings.Contains(err.Error(), "is not an artifact") {
			t.Errorf("%s: verify = %v, want %v", c.Name, err, want[c.Expect])
		}
	}
	if n < 4 {
		t.Fatalf("only %d duplicate or case-variant artifact cases", n)
	}
}

// FuzzParseDealEvents: verify's reading of deal events (a list, or a deal
// status) either refuses the bytes or yields entries that re-encode and
// parse again to the same number of events.
func FuzzParseDealEvents(f *testing.F) {
	for _, s := range []string{`[]`, `{"lifecycle":{},"arbiter":{}}`, `[{"leaf_index":1,"leaf":{"deal_event":{},"registry":{}}}]`, `{"events":null}`, `[null]`, `{"Events":[]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		events, err := parseDealEvents(data)
		if err != nil {
			return
		}
		again, err := json.Marshal(events)
		if err != nil {
			t.Fatalf("parsed events do not encode: %v", err)
		}
		back, err := parseDealEvents(again)
		if err != nil || len(back) != len(events) {
			t.Fatalf("re-encoded events parse to %d, %v; want %d", len(back), err, len(events))
		}
	})
}

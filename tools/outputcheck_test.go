package tools

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/secrets"
)

type checkedOut struct {
	Name  string   `json:"name"`
	Items []string `json:"items"`
	Count int      `json:"count"`
}

// TestOutputCheckerHoldsResultsToSchema: a tool whose result conforms to its
// output schema returns it; one that does not (a nil slice encoded as null
// where the schema says array) returns a tool error naming the member
// instead, every time, whether or not the conforming bytes were seen before.
func TestOutputCheckerHoldsResultsToSchema(t *testing.T) {
	var next checkedOut
	tool := newTool(&Deps{Logger: zerolog.Nop()}, "checked", "Checked", "a tool for the test", Hints{},
		func(context.Context, mcp.CallToolRequest, struct{}) (checkedOut, string, error) {
			return next, "done", nil
		})
	cases := []struct {
		name    string
		out     checkedOut
		wantErr string // "" : the result passes
	}{
		{"conforming", checkedOut{Name: "a", Items: []string{"x"}, Count: 1}, ""},
		{"same bytes again", checkedOut{Name: "a", Items: []string{"x"}, Count: 1}, ""},
		{"null array", checkedOut{Name: "a", Count: 1}, "/items"},
		{"null array again", checkedOut{Name: "a", Count: 1}, "/items"},
		{"empty array", checkedOut{Name: "b", Items: []string{}}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			next = c.out
			res, err := tool.Handler(context.Background(), mcp.CallToolRequest{Params: mcp.CallToolParams{Name: "checked", Arguments: map[string]any{}}})
			if err != nil {
				t.Fatal(err)
			}
			txt := res.Content[0].(mcp.TextContent).Text
			if c.wantErr == "" {
				if res.IsError || res.StructuredContent == nil {
					t.Fatalf("conforming result refused: %s", txt)
				}
				return
			}
			if !res.IsError || res.StructuredContent != nil {
				t.Fatalf("non-conforming result passed: %s", txt)
			}
			if !strings.HasPrefix(txt, "output schema validation failed: ") || !strings.Contains(txt, c.wantErr) {
				t.Fatalf("error %q does not name %s", txt, c.wantErr)
			}
		})
	}
}

// TestOutputCheckerRemembersConformingBytes: conforming bytes are decoded
// and validated once; the memory is bounded.
func TestOutputCheckerRemembersConformingBytes(t *testing.T) {
	def := mcp.NewTool("checked", mcp.WithOutputSchema[checkedOut]())
	def.OutputSchema.Properties = tightenNullable(def.OutputSchema.Properties)
	o, err := newOutputChecker("checked", def.OutputSchema)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < maxConforming+10; i++ {
		r, err := structuredResult(checkedOut{Name: strings.Repeat("n", i%(maxConforming+5)), Items: []string{}}, "s")
		if err != nil {
			t.Fatal(err)
		}
		if got := o.check(r); got.IsError {
			t.Fatalf("result %d refused", i)
		}
	}
	n := o.valid.len()
	if n == 0 || n > maxConforming {
		t.Fatalf("checker remembers %d results, want 1..%d", n, maxConforming)
	}
	var none *outputChecker
	if r := mcp.NewToolResultText("x"); none.check(r) != r {
		t.Fatal("a tool without an output schema must pass its results through")
	}
}

// TestRedactResultReadsEncodedContent: a secret inside structured content
// already encoded is found in the bytes that go out, including one holding
// characters an HTML-escaping encoder would rewrite, and the content that
// remains is the redacted JSON.
func TestRedactResultReadsEncodedContent(t *testing.T) {
	for _, secret := range []string{"s3cr3t-token-value", "tok<en>&amp-value"} {
		g := NewSecretFilter(secrets.NewRedactor(secret))
		r, err := structuredResult(checkedOut{Name: "seller said " + secret, Items: []string{}}, "s")
		if err != nil {
			t.Fatal(err)
		}
		r = g.redactResult(r)
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), secret) || strings.Contains(string(b), strings.NewReplacer("<", `\u003c`, ">", `\u003e`, "&", `\u0026`).Replace(secret)) {
			t.Errorf("secret %q left in the result: %s", secret, b)
		}
		if !strings.Contains(string(b), secrets.Redacted) {
			t.Errorf("secret %q: no redaction mark in %s", secret, b)
		}
	}
}

package tools

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
)

// TestStructuredResultWireBytes: a result whose structured content is the
// JSON encoded once is written, by an HTML-escaping encoder and by one that
// does not escape, exactly as the result that carries the value itself.
func TestStructuredResultWireBytes(t *testing.T) {
	type inner struct {
		Note  string   `json:"note,omitempty"`
		Price float64  `json:"price"`
		Tags  []string `json:"tags"`
	}
	type out struct {
		Text   string            `json:"text"`
		Inner  *inner            `json:"inner,omitempty"`
		Terms  map[string]string `json:"terms"`
		Number int64             `json:"number"`
	}
	values := []out{
		{Text: "plain"},
		{Text: "<<<untrusted seller text>>> & \"quotes\" \\ \u2028\u2029 é \U0001F600 \x01", Terms: map[string]string{"b": "<x>", "a": "&"}, Number: 1 << 53},
		{Text: "", Inner: &inner{Note: "a\nb\tc", Price: 94.5, Tags: []string{"</script>", ""}}},
	}
	for i, v := range values {
		got, err := structuredResult(v, "summary  with\nspaces")
		if err != nil {
			t.Fatal(err)
		}
		var text bytes.Buffer
		enc := json.NewEncoder(&text)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(v)
		want := mcp.NewToolResultStructured(v, "summary with spaces\n"+strings.TrimSuffix(text.String(), "\n"))
		for _, escape := range []bool{true, false} {
			g, w := encodeWith(t, got, escape), encodeWith(t, want, escape)
			if !bytes.Equal(g, w) {
				t.Errorf("value %d (escape HTML %v):\n got  %s\n want %s", i, escape, g, w)
			}
		}
	}
}

func encodeWith(t *testing.T, v any, escapeHTML bool) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(escapeHTML)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

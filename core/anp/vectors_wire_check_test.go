package anp_test

import (
	"encoding/hex"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

func TestCleanTextVectors(t *testing.T) {
	var f struct {
		Description string            `json:"description"`
		Vectors     []cleanTextVector `json:"vectors"`
	}
	readVector(t, "clean_text.json", &f)
	if len(f.Vectors) < 10 {
		t.Fatalf("only %d vectors", len(f.Vectors))
	}
	for _, v := range f.Vectors {
		in, err := hex.DecodeString(v.InputHex)
		if err != nil {
			t.Fatalf("%s: input_hex: %v", v.Description, err)
		}
		if got := anp.CleanText(string(in), v.MaxBytes); got != v.Output {
			t.Errorf("%s: CleanText(%q, %d) = %q, file %q", v.Description, in, v.MaxBytes, got, v.Output)
		}
	}
}

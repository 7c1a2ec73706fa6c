package anp_test

import (
	"encoding/hex"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// Vectors of the wire rules that are not signatures: text cleaning.

type cleanTextVector struct {
	Description string `json:"description"`
	InputHex    string `json:"input_hex"`
	MaxBytes    int    `json:"max_bytes"`
	Output      string `json:"output"`
}

// addWireVectors adds the vector files of the rules in this file to files.
func addWireVectors(tb testing.TB, files map[string][]byte) {
	tb.Helper()
	ct := struct {
		Description string            `json:"description"`
		Vectors     []cleanTextVector `json:"vectors"`
	}{Description: "anp.CleanText: input bytes (hex, they may be invalid UTF-8) and a byte limit give output. " +
		"Invalid UTF-8 bytes and the control characters U+0000-U+001F except newline and tab, and U+007F, are dropped; " +
		"the rest is cut to at most max_bytes bytes at a character boundary."}
	for _, tc := range cleanTextCases {
		got := anp.CleanText(tc.in, tc.max)
		if got != tc.want {
			tb.Fatalf("%s: CleanText = %q, want %q", tc.desc, got, tc.want)
		}
		ct.Vectors = append(ct.Vectors, cleanTextVector{Description: tc.desc, InputHex: hex.EncodeToString([]byte(tc.in)), MaxBytes: tc.max, Output: got})
	}
	files["clean_text.json"] = encodeVector(tb, ct)
}

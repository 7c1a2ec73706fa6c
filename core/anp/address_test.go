package anp_test

import (
	"strings"
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

func TestParseAddress(t *testing.T) {
	label63 := strings.Repeat("a", 63)
	// 4 labels of 63 plus 3 dots = 255 bytes; 62+62+63+63+3 = 253 bytes.
	domain253 := strings.Repeat("b", 62) + "." + strings.Repeat("c", 62) + "." + label63 + "." + label63
	domain254 := "x" + domain253
	tests := []struct {
		name    string
		in      string
		want    anp.Address
		wantErr string
	}{
		{name: "mode C", in: "ANP/C.kitchen-outlet.anp", want: anp.Address{Mode: anp.ModeC, Domain: "kitchen-outlet.anp"}},
		{name: "mode A", in: "ANP/A.shop.example", want: anp.Address{Mode: anp.ModeA, Domain: "shop.example"}},
		{name: "mode B digits and hyphens", in: "ANP/B.a-1.b2.c0m", want: anp.Address{Mode: anp.ModeB, Domain: "a-1.b2.c0m"}},
		{name: "uppercase folded", in: "ANP/C.Kitchen-OUTLET.Anp", want: anp.Address{Mode: anp.ModeC, Domain: "kitchen-outlet.anp"}},
		{name: "label of 63", in: "ANP/C." + label63 + ".anp", want: anp.Address{Mode: anp.ModeC, Domain: label63 + ".anp"}},
		{name: "domain of 253", in: "ANP/C." + domain253, want: anp.Address{Mode: anp.ModeC, Domain: domain253}},
		{name: "numeric inner label", in: "ANP/C.123.anp", want: anp.Address{Mode: anp.ModeC, Domain: "123.anp"}},

		{name: "empty", in: "", wantErr: `must start with "ANP/"`},
		{name: "missing prefix", in: "C.kitchen-outlet.anp", wantErr: `must start with "ANP/"`},
		{name: "lower-case prefix", in: "anp/C.kitchen-outlet.anp", wantErr: `must start with "ANP/"`},
		{name: "lower-case mode", in: "ANP/c.kitchen-outlet.anp", wantErr: "unknown mode"},
		{name: "unknown mode", in: "ANP/D.kitchen-outlet.anp", wantErr: `unknown mode "ANP/D"`},
		{name: "no mode", in: "ANP/.kitchen-outlet.anp", wantErr: "unknown mode"},
		{name: "no domain", in: "ANP/C", wantErr: "has no domain"},
		{name: "empty domain", in: "ANP/C.", wantErr: "domain is empty"},
		{name: "single label", in: "ANP/C.localhost", wantErr: "needs at least two labels"},
		{name: "empty label", in: "ANP/C.kitchen..anp", wantErr: "has an empty label"},
		{name: "trailing dot", in: "ANP/C.kitchen.anp.", wantErr: "has an empty label"},
		{name: "leading dot", in: "ANP/C..kitchen.anp", wantErr: "has an empty label"},
		{name: "underscore", in: "ANP/C.kitchen_outlet.anp", wantErr: "character '_' at label 1 is not allowed"},
		{name: "space", in: "ANP/C.kitchen outlet.anp", wantErr: "character ' ' at label 1 is not allowed"},
		{name: "slash", in: "ANP/C.kitchen.anp/x", wantErr: "character '/' at label 2 is not allowed"},
		{name: "non-ASCII", in: "ANP/C.küche.anp", wantErr: "is not allowed"},
		{name: "label over 63", in: "ANP/C." + label63 + "a.anp", wantErr: "label 1 is 64 bytes long, at most 63 allowed"},
		{name: "domain over 253", in: "ANP/C." + domain254, wantErr: "domain is 254 bytes long, at most 253 allowed"},
		{name: "address over 300", in: "ANP/C." + strings.Repeat("a.", 150) + "anp", wantErr: "at most 300 allowed"},
		{name: "leading hyphen", in: "ANP/C.-kitchen.anp", wantErr: `label "-kitchen" starts or ends with '-'`},
		{name: "trailing hyphen", in: "ANP/C.kitchen-.anp", wantErr: `label "kitchen-" starts or ends with '-'`},
		{name: "hyphen TLD", in: "ANP/C.kitchen.-anp", wantErr: "starts or ends with '-'"},
		{name: "numeric TLD", in: "ANP/C.shop.123", wantErr: "the last label must start with a letter"},
		{name: "TLD starting with digit", in: "ANP/C.shop.1anp", wantErr: "the last label must start with a letter"},
		{name: "IPv4 literal", in: "ANP/C.127.0.0.1", wantErr: "the last label must start with a letter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := anp.ParseAddress(tt.in)
			if tt.wantErr != "" {
				wantMessage(t, err, tt.wantErr)
				if got != (anp.Address{}) {
					t.Errorf("failed parse returned %+v, want the zero Address", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseAddress(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("ParseAddress(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
			again, err := anp.ParseAddress(got.String())
			if err != nil || again != got {
				t.Fatalf("String() %q does not parse back: %+v, %v", got.String(), again, err)
			}
		})
	}
}

// ParseAddress documents that only ASCII letters are folded. Unicode case
// mapping turns U+212A KELVIN SIGN into ASCII "k", so a non-ASCII address
// would otherwise be accepted under another spelling.
func TestParseAddressRefusesNonASCIIThatFoldsToASCII(t *testing.T) {
	for _, in := range []string{"ANP/C.\u212aitchen-outlet.anp", "ANP/C.shop.\u212anp"} {
		if a, err := anp.ParseAddress(in); err == nil {
			t.Errorf("ParseAddress(%q) = %q, want an error: only ASCII letters may be folded", in, a)
		}
		if d, err := anp.NormalizeDomain(in[len("ANP/C."):]); err == nil {
			t.Errorf("NormalizeDomain(%q) = %q, want an error", in[len("ANP/C."):], d)
		}
	}
}

func TestAddressString(t *testing.T) {
	a := anp.Address{Mode: anp.ModeB, Domain: "shop.anp"}
	if got := a.String(); got != "ANP/B.shop.anp" {
		t.Fatalf("String() = %q", got)
	}
}

func TestParseMode(t *testing.T) {
	for _, m := range []string{"ANP/A", "ANP/B", "ANP/C"} {
		got, err := anp.ParseMode(m)
		if err != nil || string(got) != m || !got.Valid() {
			t.Errorf("ParseMode(%q) = %q, %v", m, got, err)
		}
	}
	for _, m := range []string{"", "ANP/D", "anp/a", "ANP/AA", "A", " ANP/A"} {
		got, err := anp.ParseMode(m)
		wantMessage(t, err, "unknown mode")
		if got != "" || anp.Mode(m).Valid() {
			t.Errorf("ParseMode(%q) = %q, want \"\" and invalid", m, got)
		}
	}
}

func TestNormalizeAndValidateDomain(t *testing.T) {
	got, err := anp.NormalizeDomain("Shop.Example")
	if err != nil || got != "shop.example" {
		t.Fatalf("NormalizeDomain = %q, %v", got, err)
	}
	if _, err := anp.NormalizeDomain("shop"); err == nil {
		t.Fatal("NormalizeDomain accepted a single label")
	}
	// ValidateDomain does not fold: upper case is a bad character.
	wantMessage(t, anp.ValidateDomain("Shop.example"), "character 'S' at label 1 is not allowed")
	if err := anp.ValidateDomain("shop.example"); err != nil {
		t.Fatalf("ValidateDomain: %v", err)
	}
}

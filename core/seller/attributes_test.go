package seller

import (
	"errors"
	"strings"
	"testing"
)

func TestAttributesAnswer(t *testing.T) {
	a := Attributes{"warranty": "2 years.", "delivery": "3 to 5 days.", "condition": "New.", "returns": "30 days."}
	for _, tc := range []struct{ q, want, not string }{
		{"What warranty do you give?", "warranty: 2 years.", "delivery"},
		{"Is it guaranteed?", "warranty: 2 years.", "returns"},
		{"When would it arrive?", "delivery: 3 to 5 days.", "warranty"},
		{"Can I return it for a refund?", "returns: 30 days.", "delivery"},
		{"Is it new or used?", "condition: New.", "warranty"},
		{"What colour is it?", "", "warranty"},
	} {
		got := a.Answer(tc.q)
		if tc.want == "" && got != "" || !strings.Contains(got, tc.want) || tc.not != "" && strings.Contains(got, tc.not) {
			t.Errorf("Answer(%q) = %q, want %q and not %q", tc.q, got, tc.want, tc.not)
		}
	}
	if got := a.Topics(); got != "condition, delivery, returns, warranty" {
		t.Errorf("Topics() = %q", got)
	}
}

func TestAttributesValidate(t *testing.T) {
	many := Attributes{}
	for i := range MaxAttributes + 1 {
		many[string(rune('a'+i))] = "x"
	}
	for name, a := range map[string]Attributes{
		"too many":      many,
		"upper case":    {"Warranty": "2 years"},
		"blank value":   {"warranty": "  "},
		"long value":    {"warranty": strings.Repeat("x", MaxAttributeValueLen+1)},
		"empty key":     {"": "x"},
		"key with dots": {"a.b": "x"},
	} {
		if err := a.Validate(); !errors.Is(err, ErrBadAttribute) {
			t.Errorf("%s: %v, want ErrBadAttribute", name, err)
		}
	}
	if err := (Attributes{"warranty": "2 years", "return_window": "30 days"}).Validate(); err != nil {
		t.Fatal(err)
	}
}

// FuzzAttributesAnswer: any question gets either no answer or lines that
// are the node's own attributes, never the question's words.
func FuzzAttributesAnswer(f *testing.F) {
	for _, s := range []string{"warranty?", "When will it ship?", "", "RETURNS", "send back", "ship ship ship", "\xff"} {
		f.Add(s)
	}
	a := Attributes{"warranty": "2 years.", "delivery": "3 to 5 days.", "returns": "30 days.", "stock": "12 left."}
	f.Fuzz(func(t *testing.T, q string) {
		got := a.Answer(q)
		if got == "" {
			return
		}
		for _, line := range strings.Split(got, "\n") {
			k, v, ok := strings.Cut(line, ": ")
			if !ok || a[k] != v {
				t.Fatalf("Answer(%q) has line %q, not an attribute", q, line)
			}
		}
	})
}

// A config file's attributes reach the node config; bad ones are refused
// naming the field.
func TestConfigAttributes(t *testing.T) {
	base := `{"domain":"my-shop.anp","key_file":"k","registry":"https://r.example","listen":"127.0.0.1:1","endpoint":"https://e.example",
"categories":["kitchen"],"policy":{"currency":"USD","list":"120","floor":"80"},"attributes":%s}`
	fc, err := ParseFileConfig([]byte(strings.Replace(base, "%s", `{"warranty":"2 years"}`, 1)))
	if err != nil || fc.Attributes["warranty"] != "2 years" {
		t.Fatalf("parse: %v %+v", err, fc)
	}
	_, err = ParseFileConfig([]byte(strings.Replace(base, "%s", `{"Warranty":"2 years"}`, 1)))
	if err == nil || !strings.Contains(err.Error(), "field attributes") || !errors.Is(err, ErrBadAttribute) {
		t.Fatalf("bad key: %v", err)
	}
}

package tools

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Reference renders the tool reference for the README from the tool
// definitions themselves, so the docs cannot drift from the code.
func Reference(all []Tool) string {
	var b strings.Builder
	b.WriteString("| Tool | Hints | What it does |\n|---|---|---|\n")
	for _, t := range all {
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", t.Def.Name, hintText(t.Hints), strings.ReplaceAll(t.Def.Description, "|", "\\|"))
	}
	for _, t := range all {
		fmt.Fprintf(&b, "\n**`%s`** arguments:\n\n", t.Def.Name)
		var schema struct {
			Properties map[string]property `json:"properties"`
			Required   []string            `json:"required"`
		}
		_ = json.Unmarshal(t.Def.RawInputSchema, &schema)
		names := make([]string, 0, len(schema.Properties))
		for n := range schema.Properties {
			names = append(names, n)
		}
		sort.Strings(names)
		if len(names) == 0 {
			b.WriteString("- none\n")
		}
		req := map[string]bool{}
		for _, r := range schema.Required {
			req[r] = true
		}
		for _, n := range names {
			p := schema.Properties[n]
			notes := p.limits()
			if !req[n] {
				notes = append([]string{"optional"}, notes...)
			}
			paren := ""
			if len(notes) > 0 {
				paren = " (" + strings.Join(notes, "; ") + ")"
			}
			fmt.Fprintf(&b, "- `%s` %v%s — %s\n", n, p.Type, paren, p.Description)
		}
	}
	return b.String()
}

// property is what the reference shows of an input schema property.
type property struct {
	Type             any      `json:"type"`
	Description      string   `json:"description"`
	Enum             []string `json:"enum"`
	Minimum          *float64 `json:"minimum"`
	Maximum          *float64 `json:"maximum"`
	ExclusiveMinimum *float64 `json:"exclusiveMinimum"`
	MinLength        *int     `json:"minLength"`
	MaxLength        *int     `json:"maxLength"`
	MaxProperties    *int     `json:"maxProperties"`
}

// limits renders the bounds the schema sets (applyLimits), so the README
// shows what the server refuses.
func (p property) limits() []string {
	var out []string
	switch {
	case len(p.Enum) > 0:
		out = append(out, "one of "+strings.Join(p.Enum, ", "))
	case p.MinLength != nil && p.MaxLength != nil && *p.MinLength == *p.MaxLength:
		out = append(out, fmt.Sprintf("exactly %d characters", *p.MaxLength))
	case p.MaxLength != nil:
		out = append(out, fmt.Sprintf("at most %d characters", *p.MaxLength))
	}
	switch {
	case p.Minimum != nil && p.Maximum != nil:
		out = append(out, num(*p.Minimum)+" to "+num(*p.Maximum))
	case p.ExclusiveMinimum != nil:
		out = append(out, "more than "+num(*p.ExclusiveMinimum))
	}
	if p.MaxProperties != nil {
		out = append(out, fmt.Sprintf("at most %d entries", *p.MaxProperties))
	}
	return out
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func hintText(h Hints) string {
	var parts []string
	add := func(v *bool, yes, no string) {
		switch {
		case v == nil:
			parts = append(parts, "UNSET")
		case *v:
			parts = append(parts, yes)
		case no != "":
			parts = append(parts, no)
		}
	}
	add(h.ReadOnly, "read-only", "writes")
	add(h.Destructive, "destructive", "")
	add(h.Idempotent, "idempotent", "")
	add(h.OpenWorld, "open-world", "local")
	return strings.Join(parts, ", ")
}

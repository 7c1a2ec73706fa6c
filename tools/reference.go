package tools

import (
	"encoding/json"
	"fmt"
	"sort"
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
			Properties map[string]struct {
				Type        any    `json:"type"`
				Description string `json:"description"`
			} `json:"properties"`
			Required []string `json:"required"`
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
			opt := " (optional)"
			if req[n] {
				opt = ""
			}
			fmt.Fprintf(&b, "- `%s` %v%s — %s\n", n, p.Type, opt, p.Description)
		}
	}
	return b.String()
}

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

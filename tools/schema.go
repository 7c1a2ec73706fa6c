package tools

import "slices"

// tightenNullable rewrites generated output schemas so that properties have a
// plain type instead of ["null", T], the portable form hosts expect: optional
// fields are omitted when empty and required slices are always non-nil, so no
// result carries null (the server's output validation enforces it). It
// recurses into nested objects and array items.
func tightenNullable(props map[string]any) map[string]any {
	for _, p := range props {
		ps, ok := p.(map[string]any)
		if !ok {
			continue
		}
		if types, ok := ps["type"].([]any); ok && len(types) == 2 && slices.Contains(types, any("null")) {
			for _, t := range types {
				if t != "null" {
					ps["type"] = t
				}
			}
		}
		if inner, ok := ps["properties"].(map[string]any); ok {
			tightenNullable(inner)
		}
		if items, ok := ps["items"].(map[string]any); ok {
			tightenNullable(map[string]any{"items": items})
		}
	}
	return props
}

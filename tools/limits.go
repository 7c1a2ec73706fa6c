package tools

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// applyLimits adds the bounds declared in the `limits` tags of In's fields
// to the generated input schema, so that hosts see the documented ranges
// and the server's validation refuses what is out of them before a handler
// runs. A tag is a comma-separated list of key=value:
//
//	minimum, maximum, exclusiveMinimum            numbers
//	default                                       numbers and strings
//	minLength, maxLength                          strings (characters)
//	enum=A|B|C                                    strings
//	maxProperties, keyMaxLength, valueMaxLength   objects of strings
//	maxItems                                      lists
func applyLimits(t reflect.Type, raw json.RawMessage) (json.RawMessage, error) {
	var schema map[string]any
	if err := json.Unmarshal(raw, &schema); err != nil {
		return nil, fmt.Errorf("input schema: %w", err)
	}
	props, _ := schema["properties"].(map[string]any)
	var order []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if _, ok := props[name]; ok {
			order = append(order, name)
		}
		tag, ok := f.Tag.Lookup("limits")
		if !ok {
			continue
		}
		prop, ok := props[name].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("field %s: no property %q in the schema", f.Name, name)
		}
		for kv := range strings.SplitSeq(tag, ",") {
			key, val, ok := strings.Cut(kv, "=")
			if !ok {
				return nil, fmt.Errorf("field %s: limit %q is not key=value", f.Name, kv)
			}
			if err := setLimit(prop, key, val); err != nil {
				return nil, fmt.Errorf("field %s: %w", f.Name, err)
			}
		}
	}
	if len(order) != len(props) {
		return nil, fmt.Errorf("input schema has %d properties, the struct %d fields", len(props), len(order))
	}
	// Properties stay in field order, the order hosts show them in.
	var b bytes.Buffer
	b.WriteByte('{')
	for i, name := range order {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(name)
		v, err := json.Marshal(props[name])
		if err != nil {
			return nil, fmt.Errorf("property %s: %w", name, err)
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	schema["properties"] = json.RawMessage(b.Bytes())
	out, err := json.Marshal(schema)
	if err != nil {
		return nil, fmt.Errorf("input schema: %w", err)
	}
	return out, nil
}

func setLimit(prop map[string]any, key, val string) error {
	num := func() (any, error) {
		if n, err := strconv.ParseInt(val, 10, 64); err == nil {
			return n, nil
		}
		f, err := strconv.ParseFloat(val, 64)
		if err != nil {
			return nil, fmt.Errorf("limit %s=%q is not a number", key, val)
		}
		return f, nil
	}
	switch key {
	case "default":
		if prop["type"] == "string" {
			prop[key] = val
			return nil
		}
		v, err := num()
		if err != nil {
			return err
		}
		prop[key] = v
	case "minimum", "maximum", "exclusiveMinimum", "minLength", "maxLength", "maxProperties", "maxItems":
		v, err := num()
		if err != nil {
			return err
		}
		prop[key] = v
	case "enum":
		var vals []any
		for v := range strings.SplitSeq(val, "|") {
			vals = append(vals, v)
		}
		prop["enum"] = vals
	case "keyMaxLength":
		v, err := num()
		if err != nil {
			return err
		}
		prop["propertyNames"] = map[string]any{"maxLength": v}
	case "valueMaxLength":
		v, err := num()
		if err != nil {
			return err
		}
		values, ok := prop["additionalProperties"].(map[string]any)
		if !ok {
			return fmt.Errorf("valueMaxLength on a property without a value schema")
		}
		values["maxLength"] = v
	default:
		return fmt.Errorf("unknown limit %q", key)
	}
	return nil
}

package tools

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// inputValidator checks tool arguments against the tool's input schema and
// renders violations as plain sentences a model can act on.
type inputValidator struct {
	schema *jsonschema.Schema
}

var printer = message.NewPrinter(language.English)

func newInputValidator(name string, raw json.RawMessage) (*inputValidator, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("tool %s: input schema: %w", name, err)
	}
	c := jsonschema.NewCompiler()
	url := "clinch://tools/" + name + "/input.json"
	if err := c.AddResource(url, doc); err != nil {
		return nil, fmt.Errorf("tool %s: input schema: %w", name, err)
	}
	s, err := c.Compile(url)
	if err != nil {
		return nil, fmt.Errorf("tool %s: input schema: %w", name, err)
	}
	return &inputValidator{schema: s}, nil
}

// validate returns nil or an error listing every violation.
func (v *inputValidator) validate(args []byte) error {
	if len(bytes.TrimSpace(args)) == 0 || string(bytes.TrimSpace(args)) == "null" {
		args = []byte("{}")
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(args))
	if err != nil {
		return inputErrorf("arguments are not valid JSON: %v", err)
	}
	err = v.schema.Validate(inst)
	if err == nil {
		return nil
	}
	verr, ok := err.(*jsonschema.ValidationError)
	if !ok {
		return inputErrorf("%v", err)
	}
	var parts []string
	collect(verr, &parts)
	return inputErrorf("%s", strings.Join(parts, "; "))
}

func collect(e *jsonschema.ValidationError, out *[]string) {
	if len(e.Causes) == 0 {
		where := "arguments"
		if len(e.InstanceLocation) > 0 {
			where = "argument " + strings.Join(e.InstanceLocation, ".")
		}
		*out = append(*out, where+": "+e.ErrorKind.LocalizedString(printer))
		return
	}
	for _, c := range e.Causes {
		collect(c, out)
	}
}

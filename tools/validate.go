package tools

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// inputValidator checks tool arguments against the tool's input schema and
// renders violations as plain sentences a model can act on.
type inputValidator struct {
	schema *jsonschema.Schema
	valid  conforming
}

var printer = message.NewPrinter(language.English)

func newInputValidator(name string, raw json.RawMessage) (*inputValidator, error) {
	s, err := compileSchema(name, "input", raw)
	if err != nil {
		return nil, err
	}
	return &inputValidator{schema: s}, nil
}

// compileSchema compiles a tool's input or output schema (which names it).
func compileSchema(tool, which string, raw []byte) (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("tool %s: %s schema: %w", tool, which, err)
	}
	c := jsonschema.NewCompiler()
	url := "clinch://tools/" + tool + "/" + which + ".json"
	if err := c.AddResource(url, doc); err != nil {
		return nil, fmt.Errorf("tool %s: %s schema: %w", tool, which, err)
	}
	s, err := c.Compile(url)
	if err != nil {
		return nil, fmt.Errorf("tool %s: %s schema: %w", tool, which, err)
	}
	return s, nil
}

// maxViolation bounds the text of one schema violation.
const maxViolation = 300

// validate returns nil or an error listing every violation. Arguments
// accepted before, byte for byte, are accepted again without a second
// reading.
func (v *inputValidator) validate(args []byte) error {
	if len(bytes.TrimSpace(args)) == 0 || string(bytes.TrimSpace(args)) == "null" {
		args = []byte("{}")
	}
	sum := sha256.Sum256(args)
	if v.valid.has(sum) {
		return nil
	}
	if err := v.check(args); err != nil {
		return err
	}
	v.valid.add(sum)
	return nil
}

// check reads args and validates them against the schema.
func (v *inputValidator) check(args []byte) error {
	// A duplicate key has two readings (the schema sees one, the tool the
	// other), so it is refused before either reads it.
	if err := anp.CheckNoDuplicateKeys(args); err != nil {
		var de *anp.DecodeError
		if errors.As(err, &de) && errors.Is(err, anp.ErrDuplicateKey) {
			return inputErrorf("argument %s appears more than once; send each argument once", de.Path)
		}
		return inputErrorf("arguments are not valid JSON: %v", err)
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
		*out = append(*out, clip(where, maxEcho)+": "+describe(e.ErrorKind))
		return
	}
	for _, c := range e.Causes {
		collect(c, out)
	}
}

// describe renders one violation without echoing more than a short prefix
// of the input: unknown argument names are quoted cut to a prefix, and any
// other kind's text (which may quote the value) is clipped.
func describe(k jsonschema.ErrorKind) string {
	switch k := k.(type) {
	case *kind.AdditionalProperties:
		names := make([]string, len(k.Properties))
		for i, n := range k.Properties {
			names[i] = echo(n)
		}
		return "unknown argument " + strings.Join(names, ", ") + " (see the tool's input schema)"
	case *kind.Minimum:
		return fmt.Sprintf("must be at least %s, got %s", ratString(k.Want), ratString(k.Got))
	case *kind.Maximum:
		return fmt.Sprintf("must be at most %s, got %s", ratString(k.Want), ratString(k.Got))
	case *kind.ExclusiveMinimum:
		return fmt.Sprintf("must be more than %s, got %s", ratString(k.Want), ratString(k.Got))
	case *kind.MinLength:
		return fmt.Sprintf("must be at least %s long, got %d", count(k.Want, "character"), k.Got)
	case *kind.MaxLength:
		return fmt.Sprintf("must be at most %s long, got %d", count(k.Want, "character"), k.Got)
	case *kind.MaxProperties:
		return fmt.Sprintf("may have at most %s, got %d", count(k.Want, "entry"), k.Got)
	}
	return clip(k.LocalizedString(printer), maxViolation)
}

func ratString(x *big.Rat) string {
	if x.IsInt() {
		return x.Num().String()
	}
	f, _ := x.Float64()
	return strconv.FormatFloat(f, 'f', -1, 64)
}

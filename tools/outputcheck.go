package tools

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// outputChecker holds a tool's results to its declared output schema, as the
// MCP tools specification asks of a tool with an output schema: a result
// whose structured content does not conform is replaced by a tool error, so
// the client never sees it. The schema is compiled once; the verdict on
// structured content is kept by the SHA-256 of its bytes, so a result read
// again unchanged (get_session polled while a seller thinks) is not decoded
// and validated again: the same bytes against the same schema have the same
// verdict.
type outputChecker struct {
	schema *jsonschema.Schema
	valid  conforming
}

// newOutputChecker compiles a tool's output schema; a tool that declares
// none has no checker (nil), whose check lets every result through.
func newOutputChecker(name string, schema mcp.ToolOutputSchema) (*outputChecker, error) {
	if schema.Type == "" {
		return nil, nil
	}
	raw, err := json.Marshal(schema)
	if err != nil {
		return nil, fmt.Errorf("tool %s: output schema: %w", name, err)
	}
	s, err := compileSchema(name, "output", raw)
	if err != nil {
		return nil, err
	}
	return &outputChecker{schema: s}, nil
}

// check returns r, or a tool error in its place when r's structured content
// does not conform to the schema. Error results and results without
// structured content are not checked.
func (o *outputChecker) check(r *mcp.CallToolResult) *mcp.CallToolResult {
	if o == nil || r == nil || r.IsError || r.StructuredContent == nil {
		return r
	}
	data, ok := r.StructuredContent.(json.RawMessage)
	if !ok {
		var err error
		if data, err = json.Marshal(r.StructuredContent); err != nil {
			return mcp.NewToolResultError("output schema validation failed: invalid structured content: " + err.Error())
		}
	}
	sum := sha256.Sum256(data)
	if o.valid.has(sum) {
		return r
	}
	if err := o.validate(data); err != nil {
		return mcp.NewToolResultError(err.Error())
	}
	o.valid.add(sum)
	return r
}

// validate decodes data and validates it against the schema.
func (o *outputChecker) validate(data []byte) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("output schema validation failed: invalid structured content: %w", err)
	}
	err = o.schema.Validate(inst)
	if err == nil {
		return nil
	}
	verr, ok := err.(*jsonschema.ValidationError)
	if !ok {
		return fmt.Errorf("output schema validation failed: %w", err)
	}
	var parts []string
	collectOutput(verr, &parts)
	return fmt.Errorf("output schema validation failed: %s", strings.Join(parts, "; "))
}

// collectOutput renders each leaf violation as "<path>: <message>".
func collectOutput(e *jsonschema.ValidationError, out *[]string) {
	if len(e.Causes) == 0 {
		where := "/" + strings.Join(e.InstanceLocation, "/")
		*out = append(*out, where+": "+clip(e.ErrorKind.LocalizedString(printer), maxViolation))
		return
	}
	for _, c := range e.Causes {
		collectOutput(c, out)
	}
}

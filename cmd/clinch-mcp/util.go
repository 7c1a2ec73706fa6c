package main

import (
	"errors"
	"io/fs"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

var fsErrNotExist = fs.ErrNotExist

func modesOf(in []string) []anp.Mode {
	out := make([]anp.Mode, 0, len(in))
	for _, m := range in {
		out = append(out, anp.Mode(m))
	}
	return out
}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

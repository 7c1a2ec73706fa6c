package main

import (
	"context"
	"fmt"
)

func runServe(ctx context.Context, env *cliEnv, args []string) error {
	return fmt.Errorf("serve: the MCP server is not built yet")
}

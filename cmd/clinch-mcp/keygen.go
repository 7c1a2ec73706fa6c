package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"path/filepath"

	"github.com/clinch-protocol/clinch-mcp/secrets"
)

func runKeygen(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlags(env, "keygen", "keygen [--out FILE]")
	out := fs.String("out", "", "key file to create (default: identity.key in the data directory); never overwritten")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	path := *out
	if path == "" {
		path = filepath.Join(dataDir(env), "identity.key")
	}
	k, err := secrets.GenerateIdentity()
	if err != nil {
		return err
	}
	if err := secrets.WriteIdentityFile(path, k); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "wrote %s (mode 0600)\npublic key: %x\n", path, []byte(k.Public().(ed25519.PublicKey)))
	return nil
}

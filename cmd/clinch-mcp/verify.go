package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

func runVerify(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlags(env, "verify", "verify FILE [--registry-key HEX] [--json]")
	rootKey := fs.String("registry-key", "", "pin the registry root key (hex); without it only internal consistency is proven")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := parseFlags(fs, reorderArgs(args)); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return &exitError{2, fmt.Errorf("verify needs exactly one artifact file")}
	}
	a, err := readArtifact(fs.Arg(0))
	if err == nil {
		err = anp.VerifyArtifact(a, anp.VerifyOptions{RootKey: *rootKey})
	}
	if *asJSON {
		res := map[string]any{"ok": err == nil}
		if err != nil {
			res["error"] = err.Error()
		} else {
			res["session_id"], res["seller"], res["price"], res["leaf_index"] = a.Terms.SessionID, a.Terms.SellerDomain, a.Terms.Price.String(), a.Receipt.LeafIndex
		}
		_ = json.NewEncoder(env.stdout).Encode(res)
	}
	if err != nil {
		return &exitError{1, fmt.Errorf("artifact does not verify: %w", err)}
	}
	if !*asJSON {
		pinned := "registry root key pinned"
		if *rootKey == "" {
			pinned = "registry root key NOT pinned (pass --registry-key to pin it)"
		}
		fmt.Fprintf(env.stdout, "OK: %s bought %q x%d from %s for %s; buyer, seller and registry signatures, key chain and log inclusion (leaf %d of %d) verify; %s\n",
			a.Terms.BuyerKey[:12], a.Terms.Item, a.Terms.Quantity, a.Terms.SellerDomain, a.Terms.Price, a.Receipt.LeafIndex, a.Receipt.TreeHead.Size, pinned)
	}
	return nil
}

func readArtifact(path string) (*anp.Artifact, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, 1<<20+1))
	if err != nil {
		return nil, err
	}
	if len(data) > 1<<20 {
		return nil, fmt.Errorf("%s is larger than 1 MiB", path)
	}
	var a anp.Artifact
	if err := anp.DecodeStrict(data, &a); err != nil {
		return nil, fmt.Errorf("%s is not an artifact: %w", path, err)
	}
	return &a, nil
}

// reorderArgs moves flags before positional arguments so "verify FILE --json" works.
func reorderArgs(args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if len(a) > 1 && a[0] == '-' {
			flags = append(flags, a)
			if !containsEq(a) && i+1 < len(args) && !isBoolFlag(a) {
				flags = append(flags, args[i+1])
				i++
			}
			continue
		}
		pos = append(pos, a)
	}
	return append(flags, pos...)
}

func containsEq(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '=' {
			return true
		}
	}
	return false
}

func isBoolFlag(s string) bool {
	switch s {
	case "--json", "-json", "--auto", "-auto", "--approve", "-approve", "-h", "--help":
		return true
	}
	return false
}

package tools

import (
	"context"
	"fmt"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// VerifyInput names the artifact to verify.
type VerifyInput struct {
	ArtifactID  string `json:"artifact_id,omitempty" jsonschema:"id of an artifact signed through this server (its session id)" limits:"minLength=32,maxLength=32"`
	Artifact    string `json:"artifact,omitempty" jsonschema:"or: a whole artifact as JSON text, e.g. one received from elsewhere" limits:"maxLength=1048576"`
	RegistryKey string `json:"registry_key,omitempty" jsonschema:"optional registry root key (hex) to pin; default: the key of the registry this server uses" limits:"maxLength=64"`
}

// VerifyOutput is the verdict.
type VerifyOutput struct {
	Valid     bool   `json:"valid" jsonschema:"true when all three signatures, the registry key chain and the log inclusion proof check out"`
	Problem   string `json:"problem,omitempty" jsonschema:"what failed, when valid is false"`
	SessionID string `json:"session_id,omitempty"`
	Seller    string `json:"seller,omitempty"`
	Item      string `json:"item,omitempty"`
	Quantity  int    `json:"quantity,omitempty"`
	Price     *Money `json:"price,omitempty"`
	LogIndex  uint64 `json:"log_index,omitempty"`
	RootKey   string `json:"root_key,omitempty" jsonschema:"registry root key the artifact chains to"`
	Pinned    bool   `json:"pinned" jsonschema:"true when the root key was checked against a pinned key"`
}

func verifyArtifact(d *Deps) Tool {
	return newTool(d, "verify_artifact", "Verify a deal artifact",
		"Check a deal artifact offline: buyer, seller and registry signatures, the registry key chain and the transparency-log inclusion proof. "+
			"Pass artifact_id for a deal signed here, or the artifact JSON.",
		Hints{ReadOnly: flag(true), Destructive: flag(false), Idempotent: flag(true), OpenWorld: flag(false)},
		func(ctx context.Context, req mcp.CallToolRequest, in VerifyInput) (VerifyOutput, string, error) {
			var a *anp.Artifact
			switch {
			case in.ArtifactID != "" && in.Artifact != "":
				return VerifyOutput{}, "", inputErrorf("pass artifact_id or artifact, not both")
			case in.ArtifactID != "":
				s, err := d.Core.GetSession(ctx, in.ArtifactID)
				if err != nil {
					return VerifyOutput{}, "", err
				}
				if s.Artifact == nil {
					return VerifyOutput{}, "", inputErrorf("session %s has no signed artifact (state %s)", s.ID, s.State)
				}
				a = s.Artifact
			case in.Artifact != "":
				if len(in.Artifact) > 1<<20 {
					return VerifyOutput{}, "", inputErrorf("artifact is larger than 1 MiB")
				}
				var parsed anp.Artifact
				if err := anp.DecodeStrict([]byte(in.Artifact), &parsed); err != nil {
					return VerifyOutput{}, "", inputErrorf("artifact is not valid artifact JSON: %v", err)
				}
				a = &parsed
			default:
				return VerifyOutput{}, "", inputErrorf("pass artifact_id or artifact")
			}
			root := in.RegistryKey
			if root == "" {
				root = d.RegistryRootKey
			}
			out := VerifyOutput{SessionID: a.Terms.SessionID, Seller: a.Terms.SellerDomain, Item: a.Terms.Item, Quantity: a.Terms.Quantity, Pinned: root != ""}
			if err := anp.VerifyArtifact(a, anp.VerifyOptions{RootKey: root}); err != nil {
				out.Problem = err.Error()
				return out, "Artifact does NOT verify: " + err.Error(), nil
			}
			out.Valid, out.Price, out.LogIndex, out.RootKey = true, moneyPtr(&a.Terms.Price), a.Receipt.LeafIndex, a.Receipt.RootKey
			return out, fmt.Sprintf("Artifact verifies: %s x%d from %s for %s, log index %d.", a.Terms.Item, a.Terms.Quantity, a.Terms.SellerDomain, a.Terms.Price, a.Receipt.LeafIndex), nil
		})
}

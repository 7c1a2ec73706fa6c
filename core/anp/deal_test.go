package anp_test

import (
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

func TestSameDeal(t *testing.T) {
	notarised := buildArtifact(t).Artifact
	base := func(t *testing.T) *anp.Artifact { return cloneArtifact(t, notarised) }
	tests := []struct {
		name   string
		change func(a *anp.Artifact) *anp.Artifact
		same   bool
	}{
		{"the same artifact", func(a *anp.Artifact) *anp.Artifact { return a }, true},
		{"without its countersignature and receipt", func(a *anp.Artifact) *anp.Artifact {
			a.Registry, a.Receipt = nil, nil
			return a
		}, true},
		{"another countersignature", func(a *anp.Artifact) *anp.Artifact { a.Registry.NotarizedAt++; return a }, true},
		{"another price", func(a *anp.Artifact) *anp.Artifact { a.Terms.Price.Amount++; return a }, false},
		{"other terms", func(a *anp.Artifact) *anp.Artifact {
			a.Terms.Terms = map[string]string{"shipping": "express"}
			return a
		}, false},
		{"another buyer signature", func(a *anp.Artifact) *anp.Artifact { a.BuyerSig = a.SellerSig; return a }, false},
		{"no seller signature", func(a *anp.Artifact) *anp.Artifact { a.SellerSig = ""; return a }, false},
		{"nothing", func(*anp.Artifact) *anp.Artifact { return nil }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := base(t)
			b := tc.change(base(t))
			for _, pair := range [][2]*anp.Artifact{{a, b}, {b, a}} {
				same, err := anp.SameDeal(pair[0], pair[1])
				if err != nil || same != tc.same {
					t.Fatalf("SameDeal = %v, %v; want %v", same, err, tc.same)
				}
			}
		})
	}
}

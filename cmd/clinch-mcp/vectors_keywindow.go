package main

import (
	"encoding/json"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// keyWindowClasses are the named failures of key_windows.json.
var keyWindowClasses = map[string]error{
	"key_window": anp.ErrKeyWindow, "head_not_fresh": anp.ErrHeadNotFresh,
	"head_time_backwards": anp.ErrHeadTimeBackwards, "mismatch": errMismatch,
}

// runKeyWindowCases runs key_windows.json: bindings, tree heads, artifacts
// (whole, with the file's root key pinned) and tokens (parsed at now)
// against the file's key chain, current heads against the file's clock, and
// pairs of heads for the order of size and time.
func runKeyWindowCases(_ string, data []byte, r *vresult) error {
	var f struct {
		RootKey        string         `json:"root_key"`
		KeyChain       []anp.KeyEntry `json:"key_chain"`
		MaxClockSkewMs int64          `json:"max_clock_skew_ms"`
		Bindings       []struct {
			Description, Expect string
			Binding             anp.DomainBinding
		}
		TreeHeads []struct {
			Description, Expect string
			TreeHead            anp.SignedTreeHead `json:"tree_head"`
		} `json:"tree_heads"`
		Countersignatures []struct {
			Description, Expect string
			Artifact            json.RawMessage
		}
		Tokens []struct {
			Description, Expect, Token string
			Now                        int64
		}
		CurrentHeads []struct {
			Description, Expect string
			TreeHead            anp.SignedTreeHead `json:"tree_head"`
			Now                 int64
		} `json:"current_heads"`
		HeadPairs []struct {
			Description, Expect string
			First, Second       anp.SignedTreeHead
		} `json:"head_pairs"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return err
	}
	if err := anp.VerifyKeyChain(f.RootKey, f.KeyChain); err != nil {
		return err
	}
	if f.MaxClockSkewMs != anp.MaxClockSkew.Milliseconds() {
		r.check("max_clock_skew_ms", "valid", mismatch("the file allows %d ms, the verifier %d", f.MaxClockSkewMs, anp.MaxClockSkew.Milliseconds()), keyWindowClasses)
	}
	for _, c := range f.Bindings {
		r.check("binding "+c.Description, c.Expect, c.Binding.Verify(f.KeyChain), keyWindowClasses)
	}
	for _, c := range f.TreeHeads {
		r.check("tree head "+c.Description, c.Expect, anp.VerifyTreeHead(&c.TreeHead, f.KeyChain), keyWindowClasses)
	}
	for _, c := range f.Countersignatures {
		var a anp.Artifact
		err := anp.DecodeStrict(c.Artifact, &a)
		if err == nil {
			err = anp.VerifyArtifact(&a, anp.VerifyOptions{RootKey: f.RootKey})
		}
		r.check("countersignature "+c.Description, c.Expect, err, keyWindowClasses)
	}
	for _, c := range f.Tokens {
		_, err := anp.ParseTokenInChain(c.Token, time.UnixMilli(c.Now), f.KeyChain)
		r.check("token "+c.Description, c.Expect, err, keyWindowClasses)
	}
	for _, c := range f.CurrentHeads {
		err := anp.VerifyTreeHead(&c.TreeHead, f.KeyChain)
		if err == nil {
			err = anp.CheckHeadFresh(&c.TreeHead, time.UnixMilli(c.Now))
		}
		r.check("current head "+c.Description, c.Expect, err, keyWindowClasses)
	}
	for _, c := range f.HeadPairs {
		err := anp.VerifyTreeHead(&c.First, f.KeyChain)
		if err == nil {
			err = anp.VerifyTreeHead(&c.Second, f.KeyChain)
		}
		if err == nil {
			err = anp.CheckHeadOrder(&c.First, &c.Second)
		}
		r.check("head pair "+c.Description, c.Expect, err, keyWindowClasses)
	}
	return nil
}

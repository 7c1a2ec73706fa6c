package main

import (
	"encoding/hex"
	"encoding/json"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// dealEventClasses are the named failures of deal_events.json.
var dealEventClasses = map[string]error{
	"deal_event_malformed": anp.ErrDealEventMalformed, "deal_event_signer": anp.ErrDealEventSigner, "deal_event_order": anp.ErrDealEventOrder,
	"deal_event_replay": anp.ErrDealEventReplay, "dispute_exists": anp.ErrDisputeExists, "deal_event_notary": anp.ErrDealEventNotary,
	"deadline": anp.ErrDeadline, "mismatch": errMismatch,
}

// dealEventsFile is the part of deal_events.json the runner reads besides
// its signature vectors.
type dealEventsFile struct {
	RootKey    string         `json:"root_key"`
	KeyChain   []anp.KeyEntry `json:"key_chain"`
	Arbiter    anp.ArbiterKey `json:"arbiter"`
	Artifact   *anp.Artifact  `json:"artifact"`
	Commitment anp.Commitment `json:"commitment"`
	DealHash   string         `json:"deal_hash"`
	Leaves     struct {
		Cases []struct {
			Description, Expect string
			LeafData            string `json:"leaf_data"`
			LeafHash            string `json:"leaf_hash"`
		}
	}
	Lifecycles struct {
		Cases []struct {
			Description, Expect string
			State               anp.DealState
			Events              []anp.DealEventEntry
		}
	}
}

// runDealEventCases checks deal_events.json: the artifact with its
// commitment and deal hash, the arbiter certificate, each leaf with
// anp.ParseLogLeaf and DealEventLeaf.Verify (and its hash), and each
// lifecycle by replaying it with anp.VerifyLifecycle.
func runDealEventCases(_ string, data []byte, r *vresult) error {
	var f dealEventsFile
	if err := json.Unmarshal(data, &f); err != nil {
		return err
	}
	r.check("artifact with its commitment", "valid", checkDealArtifact(&f), dealEventClasses)
	r.check("arbiter certificate", "valid", f.Arbiter.Verify(f.RootKey, f.Arbiter.ValidFrom), dealEventClasses)
	for _, c := range f.Leaves.Cases {
		r.check("leaf: "+c.Description, c.Expect, checkDealEventLeaf(&f, c.LeafData, c.LeafHash), dealEventClasses)
	}
	for _, c := range f.Lifecycles.Cases {
		l, err := anp.VerifyLifecycle(f.Artifact, anp.VerifyOptions{RootKey: f.RootKey}, f.KeyChain, c.Events)
		if err == nil && l.State != c.State {
			err = mismatch("the lifecycle ends in %s, the file says %s", l.State, c.State)
		}
		r.check("lifecycle: "+c.Description, c.Expect, err, dealEventClasses)
	}
	return nil
}

// checkDealArtifact verifies the artifact and that its commitment and deal
// hash are the file's.
func checkDealArtifact(f *dealEventsFile) error {
	if f.Artifact == nil {
		return mismatch("no artifact")
	}
	if err := anp.VerifyArtifact(f.Artifact, anp.VerifyOptions{RootKey: f.RootKey}); err != nil {
		return err
	}
	if f.Artifact.Terms.Obligations() != f.Commitment {
		return mismatch("the artifact's commitment differs from commitment")
	}
	if h, err := anp.DealHash(f.Artifact); err != nil || h != f.DealHash {
		return mismatch("deal hash %s differs from deal_hash", h)
	}
	return nil
}

// checkDealEventLeaf parses, verifies and hashes one leaf of the file.
func checkDealEventLeaf(f *dealEventsFile, data, wantHash string) error {
	l, err := anp.ParseLogLeaf([]byte(data))
	if err != nil {
		return err
	}
	if l.DealEvent == nil {
		return mismatch("the leaf is not a deal event")
	}
	if err := l.DealEvent.Verify(f.RootKey, f.KeyChain); err != nil {
		return err
	}
	if again, err := l.DealEvent.LeafData(); err != nil || string(again) != data {
		return mismatch("leaf_data is not the canonical form of the leaf")
	}
	if hex.EncodeToString(anp.LeafHash([]byte(data))) != wantHash {
		return mismatch("leaf hash differs from leaf_hash")
	}
	return nil
}

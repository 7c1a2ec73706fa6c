package main

import (
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// keyEventClasses are the named failures of key_events.json.
var keyEventClasses = map[string]error{
	"grant_format": anp.ErrGrantFormat, "grant_signature": anp.ErrGrantSignature, "grant_domain": anp.ErrGrantDomain,
	"grant_expired": anp.ErrGrantExpired, "key_event_malformed": anp.ErrKeyEventMalformed, "key_event_signature": anp.ErrKeyEventSignature,
	"key_possession": anp.ErrKeyPossession, "key_event_notary": anp.ErrKeyEventNotary, "key_event_order": anp.ErrKeyEventOrder,
	"duplicate_key": anp.ErrDuplicateKey, "key_case": anp.ErrKeyCase, "mismatch": errMismatch,
}

// keyEventsFile is the part of key_events.json the runner reads besides
// its signature vectors.
type keyEventsFile struct {
	RootKey  string         `json:"root_key"`
	KeyChain []anp.KeyEntry `json:"key_chain"`
	Grants   struct {
		Cases []struct {
			Description, Grant, Domain, Expect string
			Now                                int64
		}
	}
	Leaves struct {
		Cases []struct {
			Description, Expect string
			LeafData            string `json:"leaf_data"`
			LeafHash            string `json:"leaf_hash"`
		}
	}
	Sequences struct {
		Cases []struct {
			Description, Domain, Key, Expect string
			Revoked                          bool
			Events                           []json.RawMessage
		}
	}
}

// runKeyEventCases checks key_events.json: each grant with anp.ParseGrant,
// each leaf with anp.ParseLeaf and KeyEventLeaf.Verify (and its hash), and
// each history by replaying it with KeyState.Apply.
func runKeyEventCases(_ string, data []byte, r *vresult) error {
	var f keyEventsFile
	if err := json.Unmarshal(data, &f); err != nil {
		return err
	}
	for _, c := range f.Grants.Cases {
		_, err := anp.ParseGrant(c.Grant, f.RootKey, c.Domain, time.UnixMilli(c.Now))
		r.check("grant: "+c.Description, c.Expect, err, keyEventClasses)
	}
	for _, c := range f.Leaves.Cases {
		r.check("leaf: "+c.Description, c.Expect, checkKeyEventLeaf(&f, c.LeafData, c.LeafHash), keyEventClasses)
	}
	for _, c := range f.Sequences.Cases {
		st := anp.KeyState{Domain: c.Domain}
		var err error
		for i, raw := range c.Events {
			var ev anp.KeyEvent
			if err = anp.DecodeStrict(raw, &ev); err == nil {
				err = st.Apply(&ev, uint64(i))
			}
			if err != nil {
				break
			}
		}
		if err == nil && (st.Key != c.Key || st.Revoked != c.Revoked) {
			err = mismatch("replay ends on key %s revoked %v", st.Key, st.Revoked)
		}
		r.check("history: "+c.Description, c.Expect, err, keyEventClasses)
	}
	return nil
}

// checkKeyEventLeaf parses, verifies and hashes one leaf of the file.
func checkKeyEventLeaf(f *keyEventsFile, data, wantHash string) error {
	_, l, err := anp.ParseLeaf([]byte(data))
	if err != nil {
		return err
	}
	if l == nil {
		return mismatch("the leaf is a deal artifact, not a key event")
	}
	if err := l.Verify(f.RootKey, f.KeyChain); err != nil {
		return err
	}
	if again, err := l.LeafData(); err != nil || string(again) != data {
		return mismatch("leaf_data is not the canonical form of the leaf")
	}
	if wantHash != "" && hex.EncodeToString(anp.LeafHash([]byte(data))) != wantHash {
		return mismatch("leaf hash differs from leaf_hash")
	}
	return nil
}

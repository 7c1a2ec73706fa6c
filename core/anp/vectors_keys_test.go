package anp_test

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// The fixed values of the grant and key event vectors.
const (
	fixtureGrantID = "0f0e0d0c0b0a09080706050403020100"
	rotateMs       = t0Ms + 60_000  // the rotation to the seller's next key
	revokeMs       = t0Ms + 120_000 // the operator's revocation of that key
)

// nextSellerKey is the seller's key after the rotation (seller_next in
// keys.json).
var nextSellerKey = strangerKey

// fixtureGrantClaims is the enrolment grant of kitchen-outlet.anp, valid
// for 24 hours from t0.
func fixtureGrantClaims() anp.GrantClaims {
	return anp.GrantClaims{Domain: sellerDomain, ID: fixtureGrantID, Iat: t0Ms, Exp: t0Ms + 24*3_600_000}
}

func mustGrant(tb testing.TB, c anp.GrantClaims, key []byte) string {
	tb.Helper()
	g, err := anp.IssueGrant(c, anp.Signer(key))
	if err != nil {
		tb.Fatal(err)
	}
	return g
}

// grantText assembles a grant from raw claim bytes and a signature.
func grantText(claims []byte, sig string) string {
	return base64.RawURLEncoding.EncodeToString(claims) + "." + sig
}

// fixtureEvents are the key history of kitchen-outlet.anp: 0 the binding
// of the seller key (with the fixture grant), 1 the rotation to the next
// key signed by both, 2 the operator's revocation of the next key.
func fixtureEvents(tb testing.TB) []anp.KeyEvent {
	tb.Helper()
	bind := anp.BindRequest{Domain: sellerDomain, Key: pub(sellerKey), TS: t0Ms}
	if err := anp.SignBindRequest(&bind, anp.Signer(sellerKey)); err != nil {
		tb.Fatal(err)
	}
	rot, err := anp.SignKeyChange(anp.KeyChange{Domain: sellerDomain, Kind: anp.KeyEventRotate, By: anp.ChangeByKey, Key: pub(sellerKey),
		NewKey: pub(nextSellerKey), Seq: 1, TS: rotateMs}, anp.Signer(sellerKey), anp.Signer(nextSellerKey))
	if err != nil {
		tb.Fatal(err)
	}
	rev, err := anp.SignKeyChange(anp.KeyChange{Domain: sellerDomain, Kind: anp.KeyEventRevoke, By: anp.ChangeByOperator, Key: pub(nextSellerKey),
		Seq: 2, TS: revokeMs}, anp.Signer(rootKey), nil)
	if err != nil {
		tb.Fatal(err)
	}
	return []anp.KeyEvent{
		{Domain: sellerDomain, Seq: 0, Kind: anp.KeyEventBind, Key: pub(sellerKey), Bind: &bind, Grant: fixtureGrantID},
		{Domain: sellerDomain, Seq: 1, Kind: anp.KeyEventRotate, Key: pub(nextSellerKey), Change: &rot},
		{Domain: sellerDomain, Seq: 2, Kind: anp.KeyEventRevoke, Key: pub(nextSellerKey), Change: &rev},
	}
}

// countersigned is ev's leaf, countersigned by registry chain key 0 at ms.
func countersigned(tb testing.TB, ev anp.KeyEvent, ms int64) *anp.KeyEventLeaf {
	tb.Helper()
	chain := buildKeyChain(tb, rootKey, notaryKey, nextKey)
	l, err := anp.CountersignKeyEvent(ev, notaryKey, chain[0], time.UnixMilli(ms))
	if err != nil {
		tb.Fatal(err)
	}
	return l
}

// fixtureLeaves are the fixture events as logged, each notarised when it
// was signed.
func fixtureLeaves(tb testing.TB) []*anp.KeyEventLeaf {
	tb.Helper()
	evs := fixtureEvents(tb)
	return []*anp.KeyEventLeaf{countersigned(tb, evs[0], t0Ms), countersigned(tb, evs[1], rotateMs), countersigned(tb, evs[2], revokeMs)}
}

// keyEventOutcome names the outcome of a grant or key event check the way
// the vector files do.
func keyEventOutcome(err error) string {
	for name, class := range map[string]error{
		"grant_format": anp.ErrGrantFormat, "grant_signature": anp.ErrGrantSignature, "grant_domain": anp.ErrGrantDomain,
		"grant_expired": anp.ErrGrantExpired, "key_event_malformed": anp.ErrKeyEventMalformed, "key_event_signature": anp.ErrKeyEventSignature,
		"key_possession": anp.ErrKeyPossession, "key_event_notary": anp.ErrKeyEventNotary, "key_event_order": anp.ErrKeyEventOrder,
		"duplicate_key": anp.ErrDuplicateKey, "key_case": anp.ErrKeyCase,
	} {
		if errors.Is(err, class) {
			return name
		}
	}
	if err == nil {
		return "valid"
	}
	return "error: " + err.Error()
}

type grantCase struct {
	Description string `json:"description"`
	Grant       string `json:"grant"`
	Domain      string `json:"domain"`
	Now         int64  `json:"now"`
	Expect      string `json:"expect"`
}

type leafCase struct {
	Description string `json:"description"`
	LeafData    string `json:"leaf_data"`
	LeafHash    string `json:"leaf_hash,omitempty"`
	Expect      string `json:"expect"`
}

type sequenceCase struct {
	Description string            `json:"description"`
	Domain      string            `json:"domain"`
	Events      []json.RawMessage `json:"events"`
	Key         string            `json:"key,omitempty"`
	Revoked     bool              `json:"revoked,omitempty"`
	Expect      string            `json:"expect"`
}

// grantCases are the grant vectors: the fixture grant and grants a
// registry MUST refuse, each checked with anp.ParseGrant.
func grantCases(tb testing.TB) []grantCase {
	tb.Helper()
	c := fixtureGrantClaims()
	good := mustGrant(tb, c, rootKey)
	body, sig, _ := strings.Cut(good, ".")
	long := c
	long.Exp = c.Iat + 31*24*3_600_000
	shortID := c
	shortID.ID = "0f0e"
	signed := func(v anp.GrantClaims) string {
		s, _ := anp.Sign(rootKey, anp.PurposeGrant, v)
		return grantText(mustCanonical(tb, v), s)
	}
	dup := `{"domain":"shop.anp","domain":"kitchen-outlet.anp","exp":1735776000000,"iat":1735689600000,"id":"` + fixtureGrantID + `"}`
	upper := `{"Domain":"kitchen-outlet.anp","exp":1735776000000,"iat":1735689600000,"id":"` + fixtureGrantID + `"}`
	return []grantCase{
		{"the fixture grant, an hour after it was issued", good, sellerDomain, t0Ms + 3_600_000, "valid"},
		{"the fixture grant, a minute before iat (within the clock skew)", good, sellerDomain, t0Ms - 60_000, "valid"},
		{"for another domain", good, "other-shop.anp", t0Ms + 3_600_000, "grant_domain"},
		{"at exp", good, sellerDomain, c.Exp, "grant_expired"},
		{"long before iat", good, sellerDomain, t0Ms - 3_600_000, "grant_expired"},
		{"signed by registry chain key 0, not the root key", mustGrant(tb, c, notaryKey), sellerDomain, t0Ms, "grant_signature"},
		{"signed by the root key for another purpose (registry/token)", grantText(mustCanonical(tb, c), func() string { s, _ := anp.Sign(rootKey, anp.PurposeToken, c); return s }()), sellerDomain, t0Ms, "grant_signature"},
		{"the operator token of a registry without grants", "operator-secret", sellerDomain, t0Ms, "grant_format"},
		{"claims not base64url", "!!!." + sig, sellerDomain, t0Ms, "grant_format"},
		{"three parts", body + "." + sig + "." + sig, sellerDomain, t0Ms, "grant_format"},
		{"valid for 31 days", signed(long), sellerDomain, t0Ms, "grant_format"},
		{"an id of 2 bytes", signed(shortID), sellerDomain, t0Ms, "grant_format"},
		{"domain twice in the claims", grantText([]byte(dup), sig), sellerDomain, t0Ms, "duplicate_key"},
		{"Domain for domain", grantText([]byte(upper), sig), sellerDomain, t0Ms, "key_case"},
	}
}

// mutatedLeaf re-countersigns the fixture event i after mut changed it, so
// that only the event's own check fails.
func mutatedLeaf(tb testing.TB, i int, mut func(ev *anp.KeyEvent)) *anp.KeyEventLeaf {
	tb.Helper()
	evs := fixtureEvents(tb)
	ev := evs[i]
	if ev.Change != nil {
		c := *ev.Change
		ev.Change = &c
	}
	mut(&ev)
	return countersigned(tb, ev, fixtureLeaves(tb)[i].Registry.NotarizedAt)
}

// resignChange signs the change of ev again with key under purpose p.
func resignChange(ev *anp.KeyEvent, p anp.Purpose, key []byte) {
	ev.Change.Sig, _ = anp.Sign(key, p, ev.Change.Change)
}

// leafCases are the key event leaves: the three fixture leaves and leaves a
// verifier MUST refuse, each checked with anp.ParseLeaf and
// KeyEventLeaf.Verify under the fixture root key and key chain.
func leafCases(tb testing.TB) []leafCase {
	tb.Helper()
	leaves := fixtureLeaves(tb)
	data := func(l *anp.KeyEventLeaf) string { return string(mustCanonical(tb, l)) }
	var out []leafCase
	for i, d := range []string{"event 0: the seller key bound with the fixture grant", "event 1: rotation to the next key, signed by both keys",
		"event 2: the operator revokes the next key with the root key"} {
		out = append(out, leafCase{d, data(leaves[i]), hex.EncodeToString(anp.LeafHash([]byte(data(leaves[i])))), "valid"})
	}
	refuse := func(desc string, l *anp.KeyEventLeaf, expect string) {
		out = append(out, leafCase{Description: desc, LeafData: data(l), Expect: expect})
	}
	refuse("rotation signed by a stranger instead of the old key", mutatedLeaf(tb, 1, func(ev *anp.KeyEvent) { resignChange(ev, anp.PurposeKeyRotation, identityKey) }), "key_event_signature")
	refuse("rotation signed by the old key for purpose seller/key-revocation", mutatedLeaf(tb, 1, func(ev *anp.KeyEvent) { resignChange(ev, anp.PurposeKeyRevocation, sellerKey) }), "key_event_signature")
	refuse("rotation without new_sig", mutatedLeaf(tb, 1, func(ev *anp.KeyEvent) { ev.Change.NewSig = "" }), "key_possession")
	refuse("rotation whose new_sig is by the old key", mutatedLeaf(tb, 1, func(ev *anp.KeyEvent) {
		ev.Change.NewSig, _ = anp.Sign(sellerKey, anp.PurposeKeyRotation, ev.Change.Change)
	}), "key_possession")
	refuse("rotation by the operator", mutatedLeaf(tb, 1, func(ev *anp.KeyEvent) {
		ev.Change.Change.By = anp.ChangeByOperator
		resignChange(ev, anp.PurposeOperatorRevocation, rootKey)
	}), "key_event_malformed")
	refuse("event key is not the change's new key", mutatedLeaf(tb, 1, func(ev *anp.KeyEvent) { ev.Key = pub(identityKey) }), "key_event_malformed")
	refuse("change seq is not the event's", mutatedLeaf(tb, 1, func(ev *anp.KeyEvent) { ev.Seq = 5 }), "key_event_malformed")
	refuse("operator revocation signed by the seller key", mutatedLeaf(tb, 2, func(ev *anp.KeyEvent) { resignChange(ev, anp.PurposeOperatorRevocation, nextSellerKey) }), "key_event_signature")
	refuse("revocation naming a new key", mutatedLeaf(tb, 2, func(ev *anp.KeyEvent) {
		ev.Change.Change.NewKey = pub(sellerKey)
		resignChange(ev, anp.PurposeOperatorRevocation, rootKey)
	}), "key_event_malformed")
	refuse("bind request signed by another key", mutatedLeaf(tb, 0, func(ev *anp.KeyEvent) {
		b := *ev.Bind
		_ = anp.SignBindRequest(&b, anp.Signer(identityKey))
		ev.Bind = &b
	}), "key_event_signature")
	refuse("bind request for another key", mutatedLeaf(tb, 0, func(ev *anp.KeyEvent) { ev.Key = pub(nextSellerKey) }), "key_event_malformed")
	refuse("kind replace", mutatedLeaf(tb, 1, func(ev *anp.KeyEvent) { ev.Kind = "replace" }), "key_event_malformed")
	late := *leaves[1]
	late.Registry = countersigned(tb, leaves[1].Event, rotateMs+6*60_000).Registry
	refuse("rotation logged 6 minutes after it was signed", &late, "key_event_malformed")
	forged := *leaves[1]
	forged.Registry.Sig, _ = anp.Sign(nextKey, anp.PurposeKeyEvent, json.RawMessage(`{}`))
	refuse("countersignature not by chain key 0", &forged, "key_event_notary")
	expired := *leaves[0] // a binding from before key events were logged: no request, no ts
	expired.Event.Bind = nil
	expired.Event.Grant = ""
	expired.Registry = countersigned(tb, expired.Event, t0Ms+2*3_600_000).Registry
	refuse("countersigned after chain key 0 expired", &expired, "key_event_notary")
	out = append(out, leafCase{Description: "kind twice in the event", LeafData: strings.Replace(data(leaves[1]), `"kind":"rotate"`, `"kind":"bind","kind":"rotate"`, 1), Expect: "duplicate_key"})
	out = append(out, leafCase{Description: "Key_Event for key_event", LeafData: strings.Replace(data(leaves[1]), `"key_event"`, `"Key_Event"`, 1), Expect: "key_case"})
	return out
}

// sequenceCases are histories to replay with KeyState.Apply from an
// unbound domain: the fixture history and orders a verifier MUST refuse.
func sequenceCases(tb testing.TB) []sequenceCase {
	tb.Helper()
	evs := fixtureEvents(tb)
	raw := func(list ...anp.KeyEvent) []json.RawMessage {
		out := make([]json.RawMessage, len(list))
		for i, e := range list {
			out[i] = mustCanonical(tb, e)
		}
		return out
	}
	rebind := evs[0]
	rebind.Seq = 1
	second := evs[1]
	second.Seq = 3
	return []sequenceCase{
		{"bind", sellerDomain, raw(evs[0]), pub(sellerKey), false, "valid"},
		{"bind, rotate", sellerDomain, raw(evs[0], evs[1]), pub(nextSellerKey), false, "valid"},
		{"bind, rotate, revoke: no usable key", sellerDomain, raw(evs...), pub(nextSellerKey), true, "valid"},
		{"rotate before any binding", sellerDomain, raw(evs[1]), "", false, "key_event_order"},
		{"bind twice", sellerDomain, raw(evs[0], rebind), "", false, "key_event_order"},
		{"revoke a key that is not bound", sellerDomain, raw(evs[0], func() anp.KeyEvent { e := evs[2]; e.Seq = 1; return e }()), "", false, "key_event_order"},
		{"a gap in seq", sellerDomain, raw(evs[0], evs[1], second), "", false, "key_event_order"},
		{"another domain's history", "other-shop.anp", raw(evs[0]), "", false, "key_event_order"},
	}
}

// checkSequence replays a sequence case.
func checkSequence(c sequenceCase) error {
	st := anp.KeyState{Domain: c.Domain}
	for i, raw := range c.Events {
		var ev anp.KeyEvent
		if err := anp.DecodeStrict(raw, &ev); err != nil {
			return err
		}
		if err := st.Apply(&ev, uint64(i)); err != nil {
			return err
		}
	}
	if st.Key != c.Key || st.Revoked != c.Revoked {
		return errors.New("the replay ends on another key state")
	}
	return nil
}

// checkLeaf parses and verifies a leaf case under the fixture keys.
func checkLeaf(tb testing.TB, c leafCase) error {
	_, l, err := anp.ParseLeaf([]byte(c.LeafData))
	if err != nil {
		return err
	}
	if l == nil {
		return errors.New("not a key event leaf")
	}
	return l.Verify(pub(rootKey), buildKeyChain(tb, rootKey, notaryKey, nextKey))
}

// addKeyEventVectors adds key_events.json: enrolment grants, key event
// signatures, key event leaves and key histories, valid and refused.
func addKeyEventVectors(tb testing.TB, files map[string][]byte) {
	tb.Helper()
	c := fixtureGrantClaims()
	grant := mustGrant(tb, c, rootKey)
	_, gsig, _ := strings.Cut(grant, ".")
	leaves := fixtureLeaves(tb)
	rot, rev := leaves[1].Event.Change, leaves[2].Event.Change
	type section[T any] struct {
		Description string `json:"description"`
		Cases       []T    `json:"cases"`
	}
	f := struct {
		Description    string                `json:"description"`
		RootKey        string                `json:"root_key"`
		KeyChain       []anp.KeyEntry        `json:"key_chain"`
		GrantSignature sigVector             `json:"grant_signature"`
		RotationOld    sigVector             `json:"rotation_by_old_key"`
		RotationNew    sigVector             `json:"rotation_by_new_key"`
		Revocation     sigVector             `json:"operator_revocation"`
		Countersign    sigVector             `json:"countersignature"`
		Grants         section[grantCase]    `json:"grants"`
		Leaves         section[leafCase]     `json:"leaves"`
		Sequences      section[sequenceCase] `json:"sequences"`
	}{
		Description: "Enrolment grants and key events (protocol §11, §15): the grant of kitchen-outlet.anp, the domain's key history " +
			"(0 bind of seller_identity, 1 rotation to seller_next, 2 operator revocation of seller_next) as countersigned log leaves, and cases to refuse.",
		RootKey:        pub(rootKey),
		KeyChain:       buildKeyChain(tb, rootKey, notaryKey, nextKey),
		GrantSignature: newSigVector(tb, "root key signature over the grant claims: the hex after the '.' of the grant", anp.PurposeGrant, rootKey, c, gsig, nil, false),
		RotationOld:    newSigVector(tb, "the old key signs the rotation", anp.PurposeKeyRotation, sellerKey, rot.Change, rot.Sig, nil, false),
		RotationNew:    newSigVector(tb, "the new key signs the same rotation (proof of possession)", anp.PurposeKeyRotation, nextSellerKey, rot.Change, rot.NewSig, nil, false),
		Revocation:     newSigVector(tb, "the registry root key revokes the next key (operator revocation)", anp.PurposeOperatorRevocation, rootKey, rev.Change, rev.Sig, nil, false),
		Countersign: newSigVector(tb, "registry chain key 0 countersigns key event 1 over {key_event, key_index, key, notarized_at}", anp.PurposeKeyEvent, notaryKey,
			map[string]any{"key_event": leaves[1].Event, "key_index": leaves[1].Registry.KeyIndex, "key": leaves[1].Registry.Key, "notarized_at": leaves[1].Registry.NotarizedAt},
			leaves[1].Registry.Sig, nil, false),
		Grants:    section[grantCase]{"anp.ParseGrant(grant, root_key, domain, now): the registry's check of an enrolment grant.", grantCases(tb)},
		Leaves:    section[leafCase]{"anp.ParseLeaf(leaf_data) is a key event, and KeyEventLeaf.Verify(root_key, key_chain) passes; leaf_hash is SHA-256(0x00 || leaf_data).", leafCases(tb)},
		Sequences: section[sequenceCase]{"Replaying events (each already verified) with KeyState.Apply from an unbound domain ends on key and revoked, or fails.", sequenceCases(tb)},
	}
	for _, gc := range f.Grants.Cases {
		_, err := anp.ParseGrant(gc.Grant, f.RootKey, gc.Domain, time.UnixMilli(gc.Now))
		if got := keyEventOutcome(err); got != gc.Expect {
			tb.Fatalf("grant case %q: outcome %s, want %s", gc.Description, got, gc.Expect)
		}
	}
	for _, lc := range f.Leaves.Cases {
		if got := keyEventOutcome(checkLeaf(tb, lc)); got != lc.Expect {
			tb.Fatalf("leaf case %q: outcome %s, want %s", lc.Description, got, lc.Expect)
		}
	}
	for _, sc := range f.Sequences.Cases {
		if got := keyEventOutcome(checkSequence(sc)); got != sc.Expect {
			tb.Fatalf("sequence case %q: outcome %s, want %s", sc.Description, got, sc.Expect)
		}
	}
	files["key_events.json"] = encodeVector(tb, f)
}

package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/registry"
)

// errEntriesMismatch marks log entries that do not make the signed tree
// head: the registry shows entries other than the ones it signed.
var errEntriesMismatch = errors.New("log entries do not match the signed tree head")

// entryFollower reads every log entry (GET /v1/log/entries), rebuilds the
// tree from them and checks its root against each signed tree head, so an
// entry the registry shows is the one it signed. Entries that are deals of
// domain are verified completely (anp.VerifyArtifact with an inclusion
// proof against the head) and printed, and so are its key events (bindings,
// rotations, revocations) and the events of its deals, each replayed
// through its deal's lifecycle rules (anp.Lifecycles): a breach, dispute
// or delivery the registry logged against the rules is printed as not
// verifying. The verified tree (its compact range) and the deals still in
// flight are kept with the watch state after each head, and a later run
// watching the same domain resumes from them instead of from entry 0.
type entryFollower struct {
	env    *cliEnv
	c      *registry.Client
	domain string
	rng    *compact.Range
	deals  *anp.Lifecycles // the domain's deals in flight; nil until the key chain is known
	kept   []anp.Lifecycle // those of the resumed state, until deals is made
}

func newEntryFollower(env *cliEnv, c *registry.Client, domain string) *entryFollower {
	f := &entryFollower{env: env, c: c, domain: domain, rng: rangeFactory.NewEmptyRange(0)}
	v := c.WatchState().Entries
	switch {
	case v == nil:
	case v.Domain != domain:
		fmt.Fprintf(env.stdout, "reading the log from entry 0: the verified entries were watched for %s\n", v.Domain)
	case !v.DealsKept:
		fmt.Fprintf(env.stdout, "reading the log from entry 0: the verified entries were kept without the deals of %s in flight\n", domain)
	default:
		rng, err := resumeRange(v)
		if err != nil {
			fmt.Fprintf(env.stdout, "reading the log from entry 0: %v\n", err)
			break
		}
		f.rng, f.kept = rng, v.Deals
		fmt.Fprintf(env.stdout, "resuming after entry %d, verified against head %s, with %d deals of %s in flight\n", v.Head.Size, registry.DescribeHead(&v.Head), len(v.Deals), domain)
	}
	return f
}

var rangeFactory = &compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}

// resumeRange rebuilds the stored compact range and checks that its root
// is the root of the head it was verified against.
func resumeRange(v *registry.VerifiedEntries) (*compact.Range, error) {
	hashes := make([][]byte, len(v.Range))
	for i, h := range v.Range {
		b, err := hex.DecodeString(h)
		if err != nil || len(b) != 32 {
			return nil, fmt.Errorf("the stored range's hash %d is malformed", i)
		}
		hashes[i] = b
	}
	rng, err := rangeFactory.NewRange(0, v.Head.Size, hashes)
	if err != nil {
		return nil, fmt.Errorf("the stored range does not fit size %d: %w", v.Head.Size, err)
	}
	root := rfc6962.DefaultHasher.EmptyRoot()
	if v.Head.Size > 0 {
		root, err = rng.GetRootHash(nil)
	}
	if err != nil || hex.EncodeToString(root) != v.Head.RootHash {
		return nil, fmt.Errorf("the stored range does not make the root of head %s", registry.DescribeHead(&v.Head))
	}
	return rng, nil
}

// catchUp reads the entries from the verified tree up to h.Size, checks
// the rebuilt root and keeps the verified tree; entries that do not make
// the root are errEntriesMismatch. A head no larger than the verified tree
// has nothing to read (the log watcher checked its consistency).
func (f *entryFollower) catchUp(ctx context.Context, h *anp.SignedTreeHead) error {
	if h.Size <= f.rng.End() {
		return nil
	}
	var watched []uint64
	var leaves = map[uint64][]byte{}
	next, err := rangeFactory.NewRange(0, f.rng.End(), slices.Clone(f.rng.Hashes()))
	if err != nil {
		return fmt.Errorf("verified tree: %w", err)
	}
	for next.End() < h.Size {
		page, err := f.c.LogEntries(ctx, next.End(), h.Size)
		if err != nil {
			return fmt.Errorf("log entries from %d: %w", next.End(), err)
		}
		for _, leaf := range page {
			idx := next.End()
			if err := next.Append(anp.LeafHash(leaf), nil); err != nil {
				return fmt.Errorf("log entry %d: %w", idx, err)
			}
			if f.isWatched(leaf) {
				watched = append(watched, idx)
				leaves[idx] = leaf
			}
		}
	}
	root, err := next.GetRootHash(nil)
	if err != nil {
		return fmt.Errorf("rebuild the log root: %w", err)
	}
	if hex.EncodeToString(root) != h.RootHash {
		return fmt.Errorf("%w: entries 0..%d make root %x, the registry signed %s", errEntriesMismatch, h.Size-1, root, registry.DescribeHead(h))
	}
	if len(watched) > 0 && f.deals == nil {
		keys, err := f.c.Keys(ctx)
		if err != nil {
			return err
		}
		f.deals = anp.NewLifecycles(keys.RootKey, keys.Chain, f.kept)
	}
	f.rng = next
	for _, idx := range watched {
		f.show(ctx, idx, leaves[idx], h)
	}
	open := f.kept
	if f.deals != nil {
		open = f.deals.Open()
	}
	return f.c.SaveVerifiedEntries(registry.VerifiedEntries{Domain: f.domain, Head: *h, Range: hexHashes(next.Hashes()), Deals: open, DealsKept: true})
}

func hexHashes(hs [][]byte) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = hex.EncodeToString(h)
	}
	return out
}

// isWatched reports whether leaf is a deal, a deal event or a key event
// of the watched domain.
func (f *entryFollower) isWatched(leaf []byte) bool {
	l, err := anp.ParseLogLeaf(leaf)
	switch {
	case err != nil:
		return false
	case l.KeyEvent != nil:
		return l.KeyEvent.Event.Domain == f.domain
	case l.DealEvent != nil:
		return l.DealEvent.Event.SellerDomain == f.domain
	}
	return l.Artifact.Terms.SellerDomain == f.domain
}

// show verifies a watched deal, deal event or key event against h and
// prints it.
func (f *entryFollower) show(ctx context.Context, idx uint64, leaf []byte, h *anp.SignedTreeHead) {
	l, _ := anp.ParseLogLeaf(leaf) // isWatched parsed it
	switch {
	case l.KeyEvent != nil:
		f.showKeyEvent(ctx, idx, l.KeyEvent, h)
		return
	case l.DealEvent != nil:
		f.showDealEvent(ctx, idx, l.DealEvent)
		return
	}
	a := l.Artifact
	status := "verified"
	if err := f.verify(ctx, a, idx, h); err != nil {
		status = "DOES NOT VERIFY: " + err.Error()
	} else if err := f.deals.Deal(idx, a); err != nil {
		status = "verified, but its lifecycle does not start: " + err.Error()
	}
	t := a.Terms
	fmt.Fprintf(f.env.stdout, "deal %d: %s sold %d x %q for %s (session %s, buyer key %s…) %s\n",
		idx, t.SellerDomain, t.Quantity, t.Item, t.Price, t.SessionID, shortHex(t.BuyerKey), status)
}

// verify checks a logged artifact completely, with a receipt made of its
// inclusion proof in h and the registry's key chain.
func (f *entryFollower) verify(ctx context.Context, a *anp.Artifact, idx uint64, h *anp.SignedTreeHead) error {
	keys, err := f.c.Keys(ctx)
	if err != nil {
		return err
	}
	proof, err := f.c.Inclusion(ctx, idx, h.Size)
	if err != nil {
		return err
	}
	a.Receipt = &anp.Receipt{LeafIndex: idx, TreeHead: *h, Inclusion: proof, KeyChain: keys.Chain, RootKey: keys.RootKey}
	return anp.VerifyArtifact(a, anp.VerifyOptions{RootKey: keys.RootKey})
}

func shortHex(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

// showDealEvent replays a logged event of one of the watched domain's
// deals through the deal's lifecycle rules (the registry's
// countersignature with its key chain, the signer, the order, the
// deadline) and prints it. Inclusion in the head is proved by the rebuilt
// root.
func (f *entryFollower) showDealEvent(ctx context.Context, idx uint64, l *anp.DealEventLeaf) {
	ev := &l.Event
	status := "verified"
	if keys, err := f.c.KeyChainFor(ctx, l.Registry.KeyIndex); err == nil {
		f.deals.SetChain(keys.Chain)
	}
	life, err := f.deals.Event(idx, l)
	if err != nil {
		status = "DOES NOT VERIFY: " + err.Error()
	}
	how := ev.By
	if ev.Rule != "" {
		how += ", rule " + ev.Rule
	}
	state := ""
	if life != nil {
		state = ", now " + string(life.State)
	}
	fmt.Fprintf(f.env.stdout, "deal event %d: %s of session %s (deal %d) by %s%s %s\n", idx, ev.Kind, ev.Session, ev.DealLeaf, how, state, status)
}

// showKeyEvent verifies a logged key event of the watched domain (its
// signatures, the registry countersignature and its inclusion in h) and
// prints it: a binding, rotation or revocation the seller should recognise.
func (f *entryFollower) showKeyEvent(ctx context.Context, idx uint64, k *anp.KeyEventLeaf, h *anp.SignedTreeHead) {
	status := "verified"
	if err := f.verifyKeyEvent(ctx, k, idx, h); err != nil {
		status = "DOES NOT VERIFY: " + err.Error()
	}
	fmt.Fprintf(f.env.stdout, "%s %s\n", describeKeyEvent(&k.Event, idx), status)
}

func (f *entryFollower) verifyKeyEvent(ctx context.Context, k *anp.KeyEventLeaf, idx uint64, h *anp.SignedTreeHead) error {
	keys, err := f.c.Keys(ctx)
	if err != nil {
		return err
	}
	if err := k.Verify(keys.RootKey, keys.Chain); err != nil {
		return err
	}
	proof, err := f.c.Inclusion(ctx, idx, h.Size)
	if err != nil {
		return err
	}
	data, err := k.LeafData()
	if err != nil {
		return err
	}
	return anp.VerifyInclusion(data, idx, h, proof)
}

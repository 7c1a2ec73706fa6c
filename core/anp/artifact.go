package anp

import (
	"crypto/ed25519"
	"fmt"
	"time"
)

// DealTerms is what buyer and seller agree on: the part of the artifact
// that both sign. It binds the session, both keys, the seller domain, item,
// quantity, terms, price and currency, and the transcript head.
type DealTerms struct {
	V            int    `json:"v"`
	SessionID    string `json:"session_id"`
	Mode         Mode   `json:"mode"`
	SellerDomain string `json:"seller_domain"`
	SellerKey    string `json:"seller_key"` // seller identity key bound to the domain
	BuyerKey     string `json:"buyer_key"`  // buyer's ephemeral session key
	// BuyerIdentity is the buyer's identity key when its PROPOSE presented
	// it (ProposeBody.BuyerIdentity): the deal then counts toward that
	// identity's reputation. Empty for an unlinkable session.
	BuyerIdentity  string            `json:"buyer_identity,omitempty"`
	Item           string            `json:"item"`
	Quantity       int               `json:"quantity"`
	Terms          map[string]string `json:"terms,omitempty"`
	Price          Money             `json:"price"`
	TranscriptHead string            `json:"transcript_head"` // hash of the seller's ACCEPT envelope
	TranscriptLen  uint64            `json:"transcript_len"`
	AgreedAt       int64             `json:"agreed_at"`  // unix ms of the ACCEPT envelope
	CreatedAt      int64             `json:"created_at"` // unix ms when the buyer signed
	// Commitment is the obligation the deal creates (omitted by deals
	// signed before it was carried; see Obligations).
	Commitment *Commitment `json:"commitment,omitempty"`
}

// validate checks the deal's shape: version, session, mode, transcript,
// times and quantity here, then the parties and the goods.
func (d *DealTerms) validate() error {
	switch {
	case d.V != Version:
		return fmt.Errorf("artifact version %d is not supported", d.V)
	case !validSessionID(d.SessionID):
		return fmt.Errorf("session_id is not a 32-character hex id")
	case !d.Mode.Valid():
		return fmt.Errorf("mode %q is not valid", d.Mode)
	case !ValidHash(d.TranscriptHead):
		return fmt.Errorf("transcript_head is not a 64-character hex hash")
	case d.TranscriptLen < 2:
		return fmt.Errorf("transcript_len %d is too short for a deal", d.TranscriptLen)
	case d.AgreedAt <= 0 || d.CreatedAt < d.AgreedAt:
		return fmt.Errorf("created_at must not precede agreed_at")
	case d.Quantity < 1 || d.Quantity > MaxQuantity:
		return fmt.Errorf("quantity %d out of range", d.Quantity)
	}
	if err := d.checkParties(); err != nil {
		return err
	}
	if err := d.checkGoods(); err != nil {
		return err
	}
	return d.checkCommitment()
}

// checkParties checks who the deal is between: the seller's domain and
// identity key and the buyer's session key.
func (d *DealTerms) checkParties() error {
	if err := ValidateDomain(d.SellerDomain); err != nil {
		return fmt.Errorf("seller_domain: %w", err)
	}
	if err := checkPublicKey(d.SellerKey); err != nil {
		return fmt.Errorf("seller_key: %w", err)
	}
	if err := checkPublicKey(d.BuyerKey); err != nil {
		return fmt.Errorf("buyer_key: %w", err)
	}
	if d.BuyerIdentity != "" {
		if err := checkPublicKey(d.BuyerIdentity); err != nil {
			return fmt.Errorf("buyer_identity: %w", err)
		}
	}
	return nil
}

// checkGoods checks what the deal is for: the item, its terms and the price.
func (d *DealTerms) checkGoods() error {
	if err := checkText("item", d.Item, MaxItemLen, true); err != nil {
		return err
	}
	if err := checkTerms(d.Terms); err != nil {
		return err
	}
	if err := d.Price.Positive(); err != nil {
		return fmt.Errorf("price: %w", err)
	}
	return nil
}

// Countersignature is the registry's notary signature and log receipt.
type Countersignature struct {
	KeyIndex    uint64 `json:"key_index"`
	Key         string `json:"key"`
	NotarizedAt int64  `json:"notarized_at"`
	Sig         string `json:"sig"`
}

// Receipt proves the artifact is in the registry's transparency log.
type Receipt struct {
	LeafIndex uint64         `json:"leaf_index"`
	TreeHead  SignedTreeHead `json:"tree_head"`
	Inclusion []string       `json:"inclusion"`
	KeyChain  []KeyEntry     `json:"key_chain"`
	RootKey   string         `json:"root_key"`
}

// Artifact is the triple-signed deal record.
type Artifact struct {
	Terms     DealTerms         `json:"deal"`
	BuyerSig  string            `json:"buyer_sig"`
	SellerSig string            `json:"seller_sig,omitempty"`
	Registry  *Countersignature `json:"registry,omitempty"`
	Receipt   *Receipt          `json:"receipt,omitempty"`
}

// sellerSigned is what the seller signs: the deal and the buyer's signature.
type sellerSigned struct {
	Terms    DealTerms `json:"deal"`
	BuyerSig string    `json:"buyer_sig"`
}

// notarySigned is what the registry signs.
type notarySigned struct {
	Terms       DealTerms `json:"deal"`
	BuyerSig    string    `json:"buyer_sig"`
	SellerSig   string    `json:"seller_sig"`
	KeyIndex    uint64    `json:"key_index"`
	Key         string    `json:"key"`
	NotarizedAt int64     `json:"notarized_at"`
}

// LeafData returns the bytes the transparency log stores for a notarised
// artifact: JCS of the artifact without its receipt.
func (a *Artifact) LeafData() ([]byte, error) {
	if a.Registry == nil {
		return nil, fmt.Errorf("anp: artifact has no registry countersignature")
	}
	c := *a
	c.Receipt = nil
	return Canonical(&c)
}

// SignAsBuyer validates the terms and adds the buyer's signature. key must be
// the session key named in Terms.BuyerKey.
func (a *Artifact) SignAsBuyer(key ed25519.PrivateKey) error {
	if err := a.Terms.validate(); err != nil {
		return Errorf(CodeBadRequest, "artifact: %v", err)
	}
	if PublicKeyHex(key.Public().(ed25519.PublicKey)) != a.Terms.BuyerKey {
		return Errorf(CodeBadRequest, "artifact: signing key is not the buyer key of the deal")
	}
	sig, err := Sign(key, PurposeArtifactBuyer, &a.Terms)
	if err != nil {
		return err
	}
	a.BuyerSig = sig
	return nil
}

// VerifyBuyer checks the buyer's signature.
func (a *Artifact) VerifyBuyer() error { return a.VerifyBuyerWith(nil) }

// VerifyBuyerWith is VerifyBuyer through the party's signature cache.
func (a *Artifact) VerifyBuyerWith(c *SigCache) error {
	if err := a.Terms.validate(); err != nil {
		return Errorf(CodeBadRequest, "artifact: %v", err)
	}
	if err := verifyWith(c, a.Terms.BuyerKey, PurposeArtifactBuyer, &a.Terms, a.BuyerSig); err != nil {
		return Errorf(CodeBadSignature, "artifact buyer signature: %v", err)
	}
	return nil
}

// SellerSignature computes the seller's signature without storing it.
func (a *Artifact) SellerSignature(key ed25519.PrivateKey) (string, error) {
	if PublicKeyHex(key.Public().(ed25519.PublicKey)) != a.Terms.SellerKey {
		return "", Errorf(CodeBadRequest, "artifact: signing key is not the seller key of the deal")
	}
	return Sign(key, PurposeArtifactSeller, sellerSigned{a.Terms, a.BuyerSig})
}

// VerifySeller checks the seller's signature.
func (a *Artifact) VerifySeller() error { return a.VerifySellerWith(nil) }

// VerifySellerWith is VerifySeller through the party's signature cache.
func (a *Artifact) VerifySellerWith(c *SigCache) error {
	if err := verifyWith(c, a.Terms.SellerKey, PurposeArtifactSeller, sellerSigned{a.Terms, a.BuyerSig}, a.SellerSig); err != nil {
		return Errorf(CodeBadSignature, "artifact seller signature: %v", err)
	}
	return nil
}

// Countersign adds the registry's signature with the chain key entry.
func (a *Artifact) Countersign(key ed25519.PrivateKey, entry KeyEntry, now time.Time) error {
	if PublicKeyHex(key.Public().(ed25519.PublicKey)) != entry.Key {
		return fmt.Errorf("anp: countersign: key does not match key chain entry %d", entry.Index)
	}
	cs := &Countersignature{KeyIndex: entry.Index, Key: entry.Key, NotarizedAt: now.UnixMilli()}
	sig, err := Sign(key, PurposeArtifactNotary, a.notaryInput(cs))
	if err != nil {
		return err
	}
	cs.Sig = sig
	a.Registry = cs
	return nil
}

func (a *Artifact) notaryInput(cs *Countersignature) notarySigned {
	return notarySigned{a.Terms, a.BuyerSig, a.SellerSig, cs.KeyIndex, cs.Key, cs.NotarizedAt}
}

// VerifyOptions controls offline artifact verification.
type VerifyOptions struct {
	// RootKey pins the registry root key (hex). Empty trusts the root key
	// carried in the receipt, which proves only internal consistency.
	RootKey string
	// Cache, when set, is the verifying party's signature cache: the
	// signatures it has already checked (or made) are not verified again.
	Cache *SigCache
}

// VerifyArtifact checks everything offline: the deal terms, the buyer and
// seller signatures, the registry key chain up to its root, the registry
// countersignature, the signed tree head and the log inclusion proof.
// The error names the first check that failed.
func VerifyArtifact(a *Artifact, opt VerifyOptions) error {
	if a == nil {
		return Errorf(CodeBadRequest, "artifact is empty")
	}
	if err := a.verifyParties(opt.Cache); err != nil {
		return err
	}
	if a.Registry == nil || a.Receipt == nil {
		return Errorf(CodeBadSignature, "artifact has no registry countersignature and log receipt")
	}
	if err := a.verifyNotary(opt); err != nil {
		return err
	}
	return a.verifyLogged(opt.Cache)
}

// verifyParties checks the buyer's signature (with the deal terms) and the
// seller's, which must be present.
func (a *Artifact) verifyParties(c *SigCache) error {
	if err := a.VerifyBuyerWith(c); err != nil {
		return err
	}
	if a.SellerSig == "" {
		return Errorf(CodeBadSignature, "artifact has no seller signature")
	}
	return a.VerifySellerWith(c)
}

// verifyNotary checks the registry countersignature: the receipt's key
// chain up to its (pinned) root, the countersigning key's place in that
// chain and its validity at notarized_at (ErrKeyWindow), the notarisation
// time and the signature itself. a.Registry
// and a.Receipt must not be nil.
func (a *Artifact) verifyNotary(opt VerifyOptions) error {
	r, cs := a.Receipt, a.Registry
	if opt.RootKey != "" && opt.RootKey != r.RootKey {
		return Errorf(CodeBadSignature, "registry root key %s is not the pinned key %s", short(r.RootKey), short(opt.RootKey))
	}
	if err := verifyKeyChain(opt.Cache, r.RootKey, r.KeyChain); err != nil {
		return err
	}
	entry, err := chainEntry(r.KeyChain, cs.KeyIndex)
	if err != nil {
		return err
	}
	if entry.Key != cs.Key {
		return Errorf(CodeBadSignature, "registry countersignature key is not key %d of the registry key chain", entry.Index)
	}
	if err := entry.checkWindow("artifact countersignature", cs.NotarizedAt); err != nil {
		return err
	}
	if cs.NotarizedAt < a.Terms.CreatedAt {
		return Errorf(CodeBadRequest, "artifact was notarised before it was created")
	}
	if err := verifyWith(opt.Cache, entry.Key, PurposeArtifactNotary, a.notaryInput(cs), cs.Sig); err != nil {
		return Errorf(CodeBadSignature, "registry countersignature: %v", err)
	}
	return nil
}

// verifyLogged checks the receipt's signed tree head, that it is not dated
// before notarized_at, and the proof that the artifact is in the log. a.Registry and a.Receipt must not be nil.
func (a *Artifact) verifyLogged(c *SigCache) error {
	r := a.Receipt
	if err := verifyTreeHead(c, &r.TreeHead, r.KeyChain); err != nil {
		return err
	}
	if r.TreeHead.Timestamp < a.Registry.NotarizedAt {
		return Errorf(CodeBadSignature, "tree head of size %d is dated before the artifact was notarised, so it cannot hold it", r.TreeHead.Size)
	}
	leaf, err := a.LeafData()
	if err != nil {
		return err
	}
	return VerifyInclusion(leaf, r.LeafIndex, &r.TreeHead, r.Inclusion)
}

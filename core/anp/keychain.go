package anp

import (
	"crypto/ed25519"
	"errors"
	"time"
)

// ErrKeyWindow: a registry statement (a domain binding at its bound_at, a
// signed tree head at its timestamp, an artifact countersignature at its
// notarized_at, a token at its iat) is dated outside the validity window
// of the chain key that signed it. It comes with the code bad_signature
// (unauthorized for a token); test with errors.Is.
var ErrKeyWindow = errors.New("dated outside its registry key's validity window")

// KeyEntry is one link of the registry key chain. The registry's long-term
// root key signs each entry; Prev is the hash of the previous entry, so the
// chain cannot be reordered or have entries removed without detection.
type KeyEntry struct {
	Index      uint64 `json:"index"`
	Key        string `json:"key"`
	ValidFrom  int64  `json:"valid_from"`  // unix ms
	ValidUntil int64  `json:"valid_until"` // unix ms, exclusive
	Prev       string `json:"prev"`        // hash of entry Index-1, "" for 0
	Sig        string `json:"sig"`         // root key over the entry without sig
}

// ValidAt reports whether the key was valid at ms.
func (k *KeyEntry) ValidAt(ms int64) bool { return ms >= k.ValidFrom && ms < k.ValidUntil }

// checkWindow refuses a statement (what) dated at ms outside the key's
// validity window with ErrKeyWindow.
func (k *KeyEntry) checkWindow(what string, ms int64) error {
	if k.ValidAt(ms) {
		return nil
	}
	return Errorf(CodeBadSignature, "%v", classErr(ErrKeyWindow, "%s is dated %s, outside registry key %d's validity [%s, %s)",
		what, fmtMillis(ms), k.Index, fmtMillis(k.ValidFrom), fmtMillis(k.ValidUntil)))
}

// fmtMillis formats unix milliseconds as RFC 3339 UTC.
func fmtMillis(ms int64) string { return time.UnixMilli(ms).UTC().Format(time.RFC3339Nano) }

func (k *KeyEntry) unsigned() KeyEntry { c := *k; c.Sig = ""; return c }

// Hash is the chain hash of the entry (over the signed entry).
func (k *KeyEntry) Hash() (string, error) { return Hash(k) }

// NewKeyEntry creates and signs the next key chain entry with the root key.
func NewKeyEntry(root ed25519.PrivateKey, prev *KeyEntry, key ed25519.PublicKey, from, until time.Time) (KeyEntry, error) {
	e := KeyEntry{Key: PublicKeyHex(key), ValidFrom: from.UnixMilli(), ValidUntil: until.UnixMilli()}
	if prev != nil {
		h, err := prev.Hash()
		if err != nil {
			return KeyEntry{}, err
		}
		e.Index = prev.Index + 1
		e.Prev = h
	}
	sig, err := Sign(root, PurposeKeyChain, e.unsigned())
	if err != nil {
		return KeyEntry{}, err
	}
	e.Sig = sig
	return e, nil
}

// VerifyKeyChain checks every entry's root signature, index and prev link.
func VerifyKeyChain(rootHex string, chain []KeyEntry) error {
	return verifyKeyChain(nil, rootHex, chain)
}

// verifyKeyChain is VerifyKeyChain through a signature cache.
func verifyKeyChain(c *SigCache, rootHex string, chain []KeyEntry) error {
	if len(chain) == 0 {
		return Errorf(CodeBadSignature, "registry key chain is empty")
	}
	prev := ""
	for i := range chain {
		e := &chain[i]
		if e.Index != uint64(i) {
			return Errorf(CodeBadSignature, "registry key chain entry %d has index %d", i, e.Index)
		}
		if e.Prev != prev {
			return Errorf(CodeBadSignature, "registry key chain entry %d does not link to entry %d", i, i-1)
		}
		if e.ValidUntil <= e.ValidFrom {
			return Errorf(CodeBadSignature, "registry key chain entry %d has an empty validity window", i)
		}
		if err := verifyWith(c, rootHex, PurposeKeyChain, e.unsigned(), e.Sig); err != nil {
			return Errorf(CodeBadSignature, "registry key chain entry %d: %v", i, err)
		}
		h, err := e.Hash()
		if err != nil {
			return err
		}
		prev = h
	}
	return nil
}

func chainEntry(chain []KeyEntry, idx uint64) (*KeyEntry, error) {
	if idx >= uint64(len(chain)) {
		return nil, Errorf(CodeBadSignature, "registry key %d is not in the key chain (%d entries)", idx, len(chain))
	}
	return &chain[idx], nil
}

// ChainKey returns the entry for idx after the chain has been verified.
func ChainKey(chain []KeyEntry, idx uint64) (*KeyEntry, error) { return chainEntry(chain, idx) }

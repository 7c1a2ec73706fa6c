package anp

import (
	"crypto/sha256"
)

// SigCache remembers the signatures one party has verified, or made
// itself, so that the party checks each signature at most once: a
// transcript appended to, an artifact verified on receipt and again when
// it comes back notarised, a bearer token presented on every request. A
// hit needs the same key, signature and signing input (purpose and
// canonical bytes), so it vouches for nothing the party has not checked.
//
// It holds at most its capacity of entries in two generations: when the
// newer one is full the older one is dropped. A nil *SigCache caches
// nothing, and its methods verify every time. It is safe for concurrent use.
type SigCache struct {
	seen *memo[sigDigest, struct{}]
}

// sigDigest is SHA-256 of key, signature and signing input.
type sigDigest [sha256.Size]byte

// DefaultSigCacheSize is the capacity parties use.
const DefaultSigCacheSize = 1024

// NewSigCache returns a cache of at most size entries (at least 2).
func NewSigCache(size int) *SigCache {
	return &SigCache{seen: newMemo[sigDigest, struct{}](size)}
}

// appendDigestHead appends what the digest of a signature puts before
// its signing input: key 0x00 signature 0x00.
func appendDigestHead(dst []byte, pubHex, sigHex string) []byte {
	return append(append(append(append(dst, pubHex...), 0), sigHex...), 0)
}

// signedInput writes key 0x00 signature 0x00 and then the signing input
// of v for p into buf, and returns the digest of it all and the signing
// input within it.
func signedInput(buf []byte, pubHex string, p Purpose, v any, sigHex string) (all, msg []byte, d sigDigest, err error) {
	all = appendDigestHead(buf, pubHex, sigHex)
	head := len(all)
	if all, err = appendSigningInput(all, p, v); err != nil {
		return all, nil, d, err
	}
	return all, all[head:], sha256.Sum256(all), nil
}

func (c *SigCache) has(d sigDigest) bool {
	_, ok := c.seen.get(d)
	return ok
}

func (c *SigCache) add(d sigDigest) { c.seen.put(d, struct{}{}) }

// Len returns the number of signatures remembered.
func (c *SigCache) Len() int {
	if c == nil {
		return 0
	}
	return c.seen.len()
}

// Verify is anp.Verify that skips signatures this cache has seen verify
// (or made) and remembers the ones that verify now.
func (c *SigCache) Verify(pubHex string, p Purpose, v any, sigHex string) error {
	if c == nil {
		return Verify(pubHex, p, v, sigHex)
	}
	buf := borrowScratch()
	all, msg, d, err := signedInput(buf.b[:0], pubHex, p, v, sigHex)
	defer buf.giveBack(all)
	if err != nil {
		if kerr := keyAndSignatureError(pubHex, sigHex); kerr != nil {
			return kerr // the error anp.Verify gives first
		}
		return err
	}
	if c.has(d) {
		return nil
	}
	key, sig, err := parseKeyAndSignature(pubHex, sigHex)
	if err != nil {
		return err
	}
	if err := verifyMessage(&key, p, msg, &sig); err != nil {
		return err
	}
	c.add(d)
	return nil
}

// Remember records a signature the party made itself over v for p with
// the key pubHex, so that checking it later costs no verification.
func (c *SigCache) Remember(pubHex string, p Purpose, v any, sigHex string) error {
	if c == nil {
		return nil
	}
	buf := borrowScratch()
	all, _, d, err := signedInput(buf.b[:0], pubHex, p, v, sigHex)
	buf.giveBack(all)
	if err != nil {
		return err
	}
	c.add(d)
	return nil
}

// RememberEnvelope records an envelope the party sealed itself.
func (c *SigCache) RememberEnvelope(e *Envelope) error {
	return c.Remember(e.From, PurposeEnvelope, unsignedEnvelope{e}, e.Sig)
}

// verifyWith verifies through c, or directly when c is nil.
func verifyWith(c *SigCache, pubHex string, p Purpose, v any, sigHex string) error {
	return c.Verify(pubHex, p, v, sigHex)
}

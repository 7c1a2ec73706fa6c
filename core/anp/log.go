package anp

import (
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

// The named failures of log proofs. Each comes with the code bad_signature;
// test with errors.Is.
var (
	// ErrProofHash: a proof hash is not 64 lower-case hex characters, or the
	// proof has more than 64 hashes.
	ErrProofHash = errors.New("malformed proof hash")
	// ErrLeafIndex: the leaf index is not below the tree size.
	ErrLeafIndex = errors.New("leaf index outside the tree")
	// ErrProofShape: the proof has the wrong number of hashes for the
	// sizes, or the sizes admit no proof (the second smaller than the first).
	ErrProofShape = errors.New("proof has the wrong shape for the tree sizes")
	// ErrRootMismatch: the proof has the right shape but does not lead to
	// the root hash (or, for consistency, to both root hashes).
	ErrRootMismatch = errors.New("proof does not lead to the root hash")
	// ErrHeadNotFresh: a tree head fetched as the log's current head is
	// dated more than MaxClockSkew away from the reader's clock.
	ErrHeadNotFresh = errors.New("tree head is not dated near the current time")
	// ErrHeadTimeBackwards: of two tree heads of one log, the one with more
	// entries is dated before the one with fewer.
	ErrHeadTimeBackwards = errors.New("a larger tree head is dated before a smaller one")
)

// proofErr classifies an error of the proof package.
func proofErr(err error) error {
	if errors.As(err, new(proof.RootMismatchError)) {
		return classErr(ErrRootMismatch, "%v", err)
	}
	return classErr(ErrProofShape, "%v", err)
}

// SignedTreeHead commits to the transparency log at a size (RFC 9162 shape:
// leaf hash SHA-256(0x00 || data), node hash SHA-256(0x01 || left || right)).
type SignedTreeHead struct {
	Size      uint64 `json:"size"`
	RootHash  string `json:"root_hash"`
	Timestamp int64  `json:"timestamp"` // unix ms
	KeyIndex  uint64 `json:"key_index"`
	Sig       string `json:"sig"`
}

func (h *SignedTreeHead) unsigned() SignedTreeHead { c := *h; c.Sig = ""; return c }

// SignTreeHead signs h with the chain key at h.KeyIndex.
func SignTreeHead(h *SignedTreeHead, sign func(Purpose, any) (string, error)) error {
	sig, err := sign(PurposeTreeHead, h.unsigned())
	if err != nil {
		return err
	}
	h.Sig = sig
	return nil
}

// VerifyTreeHead checks the tree head signature against the (verified)
// chain: the key at h.KeyIndex must have been valid at h.Timestamp
// (ErrKeyWindow otherwise).
func VerifyTreeHead(h *SignedTreeHead, chain []KeyEntry) error {
	return verifyTreeHead(nil, h, chain)
}

// verifyTreeHead is VerifyTreeHead through a signature cache.
func verifyTreeHead(c *SigCache, h *SignedTreeHead, chain []KeyEntry) error {
	if !ValidHash(h.RootHash) {
		return Errorf(CodeBadSignature, "tree head root hash is malformed")
	}
	e, err := chainEntry(chain, h.KeyIndex)
	if err != nil {
		return err
	}
	if err := e.checkWindow(fmt.Sprintf("tree head of size %d", h.Size), h.Timestamp); err != nil {
		return err
	}
	if err := verifyWith(c, e.Key, PurposeTreeHead, h.unsigned(), h.Sig); err != nil {
		return Errorf(CodeBadSignature, "tree head of size %d: %v", h.Size, err)
	}
	return nil
}

// CheckHeadFresh refuses a tree head fetched as the log's current head
// (GET /v1/log/head) that is dated more than MaxClockSkew away from now:
// a registry cannot pass off an old head (of an old key's window, or of a
// tree it has since forked) as its current one.
func CheckHeadFresh(h *SignedTreeHead, now time.Time) error {
	if ms := now.UnixMilli(); msApart(h.Timestamp, ms) > uint64(MaxClockSkew.Milliseconds()) {
		return Errorf(CodeBadSignature, "%v", classErr(ErrHeadNotFresh, "the current tree head of size %d is dated %s, more than %v from now (%s)",
			h.Size, fmtMillis(h.Timestamp), MaxClockSkew, fmtMillis(ms)))
	}
	return nil
}

// msApart is |a − b| without overflow.
func msApart(a, b int64) uint64 {
	if a >= b {
		return uint64(a) - uint64(b)
	}
	return uint64(b) - uint64(a)
}

// CheckHeadOrder refuses two tree heads of one log (both verified) when
// the one with more entries is dated before the one with fewer: the log
// would have shrunk between the two dates.
func CheckHeadOrder(a, b *SignedTreeHead) error {
	if a.Size > b.Size {
		a, b = b, a
	}
	if a.Size < b.Size && b.Timestamp < a.Timestamp {
		return Errorf(CodeBadSignature, "%v", classErr(ErrHeadTimeBackwards, "the tree head of size %d is dated %s, before the head of size %d dated %s",
			b.Size, fmtMillis(b.Timestamp), a.Size, fmtMillis(a.Timestamp)))
	}
	return nil
}

// LeafHash returns the RFC 9162 leaf hash of data.
func LeafHash(data []byte) []byte { return rfc6962.DefaultHasher.HashLeaf(data) }

// VerifyInclusion checks that data is leaf index of the tree committed by h.
func VerifyInclusion(data []byte, index uint64, h *SignedTreeHead, path []string) error {
	root, err := hex.DecodeString(h.RootHash)
	if err != nil {
		return Errorf(CodeBadSignature, "tree head root hash: %v", err)
	}
	p, err := decodeHashes(path)
	if err != nil {
		return Errorf(CodeBadSignature, "inclusion proof: %v", err)
	}
	if index >= h.Size {
		return Errorf(CodeBadSignature, "%v", classErr(ErrLeafIndex, "leaf index %d is outside the tree of size %d", index, h.Size))
	}
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, index, h.Size, LeafHash(data), p, root); err != nil {
		return Errorf(CodeBadSignature, "log inclusion proof for leaf %d in tree of size %d does not verify: %v", index, h.Size, proofErr(err))
	}
	return nil
}

// VerifyConsistency checks that the tree at newer extends the tree at older.
func VerifyConsistency(older, newer *SignedTreeHead, path []string) error {
	r1, err1 := hex.DecodeString(older.RootHash)
	r2, err2 := hex.DecodeString(newer.RootHash)
	if err1 != nil || err2 != nil {
		return Errorf(CodeBadSignature, "tree head root hash is malformed")
	}
	p, err := decodeHashes(path)
	if err != nil {
		return Errorf(CodeBadSignature, "consistency proof: %v", err)
	}
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, older.Size, newer.Size, p, r1, r2); err != nil {
		return Errorf(CodeBadSignature, "log of size %d is not an extension of size %d: %v", newer.Size, older.Size, proofErr(err))
	}
	return nil
}

func decodeHashes(in []string) ([][]byte, error) {
	if len(in) > 64 {
		return nil, classErr(ErrProofHash, "%d hashes is longer than any valid proof", len(in))
	}
	out := make([][]byte, len(in))
	for i, s := range in {
		b, err := decodeHexLen(s, 32, fmt.Sprintf("hash %d", i))
		if err != nil {
			return nil, classErr(ErrProofHash, "%v", err)
		}
		out[i] = b
	}
	return out, nil
}

package anp

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"math/bits"
	"strconv"
)

// DefaultMaxDifficulty is the client-side cap on PoW difficulty (bits). A
// registry that asks for more is refused instead of being obeyed.
const DefaultMaxDifficulty = 24

// Challenge is the registry's PoW challenge for one public key.
type Challenge struct {
	ID         string `json:"challenge_id"`
	Nonce      string `json:"nonce"`
	PubKey     string `json:"pubkey"`
	Difficulty int    `json:"difficulty"` // leading zero bits of the hash
	Expires    int64  `json:"expires"`    // unix ms
}

// PoWHash is SHA-256("clinch-anp/1" 0 "auth/pow" 0 nonce 0 pubkey 0 decimal(solution)).
// Binding the public key means a solution is worthless for any other key.
func PoWHash(nonce, pubKey string, solution uint64) [32]byte {
	var buf [256]byte
	b := append(buf[:0], signingPrefix...)
	b = append(b, 0)
	b = append(b, "auth/pow"...)
	b = append(b, 0)
	b = append(b, nonce...)
	b = append(b, 0)
	b = append(b, pubKey...)
	b = append(b, 0)
	b = strconv.AppendUint(b, solution, 10)
	return sha256.Sum256(b)
}

// LeadingZeroBits counts the leading zero bits of h.
func LeadingZeroBits(h [32]byte) int {
	n := 0
	for i := 0; i < 32; i += 8 {
		w := binary.BigEndian.Uint64(h[i:])
		if w != 0 {
			return n + bits.LeadingZeros64(w)
		}
		n += 64
	}
	return n
}

// CheckPoW reports whether solution meets difficulty for nonce and pubKey.
func CheckPoW(nonce, pubKey string, solution uint64, difficulty int) bool {
	return LeadingZeroBits(PoWHash(nonce, pubKey, solution)) >= difficulty
}

// SolvePoW searches for a solution. It refuses a difficulty above maxDifficulty
// (use DefaultMaxDifficulty when 0) and stops when ctx is done.
func SolvePoW(ctx context.Context, ch *Challenge, maxDifficulty int) (uint64, error) {
	if maxDifficulty <= 0 {
		maxDifficulty = DefaultMaxDifficulty
	}
	if ch.Difficulty < 0 || ch.Difficulty > maxDifficulty {
		return 0, Errorf(CodeRefused, "registry asks for proof-of-work difficulty %d, above the client cap of %d bits", ch.Difficulty, maxDifficulty)
	}
	for s := uint64(0); ; s++ {
		if s&0xfff == 0 && ctx.Err() != nil {
			return 0, ctx.Err()
		}
		if CheckPoW(ch.Nonce, ch.PubKey, s, ch.Difficulty) {
			return s, nil
		}
	}
}

// PossessionProof is what the client signs with its identity key together
// with the PoW solution, proving it holds the key the work was bound to.
type PossessionProof struct {
	ChallengeID string `json:"challenge_id"`
	Nonce       string `json:"nonce"`
	PubKey      string `json:"pubkey"`
	Solution    uint64 `json:"solution"`
}

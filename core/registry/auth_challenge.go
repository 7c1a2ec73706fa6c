package registry

import (
	"context"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// Stateless login challenges. Issuing a challenge stores nothing: its id
// carries the expiry and the difficulty, and a MAC under a key derived from
// the registry's root key binds them, and a random part, to the public key
// it was issued to. The nonce the client works on is derived from the id
// under the same key. A challenge is remembered only once it is redeemed
// (a valid proof of work and proof of possession), until it expires, so the
// memory it takes grows with successful logins, never with requests.
//
//	id    = hex(version(1) || expires_ms(8, big endian) || difficulty(1) || random(16) || tag(16))
//	tag   = HMAC-SHA256(k, "challenge-tag" 0x00 version..random 0x00 pubkey)[:16]
//	nonce = hex(HMAC-SHA256(k, "challenge-nonce" 0x00 version..tag))
//	k     = HKDF-SHA256(root seed, info "clinch-anp/1 registry login challenge")
//
// The format is private to the registry: clients treat the id as opaque.
const (
	challengeVersion = 1
	challengeBodyLen = 1 + 8 + 1 + 16
	challengeTagLen  = 16
	challengeIDLen   = challengeBodyLen + challengeTagLen // bytes; the id is twice as many hex digits
	// challengeRedeemSlack keeps a redeemed id a little past its expiry, so
	// a replay store on another clock cannot forget it early.
	challengeRedeemSlack = time.Minute
)

// challengeMinter issues and opens stateless challenges.
type challengeMinter struct{ key []byte }

// newChallengeMinter derives the MAC key from the root key's seed.
func newChallengeMinter(root ed25519.PrivateKey) (*challengeMinter, error) {
	key, err := hkdf.Key(sha256.New, root.Seed(), nil, "clinch-anp/1 registry login challenge", 32)
	if err != nil {
		return nil, fmt.Errorf("registry: derive the challenge key: %w", err)
	}
	return &challengeMinter{key: key}, nil
}

func (m *challengeMinter) mac(label string, parts ...[]byte) []byte {
	h := hmac.New(sha256.New, m.key)
	h.Write([]byte(label))
	for _, p := range parts {
		h.Write([]byte{0})
		h.Write(p)
	}
	return h.Sum(nil)
}

// issue returns a challenge for pub that expires at expires.
func (m *challengeMinter) issue(pub string, difficulty int, expires time.Time) anp.Challenge {
	id := make([]byte, challengeBodyLen, challengeIDLen)
	id[0] = challengeVersion
	binary.BigEndian.PutUint64(id[1:9], uint64(expires.UnixMilli()))
	id[9] = byte(difficulty)
	if _, err := rand.Read(id[10:challengeBodyLen]); err != nil {
		panic("registry: crypto/rand failed: " + err.Error())
	}
	id = append(id, m.mac("challenge-tag", id, []byte(pub))[:challengeTagLen]...)
	return anp.Challenge{
		ID:         hex.EncodeToString(id),
		Nonce:      hex.EncodeToString(m.mac("challenge-nonce", id)),
		PubKey:     pub,
		Difficulty: difficulty,
		Expires:    expires.UnixMilli(),
	}
}

// errForeignChallenge is the one answer to every challenge id this
// registry did not issue to the key: it says nothing about which check
// failed.
var errForeignChallenge = anp.Errorf(anp.CodeUnauthorized, "challenge was not issued by this registry to this key")

// open checks that id is a challenge this registry issued to pub and
// returns it. It does not check the expiry or whether it was redeemed.
func (m *challengeMinter) open(id, pub string) (anp.Challenge, error) {
	raw, err := parseChallengeID(id)
	if err != nil {
		return anp.Challenge{}, err
	}
	want := m.mac("challenge-tag", raw[:challengeBodyLen], []byte(pub))[:challengeTagLen]
	if !hmac.Equal(raw[challengeBodyLen:], want) {
		return anp.Challenge{}, errForeignChallenge
	}
	return anp.Challenge{
		ID:         id,
		Nonce:      hex.EncodeToString(m.mac("challenge-nonce", raw)),
		PubKey:     pub,
		Difficulty: int(raw[9]),
		Expires:    int64(binary.BigEndian.Uint64(raw[1:9])),
	}, nil
}

// parseChallengeID decodes a challenge id: lower-case hex of the right
// length and version (one spelling per id, so that single use cannot be
// dodged with upper-case digits) and an expiry within the integer range.
func parseChallengeID(id string) ([]byte, error) {
	if len(id) != 2*challengeIDLen {
		return nil, errForeignChallenge
	}
	raw, err := hex.DecodeString(id)
	if err != nil || hex.EncodeToString(raw) != id || raw[0] != challengeVersion {
		return nil, errForeignChallenge
	}
	if binary.BigEndian.Uint64(raw[1:9]) > anp.MaxSafeInteger {
		return nil, errForeignChallenge
	}
	return raw, nil
}

// redeemChallenge marks ch used, refusing a challenge redeemed before. It
// is called only after the proof of work and the proof of possession
// verified, so only successful logins are remembered.
func (s *Server) redeemChallenge(ctx context.Context, ch anp.Challenge) error {
	fresh, err := s.nonces.RecordOnce(ctx, "challenge/"+ch.ID, time.UnixMilli(ch.Expires).Add(challengeRedeemSlack))
	if err != nil {
		return fmt.Errorf("registry: record the redeemed challenge: %w", err)
	}
	if !fresh {
		return anp.Errorf(anp.CodeUnauthorized, "challenge was already used: ask for a new one")
	}
	return nil
}

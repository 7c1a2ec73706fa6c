package anp_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

const powNonce = "00112233445566778899aabbccddeeff"

func TestPoWHash(t *testing.T) {
	key := pub(identityKey)
	in := "clinch-anp/1\x00auth/pow\x00" + powNonce + "\x00" + key + "\x00" + strconv.FormatUint(123456, 10)
	if got, want := anp.PoWHash(powNonce, key, 123456), sha256.Sum256([]byte(in)); got != want {
		t.Fatalf("PoWHash = %x, want SHA-256(%q) = %x", got, in, want)
	}
	// The hash binds the key, the nonce and the solution.
	base := anp.PoWHash(powNonce, key, 1)
	for name, h := range map[string][32]byte{
		"other key":      anp.PoWHash(powNonce, pub(strangerKey), 1),
		"other nonce":    anp.PoWHash(fixedNonce(0x99), key, 1),
		"other solution": anp.PoWHash(powNonce, key, 2),
	} {
		if h == base {
			t.Errorf("%s gives the same hash", name)
		}
	}
	// Long inputs do not overflow the stack buffer or truncate.
	long := string(make([]byte, 1000))
	if anp.PoWHash(long, key, 1) == anp.PoWHash(long[:999], key, 1) {
		t.Error("long nonce truncated")
	}
}

func TestLeadingZeroBits(t *testing.T) {
	tests := []struct {
		set  int // index of the single set bit, -1 for none
		want int
	}{
		{-1, 256}, {0, 0}, {1, 1}, {7, 7}, {8, 8}, {23, 23}, {63, 63}, {64, 64}, {65, 65}, {128, 128}, {200, 200}, {255, 255},
	}
	for _, tt := range tests {
		var h [32]byte
		if tt.set >= 0 {
			h[tt.set/8] = 0x80 >> (tt.set % 8)
			h[31] |= 1 // bits below the first set bit never count
		}
		if got := anp.LeadingZeroBits(h); got != tt.want {
			t.Errorf("bit %d set: LeadingZeroBits = %d, want %d", tt.set, got, tt.want)
		}
	}
}

func TestSolveAndCheckPoW(t *testing.T) {
	key := pub(identityKey)
	for _, difficulty := range []int{0, 1, 4, 8} {
		ch := &anp.Challenge{ID: "c1", Nonce: powNonce, PubKey: key, Difficulty: difficulty}
		s, err := anp.SolvePoW(context.Background(), ch, 0)
		if err != nil {
			t.Fatalf("difficulty %d: %v", difficulty, err)
		}
		if !anp.CheckPoW(powNonce, key, s, difficulty) || anp.LeadingZeroBits(anp.PoWHash(powNonce, key, s)) < difficulty {
			t.Fatalf("difficulty %d: solution %d does not check", difficulty, s)
		}
		// The search starts at 0, so no smaller solution exists.
		for smaller := uint64(0); smaller < s; smaller++ {
			if anp.CheckPoW(powNonce, key, smaller, difficulty) {
				t.Fatalf("difficulty %d: %d is a smaller solution than %d", difficulty, smaller, s)
			}
		}
		if difficulty >= 4 && anp.CheckPoW(powNonce, pub(strangerKey), s, difficulty) && anp.CheckPoW(fixedNonce(0x42), key, s, difficulty) {
			t.Fatalf("difficulty %d: solution works for another key and nonce", difficulty)
		}
	}
	if anp.CheckPoW(powNonce, key, 0, 257) {
		t.Fatal("CheckPoW met 257 bits")
	}
}

func TestSolvePoWRefusesAboveCap(t *testing.T) {
	tests := []struct {
		difficulty, max int
		msg             string
	}{
		{30, 24, "difficulty 30, above the client cap of 24 bits"},
		{25, 0, "above the client cap of 24 bits"},
		{9, 8, "difficulty 9"},
		{256, 0, "difficulty 256"},
		{-1, 0, "difficulty -1"},
	}
	for _, tt := range tests {
		ch := &anp.Challenge{Nonce: powNonce, PubKey: pub(identityKey), Difficulty: tt.difficulty}
		// A cancelled context proves the refusal happens before any search.
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		s, err := anp.SolvePoW(ctx, ch, tt.max)
		if s != 0 {
			t.Errorf("refused solve returned %d", s)
		}
		wantCode(t, err, anp.CodeRefused, tt.msg)
	}
	if anp.DefaultMaxDifficulty != 24 {
		t.Fatalf("DefaultMaxDifficulty = %d, want 24", anp.DefaultMaxDifficulty)
	}
}

func TestSolvePoWStopsOnContext(t *testing.T) {
	// 64 bits within a 64-bit cap is allowed but will not be found.
	ch := &anp.Challenge{Nonce: powNonce, PubKey: pub(identityKey), Difficulty: 64}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := anp.SolvePoW(ctx, ch, 64); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := anp.SolvePoW(ctx, ch, 64); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("deadline: %v", err)
	}
}

func TestPossessionProof(t *testing.T) {
	p := anp.PossessionProof{ChallengeID: "c1", Nonce: powNonce, PubKey: pub(identityKey), Solution: 42}
	sig, err := anp.Sign(identityKey, anp.PurposePoW, p)
	if err != nil {
		t.Fatal(err)
	}
	if err := anp.Verify(pub(identityKey), anp.PurposePoW, p, sig); err != nil {
		t.Fatal(err)
	}
	other := p
	other.Solution = 43
	wantCode(t, anp.Verify(pub(identityKey), anp.PurposePoW, other, sig), anp.CodeBadSignature, "does not verify")
	other = p
	other.PubKey = pub(strangerKey)
	if err := anp.Verify(pub(strangerKey), anp.PurposePoW, other, sig); err == nil {
		t.Fatal("possession proof verified for another key")
	}
	wantCode(t, anp.Verify(pub(identityKey), anp.PurposeWSAuth, p, sig), anp.CodeBadSignature, "does not verify")
	if got := string(mustCanonical(t, p)); got != `{"challenge_id":"c1","nonce":"`+powNonce+`","pubkey":"`+pub(identityKey)+`","solution":42}` {
		t.Fatalf("possession proof JSON = %s", got)
	}
}

package anp

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"testing"
)

// badEdKeys are keys ParsePublicKey refuses, with their class.
var badEdKeys = []struct {
	hex  string
	want error
}{
	{"0100000000000000000000000000000000000000000000000000000000000000", ErrKeySmallOrder},   // identity
	{"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a", ErrKeySmallOrder},   // order 8
	{"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", ErrKeySmallOrder},   // order 2
	{"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", ErrKeyNonCanonical}, // y = p+1
	{"0100000000000000000000000000000000000000000000000000000000000080", ErrKeyNonCanonical}, // x = -0
	{"0200000000000000000000000000000000000000000000000000000000000000", ErrKeyNotOnCurve},   // y = 2
}

// lowOrderX25519 are X25519 public keys of low order (u = 0, 1, the two
// points of order 8, p-1, p, p+1).
var lowOrderX25519 = []string{
	"0000000000000000000000000000000000000000000000000000000000000000",
	"0100000000000000000000000000000000000000000000000000000000000000",
	"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
	"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
}

func goodEdKey(t testing.TB) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(pub)
}

// TestKeyMemoRefusesBadKeysEveryTime: a refused key is refused with the
// same class on every parse, before and after good keys were remembered,
// and a good key is accepted every time.
func TestKeyMemoRefusesBadKeysEveryTime(t *testing.T) {
	good := goodEdKey(t)
	for round := 0; round < 3; round++ {
		for _, k := range badEdKeys {
			if _, err := ParsePublicKey(k.hex); !errors.Is(err, k.want) {
				t.Errorf("round %d: ParsePublicKey(%s): %v, want %v", round, k.hex, err, k.want)
			}
		}
		for _, k := range lowOrderX25519 {
			if _, err := parseX25519Key(k, "enc_key"); err == nil {
				t.Errorf("round %d: parseX25519Key(%s) accepted a low-order point", round, k)
			}
		}
		pub, err := ParsePublicKey(good)
		if err != nil || hex.EncodeToString(pub) != good {
			t.Fatalf("round %d: ParsePublicKey(good) = %x, %v", round, pub, err)
		}
		if _, err := parseX25519Key(good, "enc_key"); err != nil {
			t.Fatalf("round %d: parseX25519Key(good): %v", round, err)
		}
	}
}

// TestKeyMemoNeighbourOfGoodKey: bytes one bit away from a remembered good
// key get their own verdict, never the good key's.
func TestKeyMemoNeighbourOfGoodKey(t *testing.T) {
	good := goodEdKey(t)
	if err := checkPublicKey(good); err != nil {
		t.Fatal(err)
	}
	b, _ := hex.DecodeString(good)
	refused := 0
	for bit := 0; bit < 256; bit++ {
		n := append([]byte(nil), b...)
		n[bit/8] ^= 1 << (bit % 8)
		want := pointClass(n)
		for range 2 {
			err := checkPublicKey(hex.EncodeToString(n))
			if want == nil && err != nil || want != nil && !errors.Is(err, want) {
				t.Fatalf("bit %d flipped: %v, want %v", bit, err, want)
			}
		}
		if want != nil {
			refused++
		}
	}
	if refused == 0 {
		t.Fatal("no neighbour of the good key is refused: the test shows nothing")
	}
}

// TestKeyMemoBounded: the memo keeps at most its size, and the process
// memos stay within keyMemoSize however many keys are parsed.
func TestKeyMemoBounded(t *testing.T) {
	m := newMemo[int, int](8)
	for i := range 100 {
		m.put(i, i*i)
		if n := m.len(); n > 8 {
			t.Fatalf("memo of 8 holds %d after %d puts", n, i+1)
		}
		if v, ok := m.get(i); !ok || v != i*i {
			t.Fatalf("memo lost the entry just put: %d, %v", v, ok)
		}
	}
	if _, ok := m.get(0); ok {
		t.Fatal("memo of 8 still holds the first of 100 entries")
	}
	var b [32]byte
	for i := range keyMemoSize + 100 {
		if _, err := rand.Read(b[:]); err != nil {
			t.Fatal(err)
		}
		s := hex.EncodeToString(b[:])
		_ = checkPublicKey(s)
		if i%8 == 0 {
			_, _ = x25519KeyBytes(s, "enc_key")
		}
	}
	if n := edKeys.len(); n > keyMemoSize {
		t.Errorf("Ed25519 key memo holds %d, at most %d allowed", n, keyMemoSize)
	}
	if n := x25519LowOrder.len(); n > keyMemoSize {
		t.Errorf("X25519 key memo holds %d, at most %d allowed", n, keyMemoSize)
	}
}

// TestKeyMemoConcurrent parses good and bad keys from many goroutines
// (run with -race): every verdict is the right one.
func TestKeyMemoConcurrent(t *testing.T) {
	goods := []string{goodEdKey(t), goodEdKey(t), goodEdKey(t)}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				bad := badEdKeys[(g+i)%len(badEdKeys)]
				if err := checkPublicKey(bad.hex); !errors.Is(err, bad.want) {
					errs <- fmt.Errorf("%s: %v, want %v", bad.hex, err, bad.want)
					return
				}
				if err := checkPublicKey(goods[(g+i)%len(goods)]); err != nil {
					errs <- err
					return
				}
				if _, err := x25519KeyBytes(lowOrderX25519[(g+i)%len(lowOrderX25519)], "enc_key"); err == nil {
					errs <- errors.New("a low-order X25519 key was accepted")
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

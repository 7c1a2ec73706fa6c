package anp

import (
	"crypto/ed25519"
	"fmt"
	"sync"

	"golang.org/x/crypto/curve25519"
)

// memo is a bounded, concurrency-safe memo of a pure function of K: it
// holds at most its capacity of entries in two generations, and when the
// newer one is full the older one is dropped. An entry found only in the
// older generation moves into the newer one, so the values in use stay.
// A miss only means the caller computes the value again.
type memo[K comparable, V any] struct {
	mu        sync.Mutex
	cur, prev map[K]V
	half      int
}

// newMemo returns a memo of at most size entries (at least 2).
func newMemo[K comparable, V any](size int) *memo[K, V] {
	half := max(size/2, 1)
	return &memo[K, V]{cur: make(map[K]V, half), half: half}
}

func (m *memo[K, V]) get(k K) (V, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if v, ok := m.cur[k]; ok {
		return v, true
	}
	v, ok := m.prev[k]
	if ok {
		delete(m.prev, k)
		m.putLocked(k, v)
	}
	return v, ok
}

func (m *memo[K, V]) put(k K, v V) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.putLocked(k, v)
}

func (m *memo[K, V]) putLocked(k K, v V) {
	if len(m.cur) >= m.half {
		m.prev, m.cur = m.cur, make(map[K]V, m.half)
	}
	m.cur[k] = v
}

// len returns the number of entries held.
func (m *memo[K, V]) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.cur) + len(m.prev)
}

// keyMemoSize bounds each of the key memos: the keys a process meets
// over and over (its own, its counterparties', the registry's) fit many
// times over.
const keyMemoSize = 4096

// Process-wide bounded memos of pure functions of the exact 32 key bytes:
// pointClass of an Ed25519 public key with its −A (classifyEdKey), and
// whether an X25519 public key is of low order. A party parses the same few keys on every message; the
// verdict of a 32-byte string never changes.
var (
	edKeys         = newMemo[[32]byte, edKey](keyMemoSize)
	x25519LowOrder = newMemo[[32]byte, bool](keyMemoSize)
)

// edKeyOf is classifyEdKey(b), remembered.
func edKeyOf(b *[32]byte) edKey {
	if k, ok := edKeys.get(*b); ok {
		return k
	}
	k := classifyEdKey(b)
	edKeys.put(*b, k)
	return k
}

// isLowOrderX25519 reports whether X25519 with b fails for any scalar, as
// it does exactly when the point has low order (the shared secret would be
// all zeros), remembered.
func isLowOrderX25519(b *[32]byte) bool {
	if low, ok := x25519LowOrder.get(*b); ok {
		return low
	}
	probe := [32]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	_, err := curve25519.X25519(probe[:], b[:])
	low := err != nil
	x25519LowOrder.put(*b, low)
	return low
}

// parseKey is ParsePublicKey without the allocation of the key, with −A.
func parseKey(s string) (parsedKey, error) {
	if err := checkHexLen(s, ed25519.PublicKeySize, "public key"); err != nil {
		return parsedKey{}, &classError{class: ErrKeyFormat, msg: err.Error()}
	}
	b := decodeHex32(s)
	k := edKeyOf(&b)
	if k.class != nil {
		return parsedKey{}, &classError{class: k.class, msg: fmt.Sprintf("anp: public key %s…: %v", s[:16], k.class)}
	}
	return parsedKey{pub: b, negA: k.negA}, nil
}

// checkPublicKey is ParsePublicKey's check alone.
func checkPublicKey(s string) error {
	_, err := parseKey(s)
	return err
}

// x25519KeyBytes is parseX25519Key without the allocation of the key.
func x25519KeyBytes(s, what string) ([32]byte, error) {
	if err := checkHexLen(s, 32, what); err != nil {
		return [32]byte{}, err
	}
	b := decodeHex32(s)
	if isLowOrderX25519(&b) {
		return [32]byte{}, fmt.Errorf("%s %s… is a low-order point and cannot be sealed to", what, s[:12])
	}
	return b, nil
}

// decodeHex32 decodes 64 characters that checkHexLen accepted (lower-case
// hex) into 32 bytes.
func decodeHex32(s string) [32]byte {
	var b [32]byte
	decodeCheckedHex(b[:], s)
	return b
}

// decodeCheckedHex decodes 2*len(dst) characters of s that checkHexLen
// accepted (lower-case hex) into dst.
func decodeCheckedHex(dst []byte, s string) {
	for i := range dst {
		dst[i] = hexNibble(s[2*i])<<4 | hexNibble(s[2*i+1])
	}
}

// hexNibble is the value of a lower-case hex digit.
func hexNibble(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c - 'a' + 10
}

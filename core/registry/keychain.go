package registry

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/store"
)

// Ledger bucket and key prefixes of the key chain.
const (
	bucketKeys  = "keys"
	keyEntryPfx = "entry/"
	keySeedPfx  = "seed/"
)

// keyChain holds the registry's root-signed chain of signing keys and their
// private halves, rotating the current key every lifetime. A retired key
// stays in the chain (verifiers need it) but its private half is deleted,
// from memory and from the ledger, once its validity (the lifetime plus
// the overlap) has ended: nothing valid can be signed with it any more.
type keyChain struct {
	root     ed25519.PrivateKey
	rootHex  string
	ledger   store.Ledger
	lifetime time.Duration
	overlap  time.Duration
	now      func() time.Time
	log      zerolog.Logger

	mu      sync.Mutex
	entries []anp.KeyEntry
	privs   []ed25519.PrivateKey
}

func ledgerIndexKey(prefix string, i uint64) string { return fmt.Sprintf("%s%020d", prefix, i) }

// loadKeyChain reads the chain from the ledger, checks it against the root
// key, and creates the first entry when the ledger has none.
func loadKeyChain(ctx context.Context, root ed25519.PrivateKey, ledger store.Ledger, lifetime time.Duration, now func() time.Time, log zerolog.Logger) (*keyChain, error) {
	k := &keyChain{
		root:     root,
		rootHex:  anp.PublicKeyHex(root.Public().(ed25519.PublicKey)),
		ledger:   ledger,
		lifetime: lifetime,
		overlap:  lifetime / 4,
		now:      now,
		log:      log,
	}
	if err := k.reload(ctx); err != nil {
		return nil, err
	}
	if _, _, err := k.current(ctx); err != nil {
		return nil, err
	}
	return k, nil
}

// reload replaces the in-memory chain with the ledger's. Callers hold k.mu or
// own k exclusively.
func (k *keyChain) reload(ctx context.Context) error {
	kvs, err := k.ledger.List(ctx, bucketKeys)
	if err != nil {
		return fmt.Errorf("registry: load key chain: %w", err)
	}
	var entries []anp.KeyEntry
	seeds := make(map[string][]byte)
	for _, kv := range kvs {
		switch {
		case strings.HasPrefix(kv.Key, keyEntryPfx):
			var e anp.KeyEntry
			if err := anp.DecodeStrict(kv.Value, &e); err != nil {
				return fmt.Errorf("registry: load key chain entry %s: %w", kv.Key, err)
			}
			entries = append(entries, e)
		case strings.HasPrefix(kv.Key, keySeedPfx):
			seed, err := hex.DecodeString(string(kv.Value))
			if err != nil || len(seed) != ed25519.SeedSize {
				return fmt.Errorf("registry: load key chain: seed %s is malformed", kv.Key)
			}
			seeds[strings.TrimPrefix(kv.Key, keySeedPfx)] = seed // keyed by public key hex
		}
	}
	if len(entries) > 0 {
		if err := anp.VerifyKeyChain(k.rootHex, entries); err != nil {
			return fmt.Errorf("registry: the stored key chain does not verify under root key %s: %w", k.rootHex[:12], err)
		}
	}
	privs := make([]ed25519.PrivateKey, len(entries))
	for i, e := range entries {
		seed, ok := seeds[e.Key]
		if !ok {
			continue // a verification-only entry: its key can no longer sign
		}
		priv := ed25519.NewKeyFromSeed(seed)
		if anp.PublicKeyHex(priv.Public().(ed25519.PublicKey)) != e.Key {
			return fmt.Errorf("registry: load key chain: seed %d does not match its entry", e.Index)
		}
		privs[i] = priv
	}
	k.entries, k.privs = entries, privs
	return nil
}

// current returns the signing key and its entry, rotating first when the
// current key has reached the end of its lifetime, and forgets the private
// halves of keys whose validity has ended.
func (k *keyChain) current(ctx context.Context) (ed25519.PrivateKey, anp.KeyEntry, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.now()
	k.forgetExpiredLocked(ctx, now)
	for attempt := 0; attempt < 3; attempt++ {
		if n := len(k.entries); n > 0 {
			last := k.entries[n-1]
			fresh := now.UnixMilli() < last.ValidFrom+k.lifetime.Milliseconds() && last.ValidAt(now.UnixMilli())
			if fresh && k.privs[n-1] != nil {
				return k.privs[n-1], last, nil
			}
		}
		created, err := k.rotate(ctx, now)
		if err != nil {
			return nil, anp.KeyEntry{}, err
		}
		if created {
			n := len(k.entries)
			return k.privs[n-1], k.entries[n-1], nil
		}
		// Another writer of the same ledger rotated first: take its entry.
		if err := k.reload(ctx); err != nil {
			return nil, anp.KeyEntry{}, err
		}
	}
	return nil, anp.KeyEntry{}, errors.New("registry: key rotation keeps conflicting with another writer of the ledger")
}

// rotate creates, signs and persists the next chain entry. It reports false
// when another writer stored an entry with the same index first.
func (k *keyChain) rotate(ctx context.Context, now time.Time) (bool, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return false, fmt.Errorf("registry: generate signing key: %w", err)
	}
	var prev *anp.KeyEntry
	if n := len(k.entries); n > 0 {
		prev = &k.entries[n-1]
	}
	e, err := anp.NewKeyEntry(k.root, prev, pub, now, now.Add(k.lifetime+k.overlap))
	if err != nil {
		return false, fmt.Errorf("registry: sign key chain entry: %w", err)
	}
	// The seed is stored under its public key, so a writer that loses the
	// race for this index below never overwrites the winner's seed.
	if err := k.ledger.Put(ctx, bucketKeys, keySeedPfx+e.Key, []byte(hex.EncodeToString(priv.Seed()))); err != nil {
		return false, fmt.Errorf("registry: store signing key %d: %w", e.Index, err)
	}
	data, err := json.Marshal(e)
	if err != nil {
		return false, fmt.Errorf("registry: encode key chain entry: %w", err)
	}
	ok, err := k.ledger.PutIfAbsent(ctx, bucketKeys, ledgerIndexKey(keyEntryPfx, e.Index), data)
	if err != nil {
		return false, fmt.Errorf("registry: store key chain entry %d: %w", e.Index, err)
	}
	if !ok {
		return false, nil
	}
	k.entries = append(k.entries, e)
	k.privs = append(k.privs, priv)
	return true, nil
}

// forgetExpiredLocked deletes the seed of every chain key whose validity
// ended before now from the ledger and clears its private key. A seed that
// cannot be deleted is logged and tried again at the next call. Callers
// hold k.mu.
func (k *keyChain) forgetExpiredLocked(ctx context.Context, now time.Time) {
	for i, e := range k.entries {
		if k.privs[i] == nil || now.UnixMilli() < e.ValidUntil {
			continue
		}
		if err := k.ledger.Delete(ctx, bucketKeys, keySeedPfx+e.Key); err != nil {
			k.log.Error().Err(err).Uint64("key_index", e.Index).Msg("cannot delete the seed of a retired registry key; trying again later")
			continue
		}
		clear(k.privs[i])
		k.privs[i] = nil
		k.log.Info().Uint64("key_index", e.Index).Msg("deleted the seed of a retired registry key")
	}
}

// chain returns a copy of the whole chain.
func (k *keyChain) chain() []anp.KeyEntry {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]anp.KeyEntry(nil), k.entries...)
}

// entry returns the chain entry for kid.
func (k *keyChain) entry(kid uint64) (anp.KeyEntry, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if kid >= uint64(len(k.entries)) {
		return anp.KeyEntry{}, false
	}
	return k.entries[kid], true
}

package buyer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// KeyChecker is implemented by a Registry that can prove a seller's key
// from the registry's logged key history (*registry.Client). CheckSellerKey
// takes the key a listing shows and the buyer's pinned key state of the
// domain (nil: none yet) and returns the state to pin and the key events
// since the old pin, or an error when the key cannot be trusted.
type KeyChecker interface {
	CheckSellerKey(ctx context.Context, domain, listed string, pin *anp.KeyState) (anp.KeyState, []anp.KeyEventEntry, error)
}

// PinRecord is what a buyer remembers about one seller domain of its
// registry: the key state it verified when it last dealt with the domain
// (trust on first use), and the last refused key change, if any.
type PinRecord struct {
	Pin     anp.KeyState `json:"pin"`
	Refused *KeyRefusal  `json:"refused,omitempty"`
}

// KeyRefusal records a listing key the buyer refused and why.
type KeyRefusal struct {
	Seen   string `json:"seen"`   // the key the listing showed
	Reason string `json:"reason"` // the error
	At     int64  `json:"at"`     // unix ms
}

// KeyPins stores the PinRecords of one registry's seller domains.
// Implementations are safe for concurrent use.
type KeyPins interface {
	Load(ctx context.Context, domain string) (PinRecord, bool, error)
	Save(ctx context.Context, domain string, rec PinRecord) error
}

// MemPins is the default KeyPins: nothing survives the process.
type MemPins struct {
	mu   sync.Mutex
	pins map[string]PinRecord
}

// Load implements KeyPins.
func (m *MemPins) Load(_ context.Context, domain string) (PinRecord, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.pins[domain]
	return r, ok, nil
}

// Save implements KeyPins.
func (m *MemPins) Save(_ context.Context, domain string, rec PinRecord) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.pins == nil {
		m.pins = map[string]PinRecord{}
	}
	m.pins[domain] = rec
	return nil
}

// FilePins keeps KeyPins in one JSON file (domain -> PinRecord), written
// atomically with mode 0600. Use one file per registry.
type FilePins struct {
	path string
	mu   sync.Mutex
}

// NewFilePins returns the pins kept in the file at path (created on the
// first Save).
func NewFilePins(path string) *FilePins { return &FilePins{path: path} }

// All returns every stored record.
func (f *FilePins) All() (map[string]PinRecord, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.read()
}

func (f *FilePins) read() (map[string]PinRecord, error) {
	data, err := os.ReadFile(f.path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]PinRecord{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("buyer: read seller key pins: %w", err)
	}
	pins := map[string]PinRecord{}
	if err := json.Unmarshal(data, &pins); err != nil {
		return nil, fmt.Errorf("buyer: seller key pins %s: %w", f.path, err)
	}
	return pins, nil
}

// Load implements KeyPins.
func (f *FilePins) Load(_ context.Context, domain string) (PinRecord, bool, error) {
	pins, err := f.All()
	if err != nil {
		return PinRecord{}, false, err
	}
	r, ok := pins[domain]
	return r, ok, nil
}

// Save implements KeyPins: it rewrites the file through a temporary file.
func (f *FilePins) Save(_ context.Context, domain string, rec PinRecord) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	pins, err := f.read()
	if err != nil {
		return err
	}
	pins[domain] = rec
	data, err := json.MarshalIndent(pins, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(f.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("buyer: seller key pins directory: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".keypins-*")
	if err != nil {
		return fmt.Errorf("buyer: seller key pins: %w", err)
	}
	_, werr := tmp.Write(append(data, '\n'))
	if err := errors.Join(werr, tmp.Close()); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("buyer: write seller key pins: %w", err)
	}
	if err := os.Rename(tmp.Name(), f.path); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("buyer: write seller key pins: %w", err)
	}
	return nil
}

// checkSellerKey decides whether the key listed for domain may be used: the
// key pinned for it, or one the registry's logged key history leads to from
// the pin (the first time: the history's current key). A new key is pinned
// and described in the returned notice; a refusal is remembered for doctor
// and returned as ErrRefused wrapping the registry's named error
// (registry.ErrKeyChanged, registry.ErrKeyRevoked, registry.ErrLogFork).
func (c *Core) checkSellerKey(ctx context.Context, domain, listed string) (string, error) {
	kc, ok := c.cfg.Registry.(KeyChecker)
	if !ok {
		return "", nil
	}
	rec, found, err := c.cfg.KeyPins.Load(ctx, domain)
	if err != nil {
		return "", fmt.Errorf("buyer: seller key pin of %s: %w", domain, err)
	}
	if found && rec.Pin.Key == listed && !rec.Pin.Revoked {
		return "", nil
	}
	var pin *anp.KeyState
	if found && rec.Pin.Key != "" {
		pin = &rec.Pin
	}
	st, changes, err := kc.CheckSellerKey(ctx, domain, listed, pin)
	if err != nil {
		if anp.CodeOf(err) == anp.CodeForbidden {
			rec.Refused = &KeyRefusal{Seen: listed, Reason: err.Error(), At: c.cfg.Now().UnixMilli()}
			if serr := c.cfg.KeyPins.Save(ctx, domain, rec); serr != nil {
				c.log.Warn().Err(serr).Str("domain", domain).Msg("cannot remember the refused seller key")
			}
			c.log.Error().Err(err).Str("domain", domain).Msg("refusing the seller's key")
		}
		return "", remoteError("check the key of seller "+domain, err)
	}
	if err := c.cfg.KeyPins.Save(ctx, domain, PinRecord{Pin: st}); err != nil {
		return "", fmt.Errorf("buyer: pin the key of %s: %w", domain, err)
	}
	if pin == nil {
		return "", nil // first use: nothing changed that the buyer knew of
	}
	notice := keyNotice(domain, pin.Key, changes)
	c.log.Warn().Str("domain", domain).Str("notice", notice).Msg("seller key changed with a logged key history")
	return notice, nil
}

// keyNotice tells the buyer how a seller's key changed from old, one
// clause per logged key event.
func keyNotice(domain, old string, changes []anp.KeyEventEntry) string {
	parts := make([]string, 0, len(changes))
	for _, e := range changes {
		ev := &e.Leaf.Event
		var what string
		switch {
		case ev.Kind == anp.KeyEventRotate:
			what = fmt.Sprintf("rotated to key %s… by the seller's previous key", prefixKey(ev.Key))
		case ev.Kind == anp.KeyEventRevoke && ev.Change != nil && ev.Change.Change.By == anp.ChangeByOperator:
			what = fmt.Sprintf("key %s… revoked by the registry operator", prefixKey(ev.Key))
		case ev.Kind == anp.KeyEventRevoke:
			what = fmt.Sprintf("key %s… revoked by the seller", prefixKey(ev.Key))
		default:
			what = fmt.Sprintf("key %s… bound with an enrolment grant", prefixKey(ev.Key))
		}
		parts = append(parts, fmt.Sprintf("%s at log index %d", what, e.LeafIndex))
	}
	return fmt.Sprintf("The key of seller %s changed since this buyer last dealt with it (key %s…): %s. The registry's log proves each change.",
		domain, prefixKey(old), strings.Join(parts, "; "))
}

func prefixKey(k string) string {
	if len(k) > 12 {
		return k[:12]
	}
	return k
}

package memstore

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/store"
)

// Sessions is an in-memory store.Sessions.
type Sessions struct {
	mu   sync.RWMutex
	recs map[string]store.SessionRecord
}

var _ store.Sessions = (*Sessions)(nil)

// NewSessions returns an empty session store.
func NewSessions() *Sessions {
	return &Sessions{recs: map[string]store.SessionRecord{}}
}

// Load returns a copy of the record or store.ErrNotFound.
func (s *Sessions) Load(ctx context.Context, id string) (store.SessionRecord, error) {
	if err := ctx.Err(); err != nil {
		return store.SessionRecord{}, err
	}
	s.mu.RLock()
	rec, ok := s.recs[id]
	s.mu.RUnlock()
	if !ok {
		return store.SessionRecord{}, fmt.Errorf("memstore: session %s: %w", id, store.ErrNotFound)
	}
	return copyRecord(rec), nil
}

// Save writes rec if the stored version equals rec.Version (0: the record
// must not exist) and returns the new version, or store.ErrConflict. A zero
// UpdatedAt is set to the current time.
func (s *Sessions) Save(ctx context.Context, rec store.SessionRecord) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if rec.ID == "" {
		return 0, fmt.Errorf("memstore: save session: empty id")
	}
	if rec.Version < 0 {
		return 0, fmt.Errorf("memstore: save session %s: negative version %d", rec.ID, rec.Version)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, exists := s.recs[rec.ID]
	if (rec.Version == 0 && exists) || (rec.Version > 0 && (!exists || cur.Version != rec.Version)) {
		return 0, fmt.Errorf("memstore: save session %s at version %d: %w", rec.ID, rec.Version, store.ErrConflict)
	}
	rec = copyRecord(rec)
	rec.Version++
	if rec.UpdatedAt.IsZero() {
		rec.UpdatedAt = time.Now()
	}
	rec.UpdatedAt = rec.UpdatedAt.Round(0) // drop the monotonic reading, as a database would
	s.recs[rec.ID] = rec
	return rec.Version, nil
}

// List returns copies of all records ordered by ID.
func (s *Sessions) List(ctx context.Context) ([]store.SessionRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	out := make([]store.SessionRecord, 0, len(s.recs))
	for _, rec := range s.recs {
		out = append(out, copyRecord(rec))
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b store.SessionRecord) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// Delete removes a record; a missing record is not an error.
func (s *Sessions) Delete(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.recs, id)
	s.mu.Unlock()
	return nil
}

func copyRecord(r store.SessionRecord) store.SessionRecord {
	r.Data = bytes.Clone(r.Data)
	return r
}

package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/clinch-protocol/clinch-mcp/core/store"
)

// sessions is the store.Sessions of a DB.
type sessions struct{ db *DB }

// Load returns the record or store.ErrNotFound; an ID that a TEXT column
// cannot hold is never stored, so it is not found either.
func (s sessions) Load(ctx context.Context, id string) (store.SessionRecord, error) {
	if err := ctx.Err(); err != nil {
		return store.SessionRecord{}, err
	}
	if !storableText(id) {
		return store.SessionRecord{}, fmt.Errorf("pgstore: session %q: %w", id, store.ErrNotFound)
	}
	rec := store.SessionRecord{ID: id}
	err := s.db.pool.QueryRow(ctx, `SELECT version, data, updated_at FROM sessions WHERE id = $1`, id).
		Scan(&rec.Version, &rec.Data, &rec.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.SessionRecord{}, fmt.Errorf("pgstore: session %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.SessionRecord{}, fmt.Errorf("pgstore: load session %s: %w", id, err)
	}
	return rec, nil
}

// Save inserts (Version 0) or updates (WHERE version = rec.Version) in one
// statement; no row affected means another writer got there first. A zero
// UpdatedAt is set to the current time; times are kept to the microsecond.
func (s sessions) Save(ctx context.Context, rec store.SessionRecord) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	switch {
	case rec.ID == "":
		return 0, fmt.Errorf("pgstore: save session: empty id")
	case !storableText(rec.ID):
		return 0, fmt.Errorf("pgstore: save session %q: id %w", rec.ID, errInvalidText)
	case rec.Version < 0:
		return 0, fmt.Errorf("pgstore: save session %s: negative version %d", rec.ID, rec.Version)
	}
	at := rec.UpdatedAt
	if at.IsZero() {
		at = time.Now()
	}
	var (
		res pgconn.CommandTag
		err error
	)
	if rec.Version == 0 {
		res, err = s.db.pool.Exec(ctx, `INSERT INTO sessions (id, version, data, updated_at) VALUES ($1, 1, $2, $3)
			ON CONFLICT (id) DO NOTHING`, rec.ID, nonNil(rec.Data), at)
	} else {
		res, err = s.db.pool.Exec(ctx, `UPDATE sessions SET version = version + 1, data = $1, updated_at = $2
			WHERE id = $3 AND version = $4`, nonNil(rec.Data), at, rec.ID, rec.Version)
	}
	if err != nil {
		return 0, fmt.Errorf("pgstore: save session %s at version %d: %w", rec.ID, rec.Version, err)
	}
	if res.RowsAffected() == 0 {
		return 0, fmt.Errorf("pgstore: save session %s at version %d: %w", rec.ID, rec.Version, store.ErrConflict)
	}
	return rec.Version + 1, nil
}

// List returns all records ordered by ID in byte order.
func (s sessions) List(ctx context.Context) ([]store.SessionRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rows, err := s.db.pool.Query(ctx, `SELECT id, version, data, updated_at FROM sessions ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("pgstore: list sessions: %w", err)
	}
	out := []store.SessionRecord{}
	var rec store.SessionRecord
	_, err = pgx.ForEachRow(rows, []any{&rec.ID, &rec.Version, &rec.Data, &rec.UpdatedAt}, func() error {
		out = append(out, rec)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pgstore: list sessions: %w", err)
	}
	return out, nil
}

// Delete removes a record; a missing record is not an error.
func (s sessions) Delete(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !storableText(id) {
		return nil
	}
	if _, err := s.db.pool.Exec(ctx, `DELETE FROM sessions WHERE id = $1`, id); err != nil {
		return fmt.Errorf("pgstore: delete session %s: %w", id, err)
	}
	return nil
}

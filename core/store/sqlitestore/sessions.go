package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/store"
)

// sessions is the store.Sessions of a DB. UpdatedAt is kept in unix
// microseconds.
type sessions struct{ db *DB }

func (s sessions) Load(ctx context.Context, id string) (store.SessionRecord, error) {
	rec := store.SessionRecord{ID: id}
	var updated int64
	err := s.db.read.QueryRowContext(ctx, `SELECT version, data, updated_at FROM sessions WHERE id = ?`, id).
		Scan(&rec.Version, &rec.Data, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return store.SessionRecord{}, fmt.Errorf("sqlitestore: session %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.SessionRecord{}, fmt.Errorf("sqlitestore: load session %s: %w", id, err)
	}
	rec.UpdatedAt = time.UnixMicro(updated)
	return rec, nil
}

// Save inserts (Version 0) or updates (WHERE version = rec.Version) in one
// statement inside a write transaction; no row affected means a conflict.
func (s sessions) Save(ctx context.Context, rec store.SessionRecord) (int64, error) {
	if rec.ID == "" {
		return 0, fmt.Errorf("sqlitestore: save session: empty id")
	}
	if rec.Version < 0 {
		return 0, fmt.Errorf("sqlitestore: save session %s: negative version %d", rec.ID, rec.Version)
	}
	at := rec.UpdatedAt
	if at.IsZero() {
		at = time.Now()
	}
	data := rec.Data
	if data == nil {
		data = []byte{}
	}
	err := s.db.inTx(ctx, func(tx *sql.Tx) error {
		var res sql.Result
		var err error
		if rec.Version == 0 {
			res, err = tx.ExecContext(ctx, `INSERT INTO sessions (id, version, data, updated_at) VALUES (?, 1, ?, ?)
				ON CONFLICT (id) DO NOTHING`, rec.ID, data, at.UnixMicro())
		} else {
			res, err = tx.ExecContext(ctx, `UPDATE sessions SET version = version + 1, data = ?, updated_at = ?
				WHERE id = ? AND version = ?`, data, at.UnixMicro(), rec.ID, rec.Version)
		}
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return store.ErrConflict
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("sqlitestore: save session %s at version %d: %w", rec.ID, rec.Version, err)
	}
	return rec.Version + 1, nil
}

func (s sessions) List(ctx context.Context) ([]store.SessionRecord, error) {
	rows, err := s.db.read.QueryContext(ctx, `SELECT id, version, data, updated_at FROM sessions ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: list sessions: %w", err)
	}
	defer rows.Close()
	out := []store.SessionRecord{}
	for rows.Next() {
		var rec store.SessionRecord
		var updated int64
		if err := rows.Scan(&rec.ID, &rec.Version, &rec.Data, &updated); err != nil {
			return nil, fmt.Errorf("sqlitestore: list sessions: %w", err)
		}
		rec.UpdatedAt = time.UnixMicro(updated)
		out = append(out, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlitestore: list sessions: %w", err)
	}
	return out, nil
}

func (s sessions) Delete(ctx context.Context, id string) error {
	err := s.db.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE id = ?`, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlitestore: delete session %s: %w", id, err)
	}
	return nil
}

package registry

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/clinch-protocol/clinch-mcp/core/store"
)

// bucketOpenSessions indexes, in the Ledger, the witnessed sessions the
// idle sweep may delete: every session not notarised, with the registry
// time it was first stored. A start reads this index, not the sessions,
// so it costs the same whatever the number of deals kept in the Ledger.
// The sweep loads a session before deleting it and judges its real last
// activity, so a time older than that is only an earlier look.
const bucketOpenSessions = "open-sessions"

// openIndexMarker is the index's entry that says it is complete: a Ledger
// written before the index existed has the index built once, from a scan of
// its sessions, on the first start that finds no marker.
const openIndexMarker = "~complete"

// indexSession writes ws's entry in the open-session index, before the
// session is first stored (saveSession): a crash in between leaves an entry
// without a session, which the sweep removes.
func (s *Server) indexSession(ctx context.Context, ws *witnessSession) error {
	if err := s.ledger.Put(ctx, bucketOpenSessions, ws.ID, []byte(strconv.FormatInt(ws.Active, 10))); err != nil {
		return fmt.Errorf("registry: index session %s: %w", ws.ID, err)
	}
	return nil
}

// unindexSession removes id from the open-session index: once its session
// is stored notarised, or deleted.
func (s *Server) unindexSession(ctx context.Context, id string) error {
	if err := s.ledger.Delete(ctx, bucketOpenSessions, id); err != nil {
		return fmt.Errorf("registry: unindex session %s: %w", id, err)
	}
	return nil
}

// loadIdleSessions builds the idle sweep's index from the open-session
// index, building that first if the Ledger predates it.
func (s *Server) loadIdleSessions(ctx context.Context) error {
	_, err := s.ledger.Get(ctx, bucketOpenSessions, openIndexMarker)
	if errors.Is(err, store.ErrNotFound) {
		return s.buildOpenIndex(ctx)
	}
	if err != nil {
		return fmt.Errorf("registry: read the open-session index: %w", err)
	}
	kvs, err := s.ledger.List(ctx, bucketOpenSessions)
	if err != nil {
		return fmt.Errorf("registry: list open sessions: %w", err)
	}
	for _, kv := range kvs {
		if kv.Key == openIndexMarker {
			continue
		}
		at, err := strconv.ParseInt(string(kv.Value), 10, 64)
		if err != nil {
			return fmt.Errorf("registry: open-session index entry %s: %w", kv.Key, err)
		}
		s.idle.set(kv.Key, at)
	}
	return nil
}

// buildOpenIndex scans every stored session once, indexes those not
// notarised and marks the index complete.
func (s *Server) buildOpenIndex(ctx context.Context) error {
	kvs, err := s.ledger.List(ctx, bucketSessions)
	if err != nil {
		return fmt.Errorf("registry: list sessions: %w", err)
	}
	for _, kv := range kvs {
		ws, err := decodeSession(kv.Value)
		if err != nil {
			return fmt.Errorf("registry: decode session %s: %w", kv.Key, err)
		}
		s.idle.touch(ws)
		if !ws.Notarized {
			at := strconv.FormatInt(ws.lastActivity(), 10)
			if err := s.ledger.Put(ctx, bucketOpenSessions, ws.ID, []byte(at)); err != nil {
				return fmt.Errorf("registry: index session %s: %w", ws.ID, err)
			}
		}
	}
	if err := s.ledger.Put(ctx, bucketOpenSessions, openIndexMarker, []byte("1")); err != nil {
		return fmt.Errorf("registry: mark the open-session index complete: %w", err)
	}
	return nil
}

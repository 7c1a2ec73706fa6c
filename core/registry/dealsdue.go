package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/clinch-protocol/clinch-mcp/core/store"
)

// bucketDealsDue indexes the deals the sweep has to look at: session ->
// the registry clock (unix ms, decimal) from which a rule may apply to the
// deal, 0 for an event left pending. A deal that no rule can move any more
// (received, resolved, breached and undisputed …) has no entry, so a sweep
// reads the deals in flight, not every deal ever made.
//
// An entry is never later than what the stored record needs: a write that
// lowers or adds one is made before the record, a write that raises or
// removes one after it. An interrupted save therefore leaves an entry that
// is too early or one too many — the sweep looks at the deal, finds nothing
// due and sets the entry right — never a deal the sweep would miss.
const bucketDealsDue = "lifecycles-due"

// dealsDueIndexed is the marker of bucketDealsDue that every lifecycle
// stored before the index existed has an entry. It is not a session id
// (those are 32 hex characters).
const dealsDueIndexed = "~indexed"

// due is when the sweep has to look at rec, and whether it has to at all.
func (rec *dealRecord) due() (at int64, needed bool) {
	if rec.Pending != nil {
		return 0, true
	}
	at = rec.Life.NextDeadline()
	return at, at != 0
}

// saveDeal stores rec and keeps its entry in the due index (see
// bucketDealsDue for the order of the writes).
func (s *Server) saveDeal(ctx context.Context, rec *dealRecord) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	session := rec.Life.Session
	at, needed := rec.due()
	was, wasNeeded := rec.storedDue, rec.storedNeeded
	if needed && (!wasNeeded || at < was) {
		if err := s.putDue(ctx, session, at); err != nil {
			return err
		}
	}
	if err := s.ledger.Put(ctx, bucketDeals, session, data); err != nil {
		return fmt.Errorf("registry: store the lifecycle of session %s: %w", session, err)
	}
	rec.storedDue, rec.storedNeeded = at, needed
	switch {
	case !needed:
		return s.deleteDue(ctx, session)
	case wasNeeded && at > was:
		return s.putDue(ctx, session, at)
	}
	return nil
}

// correctDue sets the due entry of rec, just loaded under its session
// lock, to what the record needs: the sweep looked at a deal its entry
// called due and found nothing to do.
func (s *Server) correctDue(ctx context.Context, rec *dealRecord) error {
	at, needed := rec.due()
	if !needed {
		return s.deleteDue(ctx, rec.Life.Session)
	}
	return s.putDue(ctx, rec.Life.Session, at)
}

func (s *Server) putDue(ctx context.Context, session string, at int64) error {
	if err := s.ledger.Put(ctx, bucketDealsDue, session, strconv.AppendInt(nil, at, 10)); err != nil {
		return fmt.Errorf("registry: index when the rules next apply to session %s: %w", session, err)
	}
	return nil
}

// addDue writes the due entry of a deal that has none; an entry already
// there was written for a newer record and stays.
func (s *Server) addDue(ctx context.Context, session string, at int64) error {
	if _, err := s.ledger.PutIfAbsent(ctx, bucketDealsDue, session, strconv.AppendInt(nil, at, 10)); err != nil {
		return fmt.Errorf("registry: index when the rules next apply to session %s: %w", session, err)
	}
	return nil
}

func (s *Server) deleteDue(ctx context.Context, session string) error {
	if err := s.ledger.Delete(ctx, bucketDealsDue, session); err != nil {
		return fmt.Errorf("registry: take session %s out of the deals the rules apply to: %w", session, err)
	}
	return nil
}

// dealsDue returns the sessions whose entry is due at now (unix ms). The
// first call on a ledger whose lifecycles were stored before the index
// existed indexes them first, once.
func (s *Server) dealsDue(ctx context.Context, now int64) ([]string, error) {
	if err := s.indexDealsOnce(ctx); err != nil {
		return nil, err
	}
	kvs, err := s.ledger.List(ctx, bucketDealsDue)
	if err != nil {
		return nil, fmt.Errorf("registry: list the deals the rules apply to: %w", err)
	}
	var due []string
	for _, kv := range kvs {
		if kv.Key == dealsDueIndexed {
			continue
		}
		at, err := strconv.ParseInt(string(kv.Value), 10, 64)
		if err != nil || at <= now { // an entry that does not read is looked at, and set right
			due = append(due, kv.Key)
		}
	}
	return due, nil
}

// indexDealsOnce gives every stored lifecycle its due entry unless the
// index says it was done. An entry a save wrote meanwhile is kept: it is
// newer than the record listed here.
func (s *Server) indexDealsOnce(ctx context.Context) error {
	if _, err := s.ledger.Get(ctx, bucketDealsDue, dealsDueIndexed); err == nil {
		return nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("registry: read the marker of the due index: %w", err)
	}
	kvs, err := s.ledger.List(ctx, bucketDeals)
	if err != nil {
		return fmt.Errorf("registry: list lifecycles: %w", err)
	}
	for _, kv := range kvs {
		var rec dealRecord
		if err := json.Unmarshal(kv.Value, &rec); err != nil {
			return fmt.Errorf("registry: decode the lifecycle of session %s: %w", kv.Key, err)
		}
		if at, needed := rec.due(); needed {
			if err := s.addDue(ctx, kv.Key, at); err != nil {
				return err
			}
		}
	}
	if err := s.ledger.Put(ctx, bucketDealsDue, dealsDueIndexed, []byte("1")); err != nil {
		return fmt.Errorf("registry: mark the due index complete: %w", err)
	}
	s.log.Info().Int("lifecycles", len(kvs)).Msg("indexed when the deal rules next apply")
	return nil
}

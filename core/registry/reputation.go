package registry

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/reputation"
)

// reputationLog follows the transparency log into a reputation.Book: each
// leaf is decoded and applied once, in log order, the first time a score
// is asked for after it was appended. On start it reads the whole log, so
// the scores survive a restart without state of their own.
type reputationLog struct {
	mu   sync.Mutex
	book *reputation.Book
	next uint64 // leaves applied
}

func newReputationLog() *reputationLog { return &reputationLog{book: reputation.NewBook()} }

// withReputation brings the book up to the log and calls fn with it, the
// number of leaves it has read and the registry's time.
func (s *Server) withReputation(ctx context.Context, fn func(b *reputation.Book, size uint64, now time.Time)) error {
	return s.withReputationAt(ctx, time.Time{}, fn)
}

// withReputationAt is withReputation at time at (zero: the registry's time).
func (s *Server) withReputationAt(ctx context.Context, at time.Time, fn func(b *reputation.Book, size uint64, now time.Time)) error {
	if at.IsZero() {
		at = s.now()
	}
	if err := s.freshLog(ctx); err != nil {
		return err
	}
	s.rep.mu.Lock()
	defer s.rep.mu.Unlock()
	if err := s.catchUpReputationLocked(ctx); err != nil {
		return err
	}
	fn(s.rep.book, s.rep.next, at)
	return nil
}

// catchUpReputationLocked applies the facts of the leaves appended since
// the last call. A leaf that decodes to no facts (a key event, an entry
// of a kind this formula does not read) or a fact that does not apply is
// skipped, as the formula says; both are logged at debug level.
func (s *Server) catchUpReputationLocked(ctx context.Context) error {
	size := s.tree.size()
	for s.rep.next < size {
		leaves, err := s.ledger.Leaves(ctx, s.rep.next, min(size, s.rep.next+maxBatchLeaves))
		if err != nil {
			return fmt.Errorf("registry: reputation: read log leaves from %d: %w", s.rep.next, err)
		}
		if len(leaves) == 0 {
			return fmt.Errorf("registry: reputation: the log has no leaf %d below its size %d", s.rep.next, size)
		}
		for _, leaf := range leaves {
			s.applyLeaf(s.rep.next, leaf)
			s.rep.next++
		}
	}
	return nil
}

// applyLeaf applies the facts of leaf index to the book: those remembered
// when this registry appended these bytes, else those decoded from them.
func (s *Server) applyLeaf(index uint64, leaf []byte) {
	facts, ok := s.ownLeaves.take(index, leaf)
	if !ok {
		var err error
		facts, err = reputation.FactsFromOwnLeaf(index, leaf) // signatures checked before the leaf was appended
		if err != nil {
			s.log.Debug().Err(err).Msg("reputation: leaf skipped")
			return
		}
	}
	for _, f := range facts {
		if err := s.rep.book.Apply(f); err != nil {
			s.log.Debug().Err(err).Msg("reputation: fact skipped")
		}
	}
}

// handleReputation serves every party's score and every directed pair's,
// at the registry's time (or ?at=UNIX_MS) and log size (public, like the log).
func (s *Server) handleReputation(w http.ResponseWriter, r *http.Request) {
	if !s.allowSource(w, r, s.limits.reports) { // its size grows with the market
		return
	}
	at, err := queryAt(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var rep reputation.Report
	err = s.withReputationAt(r.Context(), at, func(b *reputation.Book, size uint64, now time.Time) {
		rep = b.Report(now)
		rep.LogSize = size
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, rep)
}

// handlePartyReputation serves one party's score, evidence and pairs. The
// party is a seller domain, or a buyer as "id:HEX" or "key:HEX".
func (s *Server) handlePartyReputation(w http.ResponseWriter, r *http.Request) {
	p, err := pathParty(r.PathValue("party"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	at, err := queryAt(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var rep reputation.PartyReport
	err = s.withReputationAt(r.Context(), at, func(b *reputation.Book, size uint64, now time.Time) {
		rep = b.PartyReport(p, now)
		rep.LogSize = size
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, rep)
}

// pathParty checks a party named in a path.
func pathParty(v string) (reputation.Party, error) {
	p, err := reputation.ParseParty(v)
	if err != nil {
		return "", anp.Errorf(anp.CodeBadRequest, "party: %v", err)
	}
	return p, nil
}

// scoreListings sets each listing's reputation (and Stats.Score), drops
// those below minTrust, orders them best first (then by domain) and keeps
// at most limit (0: all).
func (s *Server) scoreListings(ctx context.Context, ls []anp.Listing, minTrust float64, limit int) ([]anp.Listing, error) {
	err := s.withReputation(ctx, func(b *reputation.Book, _ uint64, now time.Time) {
		for i := range ls {
			rep := b.Score(reputation.Party(ls[i].Binding.Domain), now).Public()
			ls[i].Reputation = &rep
			ls[i].Stats.Score = rep.Score
		}
	})
	if err != nil {
		return nil, err
	}
	out := ls[:0]
	for _, l := range ls {
		if l.Stats.Score >= minTrust {
			out = append(out, l)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Stats.Score != out[j].Stats.Score {
			return out[i].Stats.Score > out[j].Stats.Score
		}
		return out[i].Binding.Domain < out[j].Binding.Domain
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// queryMinTrust reads the optional min_trust query parameter: a score in
// [0, 100].
func queryMinTrust(r *http.Request) (float64, error) {
	v := r.URL.Query().Get("min_trust")
	if v == "" {
		return 0, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || f > 100 {
		return 0, anp.Errorf(anp.CodeBadRequest, "min_trust %q must be a number from 0 to 100", v)
	}
	return f, nil
}

// queryAt reads the optional at query parameter (unix ms, positive); zero
// when it is absent.
func queryAt(r *http.Request) (time.Time, error) {
	v := r.URL.Query().Get("at")
	if v == "" {
		return time.Time{}, nil
	}
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil || ms <= 0 {
		return time.Time{}, anp.Errorf(anp.CodeBadRequest, "at %q must be a positive unix time in milliseconds", v)
	}
	return time.UnixMilli(ms), nil
}

package registry

import (
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// handleLogHead returns a freshly signed head of the current tree.
func (s *Server) handleLogHead(w http.ResponseWriter, r *http.Request) {
	priv, entry, err := s.keys.current(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	size, err := s.logSize(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	root, err := s.tree.rootAt(r.Context(), size)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	head := anp.SignedTreeHead{Size: size, RootHash: hex.EncodeToString(root), Timestamp: s.now().UnixMilli(), KeyIndex: entry.Index}
	if err := anp.SignTreeHead(&head, anp.Signer(priv)); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, head)
}

// handleConsistency proves that the tree at second extends the tree at first.
func (s *Server) handleConsistency(w http.ResponseWriter, r *http.Request) {
	first, second, err := queryPair(r, "first", "second")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	size, err := s.logSize(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if first > second || second > size {
		s.writeError(w, r, anp.Errorf(anp.CodeBadRequest, "need first <= second <= %d (the log size), got first=%d second=%d", size, first, second))
		return
	}
	p, err := s.tree.consistency(r.Context(), first, second)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, anp.ProofResponse{Proof: hexAll(p)})
}

// handleInclusion proves that leaf index is in the tree of size.
func (s *Server) handleInclusion(w http.ResponseWriter, r *http.Request) {
	index, size, err := queryPair(r, "index", "size")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	cur, err := s.logSize(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if index >= size || size > cur {
		s.writeError(w, r, anp.Errorf(anp.CodeBadRequest, "need index < size <= %d (the log size), got index=%d size=%d", cur, index, size))
		return
	}
	p, err := s.tree.inclusion(r.Context(), index, size)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, anp.ProofResponse{Proof: hexAll(p)})
}

// maxEntriesBytes bounds the leaf bytes of one entries answer.
const maxEntriesBytes = 512 << 10

// handleEntries returns the log leaves [start, end), at most
// anp.MaxLogEntriesPage of them, and never beyond the signed tree: a
// monitor checks them against a signed tree head by rebuilding its root.
func (s *Server) handleEntries(w http.ResponseWriter, r *http.Request) {
	start, end, err := queryPair(r, "start", "end")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	size, err := s.logSize(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if start >= end || end > size {
		s.writeError(w, r, anp.Errorf(anp.CodeBadRequest, "need start < end <= %d (the log size), got start=%d end=%d", size, start, end))
		return
	}
	end = min(end, start+anp.MaxLogEntriesPage)
	leaves, err := s.ledger.Leaves(r.Context(), start, end)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("registry: log entries [%d, %d): %w", start, end, err))
		return
	}
	total := 0
	for i, l := range leaves { // stay well under a client's 1 MiB answer cap (base64 grows by 4/3)
		if total += len(l); total > maxEntriesBytes && i > 0 {
			leaves = leaves[:i]
			break
		}
	}
	s.writeJSON(w, http.StatusOK, anp.EntriesResponse{Start: start, Entries: leaves})
}

// queryPair reads two required unsigned integer query parameters.
func queryPair(r *http.Request, a, b string) (uint64, uint64, error) {
	x, err := queryUint(r, a)
	if err != nil {
		return 0, 0, err
	}
	y, err := queryUint(r, b)
	return x, y, err
}

// queryUint reads a required unsigned integer query parameter.
func queryUint(r *http.Request, name string) (uint64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, anp.Errorf(anp.CodeBadRequest, "query parameter %s is required", name)
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, anp.Errorf(anp.CodeBadRequest, "query parameter %s=%q is not an unsigned integer", name, v)
	}
	return n, nil
}

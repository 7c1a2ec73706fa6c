package registry

import (
	"encoding/hex"
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
	s.treeMu.Lock()
	size := s.tree.size()
	root, err := s.tree.rootAt(size)
	s.treeMu.Unlock()
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
	first, err := queryUint(r, "first")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	second, err := queryUint(r, "second")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	size := s.tree.size()
	if first > second || second > size {
		s.writeError(w, r, anp.Errorf(anp.CodeBadRequest, "need first <= second <= %d (the log size), got first=%d second=%d", size, first, second))
		return
	}
	p, err := s.tree.consistency(first, second)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, anp.ProofResponse{Proof: hexAll(p)})
}

// handleInclusion proves that leaf index is in the tree of size.
func (s *Server) handleInclusion(w http.ResponseWriter, r *http.Request) {
	index, err := queryUint(r, "index")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	size, err := queryUint(r, "size")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	cur := s.tree.size()
	if index >= size || size > cur {
		s.writeError(w, r, anp.Errorf(anp.CodeBadRequest, "need index < size <= %d (the log size), got index=%d size=%d", cur, index, size))
		return
	}
	p, err := s.tree.inclusion(index, size)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, anp.ProofResponse{Proof: hexAll(p)})
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

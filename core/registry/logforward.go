package registry

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/store"
)

// RouteLogForward takes the log appends other registry processes on the
// same ledger forward to the writer. Only they can call it: a request
// carries an HMAC under a key derived from the registry root key, which
// they share. It need not be reachable from outside.
const RouteLogForward = "/v1/internal/log/append"

// headerLogMAC carries the HMAC-SHA256 (hex) of a forwarded append's body.
const headerLogMAC = "Clinch-Log-Mac"

// forwardWindow is how far a forwarded append's timestamp may be from the
// writer's clock.
const forwardWindow = 2 * time.Minute

// maxForwardAnswer bounds the writer's answer (a root and at most 64 hashes).
const maxForwardAnswer = 16 << 10

// Errors of forwarded appends.
var (
	ErrForwardMAC       = errors.New("registry: forwarded log append: the MAC does not verify")
	ErrForwardMalformed = errors.New("registry: forwarded log append is malformed")
	ErrForwardStale     = errors.New("registry: forwarded log append: the timestamp is outside the window")
	ErrForwardProof     = errors.New("registry: the log writer's answer does not prove the leaf")
)

// forwardRequest is a forwarded append: the leaf, the log size before the
// first attempt to log it (where the writer looks for it first) and when
// it was sent.
type forwardRequest struct {
	From uint64 `json:"from"`
	Leaf []byte `json:"leaf"`
	TS   int64  `json:"ts"`
}

// forwardAnswer is where the writer logged the leaf.
type forwardAnswer struct {
	Index     uint64   `json:"index"`
	Size      uint64   `json:"size"`
	Root      string   `json:"root"`
	Inclusion []string `json:"inclusion"`
}

// forwardKey derives the forwarded appends' MAC key from the root key.
func forwardKey(root ed25519.PrivateKey) []byte {
	m := hmac.New(sha256.New, root.Seed())
	m.Write([]byte("clinch-mcp registry log forward v1"))
	return m.Sum(nil)
}

func forwardMAC(key, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// parseForward checks a forwarded append's MAC and timestamp and decodes it.
func parseForward(key []byte, mac string, body []byte, now time.Time) (forwardRequest, error) {
	want := forwardMAC(key, body)
	if !hmac.Equal([]byte(strings.ToLower(mac)), []byte(want)) {
		return forwardRequest{}, ErrForwardMAC
	}
	var req forwardRequest
	if err := anp.DecodeStrict(body, &req); err != nil {
		return forwardRequest{}, fmt.Errorf("%w: %v", ErrForwardMalformed, err)
	}
	if len(req.Leaf) == 0 {
		return forwardRequest{}, fmt.Errorf("%w: the leaf is empty", ErrForwardMalformed)
	}
	if d := now.Sub(time.UnixMilli(req.TS)); d > forwardWindow || d < -forwardWindow {
		return forwardRequest{}, fmt.Errorf("%w: sent %s away from now", ErrForwardStale, d.Round(time.Millisecond))
	}
	return req, nil
}

// parseForwardAnswer decodes the writer's answer and checks that it proves
// leaf: the inclusion proof of its index leads to the root.
func parseForwardAnswer(body []byte, leaf []byte) (loggedLeaf, error) {
	var a forwardAnswer
	if err := anp.DecodeStrict(body, &a); err != nil {
		return loggedLeaf{}, fmt.Errorf("%w: %v", ErrForwardProof, err)
	}
	root, err := hex.DecodeString(a.Root)
	if err != nil || len(root) != sha256.Size {
		return loggedLeaf{}, fmt.Errorf("%w: root %q is not a SHA-256 hash in hex", ErrForwardProof, a.Root)
	}
	incl := make([][]byte, len(a.Inclusion))
	for i, h := range a.Inclusion {
		if incl[i], err = hex.DecodeString(h); err != nil || len(incl[i]) != sha256.Size {
			return loggedLeaf{}, fmt.Errorf("%w: inclusion[%d] is not a SHA-256 hash in hex", ErrForwardProof, i)
		}
	}
	if a.Index >= a.Size {
		return loggedLeaf{}, fmt.Errorf("%w: index %d is not below size %d", ErrForwardProof, a.Index, a.Size)
	}
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, a.Index, a.Size, rfc6962.DefaultHasher.HashLeaf(leaf), incl, root); err != nil {
		return loggedLeaf{}, fmt.Errorf("%w: %v", ErrForwardProof, err)
	}
	return loggedLeaf{Index: a.Index, Size: a.Size, Root: root, Inclusion: incl}, nil
}

// forwardAppend sends the append to the writer at addr. An unreachable
// writer, or one that is not the writer any more, is errRetryAppend.
func (s *Server) forwardAppend(ctx context.Context, addr string, from uint64, leaf []byte) (loggedLeaf, error) {
	if addr == "" {
		return loggedLeaf{}, fmt.Errorf("%w: the writer advertises no address", errRetryAppend)
	}
	body, err := json.Marshal(forwardRequest{From: from, Leaf: leaf, TS: s.now().UnixMilli()})
	if err != nil {
		return loggedLeaf{}, fmt.Errorf("registry: encode forwarded append: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(addr, "/")+RouteLogForward, bytes.NewReader(body))
	if err != nil {
		return loggedLeaf{}, fmt.Errorf("registry: forward to the log writer at %s: %w", addr, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(headerLogMAC, forwardMAC(s.writer.mac, body))
	resp, err := s.writer.client.Do(req)
	if err != nil {
		return loggedLeaf{}, fmt.Errorf("%w: %w", errRetryAppend, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxForwardAnswer))
	switch {
	case err != nil:
		return loggedLeaf{}, fmt.Errorf("%w: read the answer of %s: %w", errRetryAppend, addr, err)
	case resp.StatusCode >= 500:
		return loggedLeaf{}, fmt.Errorf("%w: %s answered %d %s", errRetryAppend, addr, resp.StatusCode, bytes.TrimSpace(answer))
	case resp.StatusCode != http.StatusOK:
		return loggedLeaf{}, fmt.Errorf("registry: the log writer at %s refused the append: %d %s", addr, resp.StatusCode, bytes.TrimSpace(answer))
	}
	return parseForwardAnswer(answer, leaf)
}

// handleLogForward appends a leaf another registry process forwarded, once
// (it looks for the leaf first), when this process is the writer.
func (s *Server) handleLogForward(w http.ResponseWriter, r *http.Request) {
	if s.writer == nil {
		s.writeError(w, r, anp.Errorf(anp.CodeNotFound, "this registry shares its log with no other process"))
		return
	}
	body, err := readBodyAtMost(w, r, 2*s.cfg.MaxBodyBytes)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	req, err := parseForward(s.writer.mac, r.Header.Get(headerLogMAC), body, s.now())
	if err != nil {
		code := anp.CodeBadRequest
		if errors.Is(err, ErrForwardMAC) {
			code = anp.CodeForbidden
		}
		s.writeError(w, r, anp.Errorf(code, "%v", err))
		return
	}
	unlock := s.writer.fwd.Lock(string(rfc6962.DefaultHasher.HashLeaf(req.Leaf)))
	defer unlock()
	out, err := s.appendViaWriterOnly(r.Context(), req)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, forwardAnswer{Index: out.Index, Size: out.Size, Root: hex.EncodeToString(out.Root), Inclusion: hexAll(out.Inclusion)})
}

// appendViaWriterOnly appends a forwarded leaf when this process holds the
// lease; otherwise the sender tries the writer again.
func (s *Server) appendViaWriterOnly(ctx context.Context, req forwardRequest) (loggedLeaf, error) {
	token, held := s.writer.current()
	if !held {
		return loggedLeaf{}, anp.Errorf(anp.CodeUnavailable, "this registry is not the log writer")
	}
	out, err := s.appendLocal(ctx, req.From, req.Leaf, true)
	if errors.Is(err, store.ErrLeaseLost) {
		s.writer.drop(token, err)
		return loggedLeaf{}, anp.Errorf(anp.CodeUnavailable, "this registry lost the log writer lease")
	}
	return out, err
}

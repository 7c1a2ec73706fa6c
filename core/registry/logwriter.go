package registry

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/internal/keyedlock"
	"github.com/clinch-protocol/clinch-mcp/core/store"
)

// DefaultLogLeaseTTL is how long the log writer lease lasts without a
// renewal: the bound on the time the log takes no appends after its writer
// dies (plus one poll, a third of it).
const DefaultLogLeaseTTL = 5 * time.Second

// forwardTimeout bounds one forwarded append.
const forwardTimeout = 10 * time.Second

// errRetryAppend marks a failed attempt to append that another attempt may
// complete: no live writer, a writer that lost its lease, a writer that
// cannot be reached.
var errRetryAppend = errors.New("registry: the log writer could not take the append")

// logWriter elects this process as the single writer of a log that several
// registry processes share, through the Ledger's lease (store.LogLeaser).
// The holder appends; the others forward their appends to the URL it
// advertises. The fencing token of every append makes a deposed writer's
// late append write nothing.
type logWriter struct {
	leaser store.LogLeaser
	holder string // random id of this process
	addr   string // the URL this process takes forwarded appends at
	ttl    time.Duration
	mac    []byte // key of the forwarded appends' MACs
	client *http.Client
	log    zerolog.Logger
	fwd    keyedlock.Map // forwarded appends of one leaf, one at a time

	acquireMu sync.Mutex // one acquisition (and its catch-up) at a time
	mu        sync.Mutex
	held      bool
	token     uint64
	renewed   time.Time // the last acquisition or renewal, by this clock
}

// newLogWriter returns the writer election of a shared ledger, or nil when
// the ledger is this process's alone.
func newLogWriter(cfg Config, log zerolog.Logger) (*logWriter, error) {
	leaser, ok := cfg.Ledger.(store.LogLeaser)
	if !ok {
		return nil, nil
	}
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return nil, fmt.Errorf("registry: log writer id: %w", err)
	}
	return &logWriter{leaser: leaser, holder: hex.EncodeToString(id), addr: cfg.Advertise, ttl: cfg.LogLeaseTTL,
		mac: forwardKey(cfg.Root), client: &http.Client{Timeout: forwardTimeout}, log: log}, nil
}

// current returns the fencing token, and whether this process holds the lease.
func (w *logWriter) current() (uint64, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.token, w.held
}

// holds reports whether this process is the writer.
func (w *logWriter) holds() bool {
	_, held := w.current()
	return held
}

// drop forgets the lease of token, lost to another process.
func (w *logWriter) drop(token uint64, why error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.held && w.token == token {
		w.held = false
		w.log.Warn().Err(why).Uint64("token", token).Msg("log writer lease lost")
	}
}

// isWriter reports whether this process appends to the log itself: it is
// the only process on its ledger, or it holds the lease.
func (s *Server) isWriter() bool { return s.writer == nil || s.writer.holds() }

// fencedAppend is the tree's append under the lease: only with the current
// fencing token.
func (s *Server) fencedAppend(ctx context.Context, first uint64, leaves [][]byte, nodes []store.TreeNode) error {
	token, held := s.writer.current()
	if !held {
		return fmt.Errorf("registry: this process is not the log writer: %w", store.ErrLeaseLost)
	}
	return s.writer.leaser.AppendLeavesFenced(ctx, token, first, leaves, nodes)
}

// acquireLease takes the lease when it is free or expired and reports
// whether this process holds it. A new holder first brings its tree up to
// the ledger, so that the leaves of the writer before it are in it.
func (s *Server) acquireLease(ctx context.Context) (bool, error) {
	w := s.writer
	w.acquireMu.Lock()
	defer w.acquireMu.Unlock()
	lease, got, err := w.leaser.AcquireLogLease(ctx, w.holder, w.addr, w.ttl)
	if err != nil || !got {
		return false, err
	}
	now := time.Now()
	if token, held := w.current(); held && token == lease.Token {
		w.mu.Lock()
		w.renewed = now
		w.mu.Unlock()
		return true, nil
	}
	if err := s.tree.refresh(ctx); err != nil {
		_ = w.leaser.ReleaseLogLease(ctx, w.holder, lease.Token)
		return false, err
	}
	w.mu.Lock()
	w.held, w.token, w.renewed = true, lease.Token, now
	w.mu.Unlock()
	w.log.Info().Uint64("token", lease.Token).Uint64("log_size", s.tree.size()).Str("addr", w.addr).Msg("log writer lease acquired")
	return true, nil
}

// tendLease is one round of the lease loop: the holder renews, the others
// take a lease that lapsed.
func (s *Server) tendLease(ctx context.Context) {
	w := s.writer
	token, held := w.current()
	if !held {
		lease, err := w.leaser.CurrentLogLease(ctx)
		if err == nil && !lease.Live {
			_, err = s.acquireLease(ctx)
		}
		if err != nil && ctx.Err() == nil {
			w.log.Warn().Err(err).Msg("log writer lease")
		}
		return
	}
	err := w.leaser.RenewLogLease(ctx, w.holder, token, w.ttl)
	switch {
	case err == nil:
		w.mu.Lock()
		w.renewed = time.Now()
		w.mu.Unlock()
	case errors.Is(err, store.ErrLeaseLost):
		w.drop(token, err)
	case ctx.Err() == nil:
		w.log.Warn().Err(err).Msg("renew the log writer lease")
		w.mu.Lock()
		expired := time.Since(w.renewed) > w.ttl
		w.mu.Unlock()
		if expired { // another process may hold it by now; fencing refuses our appends anyway
			w.drop(token, err)
		}
	}
}

// releaseLease hands the lease off on shutdown, so that another process
// takes over at once instead of after the ttl.
func (s *Server) releaseLease() {
	token, held := s.writer.current()
	if !held {
		return
	}
	s.writer.drop(token, errors.New("shutting down"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.writer.leaser.ReleaseLogLease(ctx, s.writer.holder, token); err != nil {
		s.log.Error().Err(err).Msg("release the log writer lease")
		return
	}
	s.log.Info().Uint64("token", token).Msg("log writer lease released")
}

// loggedLeaf is where a leaf is in the log: its index, and a tree that
// holds it with its root and the leaf's inclusion proof.
type loggedLeaf struct {
	Index, Size uint64
	Root        []byte
	Inclusion   [][]byte
}

// appendLeaf appends leaf to the log and returns where it is. With dedupe
// (an earlier attempt may have appended it) it first looks for the leaf
// among those from index from on. On a shared ledger the writer appends:
// this process when it holds the lease, otherwise the holder, to which the
// append is forwarded; while there is none (its lease has to lapse first)
// the append is tried again, with dedupe, for up to twice the lease ttl
// plus the forward timeout.
func (s *Server) appendLeaf(ctx context.Context, from uint64, leaf []byte, dedupe bool) (loggedLeaf, error) {
	if s.writer == nil {
		return s.appendLocal(ctx, from, leaf, dedupe)
	}
	giveUp := time.Now().Add(2*s.writer.ttl + forwardTimeout)
	wait := 10 * time.Millisecond
	for attempt := 0; ; attempt++ {
		out, err := s.appendViaWriter(ctx, from, leaf, dedupe || attempt > 0)
		if err == nil || !errors.Is(err, errRetryAppend) {
			return out, err
		}
		if time.Now().After(giveUp) {
			return loggedLeaf{}, anp.Errorf(anp.CodeUnavailable, "no log writer took the append in %s: %v", 2*s.writer.ttl+forwardTimeout, err)
		}
		s.log.Debug().Err(err).Int("attempt", attempt+1).Msg("log append tried again")
		select {
		case <-ctx.Done():
			return loggedLeaf{}, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, max(s.writer.ttl/4, 10*time.Millisecond))
	}
}

// appendViaWriter is one attempt of appendLeaf on a shared ledger.
func (s *Server) appendViaWriter(ctx context.Context, from uint64, leaf []byte, dedupe bool) (loggedLeaf, error) {
	w := s.writer
	if !w.holds() {
		lease, err := w.leaser.CurrentLogLease(ctx)
		if err != nil {
			return loggedLeaf{}, fmt.Errorf("%w: %w", errRetryAppend, err)
		}
		if lease.Live && lease.Holder != w.holder {
			return s.forwardAppend(ctx, lease.Addr, from, leaf)
		}
		if got, err := s.acquireLease(ctx); err != nil || !got {
			return loggedLeaf{}, fmt.Errorf("%w: the lease of %s lapsed and was not taken here (%v)", errRetryAppend, lease.Holder, err)
		}
	}
	token, _ := w.current()
	out, err := s.appendLocal(ctx, from, leaf, dedupe)
	if errors.Is(err, store.ErrLeaseLost) {
		w.drop(token, err)
		return loggedLeaf{}, fmt.Errorf("%w: %w", errRetryAppend, err)
	}
	return out, err
}

// appendLocal appends leaf to this process's tree (and the ledger), unless
// dedupe finds it among the leaves from index from on.
func (s *Server) appendLocal(ctx context.Context, from uint64, leaf []byte, dedupe bool) (loggedLeaf, error) {
	if dedupe {
		idx, found, err := s.findLeaf(ctx, from, leaf)
		if err != nil {
			return loggedLeaf{}, err
		}
		if found {
			return s.proveLeaf(ctx, idx)
		}
	}
	idx, root, incl, err := s.tree.append(ctx, leaf)
	if err != nil {
		return loggedLeaf{}, err
	}
	return loggedLeaf{Index: idx, Size: idx + 1, Root: root, Inclusion: incl}, nil
}

// logLeaf appends leaf, which no earlier attempt appended, and returns its
// index, the new size, the root and the inclusion proof.
func (s *Server) logLeaf(ctx context.Context, leaf []byte) (uint64, uint64, []byte, [][]byte, error) {
	from, err := s.logSize(ctx)
	if err != nil {
		return 0, 0, nil, nil, err
	}
	lg, err := s.appendLeaf(ctx, from, leaf, false)
	return lg.Index, lg.Size, lg.Root, lg.Inclusion, err
}

// proveLeaf returns where leaf idx is in the current tree.
func (s *Server) proveLeaf(ctx context.Context, idx uint64) (loggedLeaf, error) {
	size := s.tree.size()
	root, err := s.tree.rootAt(ctx, size)
	if err != nil {
		return loggedLeaf{}, err
	}
	incl, err := s.tree.inclusion(ctx, idx, size)
	if err != nil {
		return loggedLeaf{}, err
	}
	return loggedLeaf{Index: idx, Size: size, Root: root, Inclusion: incl}, nil
}

// logSize returns the log size, first bringing the tree up to the ledger
// when another process writes it.
func (s *Server) logSize(ctx context.Context) (uint64, error) {
	if !s.isWriter() {
		if err := s.tree.refresh(ctx); err != nil {
			return 0, err
		}
	}
	return s.tree.size(), nil
}

// startLogWriter sets up the writer election on a shared ledger and tries
// once to take the lease, so that the first process on a ledger writes at
// once.
func (s *Server) startLogWriter(ctx context.Context) error {
	w, err := newLogWriter(s.cfg, s.log)
	if err != nil || w == nil {
		return err
	}
	s.writer = w
	s.tree.appendLeaves = s.fencedAppend
	if _, err := s.acquireLease(ctx); err != nil {
		return fmt.Errorf("registry: log writer lease: %w", err)
	}
	if !w.holds() {
		s.log.Info().Str("addr", w.addr).Msg("another registry process writes the log; appends are forwarded to it")
	}
	return nil
}

package buyer

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// ApproveAndSign commits a CONFIRMED deal: it signs the artifact with the
// session key, obtains the seller's signature (the seller checks the price is
// the one it accepted), has the registry countersign and log it (the
// registry client verifies the result against the pinned root key), and moves
// the session to SIGNED. It is idempotent: once
// signed, it returns the same artifact; after an interrupted attempt it
// resumes with the same buyer-signed artifact and never signs other terms.
// While the registry's log watcher reports a fork (LogChecker), nothing is
// signed or sent and the error is ErrRefused naming both tree heads.
//
// Before anything is signed, the approval rule (authorize, approval.go)
// decides whether the caller may have the deal signed, asking the person
// through the context's Approver (WithApprover) when the policy needs one;
// the question is asked without holding the session, and the deal is signed
// only if the session did not change while the person decided. Every
// answer is recorded in the session's Approvals.
func (c *Core) ApproveAndSign(ctx context.Context, id string) (*anp.Artifact, error) {
	appr, version, done, err := c.approval(ctx, id)
	if err != nil || done != nil {
		return done, err
	}
	unlock, r, err := c.beginMove(ctx, id)
	if err != nil {
		return nil, err
	}
	defer unlock()
	s := &r.Session
	if s.State == StateSigned && s.Artifact != nil {
		return s.Artifact, nil
	}
	if err := c.checkSignable(s); err != nil {
		return nil, err
	}
	if err := addApproval(s, appr, version); err != nil {
		return nil, err
	}
	if err := c.checkRegistryLog(ctx, "sign session "+id); err != nil {
		return nil, err
	}
	key, err := c.sessionKey(r)
	if err != nil {
		return nil, err
	}
	a, err := c.pendingArtifact(ctx, r, key)
	if err != nil {
		return nil, err
	}
	if a.SellerSig == "" {
		if err := c.requestSellerSignature(ctx, r, key, a); err != nil {
			return nil, err
		}
	}
	notarised, err := c.notarise(ctx, a)
	if err != nil {
		return nil, err
	}
	s.State, s.Artifact, s.AwaitingSeller = StateSigned, notarised, false
	r.Pending = nil
	if err := c.save(ctx, r); err != nil {
		return nil, err
	}
	c.events.emit(Event{Type: EventDealSigned, Session: &r.Session})
	return notarised, nil
}

// addApproval records appr, given for session version version, in s; a
// session that changed since is refused. A nil appr (a resumed approval)
// adds nothing.
func addApproval(s *Session, appr *Approval, version int64) error {
	if appr == nil {
		return nil
	}
	if s.Version != version {
		return fmt.Errorf("session %s: %w: it changed while the approval was asked; nothing was signed, approve again", s.ID, ErrBusy)
	}
	s.Approvals = append(s.Approvals, *appr)
	return nil
}

// checkSignable refuses a session that is not CONFIRMED before its deadline.
func (c *Core) checkSignable(s *Session) error {
	if s.State != StateConfirmed {
		return fmt.Errorf("session %s: %w: approve_and_sign needs CONFIRMED, the session is %s", s.ID, ErrBadState, s.State)
	}
	if !c.cfg.Now().Before(s.Deadline) {
		return fmt.Errorf("session %s: %w: the session deadline passed", s.ID, ErrBadState)
	}
	return nil
}

// approval runs the approval rule for session id before it is signed. It
// returns the approval to record with the session version it was given
// for; nil when the session is already signed (done, its artifact) or an
// interrupted approval resumes (it was approved before it began). A refusal
// somebody answered is recorded in the session before its error returns.
func (c *Core) approval(ctx context.Context, id string) (appr *Approval, version int64, done *anp.Artifact, err error) {
	r, err := c.load(ctx, id)
	if err != nil {
		return nil, 0, nil, err
	}
	s := &r.Session
	if s.State == StateSigned && s.Artifact != nil {
		return nil, 0, s.Artifact, nil
	}
	if r.Pending != nil {
		return nil, 0, nil, nil
	}
	if err := c.checkSignable(s); err != nil {
		return nil, 0, nil, err
	}
	a, err := c.authorize(ctx, *s, r.deliverBy())
	if err != nil {
		if a.Outcome != "" {
			c.recordApproval(context.WithoutCancel(ctx), id, s.Version, a)
		}
		return nil, 0, nil, err
	}
	return &a, s.Version, nil, nil
}

// recordApproval appends a refused approval to the session, unless the
// session changed since it was asked (the refusal then concerns terms no
// longer on the table, and is only logged).
func (c *Core) recordApproval(ctx context.Context, id string, version int64, a Approval) {
	_, err := c.updateOnce(ctx, id, func(r *record) error {
		if r.Session.Version != version {
			return fmt.Errorf("session %s: %w", id, ErrBusy)
		}
		r.Session.Approvals = append(r.Session.Approvals, a)
		return nil
	})
	c.log.Info().Str("session", id).Str("via", a.Via).Str("outcome", a.Outcome).Err(err).Msg("approval not given")
}

// pendingArtifact returns the buyer-signed artifact of an approval in
// progress, or builds, signs and stores it: a resumed approval never signs
// other terms.
func (c *Core) pendingArtifact(ctx context.Context, r *record, key ed25519.PrivateKey) (*anp.Artifact, error) {
	if r.Pending != nil {
		return r.Pending, nil
	}
	a, err := r.buildArtifact(key, c.cfg.Now())
	if err != nil {
		return nil, err
	}
	r.Pending = a
	if err := c.save(ctx, r); err != nil {
		return nil, err
	}
	return a, nil
}

// notarise has the registry countersign and log a deal signed by both
// parties. The registry client returns only the same deal, verified against
// the pinned root key (Registry.Notarize); anything else is an error.
func (c *Core) notarise(ctx context.Context, a *anp.Artifact) (*anp.Artifact, error) {
	notarised, err := c.cfg.Registry.Notarize(ctx, a)
	if err != nil {
		return nil, remoteError("notarise with the registry", err)
	}
	return notarised, nil
}

// requestSellerSignature sends COMMIT (or re-sends the unconfirmed one byte
// for byte) and checks the seller's CONFIRM. A seller that answers anything
// else, or a signature that does not verify, ends the approval: the session
// leaves CONFIRMED (cancelled, or ERROR for a broken answer) instead of
// waiting on a pending artifact that can never be signed.
func (c *Core) requestSellerSignature(ctx context.Context, r *record, key ed25519.PrivateKey, a *anp.Artifact) error {
	if err := r.outboxInFlight(c.cfg.Now()); err != nil {
		return err
	}
	env, err := c.commitEnvelope(ctx, r, key, a)
	if err != nil {
		return err
	}
	resp, err := c.cfg.Registry.Relay(ctx, r.Session.Seller, env)
	if err != nil {
		c.outboxFailed(ctx, r)
		return remoteError("ask "+r.Session.Seller+" to sign", err)
	}
	if err := r.appendOwn(key, env, c.cfg.Now()); err != nil {
		return err
	}
	fail := func(cause error) error {
		c.log.Warn().Str("session", r.Session.ID).Err(cause).Msg("seller did not sign")
		if rej := (*rejectedEnvelope)(nil); !errors.As(cause, &rej) {
			r.markError(cause)
		}
		r.Pending = nil
		if err := c.save(ctx, r); err != nil {
			return err
		}
		c.emitFor(r)
		return fmt.Errorf("seller %s did not sign: %w: %w", r.Session.Seller, ErrRefused, cause)
	}
	reply := resp.Reply
	if reply == nil {
		return fail(fmt.Errorf("the seller answered COMMIT without a signature"))
	}
	if reply.Type != anp.TypeConfirm {
		if err := c.takeSeller(r, key, reply); err != nil { // REJECT/CANCEL move the state; anything else is a break
			return fail(err)
		}
		r.Pending = nil
		if err := c.save(ctx, r); err != nil {
			return err
		}
		c.emitFor(r)
		return fmt.Errorf("seller %s answered COMMIT with %s: %w", r.Session.Seller, reply.Type, ErrRefused)
	}
	if err := r.takeConfirm(reply, a, c.cfg.Now()); err != nil {
		return fail(err)
	}
	return c.save(ctx, r)
}

// commitEnvelope returns the unconfirmed COMMIT in the outbox, to re-send it
// byte for byte, or seals a new one for a and stores it in the outbox.
func (c *Core) commitEnvelope(ctx context.Context, r *record, key ed25519.PrivateKey, a *anp.Artifact) (*anp.Envelope, error) {
	if r.Outbox != nil && r.Outbox.Type == anp.TypeCommit {
		return r.Outbox, nil
	}
	env, err := r.seal(key, anp.TypeCommit, &anp.CommitBody{Artifact: a}, c.cfg.Now(), c.cfg.EnvelopeTTL)
	if err != nil {
		return nil, err
	}
	r.Outbox, r.OutboxFailed = env, false
	if err := c.save(ctx, r); err != nil {
		return nil, err
	}
	return env, nil
}

package buyer

import (
	"errors"
	"fmt"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// Errors a caller can act on. Each is returned wrapped with the details.
var (
	ErrNotFound     = errors.New("unknown session")
	ErrOverBudget   = errors.New("offer is above max_budget")
	ErrBadState     = errors.New("move not allowed in the session's state")
	ErrBusy         = errors.New("another move on this session is in progress")
	ErrInvalidInput = errors.New("invalid input")
	ErrUnavailable  = errors.New("seller or registry unreachable")
	ErrRefused      = errors.New("the seller or registry refused")
	ErrConflict     = errors.New("the session was changed by another writer")
	// ErrRateLimited: the registry answered rate_limited (429): too many
	// logins from this address or new sessions for this identity in a short
	// time. The request was refused before it reached any seller; the
	// registry's message says when to try again (and a
	// *registry.RateLimitError in the chain carries its Retry-After).
	ErrRateLimited = errors.New("refused by a registry rate limit")
)

// remoteError maps a protocol error from the registry or a seller to the
// errors above, naming the operation that failed.
func remoteError(op string, err error) error {
	if err == nil {
		return nil
	}
	switch anp.CodeOf(err) {
	case anp.CodeUnavailable:
		return fmt.Errorf("%s: %w: %w", op, ErrUnavailable, err)
	case anp.CodeNotFound:
		return fmt.Errorf("%s: %w: %w", op, ErrRefused, err)
	case anp.CodeRefused, anp.CodeBadState, anp.CodeBadRequest, anp.CodeUnknownType, anp.CodeForbidden, anp.CodeBadSignature:
		return fmt.Errorf("%s: %w: %w", op, ErrRefused, err)
	case anp.CodeConflict, anp.CodeOutOfOrder, anp.CodeReplay:
		return fmt.Errorf("%s: %w: %w", op, ErrConflict, err)
	case anp.CodeRateLimited:
		return fmt.Errorf("%s: %w: %w", op, ErrRateLimited, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

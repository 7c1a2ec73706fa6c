package pgstore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/clinch-protocol/clinch-mcp/core/store"
)

// The log writer lease is the one row of log_lease. Its expiry is judged
// by this server's clock (now()), so the clocks of the processes sharing
// the database do not matter. An append under the lease reads the row
// FOR SHARE in its transaction, and a takeover UPDATEs it, so the two take
// turns: a takeover waits for an append in progress, and an append after a
// takeover sees the new token.

var _ store.LogLeaser = ledger{}

// errBadLease is wrapped by the error for a holder, address or ttl the
// lease cannot hold.
var errBadLease = errors.New("invalid log lease argument")

// checkLease refuses an empty or unstorable holder, an unstorable address
// and a ttl that is not positive.
func checkLease(holder, addr string, ttl time.Duration) error {
	switch {
	case holder == "" || !storableText(holder):
		return fmt.Errorf("lease holder %q: %w", holder, errBadLease)
	case !storableText(addr):
		return fmt.Errorf("lease address %q: %w", addr, errBadLease)
	case ttl <= 0:
		return fmt.Errorf("lease ttl %s is not positive: %w", ttl, errBadLease)
	}
	return nil
}

const leaseColumns = `holder, addr, token, expires, holder <> '' AND expires > now()`

// AcquireLogLease takes the lease for holder when it is free, expired or
// holder's already (renewed, same token); a change of holder raises the
// token.
func (l ledger) AcquireLogLease(ctx context.Context, holder, addr string, ttl time.Duration) (store.LogLease, bool, error) {
	if err := checkLease(holder, addr, ttl); err != nil {
		return store.LogLease{}, false, fmt.Errorf("pgstore: acquire log lease: %w", err)
	}
	row := l.db.pool.QueryRow(ctx, `UPDATE log_lease SET
			token = CASE WHEN holder = $1 AND expires > now() THEN token ELSE token + 1 END,
			holder = $1, addr = $2, expires = now() + make_interval(secs => $3)
		WHERE holder = $1 OR holder = '' OR expires <= now()
		RETURNING `+leaseColumns, holder, addr, ttl.Seconds())
	lease, err := scanLease(row)
	if errors.Is(err, pgx.ErrNoRows) {
		cur, err := l.CurrentLogLease(ctx)
		return cur, false, err
	}
	if err != nil {
		return store.LogLease{}, false, fmt.Errorf("pgstore: acquire log lease: %w", err)
	}
	return lease, true, nil
}

// RenewLogLease extends holder's lease with token, or returns
// store.ErrLeaseLost.
func (l ledger) RenewLogLease(ctx context.Context, holder string, token uint64, ttl time.Duration) error {
	if err := checkLease(holder, "", ttl); err != nil {
		return fmt.Errorf("pgstore: renew log lease: %w", err)
	}
	if token > math.MaxInt64 {
		return fmt.Errorf("pgstore: renew log lease with token %d: %w", token, store.ErrLeaseLost)
	}
	tag, err := l.db.pool.Exec(ctx, `UPDATE log_lease SET expires = now() + make_interval(secs => $3)
		WHERE holder = $1 AND token = $2`, holder, int64(token), ttl.Seconds())
	if err != nil {
		return fmt.Errorf("pgstore: renew log lease: %w", err)
	}
	if tag.RowsAffected() != 1 {
		return fmt.Errorf("pgstore: renew log lease of %s with token %d: %w", holder, token, store.ErrLeaseLost)
	}
	return nil
}

// ReleaseLogLease frees holder's lease with token; the next holder raises
// the token.
func (l ledger) ReleaseLogLease(ctx context.Context, holder string, token uint64) error {
	if token > math.MaxInt64 {
		return nil
	}
	if _, err := l.db.pool.Exec(ctx, `UPDATE log_lease SET holder = '', addr = '', expires = 'epoch'
		WHERE holder = $1 AND token = $2`, holder, int64(token)); err != nil {
		return fmt.Errorf("pgstore: release log lease: %w", err)
	}
	return nil
}

// CurrentLogLease returns the lease as it stands.
func (l ledger) CurrentLogLease(ctx context.Context) (store.LogLease, error) {
	lease, err := scanLease(l.db.pool.QueryRow(ctx, `SELECT `+leaseColumns+` FROM log_lease`))
	if err != nil {
		return store.LogLease{}, fmt.Errorf("pgstore: read log lease: %w", err)
	}
	return lease, nil
}

// AppendLeavesFenced is AppendLeaves under the fencing token: the lease
// row is read FOR SHARE first, in the same transaction.
func (l ledger) AppendLeavesFenced(ctx context.Context, token, first uint64, leaves [][]byte, nodes []store.TreeNode) error {
	end, err := store.CheckAppendLeaves(ctx, first, len(leaves), nodes)
	if err != nil {
		return fmt.Errorf("pgstore: %w", err)
	}
	err = l.db.inTx(ctx, func(tx pgx.Tx) error {
		var current int64
		if err := tx.QueryRow(ctx, `SELECT token FROM log_lease FOR SHARE`).Scan(&current); err != nil {
			return fmt.Errorf("read the log lease: %w", err)
		}
		if token > math.MaxInt64 || current != int64(token) {
			return fmt.Errorf("append at %d with fencing token %d, the lease has token %d: %w", first, token, current, store.ErrLeaseLost)
		}
		return appendLeavesTx(ctx, tx, first, end, leaves, nodes)
	})
	if err != nil {
		return fmt.Errorf("pgstore: append leaves: %w", err)
	}
	return nil
}

func scanLease(row pgx.Row) (store.LogLease, error) {
	var (
		lease store.LogLease
		token int64
	)
	if err := row.Scan(&lease.Holder, &lease.Addr, &token, &lease.Expires, &lease.Live); err != nil {
		return store.LogLease{}, err
	}
	if token < 0 {
		return store.LogLease{}, fmt.Errorf("log lease token %d is negative", token)
	}
	lease.Token = uint64(token)
	return lease, nil
}

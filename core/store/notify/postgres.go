package notify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// maxPostgresChannel is the longest identifier Postgres keeps whole
// (NAMEDATALEN - 1).
const maxPostgresChannel = 63

// closeTimeout bounds the goodbye to a listener connection.
const closeTimeout = 2 * time.Second

// Postgres is a Notifier on LISTEN/NOTIFY. Publish uses the pool; each
// Subscribe holds a connection of its own outside the pool (a LISTEN
// belongs to its session), opened with the pool's connection settings.
type Postgres struct {
	pool *pgxpool.Pool
	conn *pgx.ConnConfig
	opts Options
}

var _ Notifier = (*Postgres)(nil)

// NewPostgres returns a notifier on the database of pool. NOTIFY channels
// span a whole database (not a schema), so deployments sharing a database
// need distinct Channel names.
func NewPostgres(pool *pgxpool.Pool, opts Options) (*Postgres, error) {
	opts, err := opts.withDefaults(DefaultPostgresChannel)
	if err != nil {
		return nil, err
	}
	if len(opts.Channel) > maxPostgresChannel {
		return nil, fmt.Errorf("notify: postgres channel %q is longer than %d bytes", opts.Channel, maxPostgresChannel)
	}
	return &Postgres{pool: pool, conn: pool.Config().ConnConfig, opts: opts}, nil
}

// Publish sends NOTIFY through pg_notify. The notification is delivered
// when (and only if) the statement commits, which for this single
// statement is at once.
func (p *Postgres) Publish(ctx context.Context, sessionID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkID(sessionID); err != nil {
		return err
	}
	if _, err := p.pool.Exec(ctx, `SELECT pg_notify($1, $2)`, p.opts.Channel, sessionID); err != nil {
		return fmt.Errorf("notify: publish on postgres channel %s: %w", p.opts.Channel, err)
	}
	return nil
}

// Subscribe LISTENs on the channel until ctx is done, reconnecting with
// backoff whenever the connection is lost.
func (p *Postgres) Subscribe(ctx context.Context, fn func(sessionID string)) error {
	bo := backoff{min: p.opts.MinBackoff, max: p.opts.MaxBackoff}
	log := p.opts.Logger.With().Str("channel", p.opts.Channel).Logger()
	for {
		err := p.listen(ctx, fn, bo.reset)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		delay := bo.next()
		log.Warn().Err(err).Dur("retry_in", delay).Msg("notify: postgres listener lost; reconnecting")
		if err := sleep(ctx, delay); err != nil {
			return err
		}
	}
}

// listen runs one listener connection until it fails or ctx is done,
// calling established once LISTEN has taken effect.
func (p *Postgres) listen(ctx context.Context, fn func(string), established func()) error {
	conn, err := pgx.ConnectConfig(ctx, p.conn.Copy())
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
		defer cancel()
		conn.Close(cctx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{p.opts.Channel}.Sanitize()); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	established()
	fn(AllSessions)
	for {
		wctx, cancel := context.WithTimeout(ctx, p.opts.HealthInterval)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			fn(n.Payload)
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, context.DeadlineExceeded) && wctx.Err() != nil:
			// Quiet for an interval: make sure the server is still there.
			pctx, cancel := context.WithTimeout(ctx, p.opts.HealthInterval)
			err := conn.Ping(pctx)
			cancel()
			if err != nil {
				return fmt.Errorf("health check: %w", err)
			}
		default:
			return fmt.Errorf("wait for notification: %w", err)
		}
	}
}

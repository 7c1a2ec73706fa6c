package notify

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/redis/go-redis/v9"
)

// Redis is a Notifier on PUBLISH/SUBSCRIBE. Each Subscribe holds a pub/sub
// connection of its own.
type Redis struct {
	client redis.UniversalClient
	opts   Options
}

var _ Notifier = (*Redis)(nil)

// NewRedis returns a notifier on client's server. Stores sharing a server
// under different key prefixes should use channel <prefix>sessions, as
// storeurl does.
func NewRedis(client redis.UniversalClient, opts Options) (*Redis, error) {
	opts, err := opts.withDefaults(DefaultRedisChannel)
	if err != nil {
		return nil, err
	}
	return &Redis{client: client, opts: opts}, nil
}

// Publish sends the session ID to the channel.
func (r *Redis) Publish(ctx context.Context, sessionID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkID(sessionID); err != nil {
		return err
	}
	if err := r.client.Publish(ctx, r.opts.Channel, sessionID).Err(); err != nil {
		return fmt.Errorf("notify: publish on redis channel %s: %w", r.opts.Channel, err)
	}
	return nil
}

// Subscribe SUBSCRIBEs to the channel until ctx is done, reconnecting with
// backoff whenever the connection is lost. It returns early with an error
// if the client is closed.
func (r *Redis) Subscribe(ctx context.Context, fn func(sessionID string)) error {
	bo := backoff{min: r.opts.MinBackoff, max: r.opts.MaxBackoff}
	log := r.opts.Logger.With().Str("channel", r.opts.Channel).Logger()
	for {
		err := r.listen(ctx, fn, bo.reset)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, redis.ErrClosed) {
			return fmt.Errorf("notify: subscribe to redis channel %s: %w", r.opts.Channel, err)
		}
		delay := bo.next()
		log.Warn().Err(err).Dur("retry_in", delay).Msg("notify: redis subscription lost; reconnecting")
		if err := sleep(ctx, delay); err != nil {
			return err
		}
	}
}

// listen runs one pub/sub connection until it fails or ctx is done,
// calling established each time the server confirms the subscription.
func (r *Redis) listen(ctx context.Context, fn func(string), established func()) error {
	ps := r.client.Subscribe(ctx)
	defer ps.Close()
	// go-redis does not interrupt a blocked read when ctx is canceled;
	// closing the connection does.
	stop := context.AfterFunc(ctx, func() { ps.Close() })
	defer stop()
	if err := ps.Subscribe(ctx, r.opts.Channel); err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	pinged := false
	for {
		msg, err := ps.ReceiveTimeout(ctx, r.opts.HealthInterval)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			var netErr net.Error
			if !errors.As(err, &netErr) || !netErr.Timeout() {
				return fmt.Errorf("receive: %w", err)
			}
			// Quiet for an interval: ping, and give up if the last ping
			// went unanswered.
			if pinged {
				return errors.New("health check: no reply to ping")
			}
			if err := ps.Ping(ctx); err != nil {
				return fmt.Errorf("health check: %w", err)
			}
			pinged = true
			continue
		}
		pinged = false
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" && m.Channel == r.opts.Channel {
				established()
				fn(AllSessions)
			}
		case *redis.Message:
			if m.Channel == r.opts.Channel {
				fn(m.Payload)
			}
		}
	}
}

package sandbox

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ollama/ollama/api"
	"github.com/rs/zerolog"

	"github.com/clinch-protocol/clinch-mcp/agentprompt"
	"github.com/clinch-protocol/clinch-mcp/core/buyer"
	"github.com/clinch-protocol/clinch-mcp/core/concession"
)

// Defaults of OllamaConfig.
const (
	DefaultModel      = "qwen2.5:1.5b"
	DefaultTimeout    = 20 * time.Second
	DefaultNumCtx     = 4096
	DefaultNumPredict = 128
	DefaultSeed       = 7
)

// userTurn is the user message of every chat; the session and the fenced
// seller text are in the system prompt.
const userTurn = "Decide the next move now. Reply with JSON only."

// maxContent bounds the reply text read from Ollama.
const maxContent = 16 << 10

// OllamaConfig configures an OllamaDecider. Zero values take the defaults.
type OllamaConfig struct {
	Host       string        // default $OLLAMA_HOST, else http://127.0.0.1:11434
	Model      string        // default "qwen2.5:1.5b"
	Timeout    time.Duration // per call (each chat, each check), default 20s
	NumCtx     int           // context window sent as num_ctx, default 4096
	NumPredict int           // reply token limit sent as num_predict, default 128
	Seed       int           // sampling seed, default 7
	HTTP       *http.Client  // default: a client without its own timeout (the per-call context bounds each call)
	Logger     zerolog.Logger
	Fallback   buyer.Decider // default concession.Default()
}

func (c *OllamaConfig) applyDefaults() {
	if c.Model == "" {
		c.Model = DefaultModel
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.NumCtx <= 0 {
		c.NumCtx = DefaultNumCtx
	}
	if c.NumPredict <= 0 {
		c.NumPredict = DefaultNumPredict
	}
	if c.Seed == 0 {
		c.Seed = DefaultSeed
	}
	if c.HTTP == nil {
		c.HTTP = &http.Client{}
	}
	if c.Fallback == nil {
		c.Fallback = concession.Default()
	}
}

// OllamaDecider asks a local model through Ollama for the buyer's next move.
// The model sees the shared negotiation prompt (agentprompt.RenderWithAdvice,
// the seller's text fenced as untrusted data, with the fallback strategy's
// suggestion when it can advise) and must answer in ReplySchema;
// temperature 0 and a fixed seed make it repeatable.
//
// A reply that is malformed or makes no sense (see ParseReply) gets one retry
// with a corrective message; a second bad reply, or any failed call (model
// missing, an error status, no complete answer, the per-call timeout), hands
// the move to the fallback decider, and the reason is logged and put in
// Decision.Source as "strategy(fallback: <reason>)". Every decision passes
// buyer.Guard before it is returned; the engine applies Guard again. It is
// safe for concurrent use.
type OllamaDecider struct {
	cfg    OllamaConfig
	base   *url.URL
	client *api.Client
	log    zerolog.Logger
}

// NewOllamaDecider checks the configuration and returns a decider. It does
// not contact Ollama; Check does.
func NewOllamaDecider(cfg OllamaConfig) (*OllamaDecider, error) {
	cfg.applyDefaults()
	base, err := resolveHost(cfg.Host)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(cfg.Model) != cfg.Model || strings.ContainsAny(cfg.Model, " \t\n") {
		return nil, fmt.Errorf("sandbox: ollama model %q: names have no spaces", cfg.Model)
	}
	d := &OllamaDecider{cfg: cfg, base: base, client: api.NewClient(base, cfg.HTTP), log: cfg.Logger.With().Str("component", "sandbox").Str("model", cfg.Model).Logger()}
	if !isLoopback(base) {
		d.log.Warn().Str("host", base.Host).Msg("ollama host is not on this machine: the negotiation prompt, budget included, goes over the network to it")
	}
	return d, nil
}

// Name returns "ollama:<model>".
func (d *OllamaDecider) Name() string { return "ollama:" + d.cfg.Model }

// advice is the fallback strategy's suggestion for s, shown to the model
// (nil when the fallback cannot advise).
func (d *OllamaDecider) advice(s buyer.Session) *concession.Advice {
	a, ok := d.cfg.Fallback.(concession.Adviser)
	if !ok {
		return nil
	}
	if adv, ok := a.Advise(s); ok {
		return &adv
	}
	return nil
}

// Host returns the Ollama base URL in use.
func (d *OllamaDecider) Host() string { return d.base.String() }

// Decide implements buyer.Decider.
func (d *OllamaDecider) Decide(ctx context.Context, s buyer.Session) (buyer.Decision, error) {
	if s.LastSellerPrice == nil {
		return buyer.Decision{}, fmt.Errorf("sandbox: session %s: no seller price to respond to", s.ID)
	}
	msgs := []api.Message{
		{Role: "system", Content: agentprompt.RenderWithAdvice(s, s.SellerMessage, d.advice(s))},
		{Role: "user", Content: userTurn},
	}
	content, err := d.chat(ctx, msgs)
	if err != nil {
		return d.fallback(ctx, s, err)
	}
	dec, problem := ParseReply(content, s)
	if problem != nil {
		d.log.Warn().Str("session", s.ID).Str("problem", problem.Error()).Msg("model reply rejected; asking once more")
		msgs = append(msgs, api.Message{Role: "user", Content: corrective(problem, s)})
		if content, err = d.chat(ctx, msgs); err != nil {
			return d.fallback(ctx, s, fmt.Errorf("retry: %w", err))
		}
		if dec, problem = ParseReply(content, s); problem != nil {
			return d.fallback(ctx, s, fmt.Errorf("invalid model reply after one retry: %w", problem))
		}
	}
	dec.Source = d.Name()
	return d.finish(s, dec), nil
}

// corrective is the retry message: what was wrong and the format again. It
// holds fixed text and numbers only.
func corrective(problem error, s buyer.Session) string {
	return fmt.Sprintf("Your previous reply could not be used: %s. The seller's price is %s. "+
		"Reply again with JSON only: {\"action\":\"counter\"|\"accept\"|\"exit\",\"price\":<number in %s major units>,\"message\":\"<one sentence>\"}.",
		problem, s.LastSellerPrice, s.MaxBudget.Currency)
}

// chat makes one non-streaming chat call under the per-call timeout and
// returns the reply text.
func (d *OllamaDecider) chat(ctx context.Context, msgs []api.Message) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	stream := false
	req := &api.ChatRequest{
		Model:    d.cfg.Model,
		Messages: msgs,
		Stream:   &stream,
		Format:   ReplySchema,
		Options: map[string]any{ // a map, so zero values such as temperature 0 are sent
			"temperature": 0,
			"seed":        d.cfg.Seed,
			"num_ctx":     d.cfg.NumCtx,
			"num_predict": d.cfg.NumPredict,
		},
	}
	var content strings.Builder
	done := false
	err := d.client.Chat(ctx, req, func(r api.ChatResponse) error {
		if content.Len()+len(r.Message.Content) > maxContent {
			return fmt.Errorf("reply longer than %d bytes", maxContent)
		}
		content.WriteString(r.Message.Content)
		done = done || r.Done
		return nil
	})
	if err != nil {
		return "", d.describe(ctx, err)
	}
	if !done { // an error status with an empty body ends Chat with nil and no callback
		return "", errors.New("ollama sent no complete reply (an error status with an empty body?)")
	}
	return content.String(), nil
}

// describe turns a chat error into a reason fit for logs and Decision.Source.
func (d *OllamaDecider) describe(ctx context.Context, err error) error {
	var se api.StatusError
	var ae api.AuthorizationError
	switch {
	case errors.As(err, &se) && se.StatusCode == http.StatusNotFound:
		return fmt.Errorf("model %s not found on %s (run: ollama pull %s)", d.cfg.Model, d.base.Host, d.cfg.Model)
	case errors.As(err, &se):
		return fmt.Errorf("ollama answered HTTP %d: %s", se.StatusCode, clip(se.ErrorMessage, 200))
	case errors.As(err, &ae):
		return fmt.Errorf("ollama at %s requires authorization (HTTP %d)", d.base.Host, ae.StatusCode)
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("no reply within %s", d.cfg.Timeout)
	}
	return fmt.Errorf("ollama at %s: %w", d.base.Host, err)
}

// fallback hands the move to the fallback decider after a failed or
// unusable model call. When ctx itself is done the caller has given up, and
// the error is returned instead.
func (d *OllamaDecider) fallback(ctx context.Context, s buyer.Session, reason error) (buyer.Decision, error) {
	if err := ctx.Err(); err != nil {
		return buyer.Decision{}, fmt.Errorf("sandbox: ollama decide for %s: %w", s.ID, err)
	}
	d.log.Warn().Str("session", s.ID).Str("reason", reason.Error()).Msg("falling back to the strategy decider")
	dec, err := d.cfg.Fallback.Decide(ctx, s)
	if err != nil {
		return buyer.Decision{}, fmt.Errorf("sandbox: fallback decider for %s (after %v): %w", s.ID, reason, err)
	}
	dec.Source = "strategy(fallback: " + reason.Error() + ")"
	return d.finish(s, dec), nil
}

// finish applies buyer.Guard, logs what it changed, and cleans the message.
func (d *OllamaDecider) finish(s buyer.Session, dec buyer.Decision) buyer.Decision {
	g, note := buyer.Guard(s, dec)
	if note != "" {
		d.log.Info().Str("session", s.ID).Str("source", g.Source).Str("action", string(g.Action)).Msg("guardrail: " + note)
		g.Message = defaultMessage(g) // the model's words may describe the move the guard refused
	}
	g.Message = cleanMessage(g)
	return g
}

func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

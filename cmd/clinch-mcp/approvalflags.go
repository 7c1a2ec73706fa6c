package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
	"github.com/clinch-protocol/clinch-mcp/core/buyer"
	"github.com/clinch-protocol/clinch-mcp/mcpserver"
	"github.com/clinch-protocol/clinch-mcp/secrets"
)

// approvalFlags are serve's approval policy and decision-room participants.
type approvalFlags struct {
	mode         string
	personAbove  string
	groupAbove   string
	window       time.Duration
	participants participantList
}

func (a *approvalFlags) register(fs *flag.FlagSet, env *cliEnv) {
	fs.StringVar(&a.mode, "approval", envOr(env, "CLINCH_APPROVAL", "auto"),
		"who approves approve_and_sign: elicit (the person, asked by the server through the client; refused when the client cannot ask, except below --auto-approve-below), "+
			"model (the client's model decides), deny (never sign through MCP), auto (elicit when the client supports it, else model) (env CLINCH_APPROVAL)")
	fs.StringVar(&a.personAbove, "approval-person-above", envOr(env, "CLINCH_APPROVAL_PERSON_ABOVE", ""),
		"above this amount (USD, or e.g. '100 EUR') a person must approve whatever --approval says (env CLINCH_APPROVAL_PERSON_ABOVE)")
	fs.StringVar(&a.groupAbove, "approval-group-above", envOr(env, "CLINCH_APPROVAL_GROUP_ABOVE", ""),
		"above this amount a decision room must have decided approve (open_decision) (env CLINCH_APPROVAL_GROUP_ABOVE)")
	window := buyer.DefaultApprovalWindow
	if v := env.getenv("CLINCH_APPROVAL_WINDOW"); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			window = d
		}
	}
	fs.DurationVar(&a.window, "approval-window", window, "how long the person has to answer, and how long a room's approve stays valid (env CLINCH_APPROVAL_WINDOW)")
	if v := env.getenv("CLINCH_PARTICIPANTS"); v != "" {
		a.participants = participantList{list: splitList(v), fromEnv: true}
	}
	fs.Var(&a.participants, "participant", "NAME=TOKEN_FILE: a decision-room participant who authenticates on http/sse with the bearer token in TOKEN_FILE; "+
		"repeat or separate with commas (env CLINCH_PARTICIPANTS)")
}

// policy returns the engine's approval policy.
func (a *approvalFlags) policy() (buyer.ApprovalPolicy, error) {
	mode, err := buyer.ParseApprovalMode(a.mode)
	if err != nil {
		return buyer.ApprovalPolicy{}, &exitError{2, fmt.Errorf("--approval: %w", err)}
	}
	p := buyer.ApprovalPolicy{Mode: mode, Window: a.window}
	if a.window <= 0 {
		return p, &exitError{2, fmt.Errorf("--approval-window %s: want a positive duration", a.window)}
	}
	for _, t := range []struct {
		name, raw string
		dst       **anp.Money
	}{{"--approval-person-above", a.personAbove, &p.PersonAbove}, {"--approval-group-above", a.groupAbove, &p.GroupAbove}} {
		if t.raw == "" {
			continue
		}
		m, err := anp.ParseMoney(t.raw, "USD")
		if err != nil {
			return p, &exitError{2, fmt.Errorf("%s: %w", t.name, err)}
		}
		*t.dst = &m
	}
	return p, nil
}

// load returns the approval policy and puts the participants' tokens into
// a (and into the redactor: no log line or result shows one).
func (a *approvalFlags) load(ap *app, red *secrets.Redactor) (buyer.ApprovalPolicy, error) {
	policy, err := a.policy()
	if err != nil {
		return policy, err
	}
	if ap.participants, err = a.tokens(); err != nil {
		return policy, err
	}
	for _, tok := range ap.participants {
		red.Add(tok)
	}
	return policy, nil
}

// tokens reads every participant's token file: name -> token.
func (a *approvalFlags) tokens() (map[string]string, error) {
	out := map[string]string{}
	for _, spec := range a.participants.list {
		name, file, ok := strings.Cut(spec, "=")
		if !ok || file == "" {
			return nil, &exitError{2, fmt.Errorf("--participant %q: want NAME=TOKEN_FILE", spec)}
		}
		if err := mcpserver.CheckParticipantName(name); err != nil {
			return nil, &exitError{2, fmt.Errorf("--participant: %w", err)}
		}
		if _, dup := out[name]; dup {
			return nil, &exitError{2, fmt.Errorf("--participant %s is given twice", name)}
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, &exitError{2, fmt.Errorf("--participant %s: read the token file: %w", name, err)}
		}
		out[name] = strings.TrimSpace(string(b))
	}
	return out, nil
}

// participantList is a repeatable, comma-separated flag; values from the
// environment are replaced, not extended, by the first flag.
type participantList struct {
	list    []string
	fromEnv bool
}

func (p *participantList) String() string { return strings.Join(p.list, ",") }

func (p *participantList) Set(v string) error {
	if p.fromEnv {
		p.list, p.fromEnv = nil, false
	}
	p.list = append(p.list, splitList(v)...)
	return nil
}

package registry

import (
	"sync"

	"github.com/clinch-protocol/clinch-mcp/core/anp"
)

// passedTokens remembers the bearer tokens that passed every check of
// parseToken, by their exact string, with their claims and the key that
// signed them: a bounded memo of the checks that depend on the token's
// bytes alone (decoding, signature, lifetime, subject). It holds at most
// max tokens and starts over when full; it is safe for concurrent use.
type passedTokens struct {
	mu  sync.Mutex
	m   map[string]passedToken
	max int
}

// passedToken is a token's claims and the key its signature verified with.
type passedToken struct {
	claims anp.TokenClaims
	signer string
}

func newPassedTokens(max int) *passedTokens { return &passedTokens{max: max} }

// get returns what tok passed with.
func (p *passedTokens) get(tok string) (passedToken, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t, ok := p.m[tok]
	return t, ok
}

// add remembers that tok passed with claims, signed by signer.
func (p *passedTokens) add(tok string, claims anp.TokenClaims, signer string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil || len(p.m) >= p.max {
		p.m = make(map[string]passedToken)
	}
	p.m[tok] = passedToken{claims: claims, signer: signer}
}

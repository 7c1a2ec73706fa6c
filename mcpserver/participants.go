package mcpserver

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode"

	"github.com/clinch-protocol/clinch-mcp/tools"
)

// Participant credential failures.
var (
	// ErrParticipantName: a participant name that is empty, too long or not
	// made of letters, digits, '.', '_' and '-'.
	ErrParticipantName = errors.New("invalid participant name")
	// ErrParticipantToken: a participant token that is too short, or used
	// twice (by two participants, or as the server's own token).
	ErrParticipantToken = errors.New("invalid participant token")
)

// MinParticipantToken is the shortest participant token accepted.
const MinParticipantToken = 16

// participantToken is one participant's name and the digest of its token.
type participantToken struct {
	name string
	sum  [32]byte
}

// CheckParticipantName refuses a name that is not 1-64 letters, digits,
// '.', '_' or '-'.
func CheckParticipantName(name string) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("%w: %q must be 1 to 64 characters", ErrParticipantName, clipName(name))
	}
	for _, r := range name {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune("._-", r) {
			return fmt.Errorf("%w: %q may hold only letters, digits, '.', '_' and '-'", ErrParticipantName, clipName(name))
		}
	}
	return nil
}

func clipName(s string) string {
	if len(s) > 32 {
		return s[:32] + "…"
	}
	return s
}

// participantTokens checks the participants' names and tokens and keeps
// only the tokens' digests. No two may share a token, nor one the server's.
func participantTokens(m map[string]string, serverToken string) ([]participantToken, error) {
	seen := map[[32]byte]string{}
	if serverToken != "" {
		seen[sha256.Sum256([]byte(serverToken))] = "--auth-token"
	}
	out := make([]participantToken, 0, len(m))
	for name, tok := range m {
		if err := CheckParticipantName(name); err != nil {
			return nil, err
		}
		if len(tok) < MinParticipantToken || strings.ContainsAny(tok, " \t\r\n") {
			return nil, fmt.Errorf("participant %s: %w: at least %d characters, no white space", name, ErrParticipantToken, MinParticipantToken)
		}
		sum := sha256.Sum256([]byte(tok))
		if other, dup := seen[sum]; dup {
			return nil, fmt.Errorf("participant %s: %w: the same token as %s", name, ErrParticipantToken, other)
		}
		seen[sum] = name
		out = append(out, participantToken{name: name, sum: sum})
	}
	return out, nil
}

// participant returns the participant whose token the request carries:
// "" when it carries none of theirs (the server's token or none). Every
// digest is compared, in constant time, whatever matches.
func (g *guard) participant(r *http.Request) (string, *refusal) {
	if len(g.participants) == 0 {
		return "", nil
	}
	scheme, cred, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", nil
	}
	got := sha256.Sum256([]byte(strings.TrimLeft(cred, " ")))
	who := ""
	for _, p := range g.participants {
		if subtle.ConstantTimeCompare(got[:], p.sum[:]) == 1 {
			who = p.name
		}
	}
	if who == "" && g.token == nil {
		// Without a server token a bearer header can only be a participant's.
		return "", &refusal{http.StatusUnauthorized, "unauthorized: the bearer token is not a participant's"}
	}
	return who, nil
}

// participantContext carries the participant the guard authenticated into
// the MCP request's context.
func participantContext(ctx context.Context, r *http.Request) context.Context {
	if p := tools.ParticipantFrom(r.Context()); p != "" {
		return tools.WithParticipant(ctx, p)
	}
	return ctx
}

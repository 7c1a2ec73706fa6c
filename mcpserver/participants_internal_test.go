package mcpserver

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"unicode"
)

// FuzzParticipantName: an accepted name is 1-64 bytes of letters, digits,
// '.', '_' and '-'; a participant's token admits exactly that participant.
func FuzzParticipantName(f *testing.F) {
	f.Add("alice", "alice-token-0123456789", "Bearer alice-token-0123456789")
	f.Add("bob smith", "short", "bearer x")
	f.Add("", "tok-tok-tok-tok-tok", "Basic abc")
	f.Add("ü-Ä.9_", "0123456789abcdef", "Bearer  0123456789abcdef")
	f.Fuzz(func(t *testing.T, name, token, header string) {
		err := CheckParticipantName(name)
		valid := name != "" && len(name) <= 64 && strings.IndexFunc(name, func(r rune) bool {
			return !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune("._-", r)
		}) < 0
		if (err == nil) != valid || (err != nil && !errors.Is(err, ErrParticipantName)) {
			t.Fatalf("CheckParticipantName(%q) = %v", name, err)
		}
		ps, err := participantTokens(map[string]string{name: token}, "")
		if err != nil {
			return
		}
		g := &guard{participants: ps}
		r, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1/mcp", nil)
		r.Header.Set("Authorization", header)
		who, ref := g.participant(r)
		scheme, cred, ok := strings.Cut(header, " ")
		match := ok && strings.EqualFold(scheme, "Bearer") && strings.TrimLeft(cred, " ") == token
		if match != (who == name) || (who != "" && who != name) {
			t.Fatalf("header %q for %s's token %q: participant %q", header, name, token, who)
		}
		if ok && strings.EqualFold(scheme, "Bearer") && !match && ref == nil {
			t.Fatalf("header %q: a bearer token that is nobody's was admitted", header)
		}
	})
}

package sandbox

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/clinch-protocol/clinch-mcp/core/anp/anptest"
	"github.com/clinch-protocol/clinch-mcp/core/buyer"
)

func FuzzParseReply(f *testing.F) {
	for _, seed := range []string{
		`{"action":"counter","price":84.5,"message":"How about 84.50?"}`,
		`{"action":"accept","price":0,"message":"Deal."}`,
		`{"action":"exit","price":0,"message":""}`,
		`{"action":"counter","price":1e308,"message":"x"}`,
		`{"action":"counter","price":-0,"message":"x"}`,
		`{"action":"counter","price":59.999,"message":"x"} `,
		`{"action":"counter","price":70,"message":"x"}{"action":"accept"}`,
		`{"action":"counter","price":70,"message":"x","action":"accept"}`,
		"```json\n{}\n```", `null`, `[]`, `"counter"`, ``,
	} {
		f.Add(seed, int64(12000), int64(6000), int64(10000))
	}
	f.Fuzz(func(t *testing.T, content string, ask, own, budget int64) {
		if ask <= 0 || budget <= 0 || own < 0 || ask > 1e15 || budget > 1e15 || own > 1e15 {
			return
		}
		s := buyer.Session{ID: "f", State: buyer.StateCountered, Turn: 2, MaxTurns: 8, MaxBudget: anptest.USD(budget), LastSellerPrice: ptr(anptest.USD(ask))}
		if own > 0 {
			s.LastOwnOffer = ptr(anptest.USD(own))
		}
		d, err := ParseReply(content, s)
		if err != nil {
			return
		}
		if utf8.RuneCountInString(d.Message) > MaxReplyMessage {
			t.Fatalf("message of %d characters accepted", utf8.RuneCountInString(d.Message))
		}
		switch d.Action {
		case buyer.ActionCounter:
			if d.Price.Amount <= 0 || d.Price.Amount >= ask || d.Price.Currency != "USD" {
				t.Fatalf("counter %s accepted against a seller price of %d", d.Price, ask)
			}
			if own > 0 && float64(own-d.Price.Amount) > maxDip*float64(own) {
				t.Fatalf("counter %s accepted %d below the previous offer %d", d.Price, own-d.Price.Amount, own)
			}
		case buyer.ActionAccept:
			if d.Price != *s.LastSellerPrice {
				t.Fatalf("accept at %s, the seller asked %d", d.Price, ask)
			}
		case buyer.ActionExit:
		default:
			t.Fatalf("action %q accepted", d.Action)
		}
		g, _ := buyer.Guard(s, d)
		if g.Action != buyer.ActionExit && (g.Price.Amount <= 0 || g.Price.Amount > budget) {
			t.Fatalf("guarded decision %s %s outside the budget %d", g.Action, g.Price, budget)
		}
	})
}

func FuzzResolveHost(f *testing.F) {
	for _, seed := range []string{"", "localhost", "127.0.0.1:11434", "http://localhost", "https://h/base/x", "[::1]:1", "::1", "ftp://x", "h:0", "http://u@h", "http://h:1:2", "%zz", "http://[::1"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, setting string) {
		if strings.TrimSpace(setting) == "" {
			return // falls back to the environment
		}
		u, err := resolveHost(setting)
		if err != nil {
			return
		}
		if u.Scheme != "http" && u.Scheme != "https" || u.Hostname() == "" || u.Port() == "" {
			t.Fatalf("resolveHost(%q) = %q", setting, u)
		}
		again, err := resolveHost(u.String())
		if err != nil || again.String() != u.String() {
			t.Fatalf("resolveHost(%q) = %q, which resolves to %v, %v", setting, u, again, err)
		}
	})
}

func FuzzCleanMessage(f *testing.F) {
	for _, seed := range []string{"", "We offer 70.", "  two\n\tlines  ", "1,000.00!", "\x00\xff\n\t", strings.Repeat("é", 400)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		d := buyer.Decision{Action: buyer.ActionCounter, Price: anptest.USD(7000), Message: msg}
		out := cleanMessage(d)
		if out == "" || !utf8.ValidString(out) || utf8.RuneCountInString(out) > MaxReplyMessage {
			t.Fatalf("cleanMessage(%q) = %q", msg, out)
		}
		for _, r := range out {
			if unicode.IsControl(r) {
				t.Fatalf("cleanMessage(%q) kept control character %U", msg, r)
			}
		}
		if strings.Contains(out, "  ") || strings.TrimSpace(out) != out {
			t.Fatalf("cleanMessage(%q) = %q keeps a run of spaces", msg, out)
		}
	})
}

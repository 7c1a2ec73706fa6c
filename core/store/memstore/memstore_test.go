package memstore

import (
	"testing"

	"github.com/clinch-protocol/clinch-mcp/core/store"
	"github.com/clinch-protocol/clinch-mcp/core/store/storetest"
)

func TestSessions(t *testing.T) {
	storetest.TestSessions(t, func(*testing.T) store.Sessions { return NewSessions() })
}

func TestNonces(t *testing.T) {
	storetest.TestNonces(t, func(*testing.T) store.Nonces { return NewNonces() })
}

func TestLedger(t *testing.T) {
	storetest.TestLedger(t, func(*testing.T) store.Ledger { return NewLedger() })
}

func BenchmarkSessionSaveLoad(b *testing.B) {
	storetest.BenchSessionSaveLoad(b, NewSessions())
}

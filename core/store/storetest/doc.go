// Package storetest is the conformance suite for the store interfaces.
// Every backend (memory, SQLite, Postgres, Redis) runs it from its own
// tests:
//
//	func TestSessions(t *testing.T) {
//		storetest.TestSessions(t, func(t *testing.T) store.Sessions { return open(t).Sessions() })
//	}
//
// Each subtest asks newStore for a fresh, empty store. Times in the suite
// are whole milliseconds, so a backend needs millisecond precision at least.
package storetest

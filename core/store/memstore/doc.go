// Package memstore implements the store interfaces in memory, for tests and
// for single-process deployments that need no persistence. Every method is
// safe for concurrent use, and byte slices are copied on the way in and out.
package memstore

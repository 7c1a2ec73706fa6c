// Package sqlitestore implements the store interfaces on an SQLite file with
// the pure-Go modernc.org/sqlite driver: the embedded default for a single
// user. The database runs in WAL mode; all writes go through one connection
// (BEGIN IMMEDIATE, so another process writing the same file waits on the
// busy timeout instead of failing), and reads use a small pool of read-only
// connections that WAL lets run alongside the writer.
package sqlitestore

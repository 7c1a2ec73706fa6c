// Package pgstore implements the store interfaces on PostgreSQL with
// github.com/jackc/pgx/v5: the shared backend for many MCP pods and for a
// registry. Every method is a single statement or a short transaction, so
// any number of processes can use one database at once:
//
//   - Sessions: INSERT ... ON CONFLICT DO NOTHING creates, and
//     UPDATE ... WHERE id = $1 AND version = $2 updates, so exactly one of
//     several concurrent writers of a version wins.
//   - Nonces: one upsert that replaces a row only when its expiry has passed.
//   - Ledger: Append bumps a one-row counter (UPDATE ... RETURNING) and
//     inserts the leaf in the same transaction; the counter's row lock
//     serializes appenders in every process, so indexes stay dense.
//
// Open applies versioned schema migrations under a transaction-scoped
// advisory lock, so pods starting together do not race. Tables are created
// in the first schema of the connection's search_path, which a DSN can set
// (postgres://host/db?search_path=clinch). Session IDs, bucket names and
// keys are TEXT COLLATE "C" (byte-ordered), so they must be valid UTF-8 and
// free of NUL bytes; nonce keys are stored as BYTEA and may be any bytes.
// Statements are prepared and cached per connection; behind a
// transaction-mode pooler add default_query_exec_mode=exec to the DSN.
package pgstore

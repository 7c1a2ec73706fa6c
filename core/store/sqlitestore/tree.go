package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/clinch-protocol/clinch-mcp/core/store"
)

// rowsPerInsert bounds the rows of one multi-row INSERT or one IN list,
// well under SQLite's limit on bound parameters.
const rowsPerInsert = 300

// treeSizeQuery reads the tree size.
const treeSizeQuery = `SELECT size FROM tree_size`

// treeStmts are the statements of an append, prepared once on the write
// connection: an append runs them in every transaction, and compiling them
// each time cost more than running them.
type treeStmts struct {
	moveTree   *sql.Stmt // (end, first): tree size first -> end
	insertLeaf *sql.Stmt // (idx, leaf), doing nothing on an existing idx
	insertNode *sql.Stmt // (last, level, hash), doing nothing on an existing node
}

// stmtRowsMax bounds the rows inserted by running a prepared one-row
// statement; more go in multi-row statements.
const stmtRowsMax = 8

func prepareTreeStmts(ctx context.Context, db *sql.DB) (treeStmts, error) {
	var t treeStmts
	for _, p := range []struct {
		stmt  **sql.Stmt
		query string
	}{
		{&t.moveTree, `UPDATE tree_size SET size = ? WHERE size = ?`},
		{&t.insertLeaf, insertLeafHead + leafTuple + onConflictIdx},
		{&t.insertNode, insertNodeHead + nodeTuple + onConflictNode},
	} {
		stmt, err := db.PrepareContext(ctx, p.query)
		if err != nil {
			t.close()
			return treeStmts{}, fmt.Errorf("prepare %q: %w", p.query, err)
		}
		*p.stmt = stmt
	}
	return t, nil
}

func (t treeStmts) close() error {
	var err error
	for _, s := range []*sql.Stmt{t.moveTree, t.insertLeaf, t.insertNode} {
		if s != nil {
			if cerr := s.Close(); err == nil {
				err = cerr
			}
		}
	}
	return err
}

// The pieces of the leaf and node INSERT statements.
const (
	insertLeafHead = `INSERT INTO leaves (idx, leaf) VALUES `
	leafTuple      = "(?, ?)"
	onConflictIdx  = " ON CONFLICT (idx) DO NOTHING"
	insertNodeHead = `INSERT INTO tree_nodes (last, level, hash) VALUES `
	nodeTuple      = "(?, ?, ?)"
	onConflictNode = " ON CONFLICT (last, level) DO NOTHING"
)

// AppendLeaves moves the tree size from first to the new end, which only
// succeeds when it was first, and inserts the leaves, none of which may
// exist yet (the tree size never exceeds the log size, so the log size was
// first too), and the nodes, all in one write transaction.
func (l ledger) AppendLeaves(ctx context.Context, first uint64, leaves [][]byte, nodes []store.TreeNode) error {
	end, err := store.CheckAppendLeaves(ctx, first, len(leaves), nodes)
	if err != nil {
		return fmt.Errorf("sqlitestore: %w", err)
	}
	conflict := fmt.Errorf("append at %d: the log or the tree has another size: %w", first, store.ErrConflict)
	err = l.db.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.StmtContext(ctx, l.db.tree.moveTree).ExecContext(ctx, int64(end), int64(first))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return errors.Join(conflict, err)
		}
		n, err := insertRows(ctx, tx, l.db.tree.insertLeaf, insertLeafHead, leafTuple, onConflictIdx, len(leaves), func(i int) []any {
			return []any{int64(first) + int64(i), nonNil(leaves[i])}
		})
		if err != nil {
			return err
		}
		if n != int64(len(leaves)) {
			return conflict
		}
		return insertNodes(ctx, tx, l.db.tree.insertNode, nodes)
	})
	if err != nil {
		return fmt.Errorf("sqlitestore: append leaves: %w", err)
	}
	return nil
}

// PutTreeNodes writes nodes and raises the tree size in one transaction.
func (l ledger) PutTreeNodes(ctx context.Context, size uint64, nodes []store.TreeNode) error {
	if err := store.CheckPutTreeNodes(ctx, nodes); err != nil {
		return fmt.Errorf("sqlitestore: put tree nodes: %w", err)
	}
	err := l.db.inTx(ctx, func(tx *sql.Tx) error {
		var n int64
		if err := tx.QueryRowContext(ctx, sizeQuery).Scan(&n); err != nil {
			return err
		}
		if size > uint64(n) {
			return fmt.Errorf("tree size %d is beyond the log size %d", size, n)
		}
		if err := insertNodes(ctx, tx, l.db.tree.insertNode, nodes); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE tree_size SET size = MAX(size, ?)`, int64(size))
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlitestore: put tree nodes: %w", err)
	}
	return nil
}

// insertNodes inserts nodes; a node already stored keeps its hash.
func insertNodes(ctx context.Context, tx *sql.Tx, one *sql.Stmt, nodes []store.TreeNode) error {
	_, err := insertRows(ctx, tx, one, insertNodeHead, nodeTuple, onConflictNode, len(nodes), func(i int) []any {
		n := nodes[i]
		return []any{lastLeaf(n.TreeNodeID), int(n.Level), n.Hash}
	})
	return err
}

// insertRows inserts n rows and returns how many were inserted: up to
// stmtRowsMax rows by running the prepared one-row statement one, more with
// multi-row statements of at most rowsPerInsert rows made of head, one
// tuple per row and tail. args returns the values of row i.
func insertRows(ctx context.Context, tx *sql.Tx, one *sql.Stmt, head, tuple, tail string, n int, args func(i int) []any) (int64, error) {
	var inserted int64
	count := func(res sql.Result, err error) error {
		if err != nil {
			return err
		}
		k, err := res.RowsAffected()
		inserted += k
		return err
	}
	if n <= stmtRowsMax {
		stmt := tx.StmtContext(ctx, one)
		for i := range n {
			if err := count(stmt.ExecContext(ctx, args(i)...)); err != nil {
				return inserted, err
			}
		}
		return inserted, nil
	}
	for from := 0; from < n; from += rowsPerInsert {
		to := min(from+rowsPerInsert, n)
		var q strings.Builder
		q.WriteString(head)
		vals := make([]any, 0, (to-from)*3)
		for i := from; i < to; i++ {
			if i > from {
				q.WriteString(", ")
			}
			q.WriteString(tuple)
			vals = append(vals, args(i)...)
		}
		q.WriteString(tail)
		if err := count(tx.ExecContext(ctx, q.String(), vals...)); err != nil {
			return inserted, err
		}
	}
	return inserted, nil
}

// TreeNodes reads the hashes of ids, rowsPerInsert at a time.
func (l ledger) TreeNodes(ctx context.Context, ids []store.TreeNodeID) ([][]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	found := make(map[store.TreeNodeID][]byte, len(ids))
	for from := 0; from < len(ids); from += rowsPerInsert {
		if err := l.readNodes(ctx, ids[from:min(from+rowsPerInsert, len(ids))], found); err != nil {
			return nil, err
		}
	}
	out := make([][]byte, len(ids))
	for i, id := range ids {
		h, ok := found[id]
		if !ok {
			return nil, fmt.Errorf("sqlitestore: tree node %d/%d: %w", id.Level, id.Index, store.ErrNotFound)
		}
		out[i] = append([]byte(nil), h...)
	}
	return out, nil
}

// lastLeaf is the index of the last leaf under a node (checked with
// store.CheckTreeNodeID), its key in tree_nodes with its level.
func lastLeaf(id store.TreeNodeID) int64 { return int64((id.Index+1)<<id.Level - 1) }

// nodesQuery returns the query of the hashes of n nodes, bound as last
// leaf, level pairs. A join with the VALUES list searches the primary key
// for each pair; "(last, level) IN (VALUES ...)" would scan the table.
func nodesQuery(n int) string {
	var q strings.Builder
	q.WriteString(`SELECT t.last, t.level, t.hash FROM (VALUES `)
	for i := range n {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(?, ?)")
	}
	q.WriteString(`) AS v JOIN tree_nodes AS t ON t.last = v.column1 AND t.level = v.column2`)
	return q.String()
}

// readNodes adds the stored hashes of ids to found; ids that cannot be
// stored are skipped (and so not found).
func (l ledger) readNodes(ctx context.Context, ids []store.TreeNodeID, found map[store.TreeNodeID][]byte) error {
	args := make([]any, 0, 2*len(ids))
	for _, id := range ids {
		if store.CheckTreeNodeID(id) == nil {
			args = append(args, lastLeaf(id), int(id.Level))
		}
	}
	if len(args) == 0 {
		return nil
	}
	rows, err := l.db.read.QueryContext(ctx, nodesQuery(len(args)/2), args...)
	if err != nil {
		return fmt.Errorf("sqlitestore: read tree nodes: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			last  int64
			level int
			hash  []byte
		)
		if err := rows.Scan(&last, &level, &hash); err != nil {
			return fmt.Errorf("sqlitestore: read tree nodes: %w", err)
		}
		found[store.TreeNodeID{Level: uint8(level), Index: uint64(last) >> level}] = hash
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlitestore: read tree nodes: %w", err)
	}
	return nil
}

// TreeSize returns the tree size.
func (l ledger) TreeSize(ctx context.Context) (uint64, error) {
	var n int64
	if err := l.db.read.QueryRowContext(ctx, treeSizeQuery).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlitestore: tree size: %w", err)
	}
	return uint64(n), nil
}

package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"strings"

	"github.com/clinch-protocol/clinch-mcp/core/store"
)

// rowsPerInsert bounds the rows of one multi-row INSERT or one IN list,
// well under SQLite's limit on bound parameters.
const rowsPerInsert = 300

// treeSizeQuery reads the tree size.
const treeSizeQuery = `SELECT size FROM tree_size`

// Delete removes a pair.
func (l ledger) Delete(ctx context.Context, bucket, key string) error {
	err := l.db.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM kv WHERE bucket = ? AND key = ?`, bucket, key)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlitestore: delete %s/%s: %w", bucket, key, err)
	}
	return nil
}

// AppendLeaves checks both sizes and writes the leaves, the nodes and the
// new tree size in one write transaction.
func (l ledger) AppendLeaves(ctx context.Context, first uint64, leaves [][]byte, nodes []store.TreeNode) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := store.CheckTreeNodes(nodes); err != nil {
		return fmt.Errorf("sqlitestore: append leaves: %w", err)
	}
	end := first + uint64(len(leaves))
	if end < first || end > math.MaxInt64 {
		return fmt.Errorf("sqlitestore: append at %d: %w", first, store.ErrConflict)
	}
	err := l.db.inTx(ctx, func(tx *sql.Tx) error {
		var size, tree int64
		if err := tx.QueryRowContext(ctx, sizeQuery).Scan(&size); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, treeSizeQuery).Scan(&tree); err != nil {
			return err
		}
		if uint64(size) != first || uint64(tree) != first {
			return fmt.Errorf("append at %d to a log of size %d and tree size %d: %w", first, size, tree, store.ErrConflict)
		}
		err := insertRows(ctx, tx, `INSERT INTO leaves (idx, leaf) VALUES `, "(?, ?)", "", len(leaves), func(i int) []any {
			return []any{int64(first) + int64(i), nonNil(leaves[i])}
		})
		if err != nil {
			return err
		}
		if err := insertNodes(ctx, tx, nodes); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE tree_size SET size = ?`, int64(end))
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlitestore: append leaves: %w", err)
	}
	return nil
}

// PutTreeNodes writes nodes and raises the tree size in one transaction.
func (l ledger) PutTreeNodes(ctx context.Context, size uint64, nodes []store.TreeNode) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := store.CheckTreeNodes(nodes); err != nil {
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
		if err := insertNodes(ctx, tx, nodes); err != nil {
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
func insertNodes(ctx context.Context, tx *sql.Tx, nodes []store.TreeNode) error {
	return insertRows(ctx, tx, `INSERT INTO tree_nodes (level, idx, hash) VALUES `, "(?, ?, ?)", " ON CONFLICT (level, idx) DO NOTHING", len(nodes), func(i int) []any {
		n := nodes[i]
		return []any{int(n.Level), int64(n.Index), n.Hash}
	})
}

// insertRows inserts n rows with multi-row INSERT statements of at most
// rowsPerInsert rows: head, then one tuple per row, then tail. args
// returns the values of row i.
func insertRows(ctx context.Context, tx *sql.Tx, head, tuple, tail string, n int, args func(i int) []any) error {
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
		if _, err := tx.ExecContext(ctx, q.String(), vals...); err != nil {
			return err
		}
	}
	return nil
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

// nodesQuery returns the query of the hashes of n node ids, bound as
// level, index pairs. A join with the VALUES list searches the primary key
// for each pair; "(level, idx) IN (VALUES ...)" would scan the table.
func nodesQuery(n int) string {
	var q strings.Builder
	q.WriteString(`SELECT t.level, t.idx, t.hash FROM (VALUES `)
	for i := range n {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(?, ?)")
	}
	q.WriteString(`) AS v JOIN tree_nodes AS t ON t.level = v.column1 AND t.idx = v.column2`)
	return q.String()
}

// readNodes adds the stored hashes of ids to found; ids that cannot be
// stored are skipped (and so not found).
func (l ledger) readNodes(ctx context.Context, ids []store.TreeNodeID, found map[store.TreeNodeID][]byte) error {
	args := make([]any, 0, 2*len(ids))
	for _, id := range ids {
		if store.CheckTreeNodeID(id) == nil {
			args = append(args, int(id.Level), int64(id.Index))
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
			level int
			idx   int64
			hash  []byte
		)
		if err := rows.Scan(&level, &idx, &hash); err != nil {
			return fmt.Errorf("sqlitestore: read tree nodes: %w", err)
		}
		found[store.TreeNodeID{Level: uint8(level), Index: uint64(idx)}] = hash
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

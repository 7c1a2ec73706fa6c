package pgstore

import (
	"context"
	"fmt"
	"math"

	"github.com/jackc/pgx/v5"

	"github.com/clinch-protocol/clinch-mcp/core/store"
)

// AppendLeaves moves both sizes from first to first+len(leaves) only when
// both are first (the UPDATE holds log_size's row lock until commit, as
// Append's does), then inserts the leaves and the nodes, in one
// transaction.
func (l ledger) AppendLeaves(ctx context.Context, first uint64, leaves [][]byte, nodes []store.TreeNode) error {
	end, err := store.CheckAppendLeaves(ctx, first, len(leaves), nodes)
	if err != nil {
		return fmt.Errorf("pgstore: %w", err)
	}
	err = l.db.inTx(ctx, func(tx pgx.Tx) error { return appendLeavesTx(ctx, tx, first, end, leaves, nodes) })
	if err != nil {
		return fmt.Errorf("pgstore: append leaves: %w", err)
	}
	return nil
}

// appendLeavesTx is the body of AppendLeaves, in tx.
func appendLeavesTx(ctx context.Context, tx pgx.Tx, first, end uint64, leaves [][]byte, nodes []store.TreeNode) error {
	tag, err := tx.Exec(ctx, `UPDATE log_size SET size = $2, tree_size = $2 WHERE size = $1 AND tree_size = $1`, int64(first), int64(end))
	if err != nil {
		return fmt.Errorf("move log size: %w", err)
	}
	if tag.RowsAffected() != 1 {
		return fmt.Errorf("append at %d: the log or the tree has another size: %w", first, store.ErrConflict)
	}
	rows := make([][]byte, len(leaves))
	for i, leaf := range leaves {
		rows[i] = nonNil(leaf)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO leaves (idx, leaf)
		SELECT $1 + u.n - 1, u.leaf FROM unnest($2::bytea[]) WITH ORDINALITY AS u(leaf, n)`, int64(first), rows); err != nil {
		return fmt.Errorf("insert leaves: %w", err)
	}
	return insertNodes(ctx, tx, nodes)
}

// PutTreeNodes raises the tree size (under log_size's row lock) and
// inserts the nodes in one transaction.
func (l ledger) PutTreeNodes(ctx context.Context, size uint64, nodes []store.TreeNode) error {
	if err := store.CheckPutTreeNodes(ctx, nodes); err != nil {
		return fmt.Errorf("pgstore: put tree nodes: %w", err)
	}
	if size > math.MaxInt64 {
		return fmt.Errorf("pgstore: tree size %d is beyond any log", size)
	}
	err := l.db.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE log_size SET tree_size = GREATEST(tree_size, $1) WHERE size >= $1`, int64(size))
		if err != nil {
			return fmt.Errorf("raise tree size: %w", err)
		}
		if tag.RowsAffected() != 1 {
			return fmt.Errorf("tree size %d is beyond the log size", size)
		}
		return insertNodes(ctx, tx, nodes)
	})
	if err != nil {
		return fmt.Errorf("pgstore: put tree nodes: %w", err)
	}
	return nil
}

// insertNodes inserts nodes with one statement; a node already stored
// keeps its hash.
func insertNodes(ctx context.Context, tx pgx.Tx, nodes []store.TreeNode) error {
	if len(nodes) == 0 {
		return nil
	}
	lasts, levels := nodeColumns(len(nodes), func(i int) store.TreeNodeID { return nodes[i].TreeNodeID })
	hashes := make([][]byte, len(nodes))
	for i, n := range nodes {
		hashes[i] = n.Hash
	}
	_, err := tx.Exec(ctx, `INSERT INTO tree_nodes (last, level, hash)
		SELECT * FROM unnest($1::bigint[], $2::smallint[], $3::bytea[])
		ON CONFLICT (last, level) DO NOTHING`, lasts, levels, hashes)
	if err != nil {
		return fmt.Errorf("insert tree nodes: %w", err)
	}
	return nil
}

// nodeColumns returns the key columns of n node ids (checked with
// store.CheckTreeNodeID): the index of each node's last leaf, and its level.
func nodeColumns(n int, id func(i int) store.TreeNodeID) ([]int64, []int16) {
	lasts, levels := make([]int64, 0, n), make([]int16, 0, n)
	for i := range n {
		x := id(i)
		lasts = append(lasts, int64((x.Index+1)<<x.Level-1))
		levels = append(levels, int16(x.Level))
	}
	return lasts, levels
}

// TreeNodes reads the hashes of ids with one query.
func (l ledger) TreeNodes(ctx context.Context, ids []store.TreeNodeID) ([][]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	valid := make([]store.TreeNodeID, 0, len(ids))
	for _, id := range ids {
		if store.CheckTreeNodeID(id) == nil {
			valid = append(valid, id)
		}
	}
	found := make(map[store.TreeNodeID][]byte, len(valid))
	if len(valid) > 0 {
		lasts, levels := nodeColumns(len(valid), func(i int) store.TreeNodeID { return valid[i] })
		rows, err := l.db.pool.Query(ctx, `SELECT last, level, t.hash
			FROM unnest($1::bigint[], $2::smallint[]) AS v(last, level) JOIN tree_nodes AS t USING (last, level)`, lasts, levels)
		if err != nil {
			return nil, fmt.Errorf("pgstore: read tree nodes: %w", err)
		}
		var (
			last  int64
			level int16
			hash  []byte
		)
		_, err = pgx.ForEachRow(rows, []any{&last, &level, &hash}, func() error {
			found[store.TreeNodeID{Level: uint8(level), Index: uint64(last) >> level}] = hash
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("pgstore: read tree nodes: %w", err)
		}
	}
	out := make([][]byte, len(ids))
	for i, id := range ids {
		h, ok := found[id]
		if !ok {
			return nil, fmt.Errorf("pgstore: tree node %d/%d: %w", id.Level, id.Index, store.ErrNotFound)
		}
		out[i] = append([]byte(nil), h...)
	}
	return out, nil
}

// TreeSize returns the tree size.
func (l ledger) TreeSize(ctx context.Context) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var n int64
	if err := l.db.pool.QueryRow(ctx, `SELECT tree_size FROM log_size`).Scan(&n); err != nil {
		return 0, fmt.Errorf("pgstore: tree size: %w", err)
	}
	return uint64(n), nil
}

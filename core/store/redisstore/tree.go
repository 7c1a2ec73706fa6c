package redisstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/clinch-protocol/clinch-mcp/core/store"
)

// The tree lives in two keys next to the log list: a hash of node hashes,
// whose fields are nodeField(id), and the tree size as a decimal string
// (missing: 0).

// appendLeavesScript appends leaves and stores their nodes and the new tree
// size in one atomic step, when both the log size and the tree size are
// first. It returns 1, or 0 on a conflict.
//
//	KEYS[1] log list, KEYS[2] tree nodes hash, KEYS[3] tree size
//	ARGV[1] first, ARGV[2] first + number of leaves, ARGV[3] number of
//	leaves n, ARGV[4..3+n] leaves, then node field, hash pairs
var appendLeavesScript = redis.NewScript(`
local first = tonumber(ARGV[1])
local tree = tonumber(redis.call('GET', KEYS[3]) or '0')
if redis.call('LLEN', KEYS[1]) ~= first or tree ~= first then return 0 end
local n = tonumber(ARGV[3])
for i = 4, 3 + n do redis.call('RPUSH', KEYS[1], ARGV[i]) end
for i = 4 + n, #ARGV, 2 do redis.call('HSETNX', KEYS[2], ARGV[i], ARGV[i + 1]) end
redis.call('SET', KEYS[3], ARGV[2])
return 1
`)

// putTreeNodesScript stores nodes and raises the tree size in one atomic
// step, unless the size is beyond the log's. It returns 1, or 0 when the
// size is beyond the log.
//
//	KEYS[1] log list, KEYS[2] tree nodes hash, KEYS[3] tree size
//	ARGV[1] size, ARGV[2..] node field, hash pairs
var putTreeNodesScript = redis.NewScript(`
local size = tonumber(ARGV[1])
if size > redis.call('LLEN', KEYS[1]) then return 0 end
for i = 2, #ARGV, 2 do redis.call('HSETNX', KEYS[2], ARGV[i], ARGV[i + 1]) end
if size > tonumber(redis.call('GET', KEYS[3]) or '0') then redis.call('SET', KEYS[3], ARGV[1]) end
return 1
`)

// nodeField is the hash field of a node: its level byte and its index,
// big-endian.
func nodeField(id store.TreeNodeID) string {
	var b [9]byte
	b[0] = id.Level
	binary.BigEndian.PutUint64(b[1:], id.Index)
	return string(b[:])
}

// nodeArgs appends the field, hash pairs of nodes to args.
func nodeArgs(args []any, nodes []store.TreeNode) []any {
	for _, n := range nodes {
		args = append(args, nodeField(n.TreeNodeID), n.Hash)
	}
	return args
}

func (l ledger) treeKeys() []string {
	return []string{l.db.logKey(), l.db.treeNodesKey(), l.db.treeSizeKey()}
}

// AppendLeaves runs appendLeavesScript.
func (l ledger) AppendLeaves(ctx context.Context, first uint64, leaves [][]byte, nodes []store.TreeNode) error {
	end, err := store.CheckAppendLeaves(ctx, first, len(leaves), nodes)
	if err != nil {
		return fmt.Errorf("redisstore: %w", err)
	}
	args := make([]any, 0, 3+len(leaves)+2*len(nodes))
	args = append(args, strconv.FormatUint(first, 10), strconv.FormatUint(end, 10), len(leaves))
	for _, leaf := range leaves {
		args = append(args, leaf)
	}
	ok, err := appendLeavesScript.Run(ctx, l.db.client, l.treeKeys(), nodeArgs(args, nodes)...).Int()
	if err != nil {
		return fmt.Errorf("redisstore: append leaves: %w", err)
	}
	if ok != 1 {
		return fmt.Errorf("redisstore: append at %d: the log or the tree has another size: %w", first, store.ErrConflict)
	}
	return nil
}

// PutTreeNodes runs putTreeNodesScript.
func (l ledger) PutTreeNodes(ctx context.Context, size uint64, nodes []store.TreeNode) error {
	if err := store.CheckPutTreeNodes(ctx, nodes); err != nil {
		return fmt.Errorf("redisstore: put tree nodes: %w", err)
	}
	args := nodeArgs([]any{strconv.FormatUint(size, 10)}, nodes)
	ok, err := putTreeNodesScript.Run(ctx, l.db.client, l.treeKeys(), args...).Int()
	if err != nil {
		return fmt.Errorf("redisstore: put tree nodes: %w", err)
	}
	if ok != 1 {
		return fmt.Errorf("redisstore: tree size %d is beyond the log size", size)
	}
	return nil
}

// TreeNodes reads the hashes of ids with one HMGET.
func (l ledger) TreeNodes(ctx context.Context, ids []store.TreeNodeID) ([][]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make([][]byte, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	fields := make([]string, len(ids))
	for i, id := range ids {
		fields[i] = nodeField(id)
	}
	vals, err := l.db.client.HMGet(ctx, l.db.treeNodesKey(), fields...).Result()
	if err != nil {
		return nil, fmt.Errorf("redisstore: read tree nodes: %w", err)
	}
	for i, v := range vals {
		s, ok := v.(string)
		if !ok || store.CheckTreeNodeID(ids[i]) != nil {
			return nil, fmt.Errorf("redisstore: tree node %d/%d: %w", ids[i].Level, ids[i].Index, store.ErrNotFound)
		}
		out[i] = []byte(s)
	}
	return out, nil
}

// TreeSize returns the tree size.
func (l ledger) TreeSize(ctx context.Context) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	n, err := l.db.client.Get(ctx, l.db.treeSizeKey()).Uint64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("redisstore: tree size: %w", err)
	}
	return n, nil
}

// Package redisstore implements the store interfaces on Redis with
// github.com/redis/go-redis/v9, for MCP pods that share sessions. Every
// key starts with a prefix (the URL's prefix query parameter, or
// DefaultPrefix, or the argument of OpenWithPrefix), so several
// deployments can share one Redis database:
//
//	<prefix>session:<id>     hash {version, data, updated (unix µs)}
//	<prefix>session-index    sorted set of session IDs, all with score 0
//	<prefix>nonce:<key>      string with an absolute expiry (SET NX PXAT)
//	<prefix>kv:<bucket>      hash of a ledger bucket's keys and values
//	<prefix>log              list of transparency-log leaves
//
// Save and List run as Lua scripts, so a version check and its write, or a
// listing, are atomic; Append is a single RPUSH, whose reply (the new
// length) gives every appender a distinct, dense index. Members of a sorted
// set that share a score sort byte-wise, which gives List its order.
//
// The scripts touch keys they compute from the prefix, so the store needs
// a single Redis server (with replicas or Sentinel), not Redis Cluster.
// Redis must not evict keys (maxmemory-policy noeviction) and should
// persist them (appendonly yes): an evicted nonce lets a replay through,
// and an evicted session is lost.
package redisstore

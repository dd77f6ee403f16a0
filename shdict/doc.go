// Package shdict is the store behind every ngx.shared.NAME: a byte-capped,
// sharded, expiring key/value dictionary with OpenResty's shared-dict
// semantics, plus the few atomic operations a memcached server needs. It is
// pure Go and knows nothing of Lua or of the memcached protocol; the Lua
// binding and the scripts translate.
//
// # How data flows
//
// A key is hashed with a per-Dict maphash seed. The top bits of the hash pick
// a shard; each shard is one sync.Mutex (not an RWMutex: a get moves the
// entry in the LRU list, so every operation writes). Under the lock:
//
//   - an open-addressing table of 8-byte entries (32 bits of the key's hash
//     and the slot number) finds the entry (keys are compared byte for byte,
//     so hash collisions are harmless);
//   - the entry is a 64-byte slot in a page of 1024 slots, linked into the
//     shard's LRU list by int32 indexes, never by pointers;
//   - the key and the encoded value share one []byte (a string verbatim, a
//     number as 8 bytes, a boolean as 1 byte). That buffer is the slot's only
//     pointer, which keeps a full garbage collection over millions of
//     entries short (about 40 ms for 2 million entries on a quiet 2-core
//     machine; see BenchmarkFullGC2M);
//   - list values keep their elements in a small deque in a side table of
//     the shard, since lists are rare;
//   - freed slots go on a free list and are reused.
//
// Reads copy the value out while the lock is held (the buffer is rewritten in
// place by later writes); for a string that copy is the one allocation of a
// get. Every method is atomic for the key it touches.
//
// # Time, expiry and flushing
//
// Expiry is in unix milliseconds, read from Options.Now once per operation.
// As in OpenResty, expired entries stay in memory until something reclaims
// them: most operations start by freeing up to two dead entries from the LRU
// tail (not GetStale, TTL or Expire, which are meant to see them), eviction
// takes dead entries first, and FlushExpired sweeps. FlushAll is O(1): every
// entry carries a CAS unique from one counter per Dict, and a flush records
// the newest unique handed out; entries at or below that watermark are dead
// until rewritten. FlushAllAfter uses the same watermark once its time comes.
//
// # Memory model
//
// Each Dict has a byte capacity split evenly between its shards. An entry is
// charged what it costs the Go heap:
//
//	ItemOverhead (96) + len(key)+len(value) rounded up to the allocator's size class
//
// (a list adds 48 bytes plus 32 per element and the rounded length of each
// string element). The 96 bytes are the slot (64) and the entry's share of
// the hash index (11 to 21 bytes at the table's 37.5 to 75 % load, charged as
// 32). Measured: after writing three times the capacity of distinct 100-byte
// values into a 256 MiB dict the live heap is 0.94 times the capacity
// (BenchmarkMemory256MiB), and a 64 MiB dict holds
// 466k items with 10-byte keys and 32-byte values, 0.85 of what memcached -m
// 64 holds (BenchmarkDensity64MiB). Not charged: slot pages and index space
// left behind by deleted entries (kept for reuse, like memcached's slabs),
// and up to one page of slack per shard.
//
// An item whose charge exceeds its shard's budget (capacity/shards) is
// refused with ErrNoMemory without evicting anything. With automatic
// sharding a dict under 8 MiB has one shard, and larger dicts have shards of
// at least 4 MiB, so a value of S bytes fits in any dict of at least
// roundup(S+len(key)) + 96 bytes (S up to about 4 MiB); with an explicit Options.Shards
// the dict must be at least Shards times that. memcached's default 1 MiB item
// limit therefore needs a dict of 1 MiB + 8 KiB + 96 bytes or more.
//
// # Eviction and how close the LRU is to OpenResty's
//
// When a store does not fit, the shard frees dead entries at its LRU tail,
// then any dead entry among the 8 entries nearest the tail, and only then
// evicts the least recently used live entry, repeating until the new entry
// fits. forcible reports that a live entry was evicted, even if the store
// still fails (possible when Options.MaxEvictions caps the evictions per
// store; OpenResty's cap is 30, ours defaults to none so that a large value
// can replace many small ones). The safe variants and the list pushes never
// evict live entries.
//
// OpenResty keeps one LRU list per zone; here each shard has its own. Keys
// are spread uniformly, so the entry a shard evicts is the oldest of about
// 1/N of the keys: among the globally oldest entries its rank is roughly
// geometric with mean N (16 shards: on average the 16th oldest, and the 72nd
// oldest or better 99% of the time). On a dict of thousands of entries that
// is indistinguishable from a global LRU; on a dict of a few dozen it is not,
// which is why dicts under 8 MiB get a single shard. Keys lists each shard
// from its LRU end, shard after shard.
//
// # Differences from OpenResty
//
//   - FreeSpace is exact in bytes; OpenResty counts whole free 4 KiB pages
//     and reports 0 for a 12k zone.
//   - FlushAll frees nothing at once; OpenResty frees the 3 oldest entries.
//   - A ttl of -1 ms is reported for an entry exactly at its expiry instant,
//     so that a TTL of 0 always means "never expires".
//   - A negative ttl given to a store means "already expired" (memcached);
//     OpenResty raises a Lua error instead, which is the binding's business.
//   - Expire on a flushed entry gives it a new CAS, since a CAS at or below
//     the flush watermark would keep it flushed.
//
// # Extensions (ours, not OpenResty's)
//
// These exist for the bundled memcached server; each is atomic under the
// shard lock:
//
//   - Item.CAS, a uint64 that changes on every modification and is never
//     reused within a Dict, and CompareAndSwap on it (memcached's gets/cas);
//   - Store, the four storing methods in one that also returns the new
//     entry's CAS (memcached's binary protocol replies with it);
//   - Append and Prepend, keeping flags and expiry, and PendCAS, either
//     one on condition of a cas, returning the new one;
//   - IncrDecimal, memcached's incr/decr on a decimal string (read as its
//     strtoull reads it; uint64, wrapping incr, decr floored at 0, shorter
//     results space-padded to the stored length as memcached 1.6 does), and
//     Arith, the same on condition of a cas or creating a missing entry
//     (ma, and the binary protocol's increment);
//   - Touch and GetAndTouch (touch, gat), which keep the CAS;
//   - FlushAllAfter, memcached's delayed flush_all;
//   - Marks, memcached's per-item bits (fetched, recache token handed out,
//     stale), with Fetch (mg: read, vivify a miss, touch and win the token
//     in one step), Invalidate (md I: keep the value as a stale one) and
//     StoreCASStale (ms I: an older writer's value stored as stale), which
//     give memcached's stale-while-revalidate its one-winner guarantee;
//   - negative ttls, Stats, Range and RangeLists (snapshots), and
//     Options.MaxEvictions.
package shdict

package ngxre

import (
	"maps"
	"sync"
	"sync/atomic"
)

// DefaultCacheEntries is OpenResty's default lua_regex_cache_max_entries.
const DefaultCacheEntries = 1024

// cacheKey identifies a compiled pattern. The hints "j" and "o" are not part
// of flags, so "jo" and "" share an entry.
type cacheKey struct {
	pattern string
	flags   flags
}

// Cache is a bounded, goroutine-safe cache of compiled patterns keyed by
// (pattern, options), shared by every LState of a server. It plays the role
// of OpenResty's per-worker regex cache (lua_regex_cache_max_entries): once
// full, new patterns are compiled per call and simply not cached; nothing is
// ever evicted.
//
// Lookups are lock-free and allocation-free: the table is an immutable map
// behind an atomic pointer, replaced by copy on insert. Inserts are rare
// (at most maxEntries in the life of the server), so the copying is cheap.
//
// OpenResty compiles a pattern without the "o" option on every call. That
// is semantically invisible, so such patterns are cached too, but they may
// only fill half the cache: scripts that build patterns dynamically (and
// rightly leave out "o") cannot crowd out the "o" patterns.
type Cache struct {
	max      int
	mu       sync.Mutex // serialises writers
	table    atomic.Pointer[map[cacheKey]*regex]
	compiles atomic.Int64 // number of compilations, for tests
}

// NewCache returns a cache holding at most maxEntries patterns. A
// maxEntries of 0 or less disables caching, as lua_regex_cache_max_entries 0
// does in OpenResty.
func NewCache(maxEntries int) *Cache {
	return &Cache{max: maxEntries}
}

// Len reports how many compiled patterns the cache holds.
func (c *Cache) Len() int {
	if c == nil {
		return 0
	}
	if t := c.table.Load(); t != nil {
		return len(*t)
	}
	return 0
}

// get returns the compiled form of pattern under f, compiling and caching
// it on a miss. once reports the "o" option.
func (c *Cache) get(pattern string, f flags, once bool) (*regex, error) {
	if c != nil && c.max > 0 {
		if t := c.table.Load(); t != nil {
			if r, ok := (*t)[cacheKey{pattern, f}]; ok {
				return r, nil
			}
		}
	}
	r, err := compile(pattern, f)
	if c == nil {
		return r, err
	}
	c.compiles.Add(1)
	if err != nil {
		return nil, err
	}
	return c.put(cacheKey{pattern, f}, r, once), nil
}

// put inserts r unless the cache is full, returning the entry now cached
// for key (another goroutine may have inserted it first).
func (c *Cache) put(key cacheKey, r *regex, once bool) *regex {
	limit := c.max
	if !once {
		limit = c.max / 2
	}
	if limit <= 0 {
		return r
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.table.Load()
	var next map[cacheKey]*regex
	if old != nil {
		if cur, ok := (*old)[key]; ok {
			return cur
		}
		if len(*old) >= limit {
			return r
		}
		next = make(map[cacheKey]*regex, len(*old)+1)
		maps.Copy(next, *old)
	} else {
		next = make(map[cacheKey]*regex, 1)
	}
	next[key] = r
	c.table.Store(&next)
	return r
}

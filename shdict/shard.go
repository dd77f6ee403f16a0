package shdict

import (
	"encoding/binary"
	"hash/maphash"
	"math"
	"sync"
	"unsafe"
)

// nilSlot marks the end of an LRU, collision or free chain.
const nilSlot int32 = -1

// Slots live in pages of pageSlots; only the last page ever grows, so a
// shard never copies more than one page and keeps at most one page of slack.
const (
	pageShift = 10
	pageSlots = 1 << pageShift
	pageMask  = pageSlots - 1
)

// slot is one entry. It holds exactly one pointer (buf), which is what keeps
// a full garbage collection cheap with millions of entries. The key's hash is
// not stored: it is recomputed on the rare paths that need it (removal).
type slot struct {
	buf     []byte // key, then the encoded value; nil while the slot is free
	expires int64  // unix ms; 0 = never
	cas     uint64
	flags   uint32
	prev    int32 // LRU neighbour towards the most recently used end
	next    int32 // LRU neighbour towards the least recently used end; free-list link
	_       int32 // keeps a slot at 64 bytes, one cache line in an aligned page
	klen    uint16
	kind    Kind  // 0 while the slot is free
	shared  bool  // a read handed out a string that aliases buf (see item)
	marks   Marks // memcached's per-item bits; zero for every new value
}

func (sl *slot) key() []byte { return sl.buf[:sl.klen] }

// own makes buf safe to write: after a read has handed out a string view
// of it, the first write copies it (copy on write), so strings returned by
// Get stay immutable without Get copying every value.
func (sl *slot) own() {
	if sl.shared {
		b := make([]byte, len(sl.buf), cap(sl.buf))
		copy(b, sl.buf)
		sl.buf = b
		sl.shared = false
	}
}
func (sl *slot) value() []byte { return sl.buf[sl.klen:] }

// opctx carries what an operation reads once from the Dict: the flush
// watermark, and the clock, read at most once and only when the operation
// meets an expiry or a ttl. Most entries of a cache have neither, and a
// clock read is a measurable share of a get (two vDSO calls).
type opctx struct {
	d        *Dict
	now      int64  // 0 until clock reads it
	flushCAS uint64 // entries whose cas is at or below this are flushed
}

// clock returns the operation's time, reading the Dict's clock on first use.
func (c *opctx) clock() int64 {
	if c.now == 0 {
		c.now = c.d.now()
	}
	return c.now
}

// dead reports whether an entry is expired or flushed: present, but invisible
// to everything except GetStale, TTL and Expire.
func (c *opctx) dead(sl *slot) bool {
	return sl.cas <= c.flushCAS || (sl.expires != 0 && sl.expires <= c.clock())
}

// shard is one lock's worth of a Dict. It is not safe for concurrent use on
// its own; every method expects mu to be held.
type shard struct {
	mu     sync.Mutex
	seed   maphash.Seed
	idx    index // key hash → slot
	pages  [][]slot
	nslots int32 // slots handed out so far (high-water mark)
	free   int32 // head of the free-slot list, linked through slot.next
	head   int32 // most recently used
	tail   int32 // least recently used
	items  int
	used   int64 // accounted bytes
	budget int64
	lists  map[int32]*list
	// maxEvict caps live evictions per operation; 0 = unlimited.
	maxEvict int

	evictions uint64
	expired   uint64
	_         [64]byte // keep neighbouring shards' locks off one cache line
}

func (s *shard) init(seed maphash.Seed, budget int64, maxEvict int) {
	s.maxEvict = maxEvict
	s.seed = seed
	s.free, s.head, s.tail = nilSlot, nilSlot, nilSlot
	s.budget = budget
	s.lists = make(map[int32]*list)
}

func (s *shard) at(i int32) *slot { return &s.pages[i>>pageShift][i&pageMask] }

// find returns the slot holding key, or nilSlot.
func (s *shard) find(h uint64, key string) int32 {
	tab := s.idx.tab
	if len(tab) == 0 {
		return nilSlot
	}
	mask := uint64(len(tab) - 1)
	tag := uint64(uint32(h))
	for p := tag & mask; ; p = (p + 1) & mask {
		e := tab[p]
		if e == 0 {
			return nilSlot
		}
		if e>>32 == tag {
			if i := entrySlot(e); string(s.at(i).key()) == key {
				return i
			}
		}
	}
}

// cost is the accounted size of the entry in slot i.
func (s *shard) cost(i int32) int64 {
	sl := s.at(i)
	c := entryCost(cap(sl.buf))
	if sl.kind == KindList {
		c += s.lists[i].bytes
	}
	return c
}

// allocSlot takes a slot from the free list or the end of the last page, or
// returns nilSlot when the int32 index space is used up.
// Growing the last page may move it, so callers must not hold *slot values
// across this call.
func (s *shard) allocSlot() int32 {
	if i := s.free; i != nilSlot {
		s.free = s.at(i).next
		return i
	}
	if s.nslots == math.MaxInt32 {
		return nilSlot // int32 indexes exhausted; only a preposterous capacity gets here
	}
	i := s.nslots
	p := int(i >> pageShift)
	if p == len(s.pages) {
		s.pages = append(s.pages, make([]slot, 0, 8))
	}
	pg := s.pages[p]
	if len(pg) == cap(pg) {
		// Grow by hand so a page never exceeds pageSlots of capacity.
		bigger := make([]slot, len(pg), min(2*cap(pg), pageSlots))
		copy(bigger, pg)
		pg = bigger
	}
	s.pages[p] = append(pg, slot{})
	s.nslots++
	return i
}

// LRU maintenance: head is the most recently used end.

func (s *shard) unlinkLRU(i int32) {
	sl := s.at(i)
	if sl.prev != nilSlot {
		s.at(sl.prev).next = sl.next
	} else {
		s.head = sl.next
	}
	if sl.next != nilSlot {
		s.at(sl.next).prev = sl.prev
	} else {
		s.tail = sl.prev
	}
}

func (s *shard) pushHead(i int32) {
	sl := s.at(i)
	sl.prev, sl.next = nilSlot, s.head
	if s.head != nilSlot {
		s.at(s.head).prev = i
	} else {
		s.tail = i
	}
	s.head = i
}

// bump moves slot i to the most recently used end.
func (s *shard) bump(i int32) {
	if s.head == i {
		return
	}
	s.unlinkLRU(i)
	s.pushHead(i)
}

// remove frees slot i entirely: index, LRU, list side table, accounting.
func (s *shard) remove(i int32) {
	sl := s.at(i)
	s.idx.delete(maphash.Bytes(s.seed, sl.key()), i)
	s.unlinkLRU(i)
	s.used -= s.cost(i)
	if sl.kind == KindList {
		delete(s.lists, i)
	}
	s.items--
	*sl = slot{next: s.free, prev: nilSlot}
	s.free = i
}

// purge frees up to two dead entries from the LRU tail, stopping at the first
// live one: OpenResty's housekeeping step at the start of most operations.
func (s *shard) purge(c *opctx) {
	for n := 0; n < 2; n++ {
		t := s.tail
		if t == nilSlot || !c.dead(s.at(t)) {
			return
		}
		s.remove(t)
		s.expired++
	}
}

// scanWindow is how far from the LRU tail makeRoom looks for dead entries
// before it evicts a live one.
const scanWindow = 8

// makeRoom frees entries until need more bytes fit in the budget. Dead
// entries go first: those at the tail, then any within scanWindow of it.
// Only then, and only if evict is set, is the live tail evicted. keep is a
// slot that must survive (the entry being grown); callers move it to the head
// first, so it is reached only when nothing else is left. forcible reports
// whether a live entry was evicted, even when makeRoom still fails.
func (s *shard) makeRoom(c *opctx, need int64, evict bool, keep int32) (forcible, ok bool) {
	evicted := 0
	for s.used+need > s.budget {
		t := s.tail
		if t == nilSlot || t == keep {
			return forcible, false
		}
		if c.dead(s.at(t)) {
			s.remove(t)
			s.expired++
			continue
		}
		if s.reclaimNearTail(c, keep) {
			continue
		}
		if !evict || (s.maxEvict > 0 && evicted >= s.maxEvict) {
			return forcible, false
		}
		evicted++
		s.remove(t)
		s.evictions++
		forcible = true
	}
	return forcible, true
}

// reclaimNearTail frees the first dead entry within scanWindow of the tail.
func (s *shard) reclaimNearTail(c *opctx, keep int32) bool {
	i := s.tail
	for n := 0; n < scanWindow && i != nilSlot; n++ {
		sl := s.at(i)
		if i != keep && c.dead(sl) {
			s.remove(i)
			s.expired++
			return true
		}
		i = sl.prev
	}
	return false
}

// insert creates a new entry for key with room for vlen value bytes, evicting
// when evict is set. The new slot is at the head of the LRU; the caller fills
// in the value and metadata.
func (s *shard) insert(c *opctx, h uint64, key string, vlen int, evict bool) (i int32, forcible bool, err error) {
	n := len(key) + vlen
	need := entryCost(roundSize(n))
	if need > s.budget {
		return nilSlot, false, ErrNoMemory
	}
	forcible, ok := s.makeRoom(c, need, evict, nilSlot)
	if !ok {
		return nilSlot, forcible, ErrNoMemory
	}
	if i = s.allocSlot(); i == nilSlot {
		return nilSlot, forcible, ErrNoMemory
	}
	sl := s.at(i)
	sl.buf = newBuf(n)
	sl.shared = false
	copy(sl.buf, key)
	sl.klen = uint16(len(key))
	s.idx.add(h, i)
	s.pushHead(i)
	s.used += need
	s.items++
	return i, forcible, nil
}

// resize gives slot i a value area of vlen bytes, keeping the key and the
// first min(old, vlen) value bytes. It reuses the buffer when the size class
// does not change and otherwise makes room (evicting if allowed, never the
// entry itself, which the caller has bumped to the head).
func (s *shard) resize(c *opctx, i int32, vlen int, evict bool) (forcible bool, err error) {
	sl := s.at(i)
	n := int(sl.klen) + vlen
	if n <= cap(sl.buf) && roundSize(n) == cap(sl.buf) {
		sl.own() // the caller writes into the value next
		sl.buf = sl.buf[:n]
		return false, nil
	}
	newCap := roundSize(n)
	extra := int64(newCap - cap(sl.buf))
	if s.cost(i)+extra > s.budget {
		return false, ErrNoMemory
	}
	if extra > 0 {
		var ok bool
		forcible, ok = s.makeRoom(c, extra, evict, i)
		if !ok {
			return forcible, ErrNoMemory
		}
		sl = s.at(i)
	}
	b := newBuf(n)
	copy(b, sl.buf)
	sl.buf = b
	sl.shared = false
	s.used += extra
	return forcible, nil
}

// setValue writes v after the key; the buffer must already have the right
// length.
func (sl *slot) setValue(v Value) {
	if sl.shared {
		// Copy on write, but the whole value is about to be replaced:
		// only the key needs copying (a set over a value that gets have
		// handed out would otherwise copy the old value for nothing).
		b := make([]byte, len(sl.buf), cap(sl.buf))
		copy(b, sl.key())
		sl.buf = b
		sl.shared = false
	}
	b := sl.value()
	switch v.Kind {
	case KindString:
		copy(b, v.Str)
	case KindNumber:
		binary.LittleEndian.PutUint64(b, math.Float64bits(v.Num))
	case KindBoolean:
		if v.Bool {
			b[0] = 1
		} else {
			b[0] = 0
		}
	}
	sl.kind = v.Kind
}

func (sl *slot) number() float64 {
	return math.Float64frombits(binary.LittleEndian.Uint64(sl.value()))
}

// item builds what reads return. A string value is returned as a view of
// the entry's buffer, without a copy: the slot is marked shared, and every
// write path copies the buffer first (own), so the view never changes.
// Values of 4 KiB are where this matters: the copy and the garbage it made
// were a fifth of a get's cost.
func (sl *slot) item(c *opctx) Item {
	it := Item{Flags: sl.flags, CAS: sl.cas, ExpiresAt: sl.expires, Marks: sl.marks}
	it.Kind = sl.kind
	switch sl.kind {
	case KindString:
		if v := sl.value(); len(v) > 0 {
			it.Str = unsafe.String(&v[0], len(v))
			sl.shared = true
		}
	case KindNumber:
		it.Num = sl.number()
	case KindBoolean:
		it.Bool = sl.value()[0] == 1
	}
	if sl.cas <= c.flushCAS {
		it.ExpiresAt = flushedExpiry
	}
	return it
}

// flushedExpiry is the expiry a flushed entry reports: 1 ms after the epoch,
// as OpenResty's flush_all writes it.
const flushedExpiry = 1

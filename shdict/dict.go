package shdict

import (
	"fmt"
	"hash/maphash"
	"math/bits"
	"strconv"
	"sync/atomic"
	"time"
)

// MinCapacity is the smallest capacity New accepts: 12 KiB, OpenResty's
// smallest zone that can store anything.
const MinCapacity = 12288

// maxShards bounds the automatic shard count; with 2 to 16 cores, 16 locks
// keep contention negligible while each shard stays large enough for big
// items.
const (
	maxShards      = 16
	minShardBudget = 4 << 20 // automatic sharding keeps shards at least this big
	maxUserShards  = 1 << 10
)

// Options tune a Dict. The zero value is ready to use.
type Options struct {
	// Shards is the number of independently locked parts; it is rounded up
	// to a power of two. 0 picks one from the capacity: one shard below
	// 8 MiB, then as many as keep each shard at 4 MiB or more, at most 16.
	// Every shard gets capacity/Shards bytes, which bounds the largest item.
	Shards int
	// Now returns the time in unix milliseconds; nil means the real clock.
	// Tests inject a fake. It must return values above 1: expiry times of 1
	// and below are reserved for flushed and already-expired entries.
	Now func() int64
	// MaxEvictions caps how many live entries one store may evict before
	// it gives up with ErrNoMemory (and forcible=true). 0 means as many as
	// it takes, which memcached users expect when a large value replaces
	// many small ones. OpenResty's own cap is 30.
	MaxEvictions int
}

// Dict is one shared dictionary: the store behind one ngx.shared.NAME. All
// methods are safe for concurrent use, and each is atomic with respect to the
// key it touches.
type Dict struct {
	name     string
	capacity int64
	now      func() int64
	seed     maphash.Seed
	shift    uint // shard of a key = hash >> shift
	shards   []shard

	// cas hands out CAS uniques. Being one counter per Dict makes them
	// totally ordered, which is what lets flushCAS express "everything
	// stored so far".
	cas atomic.Uint64
	// flushCAS is the flush watermark: entries with cas <= flushCAS are
	// flushed. Flushing is O(1); entries die lazily.
	flushCAS atomic.Uint64
	// flushAt is a pending delayed flush (unix ms), 0 if none.
	flushAt atomic.Int64
}

func realNow() int64 { return time.Now().UnixMilli() }

// New creates a dictionary holding at most capacity accounted bytes.
func New(name string, capacity int64, opts Options) (*Dict, error) {
	if capacity < MinCapacity {
		return nil, fmt.Errorf("%w: %d bytes for %q, the minimum is %d (12k)", ErrCapacity, capacity, name, MinCapacity)
	}
	n := opts.Shards
	switch {
	case opts.MaxEvictions < 0:
		return nil, fmt.Errorf("%w: negative MaxEvictions %d", ErrBadOptions, opts.MaxEvictions)
	case n < 0 || n > maxUserShards:
		return nil, fmt.Errorf("%w: shards %d not in 0..%d", ErrBadOptions, n, maxUserShards)
	case n == 0:
		n = 1
		for n < maxShards && capacity/int64(2*n) >= minShardBudget {
			n *= 2
		}
	default:
		n = 1 << bits.Len(uint(n-1))
	}
	d := &Dict{
		name:     name,
		capacity: capacity,
		now:      opts.Now,
		seed:     maphash.MakeSeed(),
		shift:    uint(64 - bits.TrailingZeros(uint(n))),
		shards:   make([]shard, n),
	}
	if d.now == nil {
		d.now = realNow
	}
	for i := range d.shards {
		d.shards[i].init(d.seed, capacity/int64(n), opts.MaxEvictions)
	}
	return d, nil
}

// Name returns the name the dictionary was created with.
func (d *Dict) Name() string { return d.name }

// Capacity returns the byte capacity given to New.
func (d *Dict) Capacity() int64 { return d.capacity }

// FreeSpace returns the capacity not yet charged to entries. Unlike
// OpenResty, which counts whole free 4 KiB pages, this is exact to the byte;
// an item still fails when its own shard is full.
func (d *Dict) FreeSpace() int64 {
	var used int64
	for i := range d.shards {
		s := &d.shards[i]
		s.mu.Lock()
		used += s.used
		s.mu.Unlock()
	}
	return d.capacity - used
}

// begin reads the flush state once per operation, applying a delayed flush
// whose time has come.
func (d *Dict) begin() opctx {
	c := opctx{d: d}
	if at := d.flushAt.Load(); at != 0 && c.clock() >= at {
		// During the flush's own millisecond every operation raises the
		// watermark again, so entries stored in that millisecond die too
		// ("stored at or before that moment"); the first operation after it
		// retires the pending flush.
		d.raiseFlush()
		if c.now > at {
			d.flushAt.CompareAndSwap(at, 0)
		}
	}
	c.flushCAS = d.flushCAS.Load()
	return c
}

// raiseFlush moves the watermark up to the newest CAS handed out, flushing
// every entry stored so far.
func (d *Dict) raiseFlush() {
	w := d.cas.Load()
	for {
		old := d.flushCAS.Load()
		if old >= w || d.flushCAS.CompareAndSwap(old, w) {
			return
		}
	}
}

func (d *Dict) nextCAS() uint64 { return d.cas.Add(1) }

func (d *Dict) locate(key string) (*shard, uint64) {
	h := maphash.String(d.seed, key)
	return &d.shards[h>>d.shift], h
}

// expiresAt turns a ttl into an absolute expiry: 0 never; positive ttls are
// truncated to milliseconds and one under 1 ms never expires (OpenResty);
// negative ttls are already expired (memcached).
func expiresAt(c *opctx, ttl time.Duration) int64 {
	if ttl >= 0 {
		ms := ttl.Milliseconds()
		if ms == 0 {
			return 0
		}
		return c.clock() + ms
	}
	ms := min(ttl.Milliseconds(), -1)
	return max(c.clock()+ms, flushedExpiry)
}

// Get returns the live item under key. A miss, an expired entry and a flushed
// entry all give found=false with a nil error; a list gives ErrIsList. A hit
// moves the entry to the most recently used end and marks it fetched
// (MarkFetched; the item reports the marks from before).
func (d *Dict) Get(key string) (it Item, found bool, err error) {
	s, c, _, i, err := d.open(key)
	if err != nil {
		return Item{}, false, err
	}
	if i == nilSlot || c.dead(s.at(i)) {
		s.mu.Unlock()
		return Item{}, false, nil
	}
	s.bump(i)
	sl := s.at(i)
	if sl.kind == KindList {
		s.mu.Unlock()
		return Item{}, false, ErrIsList
	}
	it = sl.item(&c)
	sl.marks |= MarkFetched
	s.mu.Unlock()
	return it, true, nil
}

// GetStale is Get that also returns expired and flushed entries still in
// memory, with stale=true. It skips the purge step, so it never frees the
// entries it is meant to find.
func (d *Dict) GetStale(key string) (it Item, stale bool, found bool, err error) {
	if err := checkKey(key); err != nil {
		return Item{}, false, false, err
	}
	c := d.begin()
	s, h := d.locate(key)
	s.mu.Lock()
	i := s.find(h, key)
	if i == nilSlot {
		s.mu.Unlock()
		return Item{}, false, false, nil
	}
	s.bump(i)
	sl := s.at(i)
	if sl.kind == KindList {
		s.mu.Unlock()
		return Item{}, false, false, ErrIsList
	}
	it, stale = sl.item(&c), c.dead(sl)
	sl.marks |= MarkFetched
	s.mu.Unlock()
	return it, stale, true, nil
}

// StoreMode selects what Store requires of the key's current entry.
type StoreMode uint8

// The store modes, one per storing method.
const (
	StoreSet     StoreMode = iota // none: Set
	StoreAdd                      // absent, expired or flushed: Add
	StoreReplace                  // live: Replace
	StoreCAS                      // live, with the given cas: CompareAndSwap
	// StoreCASStale is StoreCAS that, when the given cas is older (lower,
	// but not 0, which never matches) than the entry's, still stores the
	// value, but marked stale, with the entry's expiry and token mark kept
	// (memcached's ms with C and I: a slow writer's value is kept as a
	// stale one instead of failing).
	StoreCASStale
)

// Store is Set, Add, Replace or CompareAndSwap, as mode says (cas is used
// by StoreCAS and StoreCASStale only), that also returns the cas unique the
// stored entry got: memcached's binary protocol answers every store with
// it, and reading it back afterwards would be a second lookup that another
// client's store could slip in front of.
func (d *Dict) Store(mode StoreMode, key string, v Value, ttl time.Duration, flags uint32, cas uint64) (newCAS uint64, forcible bool, err error) {
	if mode > StoreCASStale {
		return 0, false, ErrBadMode
	}
	return d.store(key, v, ttl, flags, mode, true, cas)
}

// Set stores v under key, replacing whatever is there (a list included).
// forcible reports that live entries were evicted to make room, even when
// the store then still fails with ErrNoMemory. If the new value does not fit,
// the old one is gone, as in OpenResty and memcached.
func (d *Dict) Set(key string, v Value, ttl time.Duration, flags uint32) (forcible bool, err error) {
	_, forcible, err = d.store(key, v, ttl, flags, StoreSet, true, 0)
	return forcible, err
}

// SafeSet is Set without eviction: when the value does not fit it fails with
// ErrNoMemory instead of removing live entries.
func (d *Dict) SafeSet(key string, v Value, ttl time.Duration, flags uint32) (forcible bool, err error) {
	_, forcible, err = d.store(key, v, ttl, flags, StoreSet, false, 0)
	return forcible, err
}

// Add stores v only if key has no live entry; otherwise it fails with
// ErrExists and, as upstream, moves the existing entry to the most recently
// used end. An expired or flushed entry counts as absent.
func (d *Dict) Add(key string, v Value, ttl time.Duration, flags uint32) (forcible bool, err error) {
	_, forcible, err = d.store(key, v, ttl, flags, StoreAdd, true, 0)
	return forcible, err
}

// SafeAdd is Add without eviction.
func (d *Dict) SafeAdd(key string, v Value, ttl time.Duration, flags uint32) (forcible bool, err error) {
	_, forcible, err = d.store(key, v, ttl, flags, StoreAdd, false, 0)
	return forcible, err
}

// Replace stores v only if key has a live entry; otherwise ErrNotFound.
func (d *Dict) Replace(key string, v Value, ttl time.Duration, flags uint32) (forcible bool, err error) {
	_, forcible, err = d.store(key, v, ttl, flags, StoreReplace, true, 0)
	return forcible, err
}

// CompareAndSwap stores v only if key has a live entry whose CAS is cas
// (memcached's cas command; our extension). ErrNotFound when the entry is
// absent, expired or flushed; ErrExists when its CAS differs (a cas of 0
// never matches).
func (d *Dict) CompareAndSwap(key string, v Value, ttl time.Duration, flags uint32, cas uint64) (forcible bool, err error) {
	_, forcible, err = d.store(key, v, ttl, flags, StoreCAS, true, cas)
	return forcible, err
}

func (d *Dict) store(key string, v Value, ttl time.Duration, flags uint32, mode StoreMode, evict bool, cas uint64) (newCAS uint64, forcible bool, err error) {
	if err := checkKey(key); err != nil {
		return 0, false, err
	}
	vlen := encodedLen(v)
	if vlen < 0 {
		return 0, false, ErrBadValue
	}
	c := d.begin()
	s, h := d.locate(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.purge(&c)
	i := s.find(h, key)
	live := i != nilSlot && !c.dead(s.at(i))
	// A new value starts unmarked, except a stale one (StoreCASStale).
	var marks Marks
	var stale bool
	var staleExp int64
	switch mode {
	case StoreAdd:
		if live {
			s.bump(i)
			return 0, false, ErrExists
		}
	case StoreReplace:
		if !live {
			return 0, false, ErrNotFound
		}
	case StoreCAS, StoreCASStale:
		if !live {
			return 0, false, ErrNotFound
		}
		if old := s.at(i); old.cas != cas {
			if mode != StoreCASStale || cas == 0 || cas > old.cas {
				s.bump(i)
				return 0, false, ErrExists
			}
			stale, staleExp = true, old.expires
			marks = MarkStale | old.marks&MarkToken
		}
	}
	exp := staleExp
	if !stale {
		exp = expiresAt(&c, ttl)
	}
	if i != nilSlot {
		sl := s.at(i)
		n := int(sl.klen) + vlen
		if sl.kind != KindList && n <= cap(sl.buf) && roundSize(n) == cap(sl.buf) {
			// Same size class: rewrite in place, no allocation.
			if !live {
				s.expired++
			}
			sl.buf = sl.buf[:n]
			sl.setValue(v)
			sl.flags, sl.expires, sl.cas, sl.marks = flags, exp, d.nextCAS(), marks
			s.bump(i)
			return sl.cas, false, nil
		}
		if !live {
			s.expired++
		}
		s.remove(i)
	}
	i, forcible, err = s.insert(&c, h, key, vlen, evict)
	if err != nil {
		return 0, forcible, err
	}
	sl := s.at(i)
	sl.setValue(v)
	sl.flags, sl.expires, sl.cas, sl.marks = flags, exp, d.nextCAS(), marks
	return sl.cas, forcible, nil
}

// Delete removes key. existed reports whether a live entry was removed; an
// expired or flushed one is removed too but does not count.
func (d *Dict) Delete(key string) (existed bool, err error) {
	s, c, _, i, err := d.open(key)
	if err != nil {
		return false, err
	}
	if i != nilSlot {
		existed = !c.dead(s.at(i))
		if !existed {
			s.expired++
		}
		s.remove(i)
	}
	s.mu.Unlock()
	return existed, nil
}

// open validates key, locks its shard (the caller unlocks it), frees up to
// two expired entries from the LRU tail as every OpenResty write and read
// does, and finds the entry (nilSlot when absent). Most methods start here.
func (d *Dict) open(key string) (*shard, opctx, uint64, int32, error) {
	if err := checkKey(key); err != nil {
		return nil, opctx{}, 0, nilSlot, err
	}
	c := d.begin()
	s, h := d.locate(key)
	s.mu.Lock()
	s.purge(&c)
	return s, c, h, s.find(h, key), nil
}

// DeleteCAS removes key only if it is live and its cas unique equals cas
// (memcached's md with C, an extension of ours): ErrNotFound for a
// missing, expired or flushed key, ErrExists when the cas differs.
func (d *Dict) DeleteCAS(key string, cas uint64) error {
	s, c, _, i, err := d.open(key)
	if err != nil {
		return err
	}
	defer s.mu.Unlock()
	if i == nilSlot || c.dead(s.at(i)) {
		return ErrNotFound
	}
	if s.at(i).cas != cas {
		return ErrExists
	}
	s.remove(i)
	return nil
}

// Incr adds step to a number entry, keeping its ttl and flags. A missing,
// expired or flushed key gives ErrNotFound; any other kind, a numeric
// string included, gives ErrNotNumber.
func (d *Dict) Incr(key string, step float64) (float64, error) {
	v, _, err := d.incr(key, step, false, 0, 0)
	return v, err
}

// IncrInit is Incr with OpenResty's init argument: a missing, expired or
// flushed key is created as init+step with flags 0 and ttl initTTL (0 =
// never). On a live entry init and initTTL are ignored.
func (d *Dict) IncrInit(key string, step, init float64, initTTL time.Duration) (newval float64, forcible bool, err error) {
	return d.incr(key, step, true, init, initTTL)
}

func (d *Dict) incr(key string, step float64, hasInit bool, init float64, initTTL time.Duration) (float64, bool, error) {
	s, c, h, i, err := d.open(key)
	if err != nil {
		return 0, false, err
	}
	defer s.mu.Unlock()
	if i != nilSlot && !c.dead(s.at(i)) {
		sl := s.at(i)
		if sl.kind != KindNumber {
			return 0, false, ErrNotNumber
		}
		v := sl.number() + step
		sl.setValue(Number(v))
		sl.cas = d.nextCAS()
		s.bump(i)
		return v, false, nil
	}
	if !hasInit {
		return 0, false, ErrNotFound
	}
	v := Number(init + step)
	exp := expiresAt(&c, initTTL)
	var forcible bool
	if i != nilSlot && s.at(i).kind == KindNumber {
		// A dead number entry has the right size: reuse it in place.
		s.expired++
	} else {
		if i != nilSlot {
			s.expired++
			s.remove(i)
		}
		var err error
		i, forcible, err = s.insert(&c, h, key, 8, true)
		if err != nil {
			return 0, forcible, err
		}
	}
	sl := s.at(i)
	sl.setValue(v)
	sl.flags, sl.expires, sl.cas, sl.marks = 0, exp, d.nextCAS(), 0
	s.bump(i)
	return v.Num, forcible, nil
}

// LPush inserts v at the head of the list under key, creating the list when
// the key is missing, expired or flushed. v must be a string or a number
// (ErrBadValue). A scalar entry gives ErrNotList. Lists never evict: when
// there is no room the answer is ErrNoMemory.
func (d *Dict) LPush(key string, v Value) (length int, err error) {
	return d.push(key, v, true)
}

// RPush is LPush at the tail.
func (d *Dict) RPush(key string, v Value) (length int, err error) {
	return d.push(key, v, false)
}

func (d *Dict) push(key string, v Value, front bool) (int, error) {
	if err := checkKey(key); err != nil {
		return 0, err
	}
	if v.Kind != KindString && v.Kind != KindNumber {
		return 0, ErrBadValue
	}
	c := d.begin()
	s, h := d.locate(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.purge(&c)
	i := s.find(h, key)
	if i != nilSlot {
		if c.dead(s.at(i)) {
			s.expired++
			s.remove(i)
			i = nilSlot
		} else if s.at(i).kind != KindList {
			return 0, ErrNotList
		}
	}
	ec := elemCost(v)
	if i == nilSlot {
		// Create the entry and its first element in one step, so a failure
		// leaves nothing behind.
		need := entryCost(roundSize(len(key))) + listHeaderBytes + ec
		if need > s.budget {
			return 0, ErrNoMemory
		}
		if _, ok := s.makeRoom(&c, need, false, nilSlot); !ok {
			return 0, ErrNoMemory
		}
		var err error
		if i, _, err = s.insert(&c, h, key, 0, false); err != nil {
			return 0, err
		}
		l := newList()
		s.lists[i] = l
		s.used += l.bytes
		sl := s.at(i)
		sl.kind, sl.flags, sl.expires = KindList, 0, 0
	} else {
		s.bump(i)
		if s.cost(i)+ec > s.budget {
			return 0, ErrNoMemory
		}
		if _, ok := s.makeRoom(&c, ec, false, i); !ok {
			return 0, ErrNoMemory
		}
	}
	l := s.lists[i]
	if front {
		l.pushFront(v)
	} else {
		l.pushBack(v)
	}
	l.bytes += ec
	s.used += ec
	s.at(i).cas = d.nextCAS()
	return l.n, nil
}

// LPop removes and returns the head of the list under key; found is false
// when the key is missing, expired or flushed. A list emptied by a pop is
// deleted, as upstream. A scalar entry gives ErrNotList.
func (d *Dict) LPop(key string) (v Value, found bool, err error) {
	return d.pop(key, true)
}

// RPop is LPop at the tail.
func (d *Dict) RPop(key string) (v Value, found bool, err error) {
	return d.pop(key, false)
}

func (d *Dict) pop(key string, front bool) (Value, bool, error) {
	s, c, _, i, err := d.open(key)
	if err != nil {
		return Value{}, false, err
	}
	defer s.mu.Unlock()
	if i == nilSlot || c.dead(s.at(i)) {
		return Value{}, false, nil
	}
	if s.at(i).kind != KindList {
		return Value{}, false, ErrNotList
	}
	l := s.lists[i]
	var v Value
	if front {
		v = l.popFront()
	} else {
		v = l.popBack()
	}
	ec := elemCost(v)
	l.bytes -= ec
	s.used -= ec
	if l.n == 0 {
		s.remove(i)
	} else {
		s.at(i).cas = d.nextCAS()
		s.bump(i)
	}
	return v, true, nil
}

// LLen returns the length of the list under key, 0 when the key is missing,
// expired or flushed, ErrNotList for a scalar.
func (d *Dict) LLen(key string) (int, error) {
	s, c, _, i, err := d.open(key)
	if err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	if i == nilSlot || c.dead(s.at(i)) {
		return 0, nil
	}
	if s.at(i).kind != KindList {
		return 0, ErrNotList
	}
	s.bump(i)
	return s.lists[i].n, nil
}

// TTL returns the time key has left: 0 when it never expires, negative when
// it has expired (or been flushed) but is still in memory. An entry exactly
// at its expiry instant reports -1 ms rather than 0, so that 0 always means
// "never". ErrNotFound when no entry exists. TTL does not touch the LRU
// order.
func (d *Dict) TTL(key string) (time.Duration, error) {
	if err := checkKey(key); err != nil {
		return 0, err
	}
	c := d.begin()
	s, h := d.locate(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.find(h, key)
	if i == nilSlot {
		return 0, ErrNotFound
	}
	sl := s.at(i)
	exp := sl.expires
	if sl.cas <= c.flushCAS {
		exp = flushedExpiry
	}
	if exp == 0 {
		return 0, nil
	}
	ms := exp - c.clock()
	if ms == 0 {
		ms = -1
	}
	return time.Duration(ms) * time.Millisecond, nil
}

// Expire sets the ttl of an entry that is still in memory, reviving it if it
// had expired or been flushed (OpenResty looks entries up ignoring expiry
// here). ttl <= 0 clears the expiry. Reviving a flushed entry gives it a new
// CAS; otherwise the CAS is kept. Expire does not touch the LRU order.
func (d *Dict) Expire(key string, ttl time.Duration) error {
	if err := checkKey(key); err != nil {
		return err
	}
	c := d.begin()
	s, h := d.locate(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.find(h, key)
	if i == nilSlot {
		return ErrNotFound
	}
	sl := s.at(i)
	if sl.cas <= c.flushCAS {
		sl.cas = d.nextCAS()
	}
	if ttl <= 0 {
		sl.expires = 0
	} else {
		sl.expires = expiresAt(&c, ttl)
	}
	return nil
}

// FlushAll makes every entry stored so far invisible at once, in O(1): the
// entries become stale (GetStale still finds them) and are freed lazily, as
// OpenResty's flush_all leaves them. A pending FlushAllAfter is cancelled.
func (d *Dict) FlushAll() {
	d.flushAt.Store(0)
	d.raiseFlush()
}

// FlushAllAfter is memcached's "flush_all <delay>" (our extension): at
// now+delay, every entry stored at or before that moment becomes invalid
// (memcached's oldest_live rule); entries stored later are unaffected. A
// delay under 1 ms is FlushAll. A later call replaces a pending one.
func (d *Dict) FlushAllAfter(delay time.Duration) {
	ms := delay.Milliseconds()
	if ms <= 0 {
		d.FlushAll()
		return
	}
	// Apply a pending flush that is already due before replacing it.
	c := d.begin()
	d.flushAt.Store(c.clock() + ms)
}

// FlushExpired frees up to max expired or flushed entries (0 = all) and
// returns how many it freed, walking each shard from its LRU tail.
func (d *Dict) FlushExpired(max int) int {
	c := d.begin()
	freed := 0
	for si := range d.shards {
		s := &d.shards[si]
		s.mu.Lock()
		for i := s.tail; i != nilSlot; {
			sl := s.at(i)
			prev := sl.prev
			if c.dead(sl) {
				s.remove(i)
				s.expired++
				freed++
				if max > 0 && freed >= max {
					s.mu.Unlock()
					return freed
				}
			}
			i = prev
		}
		s.mu.Unlock()
	}
	return freed
}

// Keys returns up to max live keys (0 = all; OpenResty's default of 1024 is
// the caller's business), lists included. Within a shard the order is least
// recently used first; shards are visited one after another, so with a limit
// the keys come from the first shards.
func (d *Dict) Keys(max int) []string {
	c := d.begin()
	var keys []string
	for si := range d.shards {
		s := &d.shards[si]
		s.mu.Lock()
		for i := s.tail; i != nilSlot; {
			sl := s.at(i)
			if !c.dead(sl) {
				keys = append(keys, string(sl.key()))
				if max > 0 && len(keys) >= max {
					s.mu.Unlock()
					return keys
				}
			}
			i = sl.prev
		}
		s.mu.Unlock()
	}
	if keys == nil {
		keys = []string{}
	}
	return keys
}

// Append adds data to the end of a string entry, keeping its flags and
// expiry (memcached's append; our extension). ErrNotFound when the key is
// missing, expired or flushed; ErrNotString for other kinds. Growing may
// evict other entries (forcible), never this one.
func (d *Dict) Append(key string, data string) (forcible bool, err error) {
	_, forcible, err = d.pend(key, data, false, 0)
	return forcible, err
}

// Prepend adds data to the start of a string entry; otherwise like Append.
func (d *Dict) Prepend(key string, data string) (forcible bool, err error) {
	_, forcible, err = d.pend(key, data, true, 0)
	return forcible, err
}

// PendCAS is Append (front false) or Prepend with memcached's condition
// and answer: when cas is not 0, the entry must have that cas (else
// ErrExists, checked after ErrNotFound and ErrNotString); it returns the
// cas the entry got.
func (d *Dict) PendCAS(key, data string, front bool, cas uint64) (newCAS uint64, forcible bool, err error) {
	return d.pend(key, data, front, cas)
}

func (d *Dict) pend(key, data string, front bool, cas uint64) (uint64, bool, error) {
	s, c, _, i, err := d.open(key)
	if err != nil {
		return 0, false, err
	}
	defer s.mu.Unlock()
	if i == nilSlot || c.dead(s.at(i)) {
		return 0, false, ErrNotFound
	}
	if s.at(i).kind != KindString {
		return 0, false, ErrNotString
	}
	if cas != 0 && s.at(i).cas != cas {
		return 0, false, ErrExists
	}
	s.bump(i)
	old := len(s.at(i).value())
	forcible, err := s.resize(&c, i, old+len(data), true)
	if err != nil {
		return 0, forcible, err
	}
	v := s.at(i).value()
	if front {
		copy(v[len(data):], v[:old])
		copy(v, data)
	} else {
		copy(v[old:], data)
	}
	// memcached builds a new item for the longer value: its marks start over.
	s.at(i).cas, s.at(i).marks = d.nextCAS(), 0
	return s.at(i).cas, forcible, nil
}

// IncrDecimal is memcached's incr/decr (our extension): the string entry
// under key is read as an unsigned 64-bit decimal, incremented with
// wrap-around or decremented with a floor at 0, and stored back as a decimal
// string, keeping flags and expiry. As memcached 1.6 does, a result shorter
// than the stored text is right-padded with spaces to the stored length, and
// parsing accepts such padding (and leading spaces). ErrNotFound when the
// key is missing, expired or flushed; ErrNotString for a number, boolean or
// list; ErrNotNumber when the text is not a number as memcached's
// safe_strtoull reads it (see parseDecimal).
func (d *Dict) IncrDecimal(key string, delta uint64, decr bool) (uint64, error) {
	v, _, _, err := d.Arith(key, delta, decr, ArithOptions{})
	return v, err
}

// ArithOptions are memcached's conditions on an incr or decr (ma, and the
// binary protocol's increment and decrement).
type ArithOptions struct {
	// CAS, when not 0, is the cas the entry must have (else ErrExists). An
	// empty value is ErrNotNumber before the cas is compared, as in
	// memcached.
	CAS uint64
	// Create, on a miss, stores Initial as a decimal string (flags 0,
	// expiring after TTL) instead of failing with ErrNotFound; the delta is
	// not applied to it.
	Create  bool
	Initial uint64
	TTL     time.Duration
}

// Arith is IncrDecimal with o's conditions, in one locked step: a compare
// and the change, or a miss and the create, cannot be split by another
// client's write. It returns the new value, the cas the entry got, and
// whether it was created.
func (d *Dict) Arith(key string, delta uint64, decr bool, o ArithOptions) (val, newCAS uint64, created bool, err error) {
	s, c, h, i, err := d.open(key)
	if err != nil {
		return 0, 0, false, err
	}
	defer s.mu.Unlock()
	var tmp [20]byte
	if i == nilSlot || c.dead(s.at(i)) {
		if !o.Create {
			return 0, 0, false, ErrNotFound
		}
		v := String(string(strconv.AppendUint(tmp[:0], o.Initial, 10)))
		if i, err = d.create(s, &c, h, i, key, v, expiresAt(&c, o.TTL)); err != nil {
			return 0, 0, false, err
		}
		return o.Initial, s.at(i).cas, true, nil
	}
	sl := s.at(i)
	if sl.kind != KindString {
		return 0, 0, false, ErrNotString
	}
	if o.CAS != 0 {
		if len(sl.value()) == 0 {
			return 0, 0, false, ErrNotNumber
		}
		if sl.cas != o.CAS {
			return 0, 0, false, ErrExists
		}
	}
	cur, ok := parseDecimal(sl.value())
	if !ok {
		return 0, 0, false, ErrNotNumber
	}
	var nv uint64
	switch {
	case !decr:
		nv = cur + delta
	case delta >= cur:
		nv = 0
	default:
		nv = cur - delta
	}
	digits := strconv.AppendUint(tmp[:0], nv, 10)
	s.bump(i)
	old := len(sl.value())
	if len(digits) > old {
		if _, err := s.resize(&c, i, len(digits), true); err != nil {
			return 0, 0, false, err
		}
		sl = s.at(i)
		// memcached rewrites a number that still fits in place, keeping the
		// item's marks, and builds a new item for a longer one.
		sl.marks = 0
	}
	sl.own()
	v := sl.value()
	n := copy(v, digits)
	for ; n < len(v); n++ {
		v[n] = ' '
	}
	sl.cas = d.nextCAS()
	return nv, sl.cas, false, nil
}

// Touch sets a new ttl on a live entry (memcached's touch; our extension)
// and moves it to the most recently used end. The CAS is kept, as in
// memcached. ErrNotFound when the key is missing, expired or flushed.
func (d *Dict) Touch(key string, ttl time.Duration) error {
	_, _, err := d.touch(key, ttl, false)
	return err
}

// GetAndTouch is Get followed by Touch in one atomic step (memcached's gat;
// our extension). The item returned carries the new expiry.
func (d *Dict) GetAndTouch(key string, ttl time.Duration) (it Item, found bool, err error) {
	return d.touch(key, ttl, true)
}

func (d *Dict) touch(key string, ttl time.Duration, get bool) (Item, bool, error) {
	s, c, _, i, err := d.open(key)
	if err != nil {
		return Item{}, false, err
	}
	defer s.mu.Unlock()
	if i == nilSlot || c.dead(s.at(i)) {
		if get {
			return Item{}, false, nil
		}
		return Item{}, false, ErrNotFound
	}
	sl := s.at(i)
	if get && sl.kind == KindList {
		s.bump(i)
		return Item{}, false, ErrIsList
	}
	sl.expires = expiresAt(&c, ttl)
	s.bump(i)
	if !get {
		sl.marks |= MarkFetched
		return Item{}, true, nil
	}
	it := sl.item(&c)
	sl.marks |= MarkFetched
	return it, true, nil
}

// Stats is a point-in-time snapshot (for memcached's stats and metrics).
type Stats struct {
	Items     int64 // live + not-yet-purged items
	Bytes     int64 // accounted bytes in use
	Capacity  int64
	Evictions uint64 // live items removed to make room
	Expired   uint64 // expired items reclaimed
}

// Stats sums the shards' counters. Shards are read one after another, so
// under concurrent writes the figures are each exact but not from one
// instant.
func (d *Dict) Stats() Stats {
	st := Stats{Capacity: d.capacity}
	for i := range d.shards {
		s := &d.shards[i]
		s.mu.Lock()
		st.Items += int64(s.items)
		st.Bytes += s.used
		st.Evictions += s.evictions
		st.Expired += s.expired
		s.mu.Unlock()
	}
	return st
}

// rangeBatch bounds how many entries Range copies per lock hold.
const rangeBatch = 256

// Range calls fn for every live scalar entry until fn returns false. Lists
// are skipped (an Item cannot carry them); RangeLists visits those. Entries
// are copied out in small batches and fn runs without any lock held, so a
// long walk does not stall writers and fn may even call back into d; the
// price is that the walk is fuzzy: entries changed meanwhile may be seen in
// either state, and a key rewritten during the walk may be seen twice.
func (d *Dict) Range(fn func(key string, it Item) bool) {
	type kv struct {
		key string
		it  Item
	}
	batch := make([]kv, 0, rangeBatch)
	c := d.begin()
	for si := range d.shards {
		s := &d.shards[si]
		for next := int32(0); ; {
			batch = batch[:0]
			s.mu.Lock()
			for ; next < s.nslots && len(batch) < rangeBatch; next++ {
				sl := s.at(next)
				if sl.kind == 0 || sl.kind == KindList || c.dead(sl) {
					continue
				}
				batch = append(batch, kv{string(sl.key()), sl.item(&c)})
			}
			done := next >= s.nslots
			s.mu.Unlock()
			for _, e := range batch {
				if !fn(e.key, e.it) {
					return
				}
			}
			if done {
				break
			}
		}
	}
}

// RangeLists calls fn for every live list entry with a copy of its elements,
// head first, until fn returns false; the Item carries the entry's metadata
// and Kind is KindList. It walks like Range and with the same fuzziness.
func (d *Dict) RangeLists(fn func(key string, it Item, elems []Value) bool) {
	c := d.begin()
	for si := range d.shards {
		s := &d.shards[si]
		type kl struct {
			key   string
			it    Item
			elems []Value
		}
		var batch []kl
		s.mu.Lock()
		for i, l := range s.lists {
			sl := s.at(i)
			if c.dead(sl) {
				continue
			}
			batch = append(batch, kl{string(sl.key()), sl.item(&c), l.values()})
		}
		s.mu.Unlock()
		for _, e := range batch {
			if !fn(e.key, e.it, e.elems) {
				return
			}
		}
	}
}

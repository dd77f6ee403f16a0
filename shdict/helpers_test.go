package shdict

import (
	"errors"
	"fmt"
	"hash/maphash"
	"sync/atomic"
	"testing"
	"time"
)

// t0 is an arbitrary start time for fake clocks (2026-01-01T00:00:00Z).
const t0 = int64(1767225600000)

// fakeClock is an injectable clock; tests move it instead of sleeping.
type fakeClock struct{ ms atomic.Int64 }

func newClock() *fakeClock {
	c := &fakeClock{}
	c.ms.Store(t0)
	return c
}

func (c *fakeClock) now() int64              { return c.ms.Load() }
func (c *fakeClock) advance(d time.Duration) { c.ms.Add(d.Milliseconds()) }

// newTestDict makes a dict on a fake clock; shards 0 means one shard, so
// LRU order is global and easy to reason about.
func newTestDict(t testing.TB, capacity int64, shards int) (*Dict, *fakeClock) {
	t.Helper()
	if shards == 0 {
		shards = 1
	}
	clk := newClock()
	d, err := New("test", capacity, Options{Shards: shards, Now: clk.now})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return d, clk
}

func mustSet(t testing.TB, d *Dict, key string, v Value, ttl time.Duration, flags uint32) {
	t.Helper()
	if _, err := d.Set(key, v, ttl, flags); err != nil {
		t.Fatalf("Set(%q): %v", key, err)
	}
}

// mustGet returns the item under key or fails the test.
func mustGet(t testing.TB, d *Dict, key string) Item {
	t.Helper()
	it, ok, err := d.Get(key)
	if err != nil || !ok {
		t.Fatalf("Get(%q) = found %v, err %v; want a hit", key, ok, err)
	}
	return it
}

func wantErr(t testing.TB, what string, got, want error) {
	t.Helper()
	if !errors.Is(got, want) {
		t.Fatalf("%s: err = %v, want %v", what, got, want)
	}
}

// lruKeys lists every entry of a one-shard dict, dead ones included, least
// recently used first.
func lruKeys(d *Dict) []string {
	var out []string
	for si := range d.shards {
		s := &d.shards[si]
		s.mu.Lock()
		for i := s.tail; i != nilSlot; i = s.at(i).prev {
			out = append(out, string(s.at(i).key()))
		}
		s.mu.Unlock()
	}
	return out
}

// checkInvariants verifies every shard's internal structure: LRU links,
// hash index, free list, list side table and byte accounting.
func checkInvariants(t testing.TB, d *Dict) {
	t.Helper()
	if err := d.verify(); err != nil {
		t.Fatal(err)
	}
}

func (d *Dict) verify() error {
	for si := range d.shards {
		s := &d.shards[si]
		s.mu.Lock()
		err := s.verify(si, d.shift)
		s.mu.Unlock()
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *shard) verify(si int, shift uint) error {
	seen := map[int32]bool{}
	var used int64
	prev := nilSlot
	n := 0
	for i := s.head; i != nilSlot; i = s.at(i).next {
		sl := s.at(i)
		if seen[i] {
			return fmt.Errorf("shard %d: LRU cycle at %d", si, i)
		}
		seen[i] = true
		if sl.prev != prev {
			return fmt.Errorf("shard %d: slot %d prev %d, want %d", si, i, sl.prev, prev)
		}
		if sl.kind == 0 || sl.buf == nil {
			return fmt.Errorf("shard %d: free slot %d in LRU", si, i)
		}
		key := string(sl.key())
		h := maphash.String(s.seed, key)
		if int(h>>shift) != si && shift < 64 {
			return fmt.Errorf("shard %d: key %q belongs to shard %d", si, key, h>>shift)
		}
		if got := s.find(h, key); got != i {
			return fmt.Errorf("shard %d: find(%q) = %d, want %d", si, key, got, i)
		}
		if (sl.kind == KindList) != (s.lists[i] != nil) {
			return fmt.Errorf("shard %d: slot %d kind %v vs list table", si, i, sl.kind)
		}
		if sl.kind == KindList && s.lists[i].n == 0 {
			return fmt.Errorf("shard %d: empty list %q kept", si, key)
		}
		if cap(sl.buf) != roundSize(len(sl.buf)) {
			return fmt.Errorf("shard %d: slot %d cap %d for len %d", si, i, cap(sl.buf), len(sl.buf))
		}
		used += s.cost(i)
		prev = i
		n++
	}
	if prev != s.tail {
		return fmt.Errorf("shard %d: tail %d, want %d", si, s.tail, prev)
	}
	if n != s.items {
		return fmt.Errorf("shard %d: %d items in LRU, counter says %d", si, n, s.items)
	}
	if len(s.lists) > n {
		return fmt.Errorf("shard %d: %d lists for %d items", si, len(s.lists), n)
	}
	indexed := map[int32]bool{}
	mask := uint64(len(s.idx.tab) - 1)
	for p, e := range s.idx.tab {
		if e == 0 {
			continue
		}
		i := entrySlot(e)
		if !seen[i] || indexed[i] {
			return fmt.Errorf("shard %d: index entry %d names slot %d (outside the LRU or twice)", si, p, i)
		}
		indexed[i] = true
		if h := maphash.Bytes(s.seed, s.at(i).key()); e != indexEntry(h, i) {
			return fmt.Errorf("shard %d: index entry %d for slot %d has another key's hash", si, p, i)
		}
		// Linear probing: no empty entry between an entry's home and it.
		for q := home(e, mask); q != uint64(p); q = (q + 1) & mask {
			if s.idx.tab[q] == 0 {
				return fmt.Errorf("shard %d: index entry %d cut off from its home %d", si, p, home(e, mask))
			}
		}
	}
	if len(indexed) != n || s.idx.n != n {
		return fmt.Errorf("shard %d: index holds %d slots (counter %d), want %d", si, len(indexed), s.idx.n, n)
	}
	nfree := 0
	for i := s.free; i != nilSlot; i = s.at(i).next {
		if seen[i] || s.at(i).buf != nil {
			return fmt.Errorf("shard %d: slot %d both free and used", si, i)
		}
		nfree++
		if nfree > int(s.nslots) {
			return fmt.Errorf("shard %d: free list cycle", si)
		}
	}
	if nfree+n != int(s.nslots) {
		return fmt.Errorf("shard %d: %d free + %d used != %d slots", si, nfree, n, s.nslots)
	}
	if used != s.used {
		return fmt.Errorf("shard %d: accounted %d, entries cost %d", si, s.used, used)
	}
	if s.used > s.budget {
		return fmt.Errorf("shard %d: used %d over budget %d", si, s.used, s.budget)
	}
	return nil
}

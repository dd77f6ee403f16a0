package shdict

import "time"

// This file holds the two operations memcached's meta protocol needs beyond
// a plain read and delete: a read that may create the entry, touch it and
// hand out its recache token in one step (mg with N, R, T), and a delete
// that keeps the value as a stale one (md with I). Both act under the
// shard's lock, so two clients racing for a token cannot both win it.

// FetchStep is one of the changes Fetch makes to the entry it reads. They
// apply in the order the client gave them, because that order is visible:
// a touch before a recache test moves the expiry the test compares.
type FetchStep uint8

// The fetch steps.
const (
	_ FetchStep = iota
	// StepTouch sets the expiry to FetchOptions.TouchTTL (mg T).
	StepTouch
	// StepVivify applies when the key has no live entry: Fetch creates an
	// empty string entry (flags 0) and hands out its token; the step sets
	// its expiry to VivifyTTL (mg N). On a hit it does nothing.
	StepVivify
	// StepRecache hands out the token when nobody holds it and the entry
	// expires sooner than RecacheTTL, counted in whole seconds as memcached
	// does (mg R). An entry that never expires, or one this call created,
	// does not qualify.
	StepRecache
)

// FetchOptions are the changes Fetch makes while it reads.
type FetchOptions struct {
	// Steps in the client's order; zero entries are skipped.
	Steps                           [3]FetchStep
	TouchTTL, VivifyTTL, RecacheTTL time.Duration
	// NoBump leaves the LRU position and MarkFetched alone (mg u).
	NoBump bool
}

// FetchResult says what Fetch did besides reading.
type FetchResult struct {
	// Created: StepVivify made the entry.
	Created bool
	// Won: this call took the entry's token (memcached's W). A fetch of a
	// stale entry wins it too when nobody holds it.
	Won bool
	// PrevTTL is the time the entry had left before any step (0: it never
	// expires), for a client that asks for the ttl ahead of its own touch.
	PrevTTL time.Duration
}

// Fetch is memcached's mg: a read of the live entry under key that applies
// o's steps atomically. The item carries the marks from before the call
// (so MarkToken means another client holds the token: memcached's Z) and
// the expiry after the steps. found is false on a miss without StepVivify;
// a list gives ErrIsList. Unless NoBump, the entry moves to the most
// recently used end and is marked fetched.
func (d *Dict) Fetch(key string, o FetchOptions) (it Item, r FetchResult, found bool, err error) {
	s, c, h, i, err := d.open(key)
	if err != nil {
		return Item{}, r, false, err
	}
	defer s.mu.Unlock()
	if i == nilSlot || c.dead(s.at(i)) {
		if !o.has(StepVivify) {
			return Item{}, r, false, nil
		}
		if i, err = d.create(s, &c, h, i, key, Value{Kind: KindString}, 0); err != nil {
			return Item{}, r, false, err
		}
		r.Created = true
	}
	sl := s.at(i)
	if sl.kind == KindList {
		s.bump(i)
		return Item{}, r, false, ErrIsList
	}
	if sl.expires != 0 {
		r.PrevTTL = time.Duration(sl.expires-c.clock()) * time.Millisecond
	}
	held := sl.marks&MarkToken != 0
	for _, st := range o.Steps {
		switch st {
		case StepTouch:
			sl.expires = expiresAt(&c, o.TouchTTL)
		case StepVivify:
			if r.Created {
				sl.expires = expiresAt(&c, o.VivifyTTL)
				r.Won = true
			}
		case StepRecache:
			if !held && !r.Created && sl.expires != 0 && o.RecacheTTL > 0 {
				left := (sl.expires - c.clock() + 999) / 1000 // whole seconds, rounded up
				if left*1000 < o.RecacheTTL.Milliseconds() {
					r.Won = true
				}
			}
		}
	}
	if sl.marks&MarkStale != 0 && !held {
		r.Won = true
	}
	it = sl.item(&c)
	if r.Won {
		sl.marks |= MarkToken
	}
	if !o.NoBump {
		s.bump(i)
		sl.marks |= MarkFetched
	}
	return it, r, true, nil
}

// create makes a new unmarked entry for key holding v, with flags 0 and
// expiry exp, in place of the dead entry at i (nilSlot: none). It is the
// miss path of Fetch's vivify and Arith's create: memcached links a fresh
// item there.
func (d *Dict) create(s *shard, c *opctx, h uint64, i int32, key string, v Value, exp int64) (int32, error) {
	if i != nilSlot {
		s.expired++
		s.remove(i)
	}
	i, _, err := s.insert(c, h, key, encodedLen(v), true)
	if err != nil {
		return nilSlot, err
	}
	sl := s.at(i)
	sl.setValue(v)
	sl.expires, sl.cas = exp, d.nextCAS()
	return i, nil
}

func (o *FetchOptions) has(st FetchStep) bool {
	return o.Steps[0] == st || o.Steps[1] == st || o.Steps[2] == st
}

// InvalidateOptions are the conditions and changes of Invalidate.
type InvalidateOptions struct {
	// With CheckCAS, the entry must have this cas (else ErrExists).
	CAS      uint64
	CheckCAS bool
	// With SetTTL, the entry's expiry becomes TTL.
	TTL    time.Duration
	SetTTL bool
}

// Invalidate marks the live entry under key stale instead of deleting it
// (memcached's md with I): the value stays readable, its cas changes, and
// the token mark is cleared so that the next Fetch wins the token and
// rebuilds the value. The LRU position and MarkFetched are left alone, as
// memcached's delete leaves them. ErrNotFound for a missing, expired or
// flushed key; ErrExists when o.CheckCAS and the cas differs; ErrIsList
// for a list.
func (d *Dict) Invalidate(key string, o InvalidateOptions) (newCAS uint64, err error) {
	s, c, _, i, err := d.open(key)
	if err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	if i == nilSlot || c.dead(s.at(i)) {
		return 0, ErrNotFound
	}
	sl := s.at(i)
	if sl.kind == KindList {
		return 0, ErrIsList
	}
	if o.CheckCAS && sl.cas != o.CAS {
		return 0, ErrExists
	}
	if o.SetTTL {
		sl.expires = expiresAt(&c, o.TTL)
	}
	sl.marks = sl.marks&^MarkToken | MarkStale
	sl.cas = d.nextCAS()
	return sl.cas, nil
}

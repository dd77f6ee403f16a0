package shdict

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestConcurrentMixed hammers overlapping keys from many goroutines with
// every kind of operation, in dicts small enough to evict constantly, then
// checks the structures are intact. Run it with -race.
func TestConcurrentMixed(t *testing.T) {
	cases := []struct {
		name       string
		capacity   int64
		shards     int
		goroutines int
		ops        int
		keys       int
		mustEvict  bool
	}{
		{name: "tiny one shard", capacity: MinCapacity, shards: 1, goroutines: 8, ops: 1500, keys: 200, mustEvict: true},
		{name: "small four shards", capacity: 64 << 10, shards: 4, goroutines: 12, ops: 1500, keys: 1000, mustEvict: true},
		{name: "roomy sixteen shards", capacity: 8 << 20, shards: 16, goroutines: 8, ops: 1500, keys: 30},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			d, err := New("stress", tc.capacity, Options{Shards: tc.shards, Now: clk.now})
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			errs := make(chan error, tc.goroutines)
			for g := range tc.goroutines {
				wg.Add(1)
				go func() {
					defer wg.Done()
					rng := rand.New(rand.NewPCG(uint64(g), 99))
					for range tc.ops {
						if err := randomOp(d, clk, rng, tc.keys); err != nil {
							errs <- err
							return
						}
					}
				}()
			}
			// A reader walks the dict while the writers run.
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 20 {
					n := 0
					d.Range(func(string, Item) bool { n++; return true })
					d.RangeLists(func(string, Item, []Value) bool { return true })
					d.Keys(0)
					d.Stats()
					d.FreeSpace()
				}
			}()
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			checkInvariants(t, d)
			st := d.Stats()
			if st.Bytes > st.Capacity || st.Bytes != d.Capacity()-d.FreeSpace() {
				t.Fatalf("stats %+v, free %d", st, d.FreeSpace())
			}
			t.Logf("%+v", st)
			if tc.mustEvict && st.Evictions == 0 {
				t.Fatal("the dict never filled up; the eviction paths went untested")
			}
		})
	}
}

// randomOp runs one random operation and reports results no interleaving
// can explain (errors outside each method's contract).
func randomOp(d *Dict, clk *fakeClock, rng *rand.Rand, nkeys int) error {
	k := fmt.Sprint("key", rng.IntN(nkeys))
	v := String(strings.Repeat("v", rng.IntN(300)))
	ttl := []time.Duration{0, 0, 0, 0, 0, time.Second, 5 * time.Second, -time.Second}[rng.IntN(8)]
	allowed := func(err error, ok ...error) error {
		if err == nil {
			return nil
		}
		for _, e := range ok {
			if err == e {
				return nil
			}
		}
		return fmt.Errorf("%s: unexpected error %v", k, err)
	}
	switch rng.IntN(22) {
	case 0, 1, 2:
		_, _, err := d.Get(k)
		return allowed(err, ErrIsList)
	case 3:
		_, _, _, err := d.GetStale(k)
		return allowed(err, ErrIsList)
	case 4, 5:
		_, err := d.Set(k, v, ttl, 1)
		return allowed(err, ErrNoMemory)
	case 6:
		_, err := d.SafeSet(k, Number(1), ttl, 0)
		return allowed(err, ErrNoMemory)
	case 7:
		_, err := d.Add(k, v, ttl, 0)
		return allowed(err, ErrExists, ErrNoMemory)
	case 8:
		_, err := d.Replace(k, Bool(true), ttl, 0)
		return allowed(err, ErrNotFound, ErrNoMemory)
	case 9:
		it, ok, _ := d.Get(k)
		cas := it.CAS
		if !ok {
			cas = rng.Uint64N(100)
		}
		_, err := d.CompareAndSwap(k, v, ttl, 0, cas)
		return allowed(err, ErrNotFound, ErrExists, ErrNoMemory)
	case 10:
		_, err := d.Delete(k)
		return err
	case 11:
		_, _, err := d.IncrInit(k, 1, 0, ttl)
		return allowed(err, ErrNotNumber, ErrNoMemory)
	case 12:
		_, err := d.RPush(k, String("e"))
		return allowed(err, ErrNotList, ErrNoMemory)
	case 13:
		_, _, err := d.LPop(k)
		return allowed(err, ErrNotList)
	case 14:
		_, err := d.LLen(k)
		return allowed(err, ErrNotList)
	case 15:
		_, err := d.TTL(k)
		return allowed(err, ErrNotFound)
	case 16:
		return allowed(d.Expire(k, time.Second), ErrNotFound)
	case 17:
		_, err := d.Append(k, "xyz")
		return allowed(err, ErrNotFound, ErrNotString, ErrNoMemory)
	case 18:
		_, err := d.IncrDecimal(k, 7, rng.IntN(2) == 0)
		return allowed(err, ErrNotFound, ErrNotString, ErrNotNumber, ErrNoMemory)
	case 19:
		_, _, err := d.GetAndTouch(k, ttl)
		return allowed(err, ErrIsList)
	case 20:
		switch rng.IntN(500) {
		case 0:
			d.FlushAll()
		case 1:
			d.FlushAllAfter(time.Second)
		case 2:
			d.FlushExpired(5)
		}
		return nil
	default:
		clk.advance(time.Duration(rng.IntN(300)) * time.Millisecond)
		return nil
	}
}

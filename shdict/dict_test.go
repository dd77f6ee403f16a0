package shdict

import (
	"errors"
	"math"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestNew(t *testing.T) {
	cases := []struct {
		name       string
		capacity   int64
		opts       Options
		wantErr    error
		wantShards int
	}{
		{name: "below minimum", capacity: MinCapacity - 1, wantErr: ErrCapacity},
		{name: "zero", capacity: 0, wantErr: ErrCapacity},
		{name: "minimum", capacity: MinCapacity, wantShards: 1},
		{name: "1m one shard", capacity: 1 << 20, wantShards: 1},
		{name: "8m two shards", capacity: 8 << 20, wantShards: 2},
		{name: "64m sixteen shards", capacity: 64 << 20, wantShards: 16},
		{name: "1g capped at sixteen", capacity: 1 << 30, wantShards: 16},
		{name: "explicit rounded up", capacity: 1 << 20, opts: Options{Shards: 3}, wantShards: 4},
		{name: "explicit one", capacity: 64 << 20, opts: Options{Shards: 1}, wantShards: 1},
		{name: "negative shards", capacity: 1 << 20, opts: Options{Shards: -1}, wantErr: ErrBadOptions},
		{name: "too many shards", capacity: 1 << 20, opts: Options{Shards: 1 << 20}, wantErr: ErrBadOptions},
		{name: "negative max evictions", capacity: 1 << 20, opts: Options{MaxEvictions: -1}, wantErr: ErrBadOptions},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := New("dogs", tc.capacity, tc.opts)
			if tc.wantErr != nil {
				wantErr(t, "New", err, tc.wantErr)
				if tc.wantErr == ErrCapacity && !strings.Contains(err.Error(), "12288") {
					t.Errorf("error %q does not mention the minimum", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if len(d.shards) != tc.wantShards {
				t.Errorf("shards = %d, want %d", len(d.shards), tc.wantShards)
			}
			if d.Name() != "dogs" || d.Capacity() != tc.capacity {
				t.Errorf("Name/Capacity = %q/%d", d.Name(), d.Capacity())
			}
			if d.FreeSpace() != tc.capacity {
				t.Errorf("FreeSpace of an empty dict = %d, want %d", d.FreeSpace(), tc.capacity)
			}
			checkInvariants(t, d)
		})
	}
}

// TestKeyRules runs every key-taking method with an empty and an over-long
// key.
func TestKeyRules(t *testing.T) {
	d, _ := newTestDict(t, 1<<20, 0)
	calls := []struct {
		name string
		call func(key string) error
	}{
		{"Get", func(k string) error { _, _, err := d.Get(k); return err }},
		{"GetStale", func(k string) error { _, _, _, err := d.GetStale(k); return err }},
		{"Set", func(k string) error { _, err := d.Set(k, String("v"), 0, 0); return err }},
		{"SafeSet", func(k string) error { _, err := d.SafeSet(k, String("v"), 0, 0); return err }},
		{"Add", func(k string) error { _, err := d.Add(k, String("v"), 0, 0); return err }},
		{"SafeAdd", func(k string) error { _, err := d.SafeAdd(k, String("v"), 0, 0); return err }},
		{"Replace", func(k string) error { _, err := d.Replace(k, String("v"), 0, 0); return err }},
		{"CompareAndSwap", func(k string) error { _, err := d.CompareAndSwap(k, String("v"), 0, 0, 1); return err }},
		{"Delete", func(k string) error { _, err := d.Delete(k); return err }},
		{"Incr", func(k string) error { _, err := d.Incr(k, 1); return err }},
		{"IncrInit", func(k string) error { _, _, err := d.IncrInit(k, 1, 0, 0); return err }},
		{"LPush", func(k string) error { _, err := d.LPush(k, String("v")); return err }},
		{"RPush", func(k string) error { _, err := d.RPush(k, String("v")); return err }},
		{"LPop", func(k string) error { _, _, err := d.LPop(k); return err }},
		{"RPop", func(k string) error { _, _, err := d.RPop(k); return err }},
		{"LLen", func(k string) error { _, err := d.LLen(k); return err }},
		{"TTL", func(k string) error { _, err := d.TTL(k); return err }},
		{"Expire", func(k string) error { return d.Expire(k, time.Second) }},
		{"Append", func(k string) error { _, err := d.Append(k, "x"); return err }},
		{"Prepend", func(k string) error { _, err := d.Prepend(k, "x"); return err }},
		{"IncrDecimal", func(k string) error { _, err := d.IncrDecimal(k, 1, false); return err }},
		{"Touch", func(k string) error { return d.Touch(k, time.Second) }},
		{"GetAndTouch", func(k string) error { _, _, err := d.GetAndTouch(k, time.Second); return err }},
	}
	long := strings.Repeat("k", MaxKeyLen+1)
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			wantErr(t, "empty key", c.call(""), ErrEmptyKey)
			wantErr(t, "long key", c.call(long), ErrKeyTooLong)
		})
	}
	t.Run("65535 bytes works", func(t *testing.T) {
		k := strings.Repeat("x", MaxKeyLen)
		mustSet(t, d, k, String("v"), 0, 0)
		if it := mustGet(t, d, k); it.Str != "v" {
			t.Fatalf("Get = %q", it.Str)
		}
		if keys := d.Keys(0); !slices.Contains(keys, k) {
			t.Fatal("long key missing from Keys")
		}
	})
	checkInvariants(t, d)
}

func TestSetGetValues(t *testing.T) {
	cases := []struct {
		name  string
		v     Value
		flags uint32
	}{
		{"string", String("hello"), 0},
		{"binary string", String("a\x00b\xff\r\n"), 7},
		{"empty string", String(""), 0},
		{"number", Number(3.25), 0},
		{"negative zero", Number(math.Copysign(0, -1)), 0},
		{"infinity", Number(math.Inf(1)), 0},
		{"true", Bool(true), 1},
		{"false round-trips as false", Bool(false), 0},
		{"max flags", String("f"), math.MaxUint32},
		{"large string", String(strings.Repeat("z", 100000)), 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, _ := newTestDict(t, 4<<20, 0)
			forcible, err := d.Set("k", tc.v, 0, tc.flags)
			if err != nil || forcible {
				t.Fatalf("Set = %v, %v", forcible, err)
			}
			it := mustGet(t, d, "k")
			if it.Value != tc.v && !(math.IsNaN(it.Num) && math.IsNaN(tc.v.Num)) {
				t.Errorf("value = %+v, want %+v", it.Value, tc.v)
			}
			if it.Kind == KindNumber && math.Signbit(it.Num) != math.Signbit(tc.v.Num) {
				t.Errorf("sign lost")
			}
			if it.Flags != tc.flags || it.ExpiresAt != 0 || it.CAS == 0 {
				t.Errorf("meta = flags %d exp %d cas %d", it.Flags, it.ExpiresAt, it.CAS)
			}
			checkInvariants(t, d)
		})
	}
	t.Run("NaN", func(t *testing.T) {
		d, _ := newTestDict(t, 1<<20, 0)
		mustSet(t, d, "k", Number(math.NaN()), 0, 0)
		if it := mustGet(t, d, "k"); !math.IsNaN(it.Num) || it.Kind != KindNumber {
			t.Fatalf("got %+v", it.Value)
		}
	})
}

func TestBadValues(t *testing.T) {
	d, _ := newTestDict(t, 1<<20, 0)
	cases := []struct {
		name string
		call func() error
	}{
		{"Set zero value", func() error { _, err := d.Set("k", Value{}, 0, 0); return err }},
		{"Set list kind", func() error { _, err := d.Set("k", Value{Kind: KindList}, 0, 0); return err }},
		{"Add bad kind", func() error { _, err := d.Add("k", Value{Kind: 9}, 0, 0); return err }},
		{"LPush boolean", func() error { _, err := d.LPush("k", Bool(true)); return err }},
		{"RPush zero value", func() error { _, err := d.RPush("k", Value{}); return err }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, tc.name, tc.call(), ErrBadValue)
			if _, ok, _ := d.Get("k"); ok {
				t.Fatal("a rejected value was stored")
			}
		})
	}
}

func TestOverwriteAndCAS(t *testing.T) {
	cases := []struct {
		name string
		from Value
		to   Value
	}{
		{"same size in place", String("aaaa"), String("bbbb")},
		{"grow", String("a"), String(strings.Repeat("b", 500))},
		{"shrink", String(strings.Repeat("b", 500)), String("a")},
		{"string to number", String("abc"), Number(1)},
		{"number to bool", Number(1), Bool(true)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, clk := newTestDict(t, 1<<20, 0)
			mustSet(t, d, "k", tc.from, time.Minute, 5)
			first := mustGet(t, d, "k")
			clk.advance(time.Second)
			mustSet(t, d, "k", tc.to, 0, 0)
			it := mustGet(t, d, "k")
			if it.Value != tc.to || it.Flags != 0 || it.ExpiresAt != 0 {
				t.Fatalf("after overwrite: %+v", it)
			}
			if it.CAS <= first.CAS {
				t.Fatalf("CAS %d did not advance past %d", it.CAS, first.CAS)
			}
			if again := mustGet(t, d, "k"); again.CAS != it.CAS {
				t.Fatalf("a read changed the CAS")
			}
			checkInvariants(t, d)
		})
	}
}

func TestAddReplace(t *testing.T) {
	type step func(d *Dict, clk *fakeClock) error
	set := func(k string, ttl time.Duration) step {
		return func(d *Dict, _ *fakeClock) error { _, err := d.Set(k, String("old"), ttl, 0); return err }
	}
	wait := func(dur time.Duration) step {
		return func(_ *Dict, clk *fakeClock) error { clk.advance(dur); return nil }
	}
	cases := []struct {
		name     string
		setup    []step
		op       func(d *Dict) (bool, error)
		wantErr  error
		wantVal  string // value under "k" afterwards; "" = miss
		wantStal bool
	}{
		{name: "add missing", op: func(d *Dict) (bool, error) { return d.Add("k", String("new"), 0, 0) }, wantVal: "new"},
		{name: "add live fails", setup: []step{set("k", 0)},
			op: func(d *Dict) (bool, error) { return d.Add("k", String("new"), 0, 0) }, wantErr: ErrExists, wantVal: "old"},
		{name: "add expired succeeds", setup: []step{set("k", time.Second), wait(time.Second)},
			op: func(d *Dict) (bool, error) { return d.Add("k", String("new"), 0, 0) }, wantVal: "new"},
		{name: "safe add live fails", setup: []step{set("k", 0)},
			op: func(d *Dict) (bool, error) { return d.SafeAdd("k", String("new"), 0, 0) }, wantErr: ErrExists, wantVal: "old"},
		{name: "add flushed succeeds", setup: []step{set("k", 0), func(d *Dict, _ *fakeClock) error { d.FlushAll(); return nil }},
			op: func(d *Dict) (bool, error) { return d.Add("k", String("new"), 0, 0) }, wantVal: "new"},
		{name: "add on list exists", setup: []step{func(d *Dict, _ *fakeClock) error { _, err := d.RPush("k", String("e")); return err }},
			op: func(d *Dict) (bool, error) { return d.Add("k", String("new"), 0, 0) }, wantErr: ErrExists},
		{name: "replace missing", op: func(d *Dict) (bool, error) { return d.Replace("k", String("new"), 0, 0) }, wantErr: ErrNotFound},
		{name: "replace live", setup: []step{set("k", 0)},
			op: func(d *Dict) (bool, error) { return d.Replace("k", String("new"), 0, 0) }, wantVal: "new"},
		// "z" is older than "k", so the purge step stops at it and "k"
		// stays in memory as a stale entry.
		{name: "replace expired is not found", setup: []step{set("z", 0), set("k", time.Second), wait(2 * time.Second)},
			op: func(d *Dict) (bool, error) { return d.Replace("k", String("new"), 0, 0) }, wantErr: ErrNotFound, wantVal: "old", wantStal: true},
		{name: "replace list with scalar", setup: []step{func(d *Dict, _ *fakeClock) error { _, err := d.RPush("k", String("e")); return err }},
			op: func(d *Dict) (bool, error) { return d.Replace("k", String("new"), 0, 0) }, wantVal: "new"},
		{name: "set over list", setup: []step{func(d *Dict, _ *fakeClock) error { _, err := d.LPush("k", Number(1)); return err }},
			op: func(d *Dict) (bool, error) { return d.Set("k", String("new"), 0, 0) }, wantVal: "new"},
		{name: "safe set", op: func(d *Dict) (bool, error) { return d.SafeSet("k", String("new"), 0, 0) }, wantVal: "new"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, clk := newTestDict(t, 1<<20, 0)
			for _, s := range tc.setup {
				if err := s(d, clk); err != nil {
					t.Fatalf("setup: %v", err)
				}
			}
			forcible, err := tc.op(d)
			if forcible {
				t.Errorf("forcible on a roomy dict")
			}
			if tc.wantErr != nil {
				wantErr(t, "op", err, tc.wantErr)
			} else if err != nil {
				t.Fatalf("op: %v", err)
			}
			it, stale, found, err := d.GetStale("k")
			switch {
			case errors.Is(err, ErrIsList) && tc.wantVal == "":
			case tc.wantVal == "" && found:
				t.Errorf("k = %+v, want a miss", it)
			case tc.wantVal != "" && (!found || it.Str != tc.wantVal || stale != tc.wantStal):
				t.Errorf("k = %q found %v stale %v err %v, want %q stale %v", it.Str, found, stale, err, tc.wantVal, tc.wantStal)
			}
			checkInvariants(t, d)
		})
	}
}

func TestCompareAndSwap(t *testing.T) {
	cases := []struct {
		name    string
		prepare func(d *Dict, clk *fakeClock) uint64 // returns the cas to use
		wantErr error
		wantVal string
	}{
		{name: "missing", prepare: func(*Dict, *fakeClock) uint64 { return 1 }, wantErr: ErrNotFound},
		{name: "matching", prepare: func(d *Dict, _ *fakeClock) uint64 {
			d.Set("k", String("old"), 0, 0)
			it, _, _ := d.Get("k")
			return it.CAS
		}, wantVal: "new"},
		{name: "stale cas", prepare: func(d *Dict, _ *fakeClock) uint64 {
			d.Set("k", String("v1"), 0, 0)
			it, _, _ := d.Get("k")
			d.Set("k", String("old"), 0, 0)
			return it.CAS
		}, wantErr: ErrExists, wantVal: "old"},
		{name: "zero never matches", prepare: func(d *Dict, _ *fakeClock) uint64 {
			d.Set("k", String("old"), 0, 0)
			return 0
		}, wantErr: ErrExists, wantVal: "old"},
		{name: "expired is not found", prepare: func(d *Dict, clk *fakeClock) uint64 {
			d.Set("k", String("old"), time.Second, 0)
			it, _, _ := d.Get("k")
			clk.advance(time.Second)
			return it.CAS
		}, wantErr: ErrNotFound},
		{name: "touch keeps cas", prepare: func(d *Dict, _ *fakeClock) uint64 {
			d.Set("k", String("old"), 0, 0)
			it, _, _ := d.Get("k")
			d.Touch("k", time.Hour)
			d.GetAndTouch("k", time.Hour)
			return it.CAS
		}, wantVal: "new"},
		{name: "incr changes cas", prepare: func(d *Dict, _ *fakeClock) uint64 {
			d.Set("k", String("5"), 0, 0)
			it, _, _ := d.Get("k")
			d.IncrDecimal("k", 1, false)
			return it.CAS
		}, wantErr: ErrExists, wantVal: "6"},
		{name: "append changes cas", prepare: func(d *Dict, _ *fakeClock) uint64 {
			d.Set("k", String("ol"), 0, 0)
			it, _, _ := d.Get("k")
			d.Append("k", "d")
			return it.CAS
		}, wantErr: ErrExists, wantVal: "old"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, clk := newTestDict(t, 1<<20, 0)
			cas := tc.prepare(d, clk)
			_, err := d.CompareAndSwap("k", String("new"), 0, 9, cas)
			if tc.wantErr != nil {
				wantErr(t, "CompareAndSwap", err, tc.wantErr)
			} else if err != nil {
				t.Fatalf("CompareAndSwap: %v", err)
			}
			it, ok, _ := d.Get("k")
			if tc.wantVal == "" {
				if ok {
					t.Fatalf("k = %q, want a miss", it.Str)
				}
				return
			}
			if !ok || it.Str != tc.wantVal {
				t.Fatalf("k = %q (%v), want %q", it.Str, ok, tc.wantVal)
			}
			if tc.wantErr == nil && it.Flags != 9 {
				t.Fatalf("flags = %d, want 9", it.Flags)
			}
		})
	}
}

func TestCASUnique(t *testing.T) {
	d, _ := newTestDict(t, 1<<20, 4)
	seen := map[uint64]bool{}
	var last uint64
	for i := range 200 {
		k := string(rune('a' + i%7))
		mustSet(t, d, k, Number(float64(i)), 0, 0)
		it := mustGet(t, d, k)
		if seen[it.CAS] || it.CAS <= last {
			t.Fatalf("cas %d reused or not increasing (last %d)", it.CAS, last)
		}
		seen[it.CAS], last = true, it.CAS
	}
}

func TestDelete(t *testing.T) {
	cases := []struct {
		name    string
		prepare func(d *Dict, clk *fakeClock)
		want    bool
	}{
		{"missing", func(*Dict, *fakeClock) {}, false},
		{"live", func(d *Dict, _ *fakeClock) { d.Set("k", String("v"), 0, 0) }, true},
		{"expired", func(d *Dict, clk *fakeClock) { d.Set("k", String("v"), time.Second, 0); clk.advance(time.Hour) }, false},
		{"list", func(d *Dict, _ *fakeClock) { d.RPush("k", String("v")) }, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, clk := newTestDict(t, 1<<20, 0)
			tc.prepare(d, clk)
			existed, err := d.Delete("k")
			if err != nil || existed != tc.want {
				t.Fatalf("Delete = %v, %v; want %v", existed, err, tc.want)
			}
			if _, _, found, _ := d.GetStale("k"); found {
				t.Fatal("entry still present after Delete")
			}
			if d.Stats().Items != 0 || d.FreeSpace() != d.Capacity() {
				t.Fatalf("stats after delete: %+v free %d", d.Stats(), d.FreeSpace())
			}
			checkInvariants(t, d)
		})
	}
}

func TestIncr(t *testing.T) {
	cases := []struct {
		name      string
		prepare   func(d *Dict, clk *fakeClock)
		init      *float64
		initTTL   time.Duration
		step      float64
		want      float64
		wantErr   error
		wantFlags uint32
		wantExp   int64
	}{
		{name: "missing without init", step: 1, wantErr: ErrNotFound},
		{name: "missing with init", init: ptr(10.0), step: 2, want: 12},
		{name: "missing with init and ttl", init: ptr(0.0), initTTL: 5 * time.Second, step: 1, want: 1, wantExp: t0 + 5000},
		{name: "number", prepare: func(d *Dict, _ *fakeClock) { d.Set("k", Number(1.5), 0, 0) }, step: 2.25, want: 3.75},
		{name: "negative step", prepare: func(d *Dict, _ *fakeClock) { d.Set("k", Number(1), 0, 0) }, step: -3, want: -2},
		{name: "keeps ttl and flags", prepare: func(d *Dict, _ *fakeClock) { d.Set("k", Number(1), 10*time.Second, 42) },
			init: ptr(100.0), initTTL: time.Second, step: 1, want: 2, wantFlags: 42, wantExp: t0 + 10000},
		{name: "numeric string is not a number", prepare: func(d *Dict, _ *fakeClock) { d.Set("k", String("10"), 0, 0) }, step: 1, wantErr: ErrNotNumber},
		{name: "boolean is not a number", prepare: func(d *Dict, _ *fakeClock) { d.Set("k", Bool(true), 0, 0) }, init: ptr(1.0), step: 1, wantErr: ErrNotNumber},
		{name: "list is not a number", prepare: func(d *Dict, _ *fakeClock) { d.RPush("k", Number(1)) }, step: 1, wantErr: ErrNotNumber},
		{name: "expired without init", prepare: func(d *Dict, clk *fakeClock) { d.Set("k", Number(5), time.Second, 3); clk.advance(time.Second) }, step: 1, wantErr: ErrNotFound},
		{name: "expired number with init is reset", prepare: func(d *Dict, clk *fakeClock) { d.Set("k", Number(5), time.Second, 3); clk.advance(time.Second) },
			init: ptr(7.0), step: 1, want: 8},
		{name: "expired string with init", prepare: func(d *Dict, clk *fakeClock) { d.Set("k", String("xyz"), time.Second, 3); clk.advance(time.Second) },
			init: ptr(7.0), step: 1, want: 8},
		{name: "flushed with init", prepare: func(d *Dict, _ *fakeClock) { d.Set("k", Number(5), 0, 3); d.FlushAll() },
			init: ptr(0.0), step: 1, want: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, clk := newTestDict(t, 1<<20, 0)
			if tc.prepare != nil {
				tc.prepare(d, clk)
			}
			var got float64
			var err error
			if tc.init != nil {
				got, _, err = d.IncrInit("k", tc.step, *tc.init, tc.initTTL)
			} else {
				got, err = d.Incr("k", tc.step)
			}
			if tc.wantErr != nil {
				wantErr(t, "incr", err, tc.wantErr)
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("incr = %v, %v; want %v", got, err, tc.want)
			}
			it := mustGet(t, d, "k")
			if it.Kind != KindNumber || it.Num != tc.want || it.Flags != tc.wantFlags || it.ExpiresAt != tc.wantExp {
				t.Fatalf("stored %+v, want num %v flags %d exp %d", it, tc.want, tc.wantFlags, tc.wantExp)
			}
			checkInvariants(t, d)
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestLists(t *testing.T) {
	type op struct {
		do      string // lpush rpush lpop rpop llen
		v       Value
		want    any // int for push/llen; Value for pop; nil for a pop miss
		wantErr error
	}
	cases := []struct {
		name    string
		prepare func(d *Dict, clk *fakeClock)
		ops     []op
	}{
		{name: "queue", ops: []op{
			{do: "rpush", v: String("a"), want: 1},
			{do: "rpush", v: Number(2), want: 2},
			{do: "lpush", v: String("z"), want: 3},
			{do: "llen", want: 3},
			{do: "lpop", want: String("z")},
			{do: "rpop", want: Number(2)},
			{do: "lpop", want: String("a")},
			{do: "lpop", want: nil},
			{do: "llen", want: 0},
		}},
		{name: "many elements grow the ring", ops: func() []op {
			var ops []op
			for i := range 40 {
				if i%2 == 0 {
					ops = append(ops, op{do: "lpush", v: Number(float64(i)), want: i + 1})
				} else {
					ops = append(ops, op{do: "rpush", v: Number(float64(i)), want: i + 1})
				}
			}
			ops = append(ops, op{do: "lpop", want: Number(38)}, op{do: "rpop", want: Number(39)}, op{do: "llen", want: 38})
			return ops
		}()},
		{name: "missing", ops: []op{{do: "lpop", want: nil}, {do: "rpop", want: nil}, {do: "llen", want: 0}}},
		{name: "scalar is not a list", prepare: func(d *Dict, _ *fakeClock) { d.Set("k", String("s"), 0, 0) }, ops: []op{
			{do: "lpush", v: String("a"), wantErr: ErrNotList},
			{do: "rpush", v: String("a"), wantErr: ErrNotList},
			{do: "lpop", wantErr: ErrNotList},
			{do: "rpop", wantErr: ErrNotList},
			{do: "llen", wantErr: ErrNotList},
		}},
		{name: "expired scalar is replaced by a list", prepare: func(d *Dict, clk *fakeClock) { d.Set("k", String("s"), time.Second, 0); clk.advance(time.Second) }, ops: []op{
			{do: "llen", want: 0},
			{do: "rpush", v: String("a"), want: 1},
			{do: "lpop", want: String("a")},
		}},
		{name: "expired list", prepare: func(d *Dict, clk *fakeClock) {
			d.RPush("k", String("old"))
			d.Expire("k", time.Second)
			clk.advance(time.Second)
		}, ops: []op{
			{do: "lpop", want: nil},
			{do: "llen", want: 0},
			{do: "rpush", v: String("new"), want: 1},
			{do: "rpop", want: String("new")},
		}},
		{name: "binary elements", ops: []op{
			{do: "rpush", v: String("\x00\xff"), want: 1},
			{do: "rpush", v: String(""), want: 2},
			{do: "lpop", want: String("\x00\xff")},
			{do: "lpop", want: String("")},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, clk := newTestDict(t, 1<<20, 0)
			if tc.prepare != nil {
				tc.prepare(d, clk)
			}
			for n, o := range tc.ops {
				var got any
				var err error
				switch o.do {
				case "lpush":
					got, err = d.LPush("k", o.v)
				case "rpush":
					got, err = d.RPush("k", o.v)
				case "llen":
					got, err = d.LLen("k")
				case "lpop", "rpop":
					var v Value
					var found bool
					if o.do == "lpop" {
						v, found, err = d.LPop("k")
					} else {
						v, found, err = d.RPop("k")
					}
					if found {
						got = v
					}
				}
				if o.wantErr != nil {
					wantErr(t, o.do, err, o.wantErr)
					continue
				}
				if err != nil || got != o.want {
					t.Fatalf("op %d %s = %v, %v; want %v", n, o.do, got, err, o.want)
				}
				checkInvariants(t, d)
			}
		})
	}
	t.Run("get on list", func(t *testing.T) {
		d, _ := newTestDict(t, 1<<20, 0)
		d.RPush("k", String("a"))
		_, found, err := d.Get("k")
		wantErr(t, "Get", err, ErrIsList)
		if found {
			t.Fatal("found a list")
		}
		_, _, _, err = d.GetStale("k")
		wantErr(t, "GetStale", err, ErrIsList)
		_, _, err = d.GetAndTouch("k", 0)
		wantErr(t, "GetAndTouch", err, ErrIsList)
		if keys := d.Keys(0); !slices.Equal(keys, []string{"k"}) {
			t.Fatalf("Keys = %v; lists belong in it", keys)
		}
	})
	t.Run("pushed string is copied", func(t *testing.T) {
		d, _ := newTestDict(t, 1<<20, 0)
		b := []byte("abc")
		d.RPush("k", String(string(b)))
		b[0] = 'X'
		v, _, _ := d.LPop("k")
		if v.Str != "abc" {
			t.Fatalf("got %q", v.Str)
		}
	})
	t.Run("popping frees the bytes", func(t *testing.T) {
		d, _ := newTestDict(t, 1<<20, 0)
		for range 10 {
			d.RPush("k", String(strings.Repeat("x", 100)))
		}
		for range 10 {
			d.LPop("k")
		}
		if d.FreeSpace() != d.Capacity() || d.Stats().Items != 0 {
			t.Fatalf("free %d items %d after draining", d.FreeSpace(), d.Stats().Items)
		}
	})
}

func TestTTLAndExpire(t *testing.T) {
	cases := []struct {
		name    string
		prepare func(d *Dict, clk *fakeClock)
		wantTTL time.Duration
		wantErr error
		alive   bool // Get hits afterwards
	}{
		{name: "missing", prepare: func(*Dict, *fakeClock) {}, wantErr: ErrNotFound},
		{name: "no expiry is zero", prepare: func(d *Dict, _ *fakeClock) { d.Set("k", String("v"), 0, 0) }, alive: true},
		{name: "remaining", prepare: func(d *Dict, clk *fakeClock) {
			d.Set("k", String("v"), 10*time.Second, 0)
			clk.advance(3 * time.Second)
		},
			wantTTL: 7 * time.Second, alive: true},
		{name: "millisecond truncation", prepare: func(d *Dict, _ *fakeClock) { d.Set("k", String("v"), 1500*time.Microsecond, 0) },
			wantTTL: time.Millisecond, alive: true},
		{name: "under 1ms never expires", prepare: func(d *Dict, clk *fakeClock) {
			d.Set("k", String("v"), 999*time.Microsecond, 0)
			clk.advance(time.Hour)
		},
			alive: true},
		{name: "expired unpurged is negative", prepare: func(d *Dict, clk *fakeClock) { d.Set("k", String("v"), time.Second, 0); clk.advance(3 * time.Second) },
			wantTTL: -2 * time.Second},
		{name: "exactly at expiry", prepare: func(d *Dict, clk *fakeClock) { d.Set("k", String("v"), time.Second, 0); clk.advance(time.Second) },
			wantTTL: -time.Millisecond},
		{name: "negative ttl stores an expired entry", prepare: func(d *Dict, _ *fakeClock) { d.Set("k", String("v"), -time.Second, 0) },
			wantTTL: -time.Second},
		{name: "tiny negative ttl", prepare: func(d *Dict, _ *fakeClock) { d.Set("k", String("v"), -time.Nanosecond, 0) }, wantTTL: -time.Millisecond},
		{name: "expire sets", prepare: func(d *Dict, _ *fakeClock) { d.Set("k", String("v"), 0, 0); d.Expire("k", 4*time.Second) },
			wantTTL: 4 * time.Second, alive: true},
		{name: "expire zero clears", prepare: func(d *Dict, _ *fakeClock) { d.Set("k", String("v"), time.Second, 0); d.Expire("k", 0) }, alive: true},
		{name: "expire negative clears", prepare: func(d *Dict, _ *fakeClock) { d.Set("k", String("v"), time.Second, 0); d.Expire("k", -time.Second) }, alive: true},
		{name: "expire revives expired entry", prepare: func(d *Dict, clk *fakeClock) {
			d.Set("k", String("v"), time.Second, 0)
			clk.advance(5 * time.Second)
			d.Expire("k", 2*time.Second)
		}, wantTTL: 2 * time.Second, alive: true},
		{name: "expire revives flushed entry", prepare: func(d *Dict, _ *fakeClock) {
			d.Set("k", String("v"), 0, 0)
			d.FlushAll()
			d.Expire("k", 0)
		}, alive: true},
		{name: "flushed ttl is hugely negative", prepare: func(d *Dict, _ *fakeClock) { d.Set("k", String("v"), 0, 0); d.FlushAll() },
			wantTTL: time.Duration(flushedExpiry-t0) * time.Millisecond},
		{name: "list ttl", prepare: func(d *Dict, _ *fakeClock) { d.RPush("k", Number(1)); d.Expire("k", time.Minute) }, wantTTL: time.Minute, alive: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, clk := newTestDict(t, 1<<20, 0)
			tc.prepare(d, clk)
			got, err := d.TTL("k")
			if tc.wantErr != nil {
				wantErr(t, "TTL", err, tc.wantErr)
				wantErr(t, "Expire", d.Expire("k", time.Second), tc.wantErr)
				return
			}
			if err != nil || got != tc.wantTTL {
				t.Fatalf("TTL = %v, %v; want %v", got, err, tc.wantTTL)
			}
			_, ok, err := d.Get("k")
			if errors.Is(err, ErrIsList) {
				ok = true
			}
			if ok != tc.alive {
				t.Fatalf("alive = %v, want %v", ok, tc.alive)
			}
		})
	}
}

// TestFlushAll covers the OpenResty sequence: flush_all, then get misses,
// get_stale finds the value stale, add succeeds, keys are empty.
func TestFlushAll(t *testing.T) {
	d, clk := newTestDict(t, 1<<20, 0)
	// Enough keys that the purge steps of the operations below (two dead
	// entries from the LRU tail each) leave the newest ones in memory.
	for i := range 20 {
		mustSet(t, d, string(rune('a'+i)), String("v"+string(rune('a'+i))), 0, 3)
	}
	d.FlushAll()
	cases := []struct {
		name  string
		check func(t *testing.T)
	}{
		{"get misses", func(t *testing.T) {
			if _, ok, err := d.Get("t"); ok || err != nil {
				t.Fatalf("Get after flush: %v %v", ok, err)
			}
		}},
		{"get_stale is stale", func(t *testing.T) {
			it, stale, found, err := d.GetStale("t")
			if !found || !stale || err != nil || it.Str != "vt" || it.Flags != 3 || it.ExpiresAt != flushedExpiry {
				t.Fatalf("GetStale = %+v stale %v found %v err %v", it, stale, found, err)
			}
		}},
		{"keys empty", func(t *testing.T) {
			if keys := d.Keys(0); len(keys) != 0 || keys == nil {
				t.Fatalf("Keys = %#v", keys)
			}
		}},
		{"replace not found", func(t *testing.T) {
			_, err := d.Replace("s", String("x"), 0, 0)
			wantErr(t, "Replace", err, ErrNotFound)
		}},
		{"add succeeds", func(t *testing.T) {
			if _, err := d.Add("s", String("new"), 0, 0); err != nil {
				t.Fatal(err)
			}
			if it := mustGet(t, d, "s"); it.Str != "new" {
				t.Fatalf("d = %q", it.Str)
			}
		}},
		{"stored after flush survives", func(t *testing.T) {
			mustSet(t, d, "later", String("x"), 0, 0)
			clk.advance(time.Minute)
			mustGet(t, d, "later")
		}},
		{"flush_expired frees the rest", func(t *testing.T) {
			before := d.Stats().Items
			n := d.FlushExpired(0)
			if n == 0 || d.Stats().Items != before-int64(n) {
				t.Fatalf("FlushExpired = %d, items %d → %d", n, before, d.Stats().Items)
			}
			if _, _, found, _ := d.GetStale("t"); found {
				t.Fatal("flushed entry survived FlushExpired")
			}
			if keys := d.Keys(0); len(keys) != 2 {
				t.Fatalf("Keys = %v, want s and later", keys)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, tc.check)
	}
	checkInvariants(t, d)
}

func TestFlushAllAfter(t *testing.T) {
	d, clk := newTestDict(t, 1<<20, 2)
	mustSet(t, d, "before", String("x"), 0, 0)
	d.FlushAllAfter(10 * time.Second)
	clk.advance(5 * time.Second)
	mustSet(t, d, "during", String("x"), 0, 0)
	steps := []struct {
		name    string
		advance time.Duration
		set     string
		live    []string
		dead    []string
	}{
		{name: "before the deadline all live", live: []string{"before", "during"}},
		{name: "at the deadline all die", advance: 5 * time.Second, set: "at", dead: []string{"before", "during", "at"}},
		{name: "after the deadline new entries live", advance: time.Millisecond, set: "after", live: []string{"after"}, dead: []string{"before", "during", "at"}},
		{name: "later still", advance: time.Hour, set: "much later", live: []string{"after", "much later"}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			clk.advance(st.advance)
			if st.set != "" {
				mustSet(t, d, st.set, String("x"), 0, 0)
			}
			for _, k := range st.live {
				mustGet(t, d, k)
			}
			for _, k := range st.dead {
				if _, ok, _ := d.Get(k); ok {
					t.Fatalf("%q still visible", k)
				}
			}
		})
	}
	t.Run("zero delay is immediate", func(t *testing.T) {
		d.FlushAllAfter(0)
		if _, ok, _ := d.Get("after"); ok {
			t.Fatal("not flushed")
		}
	})
	t.Run("FlushAll cancels a pending flush", func(t *testing.T) {
		d.FlushAllAfter(time.Second)
		d.FlushAll()
		mustSet(t, d, "k", String("x"), 0, 0)
		clk.advance(2 * time.Second)
		mustGet(t, d, "k")
	})
}

func TestKeys(t *testing.T) {
	d, clk := newTestDict(t, 1<<20, 0)
	for _, k := range []string{"a", "b", "c", "d"} {
		mustSet(t, d, k, String("v"), 0, 0)
	}
	mustSet(t, d, "short", String("v"), time.Second, 0)
	mustGet(t, d, "a") // a becomes most recently used
	clk.advance(time.Second)
	cases := []struct {
		name string
		max  int
		want []string
	}{
		{"all, LRU first, expired excluded", 0, []string{"b", "c", "d", "a"}},
		{"limited", 2, []string{"b", "c"}},
		{"limit above count", 100, []string{"b", "c", "d", "a"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := d.Keys(tc.max); !slices.Equal(got, tc.want) {
				t.Fatalf("Keys(%d) = %v, want %v", tc.max, got, tc.want)
			}
		})
	}
}

// TestLRUOrder checks which operations move a key to the most recently used
// end. Keys a, b, c are stored in that order; the op runs on "a"; the table
// gives the resulting LRU order (oldest first).
func TestLRUOrder(t *testing.T) {
	bumped := []string{"b", "c", "a"}
	kept := []string{"a", "b", "c"}
	cases := []struct {
		name string
		op   func(d *Dict)
		want []string
	}{
		{"get", func(d *Dict) { d.Get("a") }, bumped},
		{"get_stale", func(d *Dict) { d.GetStale("a") }, bumped},
		{"set", func(d *Dict) { d.Set("a", String("x"), 0, 0) }, bumped},
		{"replace", func(d *Dict) { d.Replace("a", String("y"), 0, 0) }, bumped},
		{"failed add", func(d *Dict) { d.Add("a", String("y"), 0, 0) }, bumped},
		{"incr", func(d *Dict) {
			d.Set("a", Number(1), 0, 0)
			d.Set("b", Number(1), 0, 0)
			d.Set("c", Number(1), 0, 0)
			d.Incr("a", 1)
		}, bumped},
		{"touch", func(d *Dict) { d.Touch("a", time.Hour) }, bumped},
		{"get and touch", func(d *Dict) { d.GetAndTouch("a", time.Hour) }, bumped},
		{"append", func(d *Dict) { d.Append("a", "x") }, bumped},
		{"incr decimal", func(d *Dict) {
			d.Set("a", String("1"), 0, 0)
			d.Set("b", String("1"), 0, 0)
			d.Set("c", String("1"), 0, 0)
			d.IncrDecimal("a", 1, false)
		}, bumped},
		{"failed cas", func(d *Dict) { d.CompareAndSwap("a", String("x"), 0, 0, 12345) }, bumped},
		{"ttl", func(d *Dict) { d.TTL("a") }, kept},
		{"expire", func(d *Dict) { d.Expire("a", time.Hour) }, kept},
		{"get miss elsewhere", func(d *Dict) { d.Get("zzz") }, kept},
		{"keys", func(d *Dict) { d.Keys(0) }, kept},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, _ := newTestDict(t, 1<<20, 0)
			for _, k := range []string{"a", "b", "c"} {
				mustSet(t, d, k, String("1"), 0, 0)
			}
			tc.op(d)
			if got := lruKeys(d); !slices.Equal(got, tc.want) {
				t.Fatalf("LRU = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestAppendPrepend(t *testing.T) {
	cases := []struct {
		name    string
		prepare func(d *Dict, clk *fakeClock)
		prepend bool
		data    string
		wantErr error
		want    string
	}{
		{name: "missing", data: "x", wantErr: ErrNotFound},
		{name: "append", prepare: func(d *Dict, _ *fakeClock) { d.Set("k", String("abc"), time.Hour, 9) }, data: "def", want: "abcdef"},
		{name: "prepend", prepare: func(d *Dict, _ *fakeClock) { d.Set("k", String("abc"), time.Hour, 9) }, prepend: true, data: "xyz", want: "xyzabc"},
		{name: "append grows past size class", prepare: func(d *Dict, _ *fakeClock) { d.Set("k", String("abc"), time.Hour, 9) },
			data: strings.Repeat("z", 3000), want: "abc" + strings.Repeat("z", 3000)},
		{name: "prepend grows past size class", prepare: func(d *Dict, _ *fakeClock) { d.Set("k", String("abc"), time.Hour, 9) },
			prepend: true, data: strings.Repeat("z", 3000), want: strings.Repeat("z", 3000) + "abc"},
		{name: "empty data", prepare: func(d *Dict, _ *fakeClock) { d.Set("k", String("abc"), time.Hour, 9) }, data: "", want: "abc"},
		{name: "number", prepare: func(d *Dict, _ *fakeClock) { d.Set("k", Number(1), 0, 0) }, data: "x", wantErr: ErrNotString},
		{name: "boolean", prepare: func(d *Dict, _ *fakeClock) { d.Set("k", Bool(true), 0, 0) }, data: "x", wantErr: ErrNotString},
		{name: "list", prepare: func(d *Dict, _ *fakeClock) { d.RPush("k", String("a")) }, data: "x", wantErr: ErrNotString},
		{name: "expired", prepare: func(d *Dict, clk *fakeClock) { d.Set("k", String("abc"), time.Second, 0); clk.advance(time.Second) }, data: "x", wantErr: ErrNotFound},
	}
	for _, tc := range cases {
		for _, front := range []bool{tc.prepend} {
			t.Run(tc.name, func(t *testing.T) {
				d, clk := newTestDict(t, 1<<20, 0)
				if tc.prepare != nil {
					tc.prepare(d, clk)
				}
				var err error
				if front {
					_, err = d.Prepend("k", tc.data)
				} else {
					_, err = d.Append("k", tc.data)
				}
				if tc.wantErr != nil {
					wantErr(t, "pend", err, tc.wantErr)
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				it := mustGet(t, d, "k")
				if it.Str != tc.want || it.Flags != 9 || it.ExpiresAt != t0+3600000 {
					t.Fatalf("after: %q flags %d exp %d", it.Str, it.Flags, it.ExpiresAt)
				}
				checkInvariants(t, d)
			})
		}
	}
}

func TestIncrDecimal(t *testing.T) {
	cases := []struct {
		name     string
		stored   *Value
		delta    uint64
		decr     bool
		want     uint64
		wantErr  error
		wantText string
	}{
		{name: "missing", delta: 1, wantErr: ErrNotFound},
		{name: "incr", stored: ptr(String("41")), delta: 1, want: 42, wantText: "42"},
		{name: "incr grows", stored: ptr(String("99")), delta: 1, want: 100, wantText: "100"},
		{name: "decr pads", stored: ptr(String("100")), delta: 1, decr: true, want: 99, wantText: "99 "},
		{name: "decr to zero pads", stored: ptr(String("1000")), delta: 1000, decr: true, want: 0, wantText: "0   "},
		{name: "decr floors at zero", stored: ptr(String("10")), delta: 100, decr: true, want: 0, wantText: "0 "},
		{name: "incr wraps", stored: ptr(String("10")), delta: math.MaxUint64, want: 9, wantText: "9 "},
		{name: "padded value parses", stored: ptr(String("99 ")), delta: 1, want: 100, wantText: "100"},
		{name: "leading spaces parse", stored: ptr(String(" 12 ")), delta: 1, want: 13, wantText: "13  "},
		{name: "leading zeros", stored: ptr(String("007")), delta: 1, want: 8, wantText: "8  "},
		{name: "max uint64", stored: ptr(String("18446744073709551615")), delta: 0, want: math.MaxUint64, wantText: "18446744073709551615"},
		{name: "over uint64", stored: ptr(String("18446744073709551616")), delta: 1, wantErr: ErrNotNumber},
		{name: "21 digits with leading zeros", stored: ptr(String("000000000000000000001")), delta: 1, want: 2, wantText: "2                    "},
		{name: "plus sign", stored: ptr(String("+5")), delta: 1, want: 6, wantText: "6 "},
		{name: "minus zero", stored: ptr(String("-0")), delta: 1, want: 1, wantText: "1 "},
		{name: "minus wraps to a small number", stored: ptr(String("-18446744073709551615")), delta: 1, want: 2, wantText: "2                    "},
		{name: "other white space", stored: ptr(String("\t9\t")), delta: 1, want: 10, wantText: "10 "},
		{name: "ends at CR LF", stored: ptr(String("12\r\n")), delta: 1, want: 13, wantText: "13  "},
		{name: "letters", stored: ptr(String("12ab")), delta: 1, wantErr: ErrNotNumber},
		{name: "negative", stored: ptr(String("-12")), delta: 1, wantErr: ErrNotNumber},
		{name: "empty", stored: ptr(String("")), delta: 1, wantErr: ErrNotNumber},
		{name: "only spaces", stored: ptr(String("   ")), delta: 1, wantErr: ErrNotNumber},
		{name: "text after a space is ignored", stored: ptr(String("1 2")), delta: 1, want: 2, wantText: "2  "},
		{name: "sign alone", stored: ptr(String("+")), delta: 1, wantErr: ErrNotNumber},
		{name: "number value", stored: ptr(Number(5)), delta: 1, wantErr: ErrNotString},
		{name: "boolean value", stored: ptr(Bool(false)), delta: 1, wantErr: ErrNotString},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, _ := newTestDict(t, 1<<20, 0)
			if tc.stored != nil {
				mustSet(t, d, "k", *tc.stored, time.Hour, 77)
			}
			got, err := d.IncrDecimal("k", tc.delta, tc.decr)
			if tc.wantErr != nil {
				wantErr(t, "IncrDecimal", err, tc.wantErr)
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("IncrDecimal = %d, %v; want %d", got, err, tc.want)
			}
			it := mustGet(t, d, "k")
			if it.Str != tc.wantText || it.Flags != 77 || it.ExpiresAt != t0+3600000 {
				t.Fatalf("stored %q flags %d exp %d, want %q", it.Str, it.Flags, it.ExpiresAt, tc.wantText)
			}
			checkInvariants(t, d)
		})
	}
	t.Run("list value", func(t *testing.T) {
		d, _ := newTestDict(t, 1<<20, 0)
		d.RPush("k", String("1"))
		_, err := d.IncrDecimal("k", 1, false)
		wantErr(t, "IncrDecimal", err, ErrNotString)
	})
}

func TestTouch(t *testing.T) {
	cases := []struct {
		name    string
		prepare func(d *Dict, clk *fakeClock)
		ttl     time.Duration
		wantErr error
		wantExp int64
		alive   bool
	}{
		{name: "missing", ttl: time.Second, wantErr: ErrNotFound},
		{name: "sets ttl", prepare: func(d *Dict, _ *fakeClock) { d.Set("k", String("v"), 0, 0) }, ttl: time.Minute, wantExp: t0 + 60000, alive: true},
		{name: "zero clears", prepare: func(d *Dict, _ *fakeClock) { d.Set("k", String("v"), time.Second, 0) }, ttl: 0, alive: true},
		{name: "negative expires", prepare: func(d *Dict, _ *fakeClock) { d.Set("k", String("v"), 0, 0) }, ttl: -time.Second},
		{name: "expired is not found", prepare: func(d *Dict, clk *fakeClock) { d.Set("k", String("v"), time.Second, 0); clk.advance(time.Second) },
			ttl: time.Hour, wantErr: ErrNotFound},
		{name: "flushed is not found", prepare: func(d *Dict, _ *fakeClock) { d.Set("k", String("v"), 0, 0); d.FlushAll() },
			ttl: time.Hour, wantErr: ErrNotFound},
	}
	for _, tc := range cases {
		for _, gat := range []bool{false, true} {
			name := tc.name
			if gat {
				name += "/gat"
			}
			t.Run(name, func(t *testing.T) {
				d, clk := newTestDict(t, 1<<20, 0)
				if tc.prepare != nil {
					tc.prepare(d, clk)
				}
				var err error
				if gat {
					var it Item
					var found bool
					it, found, err = d.GetAndTouch("k", tc.ttl)
					if tc.wantErr != nil {
						if found || err != nil {
							t.Fatalf("GetAndTouch = %v, %v; want a plain miss", found, err)
						}
						return
					}
					if !found || it.Str != "v" || (tc.alive && it.ExpiresAt != tc.wantExp) {
						t.Fatalf("GetAndTouch = %+v, %v", it, found)
					}
				} else {
					err = d.Touch("k", tc.ttl)
					if tc.wantErr != nil {
						wantErr(t, "Touch", err, tc.wantErr)
						return
					}
				}
				if err != nil {
					t.Fatal(err)
				}
				it, ok, _ := d.Get("k")
				if ok != tc.alive || (ok && it.ExpiresAt != tc.wantExp) {
					t.Fatalf("after touch: found %v exp %d, want %v %d", ok, it.ExpiresAt, tc.alive, tc.wantExp)
				}
			})
		}
	}
}

func TestRange(t *testing.T) {
	d, clk := newTestDict(t, 4<<20, 4)
	want := map[string]string{}
	for i := range 1000 {
		k := "key" + strings.Repeat("x", i%5) + string(rune('A'+i%26)) + string(rune('0'+i%10)) + string(rune(i))
		mustSet(t, d, k, String(k+"v"), 0, uint32(i))
		want[k] = k + "v"
	}
	mustSet(t, d, "dead", String("x"), time.Second, 0)
	d.RPush("list", String("e1"))
	d.RPush("list", Number(2))
	clk.advance(time.Second)
	cases := []struct {
		name string
		stop int // stop after this many; 0 = never
	}{
		{"full walk", 0},
		{"early stop", 10},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := map[string]string{}
			n := 0
			d.Range(func(k string, it Item) bool {
				if it.Kind != KindString {
					t.Errorf("%q has kind %v", k, it.Kind)
				}
				got[k] = it.Str
				n++
				return tc.stop == 0 || n < tc.stop
			})
			if tc.stop > 0 {
				if n != tc.stop {
					t.Fatalf("visited %d after stop at %d", n, tc.stop)
				}
				return
			}
			if len(got) != len(want) {
				t.Fatalf("visited %d keys, want %d", len(got), len(want))
			}
			for k, v := range want {
				if got[k] != v {
					t.Fatalf("%q = %q, want %q", k, got[k], v)
				}
			}
		})
	}
	t.Run("callback may use the dict", func(t *testing.T) {
		n := 0
		d.Range(func(k string, it Item) bool {
			if got := mustGet(t, d, k); got.Str != it.Str {
				t.Fatalf("%q: Range %q, Get %q", k, it.Str, got.Str)
			}
			n++
			return n < 50
		})
		if n != 50 {
			t.Fatalf("visited %d", n)
		}
	})
	t.Run("lists", func(t *testing.T) {
		var seen []string
		d.RangeLists(func(k string, it Item, elems []Value) bool {
			seen = append(seen, k)
			if it.Kind != KindList || !slices.Equal(elems, []Value{String("e1"), Number(2)}) {
				t.Errorf("list %q: %+v %v", k, it, elems)
			}
			return true
		})
		if !slices.Equal(seen, []string{"list"}) {
			t.Fatalf("RangeLists saw %v", seen)
		}
	})
}

func TestStats(t *testing.T) {
	d, clk := newTestDict(t, 1<<20, 0)
	mustSet(t, d, "a", String("12345"), 0, 0)
	mustSet(t, d, "b", String("x"), time.Second, 0)
	st := d.Stats()
	wantBytes := 2*ItemOverhead + int64(roundSize(6)+roundSize(2))
	if st.Items != 2 || st.Bytes != wantBytes || st.Capacity != 1<<20 || d.FreeSpace() != (1<<20)-wantBytes {
		t.Fatalf("stats %+v free %d, want 2 items %d bytes", st, d.FreeSpace(), wantBytes)
	}
	clk.advance(time.Second)
	if n := d.FlushExpired(0); n != 1 {
		t.Fatalf("FlushExpired = %d", n)
	}
	if st := d.Stats(); st.Items != 1 || st.Expired != 1 || st.Evictions != 0 {
		t.Fatalf("after flush_expired: %+v", st)
	}
}

func TestFlushExpiredMax(t *testing.T) {
	// Six expired scalars, one expired list, one live entry.
	cases := []struct {
		name string
		max  int
		want int
	}{
		{"unlimited", 0, 7},
		{"limited", 4, 4},
		{"above count", 50, 7},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, clk := newTestDict(t, 1<<20, 2)
			for i := range 6 {
				mustSet(t, d, string(rune('a'+i)), Number(1), time.Second, 0)
			}
			mustSet(t, d, "live", Number(1), 0, 0)
			d.RPush("list", Number(1))
			d.Expire("list", time.Second)
			clk.advance(time.Second)
			if got := d.FlushExpired(tc.max); got != tc.want {
				t.Fatalf("FlushExpired(%d) = %d, want %d", tc.max, got, tc.want)
			}
			if left := d.Stats().Items; left != int64(8-tc.want) {
				t.Fatalf("items left %d, want %d", left, 8-tc.want)
			}
			mustGet(t, d, "live")
			checkInvariants(t, d)
		})
	}
}

// TestClockReads pins down when an operation reads the clock: only when it
// meets an expiry (the entry it works on, or the LRU tail it purges) or sets
// a ttl. A clock read costs as much as the rest of a Get on this hardware,
// and most cache entries never expire.
func TestClockReads(t *testing.T) {
	var reads atomic.Int64
	clk := newClock()
	counted := func() int64 { reads.Add(1); return clk.now() }
	newDict := func() *Dict {
		d, err := New("clock", 1<<20, Options{Shards: 1, Now: counted})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	plain := newDict() // no entry with a ttl: nothing should read the clock
	mustSet(t, plain, "forever", String("v"), 0, 0)
	timed := newDict()
	mustSet(t, timed, "expiring", String("v"), time.Minute, 0)
	tests := []struct {
		name string
		op   func()
		want int64
	}{
		{"get without expiry", func() { plain.Get("forever") }, 0},
		{"get miss", func() { plain.Get("absent") }, 0},
		{"set without ttl", func() { plain.Set("forever", String("w"), 0, 0) }, 0},
		{"incr without ttl", func() { plain.IncrInit("n", 1, 0, 0) }, 0},
		{"delete", func() { plain.Delete("n") }, 0},
		{"get with expiry", func() { timed.Get("expiring") }, 1},
		{"set with ttl", func() { plain.Set("other", String("w"), time.Minute, 0) }, 1},
		{"ttl of an expiring entry", func() { timed.TTL("expiring") }, 1},
	}
	for _, tc := range tests {
		reads.Store(0)
		tc.op()
		if got := reads.Load(); got != tc.want {
			t.Errorf("%s: %d clock reads, want %d", tc.name, got, tc.want)
		}
	}
	// Expiry still works when nothing else reads the clock first.
	clk.advance(2 * time.Minute)
	if _, ok, _ := timed.Get("expiring"); ok {
		t.Error("expiring entry still visible after its ttl")
	}
}

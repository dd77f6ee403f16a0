package shdict

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// Entries in these tests cost exactly 128 bytes: a 3-byte key and a 29-byte
// value fill a 32-byte buffer, plus ItemOverhead. A 12 KiB one-shard dict
// holds 96 of them.
const (
	smallCap = MinCapacity
	perEntry = 128
	fitCount = smallCap / perEntry
)

var val29 = String(strings.Repeat("v", 29))

func key3(i int) string { return fmt.Sprintf("k%02d", i) }

// fill stores n 128-byte entries k00, k01, ... and checks none was evicted.
func fill(t *testing.T, d *Dict, n int, ttl time.Duration) {
	t.Helper()
	for i := range n {
		forcible, err := d.Set(key3(i), val29, ttl, 0)
		if err != nil || forcible {
			t.Fatalf("fill %d: forcible %v err %v", i, forcible, err)
		}
	}
}

func TestEntryCost(t *testing.T) {
	if ItemOverhead+32 != perEntry {
		t.Fatalf("ItemOverhead = %d; the tests below assume 96", ItemOverhead)
	}
	if slotBytes != 64 {
		t.Fatalf("slot is %d bytes, want 64", slotBytes)
	}
}

func TestEviction(t *testing.T) {
	cases := []struct {
		name         string
		run          func(t *testing.T, d *Dict, clk *fakeClock)
		wantEvicted  []string // keys that must be gone
		wantKept     []string // keys that must still be there
		wantEvictCnt uint64
	}{
		{
			name: "set evicts the LRU entry and reports forcible",
			run: func(t *testing.T, d *Dict, _ *fakeClock) {
				fill(t, d, fitCount, 0)
				forcible, err := d.Set("new", String(strings.Repeat("n", 29)), 0, 0)
				if err != nil || !forcible {
					t.Fatalf("Set = %v, %v; want forcible", forcible, err)
				}
			},
			wantEvicted: []string{"k00"}, wantKept: []string{"k01", "new"}, wantEvictCnt: 1,
		},
		{
			name: "a get counts as a use",
			run: func(t *testing.T, d *Dict, _ *fakeClock) {
				fill(t, d, fitCount, 0)
				mustGet(t, d, "k00")
				if forcible, err := d.Set("new", String(strings.Repeat("n", 29)), 0, 0); err != nil || !forcible {
					t.Fatalf("Set = %v, %v", forcible, err)
				}
			},
			wantEvicted: []string{"k01"}, wantKept: []string{"k00", "k02", "new"}, wantEvictCnt: 1,
		},
		{
			name: "a big value evicts several",
			run: func(t *testing.T, d *Dict, _ *fakeClock) {
				fill(t, d, fitCount, 0)
				// 96 + 508 → 512-byte buffer: 608 bytes, five entries.
				if forcible, err := d.Set("big", String(strings.Repeat("b", 505)), 0, 0); err != nil || !forcible {
					t.Fatalf("Set = %v, %v", forcible, err)
				}
			},
			wantEvicted: []string{"k00", "k01", "k02", "k03", "k04"}, wantKept: []string{"k05", "big"}, wantEvictCnt: 5,
		},
		{
			name: "expired tail entries go first and are not forcible",
			run: func(t *testing.T, d *Dict, clk *fakeClock) {
				fill(t, d, 2, time.Second)
				for i := 2; i < fitCount; i++ {
					mustSet(t, d, key3(i), val29, 0, 0)
				}
				clk.advance(time.Second)
				forcible, err := d.SafeSet("new", String(strings.Repeat("n", 29)), 0, 0)
				if err != nil || forcible {
					t.Fatalf("SafeSet = %v, %v; want room from expired entries", forcible, err)
				}
			},
			wantEvicted: []string{"k00"}, wantKept: []string{"k02", "new"},
		},
		{
			name: "expired entries near the tail go before live ones",
			run: func(t *testing.T, d *Dict, clk *fakeClock) {
				mustSet(t, d, key3(0), val29, 0, 0)
				mustSet(t, d, key3(1), val29, time.Second, 0)
				for i := 2; i < fitCount; i++ {
					mustSet(t, d, key3(i), val29, 0, 0)
				}
				clk.advance(time.Second)
				// Not safe: it could evict k00, but k01 is dead and close.
				forcible, err := d.Set("new", String(strings.Repeat("n", 29)), 0, 0)
				if err != nil || forcible {
					t.Fatalf("Set = %v, %v; want the dead k01 reclaimed", forcible, err)
				}
			},
			wantEvicted: []string{"k01"}, wantKept: []string{"k00", "new"},
		},
		{
			name: "safe_set never evicts",
			run: func(t *testing.T, d *Dict, _ *fakeClock) {
				fill(t, d, fitCount, 0)
				forcible, err := d.SafeSet("new", val29, 0, 0)
				wantErr(t, "SafeSet", err, ErrNoMemory)
				if forcible {
					t.Fatal("forcible from safe_set")
				}
				forcible, err = d.SafeAdd("new", val29, 0, 0)
				wantErr(t, "SafeAdd", err, ErrNoMemory)
				if forcible {
					t.Fatal("forcible from safe_add")
				}
			},
			wantEvicted: []string{"new"}, wantKept: []string{"k00", "k95"},
		},
		{
			name: "an item bigger than the shard is refused without evicting",
			run: func(t *testing.T, d *Dict, _ *fakeClock) {
				fill(t, d, 10, 0)
				forcible, err := d.Set("huge", String(strings.Repeat("h", smallCap)), 0, 0)
				wantErr(t, "Set", err, ErrNoMemory)
				if forcible {
					t.Fatal("evicted for an item that can never fit")
				}
			},
			wantEvicted: []string{"huge"}, wantKept: []string{"k00", "k09"},
		},
		{
			name: "a failed set drops the old value",
			run: func(t *testing.T, d *Dict, _ *fakeClock) {
				fill(t, d, 3, 0)
				_, err := d.Set("k01", String(strings.Repeat("h", smallCap)), 0, 0)
				wantErr(t, "Set", err, ErrNoMemory)
			},
			wantEvicted: []string{"k01"}, wantKept: []string{"k00", "k02"},
		},
		{
			name: "overwriting in place needs no room",
			run: func(t *testing.T, d *Dict, _ *fakeClock) {
				fill(t, d, fitCount, 0)
				forcible, err := d.SafeSet("k00", String(strings.Repeat("w", 29)), 0, 0)
				if err != nil || forcible {
					t.Fatalf("SafeSet = %v, %v", forcible, err)
				}
			},
			wantKept: []string{"k00", "k01", "k95"},
		},
		{
			name: "lists never evict",
			run: func(t *testing.T, d *Dict, _ *fakeClock) {
				fill(t, d, fitCount, 0)
				_, err := d.LPush("list", String("x"))
				wantErr(t, "LPush", err, ErrNoMemory)
			},
			wantEvicted: []string{"list"}, wantKept: []string{"k00"},
		},
		{
			name: "a full list refuses more elements",
			run: func(t *testing.T, d *Dict, _ *fakeClock) {
				var err error
				for n := 0; err == nil && n < 1000; n++ {
					_, err = d.RPush("list", String("0123456789"))
				}
				wantErr(t, "RPush", err, ErrNoMemory)
				if n, _ := d.LLen("list"); n < 100 {
					t.Fatalf("only %d elements fit", n)
				}
			},
			wantKept: []string{"list"},
		},
		{
			name: "sets evict lists",
			run: func(t *testing.T, d *Dict, _ *fakeClock) {
				d.RPush("list", String("x"))
				fill(t, d, fitCount-2, 0)
				if forcible, err := d.Set("new", String(strings.Repeat("n", 500)), 0, 0); err != nil || !forcible {
					t.Fatalf("Set = %v, %v", forcible, err)
				}
			},
			wantEvicted: []string{"list"}, wantKept: []string{"new"},
		},
		{
			name: "append evicts others, never itself",
			run: func(t *testing.T, d *Dict, _ *fakeClock) {
				fill(t, d, fitCount, 0)
				forcible, err := d.Append("k00", strings.Repeat("a", 400))
				if err != nil || !forcible {
					t.Fatalf("Append = %v, %v", forcible, err)
				}
				if it := mustGet(t, d, "k00"); len(it.Str) != 429 {
					t.Fatalf("k00 has %d bytes", len(it.Str))
				}
			},
			wantEvicted: []string{"k01"}, wantKept: []string{"k00", "k95"},
		},
		{
			name: "append beyond the shard fails and keeps the value",
			run: func(t *testing.T, d *Dict, _ *fakeClock) {
				fill(t, d, 3, 0)
				forcible, err := d.Append("k00", strings.Repeat("a", smallCap))
				wantErr(t, "Append", err, ErrNoMemory)
				if forcible {
					t.Fatal("evicted for an append that can never fit")
				}
				if it := mustGet(t, d, "k00"); it.Str != val29.Str {
					t.Fatalf("k00 changed to %d bytes", len(it.Str))
				}
			},
			wantKept: []string{"k00", "k01", "k02"},
		},
		{
			name: "incr with init evicts",
			run: func(t *testing.T, d *Dict, _ *fakeClock) {
				fill(t, d, fitCount, 0)
				v, forcible, err := d.IncrInit("counter", 1, 0, 0)
				if err != nil || !forcible || v != 1 {
					t.Fatalf("IncrInit = %v, %v, %v", v, forcible, err)
				}
			},
			wantEvicted: []string{"k00"}, wantKept: []string{"counter", "k01"}, wantEvictCnt: 1,
		},
		{
			name: "add evicts",
			run: func(t *testing.T, d *Dict, _ *fakeClock) {
				fill(t, d, fitCount, 0)
				if forcible, err := d.Add("new", val29, 0, 0); err != nil || !forcible {
					t.Fatalf("Add = %v, %v", forcible, err)
				}
			},
			wantEvicted: []string{"k00"}, wantKept: []string{"new"}, wantEvictCnt: 1,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, clk := newTestDict(t, smallCap, 1)
			tc.run(t, d, clk)
			for _, k := range tc.wantEvicted {
				if _, _, found, _ := d.GetStale(k); found {
					t.Errorf("%q still present", k)
				}
			}
			for _, k := range tc.wantKept {
				if _, _, found, err := d.GetStale(k); !found && err == nil {
					t.Errorf("%q was evicted", k)
				}
			}
			if got := d.Stats().Evictions; tc.wantEvictCnt != 0 && got != tc.wantEvictCnt {
				t.Errorf("Evictions = %d, want %d", got, tc.wantEvictCnt)
			}
			checkInvariants(t, d)
		})
	}
}

// TestForcibleEvenWhenFailing pins the upstream quirk: with an eviction cap,
// a store that evicts and still does not fit answers ErrNoMemory with
// forcible=true.
func TestForcibleEvenWhenFailing(t *testing.T) {
	cases := []struct {
		name      string
		maxEvict  int
		valueLen  int
		wantErr   error
		wantForce bool
		wantGone  int
	}{
		{name: "cap reached", maxEvict: 2, valueLen: 505, wantErr: ErrNoMemory, wantForce: true, wantGone: 2},
		{name: "cap enough", maxEvict: 5, valueLen: 505, wantForce: true, wantGone: 5},
		{name: "no cap", maxEvict: 0, valueLen: 505, wantForce: true, wantGone: 5},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			d, err := New("t", smallCap, Options{Shards: 1, Now: clk.now, MaxEvictions: tc.maxEvict})
			if err != nil {
				t.Fatal(err)
			}
			fill(t, d, fitCount, 0)
			forcible, err := d.Set("big", String(strings.Repeat("b", tc.valueLen)), 0, 0)
			if tc.wantErr != nil {
				wantErr(t, "Set", err, tc.wantErr)
			} else if err != nil {
				t.Fatal(err)
			}
			if forcible != tc.wantForce {
				t.Fatalf("forcible = %v", forcible)
			}
			if got := int(d.Stats().Evictions); got != tc.wantGone {
				t.Fatalf("%d entries evicted, want %d", got, tc.wantGone)
			}
			checkInvariants(t, d)
		})
	}
}

// TestMinimumDict checks the smallest dict stores items and reports sane
// figures.
func TestMinimumDict(t *testing.T) {
	d, err := New("tiny", MinCapacity, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		if _, err := d.Set(fmt.Sprint("key", i), Number(float64(i)), 0, 0); err != nil {
			t.Fatal(err)
		}
	}
	st := d.Stats()
	if st.Items < 50 || st.Bytes > MinCapacity || st.Evictions == 0 {
		t.Fatalf("stats %+v", st)
	}
	if it := mustGet(t, d, "key199"); it.Num != 199 {
		t.Fatalf("newest key lost: %+v", it)
	}
	checkInvariants(t, d)
}

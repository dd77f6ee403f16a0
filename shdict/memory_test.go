package shdict

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// TestDensity is the fast, scaled-down form of BenchmarkDensity64MiB: a
// dict filled with 32-byte values under 10-byte keys must hold at least 70%
// of what memcached holds in the same memory (~550k items in 64 MiB).
func TestDensity(t *testing.T) {
	cases := []struct {
		name     string
		capacity int64
	}{
		{"4 MiB one shard", 4 << 20},
		{"8 MiB two shards", 8 << 20},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := New("density", tc.capacity, Options{})
			if err != nil {
				t.Fatal(err)
			}
			n := int(tc.capacity / 100)
			var kb []byte
			for i := range n {
				kb = fmt.Appendf(kb[:0], "key:%06d", i)
				if _, err := d.Set(string(kb), value32, 0, 0); err != nil {
					t.Fatal(err)
				}
			}
			st := d.Stats()
			floor := int64(0.7 * 550_000 * float64(tc.capacity) / (64 << 20))
			t.Logf("%d items (floor %d, %.2f of memcached's density)", st.Items, floor, float64(st.Items)/(550_000*float64(tc.capacity)/(64<<20)))
			if st.Items < floor || st.Evictions == 0 {
				t.Fatalf("stats %+v, want at least %d items after evicting", st, floor)
			}
		})
	}
}

// TestHeapFollowsAccounting checks that the bytes the dict charges are the
// bytes the Go heap really holds: after writing twice the capacity of
// distinct values, the live heap attributable to the dict must be close to
// the capacity.
func TestHeapFollowsAccounting(t *testing.T) {
	cases := []struct {
		name     string
		capacity int64
		valueLen int
	}{
		{"100-byte values", 16 << 20, 100},
		{"32-byte values", 8 << 20, 32},
		{"1000-byte values", 16 << 20, 1000},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			base := heapInUse()
			d, err := New("mem", tc.capacity, Options{})
			if err != nil {
				t.Fatal(err)
			}
			v := String(strings.Repeat("v", tc.valueLen))
			var kb []byte
			for i := range 2 * int(tc.capacity) / tc.valueLen {
				kb = fmt.Appendf(kb[:0], "item:%09d", i)
				if _, err := d.Set(string(kb), v, 0, 0); err != nil {
					t.Fatal(err)
				}
			}
			heap := float64(heapInUse()) - float64(base)
			ratio := heap / float64(tc.capacity)
			t.Logf("heap %.1f MiB for a %d MiB dict (%.3f), %d items", heap/(1<<20), tc.capacity>>20, ratio, d.Stats().Items)
			if ratio < 0.8 || ratio > 1.25 {
				t.Fatalf("heap/capacity = %.3f, want within [0.8, 1.25]", ratio)
			}
			runtime.KeepAlive(d)
		})
	}
}

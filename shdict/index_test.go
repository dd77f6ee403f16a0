package shdict

import (
	"math/rand/v2"
	"testing"
)

// lookup finds slot i under hash h the way shard.find probes, or reports
// false when an empty entry ends the probe first.
func (x *index) lookup(h uint64, i int32) bool {
	if len(x.tab) == 0 {
		return false
	}
	mask := uint64(len(x.tab) - 1)
	e := indexEntry(h, i)
	for p := home(e, mask); x.tab[p] != 0; p = (p + 1) & mask {
		if x.tab[p] == e {
			return true
		}
	}
	return false
}

// TestIndexModel drives the index with random adds and deletes against a
// map, with hashes drawn so that probe runs are long, wrap around the end of
// the table, and share their stored 32 bits (the cases backward-shift
// deletion has to get right), checking every live entry is found after
// every step and no deleted one is.
func TestIndexModel(t *testing.T) {
	for _, tc := range []struct {
		name  string
		hash  func(r *rand.Rand) uint64
		steps int
	}{
		{"spread", func(r *rand.Rand) uint64 { return r.Uint64() }, 20000},
		{"clustered homes", func(r *rand.Rand) uint64 { return r.Uint64()&^0xff | uint64(r.IntN(4)) }, 4000},
		{"near the end", func(r *rand.Rand) uint64 { return r.Uint64()&^0xffff | 0xfff0 | uint64(r.IntN(16)) }, 4000},
		{"equal stored bits", func(r *rand.Rand) uint64 { return uint64(r.IntN(8))<<40 | 7 }, 2000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			var x index
			live := map[int32]uint64{}
			next := int32(0)
			for step := 0; step < tc.steps; step++ {
				if len(live) == 0 || r.IntN(3) > 0 {
					h := tc.hash(r)
					x.add(h, next)
					live[next] = h
					next++
				} else {
					for i, h := range live { // a random live slot
						x.delete(h, i)
						delete(live, i)
						if x.lookup(h, i) {
							t.Fatalf("step %d: slot %d found after delete", step, i)
						}
						break
					}
				}
				if step%97 == 0 || step == tc.steps-1 {
					for i, h := range live {
						if !x.lookup(h, i) {
							t.Fatalf("step %d: slot %d (hash %#x) lost; %d live, table %d", step, i, h, len(live), len(x.tab))
						}
					}
					if x.n != len(live) {
						t.Fatalf("step %d: n = %d, want %d", step, x.n, len(live))
					}
				}
			}
			if 4*x.n > 3*len(x.tab) {
				t.Fatalf("load %d/%d above 3/4", x.n, len(x.tab))
			}
		})
	}
}

func TestIndexDeleteAbsent(t *testing.T) {
	var x index
	x.delete(1, 1) // empty table
	x.add(5, 1)
	x.delete(5, 2) // same home, other slot
	x.delete(6, 1) // other hash
	if !x.lookup(5, 1) || x.n != 1 {
		t.Fatal("deleting absent entries disturbed the index")
	}
}

package shdict

// index maps key hashes to slots for one shard: open addressing with linear
// probing over a power-of-two table of uint64 entries, each the low 32 bits
// of a key's hash above the slot number plus one (0 marks an empty entry).
// An entry's home position is those hash bits masked to the table size, so
// the table grows without touching the keys.
//
// It replaced a Go map from the full hash to the first slot of a collision
// chain. A lookup now reads one table line and then the slot, where a map
// probe read a group of control bytes and key/value pairs; at 16 requests in
// flight the index probe was a fifth of a get's dictionary time, most of it
// cache misses. Keys that share the stored 32 bits simply occupy separate
// entries: find compares the key itself, so no chain is needed.
type index struct {
	tab []uint64
	n   int // entries in use
}

// indexMinSize is the table size on first insert.
const indexMinSize = 16

func indexEntry(h uint64, i int32) uint64 { return uint64(uint32(h))<<32 | uint64(uint32(i)+1) }

func entrySlot(e uint64) int32 { return int32(uint32(e) - 1) }

// home is where an entry's probe sequence starts in a table of mask+1
// entries.
func home(e, mask uint64) uint64 { return (e >> 32) & mask }

// add records slot i under hash h. It never looks for a duplicate: callers
// add a key only after find missed.
func (x *index) add(h uint64, i int32) {
	if (x.n+1)*4 > len(x.tab)*3 {
		x.grow()
	}
	e := indexEntry(h, i)
	mask := uint64(len(x.tab) - 1)
	p := home(e, mask)
	for x.tab[p] != 0 {
		p = (p + 1) & mask
	}
	x.tab[p] = e
	x.n++
}

func (x *index) grow() {
	size := max(2*len(x.tab), indexMinSize)
	old := x.tab
	x.tab = make([]uint64, size)
	mask := uint64(size - 1)
	for _, e := range old {
		if e == 0 {
			continue
		}
		p := home(e, mask)
		for x.tab[p] != 0 {
			p = (p + 1) & mask
		}
		x.tab[p] = e
	}
}

// delete removes slot i, recorded under hash h, closing the gap by moving
// back later entries of the same probe run (no tombstones, so lookups never
// slow down with churn).
func (x *index) delete(h uint64, i int32) {
	if len(x.tab) == 0 {
		return
	}
	e := indexEntry(h, i)
	mask := uint64(len(x.tab) - 1)
	p := home(e, mask)
	for x.tab[p] != e {
		if x.tab[p] == 0 {
			return // not there; callers only delete what they added
		}
		p = (p + 1) & mask
	}
	x.tab[p] = 0
	x.n--
	for j := (p + 1) & mask; x.tab[j] != 0; j = (j + 1) & mask {
		// The entry at j may fill the hole at p unless its home lies
		// cyclically in (p, j]: then p is not on its probe path.
		k := home(x.tab[j], mask)
		if (p < j && p < k && k <= j) || (p > j && (k > p || k <= j)) {
			continue
		}
		x.tab[p] = x.tab[j]
		x.tab[j] = 0
		p = j
	}
}

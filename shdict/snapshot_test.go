package shdict

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// entry is the observable state of one dictionary entry, lists included.
type entry struct {
	val   Value
	flags uint32
	exp   int64
	elems []Value
}

// dump reads every live entry of d, through the public walkers.
func dump(d *Dict) map[string]entry {
	out := map[string]entry{}
	d.Range(func(k string, it Item) bool {
		out[k] = entry{val: it.Value, flags: it.Flags, exp: it.ExpiresAt}
		return true
	})
	d.RangeLists(func(k string, it Item, elems []Value) bool {
		out[k] = entry{val: Value{Kind: KindList}, flags: it.Flags, exp: it.ExpiresAt, elems: elems}
		return true
	})
	return out
}

func sameValue(a, b Value) bool {
	if a.Kind == KindNumber && b.Kind == KindNumber {
		// Bit patterns, so that NaN and -0 count as restored exactly.
		return math.Float64bits(a.Num) == math.Float64bits(b.Num)
	}
	return a == b
}

func sameEntries(t *testing.T, got, want map[string]entry) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("restored %d entries, want %d", len(got), len(want))
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			t.Fatalf("key %q not restored", k)
		}
		if !sameValue(g.val, w.val) || g.flags != w.flags || g.exp != w.exp || len(g.elems) != len(w.elems) {
			t.Fatalf("key %q: got %+v, want %+v", k, g, w)
		}
		for i := range w.elems {
			if !sameValue(g.elems[i], w.elems[i]) {
				t.Fatalf("key %q element %d: got %+v, want %+v", k, i, g.elems[i], w.elems[i])
			}
		}
	}
}

// fillKinds puts one of every kind of entry into d.
func fillKinds(t *testing.T, d *Dict) {
	t.Helper()
	mustSet(t, d, "str", String("hello"), 0, 0)
	mustSet(t, d, "bin", String("a\x00b\r\n\xff"), time.Hour, 7)
	mustSet(t, d, "empty", String(""), 0, math.MaxUint32)
	mustSet(t, d, "num", Number(3.25), 90*time.Second, 1)
	mustSet(t, d, "nan", Number(math.NaN()), 0, 0)
	mustSet(t, d, "negzero", Number(math.Copysign(0, -1)), 0, 0)
	mustSet(t, d, "inf", Number(math.Inf(-1)), 0, 0)
	mustSet(t, d, "yes", Bool(true), 0, 2)
	mustSet(t, d, "no", Bool(false), time.Minute, 0)
	mustSet(t, d, strings.Repeat("k", MaxKeyLen), String("long key"), 0, 0)
	mustSet(t, d, "big", String(strings.Repeat("v", 100000)), 0, 9)
	for _, v := range []Value{String("a"), Number(2), String(""), Number(-1.5)} {
		if _, err := d.RPush("list", v); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Expire("list", 10*time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := d.LPush("list2", String("only")); err != nil {
		t.Fatal(err)
	}
	// Dead entries are not written.
	mustSet(t, d, "expired", String("x"), time.Millisecond, 0)
	mustSet(t, d, "gone", String("x"), 0, 0)
	d.Delete("gone")
}

func snapshotOf(t *testing.T, dicts ...*Dict) []byte {
	t.Helper()
	var buf bytes.Buffer
	st, err := WriteSnapshot(&buf, dicts)
	if err != nil {
		t.Fatal(err)
	}
	if st.Bytes != int64(buf.Len()) {
		t.Fatalf("stats say %d bytes, wrote %d", st.Bytes, buf.Len())
	}
	return buf.Bytes()
}

func TestSnapshotRoundTrip(t *testing.T) {
	cases := []struct {
		name     string
		capacity int64
		shards   int
	}{
		{"one shard", 4 << 20, 1},
		{"sixteen shards", 64 << 20, 16},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src, clk := newTestDict(t, c.capacity, c.shards)
			fillKinds(t, src)
			clk.advance(2 * time.Millisecond) // "expired" dies
			other, _ := newTestDict(t, 1<<20, 1)
			other.name = "other"
			mustSet(t, other, "k", String("in the second dict"), 0, 3)
			want, wantOther := dump(src), dump(other)
			if _, ok := want["expired"]; ok {
				t.Fatal("test setup: the expired entry is still live")
			}
			data := snapshotOf(t, src, other)

			dst, _ := New("test", c.capacity, Options{Shards: c.shards, Now: clk.now})
			dst2, _ := New("other", 1<<20, Options{Now: clk.now})
			st, err := ReadSnapshot(bytes.NewReader(data), []*Dict{dst2, dst})
			if err != nil {
				t.Fatal(err)
			}
			sameEntries(t, dump(dst), want)
			sameEntries(t, dump(dst2), wantOther)
			wantSt := SnapshotStats{Dicts: 2, Scalars: len(want) - 2 + 1, Lists: 2, Bytes: int64(len(data))}
			if st != wantSt {
				t.Fatalf("stats %+v, want %+v", st, wantSt)
			}
			// Restored entries are ordinary entries: they answer the store's
			// methods and carry fresh CAS uniques.
			it := mustGet(t, dst, "bin")
			if it.CAS == 0 || it.Str != "a\x00b\r\n\xff" {
				t.Fatalf("restored item %+v", it)
			}
			if n, err := dst.LLen("list"); err != nil || n != 4 {
				t.Fatalf("LLen(list) = %d, %v", n, err)
			}
			if ttl, err := dst.TTL("num"); err != nil || ttl != 90*time.Second-2*time.Millisecond {
				t.Fatalf("TTL(num) = %v, %v", ttl, err)
			}
			if c.shards == 1 {
				src.FlushExpired(0)
				if got, want := dst.Stats().Bytes, src.Stats().Bytes; got != want {
					t.Fatalf("restored dict charges %d bytes, the original %d", got, want)
				}
			}
		})
	}
}

func TestSnapshotExpiryIsAbsolute(t *testing.T) {
	cases := []struct {
		name     string
		down     time.Duration // time between save and load
		ttl      time.Duration
		restored bool
		left     time.Duration
	}{
		{"time left", 10 * time.Second, time.Minute, true, 50 * time.Second},
		{"expired while down", 2 * time.Minute, time.Minute, false, 0},
		{"expires exactly at load", time.Minute, time.Minute, false, 0},
		{"never expires", 1000 * time.Hour, 0, true, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src, clk := newTestDict(t, 1<<20, 1)
			mustSet(t, src, "k", String("v"), c.ttl, 5)
			data := snapshotOf(t, src)
			clk.advance(c.down)
			dst, _ := New("test", 1<<20, Options{Now: clk.now})
			st, err := ReadSnapshot(bytes.NewReader(data), []*Dict{dst})
			if err != nil {
				t.Fatal(err)
			}
			_, found, _ := dst.Get("k")
			if found != c.restored {
				t.Fatalf("found %v, want %v", found, c.restored)
			}
			if !c.restored {
				if st.Expired != 1 || st.Scalars != 1 {
					t.Fatalf("stats %+v, want one expired scalar", st)
				}
				return
			}
			if ttl, _ := dst.TTL("k"); ttl != c.left {
				t.Fatalf("TTL = %v, want %v", ttl, c.left)
			}
		})
	}
}

func TestSnapshotRefusesBadData(t *testing.T) {
	src, clk := newTestDict(t, 1<<20, 1)
	mustSet(t, src, "a", String("alpha"), time.Hour, 1)
	mustSet(t, src, "n", Number(7), 0, 0)
	if _, err := src.RPush("l", String("x")); err != nil {
		t.Fatal(err)
	}
	good := snapshotOf(t, src)
	patch := func(f func(b []byte) []byte) []byte {
		return f(append([]byte(nil), good...))
	}
	cases := []struct {
		name  string
		data  []byte
		dicts []string
		want  error
	}{
		{"empty file", nil, []string{"test"}, ErrSnapshotFormat},
		{"foreign file", []byte("VALUE a 0 1\r\nx\r\nEND\r\n"), []string{"test"}, ErrSnapshotFormat},
		{"future version", patch(func(b []byte) []byte { b[6] = '2'; return b }), []string{"test"}, ErrSnapshotFormat},
		{"missing checksum", good[:len(good)-4], []string{"test"}, ErrSnapshotCorrupt},
		{"half the file", good[:len(good)/2], []string{"test"}, ErrSnapshotCorrupt},
		{"checksum flipped", patch(func(b []byte) []byte { b[len(b)-1] ^= 1; return b }), []string{"test"}, ErrSnapshotCorrupt},
		{"value byte flipped", patch(func(b []byte) []byte { b[bytes.Index(b, []byte("alpha"))] ^= 0x20; return b }), []string{"test"}, ErrSnapshotCorrupt},
		{"trailing garbage", append(append([]byte(nil), good...), 0), []string{"test"}, ErrSnapshotCorrupt},
		{"unknown dictionary", good, []string{"other"}, ErrSnapshotDict},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var dicts []*Dict
			for _, n := range c.dicts {
				d, _ := New(n, 1<<20, Options{Now: clk.now})
				dicts = append(dicts, d)
			}
			_, err := ReadSnapshot(bytes.NewReader(c.data), dicts)
			wantErr(t, "ReadSnapshot", err, c.want)
			for _, d := range dicts {
				if n := len(dump(d)); n != 0 {
					t.Fatalf("refused snapshot left %d entries in %s", n, d.Name())
				}
			}
		})
	}
}

// TestSnapshotEveryTruncationAndBitFlip checks exhaustively, on a small
// snapshot, that no prefix and no single-bit change is ever accepted.
func TestSnapshotEveryTruncationAndBitFlip(t *testing.T) {
	src, clk := newTestDict(t, 1<<20, 1)
	mustSet(t, src, "a", String("alpha"), time.Hour, 1)
	mustSet(t, src, "b", Bool(true), 0, 0)
	if _, err := src.RPush("l", Number(1)); err != nil {
		t.Fatal(err)
	}
	good := snapshotOf(t, src)
	dst, _ := New("test", 1<<20, Options{Now: clk.now})
	load := func(b []byte) error {
		_, err := ReadSnapshot(bytes.NewReader(b), []*Dict{dst})
		return err
	}
	for n := 0; n < len(good); n++ {
		if err := load(good[:n]); err == nil {
			t.Fatalf("a snapshot cut to %d of %d bytes was accepted", n, len(good))
		}
	}
	for i := 0; i < len(good)*8; i++ {
		b := append([]byte(nil), good...)
		b[i/8] ^= 1 << (i % 8)
		if err := load(b); err == nil {
			t.Fatalf("a snapshot with bit %d flipped was accepted", i)
		}
	}
	if n := len(dump(dst)); n != 0 {
		t.Fatalf("refused snapshots left %d entries behind", n)
	}
	if err := load(good); err != nil {
		t.Fatalf("the intact snapshot: %v", err)
	}
}

func TestSnapshotIntoSmallerDict(t *testing.T) {
	src, clk := newTestDict(t, 1<<20, 1)
	for i := 0; i < 2000; i++ {
		mustSet(t, src, fmt.Sprintf("key%05d", i), String(strings.Repeat("x", 200)), 0, 0)
	}
	huge, _ := New("test", 8<<20, Options{Shards: 1, Now: clk.now})
	mustSet(t, huge, "huge", String(strings.Repeat("h", 200<<10)), 0, 0)
	cases := []struct {
		name    string
		src     *Dict
		evicted bool
		dropped int
	}{
		{"evicts to fit", src, true, 0},
		{"drops what can never fit", huge, false, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data := snapshotOf(t, c.src)
			dst, _ := New("test", 128<<10, Options{Shards: 1, Now: clk.now})
			st, err := ReadSnapshot(bytes.NewReader(data), []*Dict{dst})
			if err != nil {
				t.Fatal(err)
			}
			if (st.Evicted > 0) != c.evicted || st.Dropped != c.dropped {
				t.Fatalf("stats %+v: want evictions %v, dropped %d", st, c.evicted, c.dropped)
			}
			if got := dst.Stats(); got.Bytes > got.Capacity {
				t.Fatalf("restored dict over capacity: %+v", got)
			}
		})
	}
}

func TestSaveAndLoadSnapshotFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cache.snap")
	src, clk := newTestDict(t, 1<<20, 1)
	mustSet(t, src, "v1", String("first"), 0, 0)
	if _, err := SaveSnapshot(path, []*Dict{src}); err != nil {
		t.Fatal(err)
	}
	mustSet(t, src, "v2", String("second"), 0, 0)
	st, err := SaveSnapshot(path, []*Dict{src})
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Size() != st.Bytes {
		t.Fatalf("file size %v (%v), stats %d", fi, err, st.Bytes)
	}
	cases := []struct {
		name    string
		path    string
		wantErr error
		keys    int
	}{
		{"latest save wins", path, nil, 2},
		{"missing file", filepath.Join(dir, "none.snap"), fs.ErrNotExist, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dst, _ := New("test", 1<<20, Options{Now: clk.now})
			_, err := LoadSnapshot(c.path, []*Dict{dst})
			if c.wantErr != nil {
				wantErr(t, "LoadSnapshot", err, c.wantErr)
			} else if err != nil {
				t.Fatal(err)
			}
			if n := len(dump(dst)); n != c.keys {
				t.Fatalf("loaded %d keys, want %d", n, c.keys)
			}
		})
	}
	t.Run("failed save keeps the old file", func(t *testing.T) {
		before, _ := os.ReadFile(path)
		// A directory where the file should go makes the rename fail
		// after the data was written.
		blocked := filepath.Join(dir, "blocked")
		os.MkdirAll(filepath.Join(blocked, "x"), 0o755)
		if _, err := SaveSnapshot(blocked, []*Dict{src}); err == nil {
			t.Fatal("save over a directory succeeded")
		}
		after, _ := os.ReadFile(path)
		if !bytes.Equal(before, after) {
			t.Fatal("the existing snapshot changed")
		}
		left, _ := filepath.Glob(filepath.Join(dir, ".*tmp-*"))
		if len(left) != 0 {
			t.Fatalf("temporary files left behind: %v", left)
		}
	})
}

// failWriter fails after n bytes, like a full disk.
type failWriter struct{ n int }

var errDiskFull = errors.New("disk full")

func (w *failWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		n := w.n
		w.n = 0
		return n, errDiskFull
	}
	w.n -= len(p)
	return len(p), nil
}

func TestWriteSnapshotReportsWriteErrors(t *testing.T) {
	src, _ := newTestDict(t, 4<<20, 1)
	for i := 0; i < 1000; i++ {
		mustSet(t, src, fmt.Sprintf("k%d", i), String(strings.Repeat("x", 500)), 0, 0)
	}
	size := len(snapshotOf(t, src))
	cases := []struct {
		name  string
		limit int
	}{
		{"in the header", 3},
		{"in the entries", size / 2},
		{"in the checksum", size - 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := WriteSnapshot(&failWriter{n: c.limit}, []*Dict{src})
			wantErr(t, "WriteSnapshot", err, errDiskFull)
		})
	}
}

// TestSnapshotUnderConcurrentWrites takes snapshots while writers run (for
// the race detector) and checks each is loadable and holds every key that
// no writer touched during the walk.
func TestSnapshotUnderConcurrentWrites(t *testing.T) {
	src, err := New("test", 16<<20, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 500; i++ {
		mustSet(t, src, fmt.Sprintf("stable%d", i), String("s"), 0, uint32(i))
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 20000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k := fmt.Sprintf("hot%d", i%50)
				switch i % 4 {
				case 0:
					src.Set(k, String(strings.Repeat("y", i%300)), 0, 0)
				case 1:
					src.Delete(k)
				case 2:
					src.RPush("list"+k, Number(float64(i)))
				default:
					src.LPop("list" + k)
				}
			}
		}(w)
	}
	for round := 0; round < 5; round++ {
		var buf bytes.Buffer
		if _, err := WriteSnapshot(&buf, []*Dict{src}); err != nil {
			t.Fatal(err)
		}
		dst, _ := New("test", 16<<20, Options{})
		if _, err := ReadSnapshot(bytes.NewReader(buf.Bytes()), []*Dict{dst}); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		for i := 0; i < 500; i++ {
			it := mustGet(t, dst, fmt.Sprintf("stable%d", i))
			if it.Flags != uint32(i) {
				t.Fatalf("stable%d flags %d", i, it.Flags)
			}
		}
	}
	close(stop)
	wg.Wait()
}

// FuzzReadSnapshot feeds arbitrary bytes to the loader: it must never
// panic, and whenever it refuses, it must have stored nothing.
func FuzzReadSnapshot(f *testing.F) {
	src, clk := newTestDict(f, 1<<20, 1)
	mustSet(f, src, "a", String("alpha"), time.Hour, 1)
	mustSet(f, src, "n", Number(7), 0, 0)
	mustSet(f, src, "b", Bool(false), 0, 0)
	src.RPush("l", String("x"))
	src.RPush("l", Number(2))
	var buf bytes.Buffer
	WriteSnapshot(&buf, []*Dict{src})
	f.Add(buf.Bytes())
	f.Add([]byte(snapMagic))
	f.Add([]byte(snapMagic + "\x00E\x00\x00\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dst, _ := New("test", 1<<20, Options{Now: clk.now})
		_, err := ReadSnapshot(bytes.NewReader(data), []*Dict{dst})
		if err != nil && len(dump(dst)) != 0 {
			t.Fatalf("refused snapshot (%v) left entries behind", err)
		}
	})
}

func BenchmarkSnapshot(b *testing.B) {
	src, err := New("test", 256<<20, Options{})
	if err != nil {
		b.Fatal(err)
	}
	const n = 200000
	val := String(strings.Repeat("v", 100))
	for i := 0; i < n; i++ {
		if _, err := src.Set(fmt.Sprintf("key:%08d", i), val, time.Hour, uint32(i)); err != nil {
			b.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := WriteSnapshot(&buf, []*Dict{src}); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	b.Run("write", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := WriteSnapshot(io.Discard, []*Dict{src}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/entry")
	})
	b.Run("read", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			dst, _ := New("test", 256<<20, Options{})
			if _, err := ReadSnapshot(bytes.NewReader(data), []*Dict{dst}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/entry")
	})
}

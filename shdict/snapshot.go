package shdict

// Snapshots: the dictionaries written to one file and read back at the next
// start, so that a restart does not lose the cache.
//
// # Format
//
// A snapshot is a byte stream (all integers are Go varints):
//
//	magic     "SLSNAP1\n" (the 1 is the format version)
//	created   uvarint, unix ms when the snapshot was started
//	records   each starts with a tag byte:
//	  'D'  dictionary:  uvarint len, name, uvarint capacity
//	  'S'  scalar:      uvarint len, key, value, uvarint flags, varint expires
//	  'L'  list:        uvarint len, key, uvarint flags, varint expires,
//	                    uvarint count, count values
//	  'E'  end:         uvarint dictionaries, uvarint entries
//	crc       4 bytes, little-endian CRC-32C of every byte before it
//
// A value is a kind byte (Kind) then a string (uvarint len, bytes), a number
// (8 bytes, little-endian IEEE 754) or a boolean (one byte, 0 or 1). Scalars
// and lists belong to the last 'D' record before them. expires is absolute
// (unix ms, 0 = never), so that time spent down counts against the ttl, as
// it would have had the process kept running.
//
// # Why two passes
//
// Loading reads the file twice: the first pass checks the structure, the
// counts in the end record and the checksum without storing anything; only
// then does the second pass store entries. A truncated, corrupt or foreign
// file is therefore refused whole and never half-loaded, and the second
// pass can trust the lengths it allocates for.

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"
)

// Snapshot errors. Each is wrapped with the detail (offset, name) that
// tells an operator what is wrong with which file.
var (
	// ErrSnapshotFormat means the data does not start like a snapshot of a
	// format this version can read.
	ErrSnapshotFormat = errors.New("shdict: not a streamlua snapshot (or an unsupported format version)")
	// ErrSnapshotCorrupt means the snapshot is truncated, fails its
	// checksum, or is malformed; nothing was loaded.
	ErrSnapshotCorrupt = errors.New("shdict: snapshot is truncated or corrupt")
	// ErrSnapshotDict means the snapshot holds a dictionary that is not
	// among those given to load it into; nothing was loaded. Refusing,
	// rather than skipping the dictionary, keeps a typo in a --dict flag
	// from silently discarding its data at the next save.
	ErrSnapshotDict = errors.New("shdict: snapshot holds a dictionary that is not configured")
)

const (
	snapMagic = "SLSNAP1\n"
	tagDict   = 'D'
	tagScalar = 'S'
	tagList   = 'L'
	tagEnd    = 'E'
	// maxDictName bounds a dictionary name read back; a name is a Lua
	// identifier in practice.
	maxDictName = 4096
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// SnapshotStats counts what a snapshot held or what loading it did.
type SnapshotStats struct {
	Dicts   int   // dictionaries in the snapshot
	Scalars int   // string, number and boolean entries written or restored
	Lists   int   // list entries written or restored
	Bytes   int64 // size of the snapshot in bytes
	// Expired counts entries skipped at load because their time ran out
	// while the process was down.
	Expired int
	// Evicted counts restored entries that had to evict others to fit
	// (possible when a dictionary is now smaller than when it was saved,
	// or nearly full: keys hash to different shards in a new process).
	Evicted int
	// Dropped counts entries that did not fit at all (ErrNoMemory).
	Dropped int
}

// crcWriter checksums and counts what passes through it.
type crcWriter struct {
	w   io.Writer
	crc uint32
	n   int64
}

func (c *crcWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.crc = crc32.Update(c.crc, castagnoli, p[:n])
	c.n += int64(n)
	return n, err
}

// snapWriter encodes records; the first write error sticks and ends the
// walk, so callers check err once.
type snapWriter struct {
	bw      *bufio.Writer
	scratch []byte
	err     error
}

func (w *snapWriter) raw(b []byte) {
	if w.err == nil {
		_, w.err = w.bw.Write(b)
	}
}

func (w *snapWriter) str(s string) {
	w.uvarint(uint64(len(s)))
	if w.err == nil {
		_, w.err = w.bw.WriteString(s)
	}
}

func (w *snapWriter) uvarint(v uint64) {
	w.scratch = binary.AppendUvarint(w.scratch[:0], v)
	w.raw(w.scratch)
}

func (w *snapWriter) varint(v int64) {
	w.scratch = binary.AppendVarint(w.scratch[:0], v)
	w.raw(w.scratch)
}

func (w *snapWriter) tag(t byte) {
	if w.err == nil {
		w.err = w.bw.WriteByte(t)
	}
}

func (w *snapWriter) value(v Value) {
	w.tag(byte(v.Kind))
	switch v.Kind {
	case KindString:
		w.str(v.Str)
	case KindNumber:
		w.scratch = binary.LittleEndian.AppendUint64(w.scratch[:0], math.Float64bits(v.Num))
		w.raw(w.scratch)
	case KindBoolean:
		b := byte(0)
		if v.Bool {
			b = 1
		}
		w.tag(b)
	}
}

// WriteSnapshot writes every live entry of dicts to w: scalars through
// Range and lists through RangeLists, so writers are stalled for one small
// batch at a time, never for the whole walk. An entry modified while the
// walk runs may be written in its old or new state, or missed if it moved
// behind the walk; a snapshot of quiescent dictionaries (the one taken at
// shutdown, after the listeners have stopped) is exact.
func WriteSnapshot(w io.Writer, dicts []*Dict) (SnapshotStats, error) {
	var st SnapshotStats
	cw := &crcWriter{w: w}
	sw := &snapWriter{bw: bufio.NewWriterSize(cw, 64<<10), scratch: make([]byte, 0, 16)}
	sw.raw([]byte(snapMagic))
	sw.uvarint(uint64(time.Now().UnixMilli()))
	for _, d := range dicts {
		sw.tag(tagDict)
		sw.str(d.name)
		sw.uvarint(uint64(d.capacity))
		st.Dicts++
		d.Range(func(key string, it Item) bool {
			sw.tag(tagScalar)
			sw.str(key)
			sw.value(it.Value)
			sw.uvarint(uint64(it.Flags))
			sw.varint(it.ExpiresAt)
			st.Scalars++
			return sw.err == nil
		})
		d.RangeLists(func(key string, it Item, elems []Value) bool {
			sw.tag(tagList)
			sw.str(key)
			sw.uvarint(uint64(it.Flags))
			sw.varint(it.ExpiresAt)
			sw.uvarint(uint64(len(elems)))
			for _, e := range elems {
				sw.value(e)
			}
			st.Lists++
			return sw.err == nil
		})
		if sw.err != nil {
			return st, sw.err
		}
	}
	sw.tag(tagEnd)
	sw.uvarint(uint64(st.Dicts))
	sw.uvarint(uint64(st.Scalars + st.Lists))
	if sw.err == nil {
		sw.err = sw.bw.Flush()
	}
	if sw.err != nil {
		return st, sw.err
	}
	var sum [4]byte
	binary.LittleEndian.PutUint32(sum[:], cw.crc)
	if _, err := w.Write(sum[:]); err != nil {
		return st, err
	}
	st.Bytes = cw.n + 4
	return st, nil
}

// SaveSnapshot writes dicts to path so that a crash at any moment leaves
// either the previous file or the new one, never a mixture: the data goes
// to a temporary file in the same directory, which is synced, renamed over
// path, and the directory synced in turn.
func SaveSnapshot(path string, dicts []*Dict) (st SnapshotStats, err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return st, fmt.Errorf("shdict: snapshot %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if st, err = WriteSnapshot(f, dicts); err != nil {
		return st, fmt.Errorf("shdict: snapshot %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return st, fmt.Errorf("shdict: snapshot %s: sync: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return st, fmt.Errorf("shdict: snapshot %s: %w", path, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return st, fmt.Errorf("shdict: snapshot %s: %w", path, err)
	}
	// The rename is durable only once the directory entry is on disk.
	if d, derr := os.Open(dir); derr == nil {
		derr = d.Sync()
		d.Close()
		if derr != nil {
			return st, fmt.Errorf("shdict: snapshot %s: sync directory: %w", path, derr)
		}
	}
	return st, nil
}

// LoadSnapshot reads the snapshot at path into dicts (see ReadSnapshot).
// A missing file is reported with an error that matches fs.ErrNotExist,
// which a caller starting for the first time treats as "nothing to load".
func LoadSnapshot(path string, dicts []*Dict) (SnapshotStats, error) {
	f, err := os.Open(path)
	if err != nil {
		return SnapshotStats{}, fmt.Errorf("shdict: snapshot: %w", err)
	}
	defer f.Close()
	st, err := ReadSnapshot(f, dicts)
	if err != nil {
		return st, fmt.Errorf("%s: %w", path, err)
	}
	return st, nil
}

// ReadSnapshot verifies the whole snapshot in r and only then stores its
// entries into the dictionary of the same name among dicts, replacing any
// entry under the same key. Entries keep their flags and absolute expiry;
// those already expired are skipped, and each restored entry gets a new
// CAS unique (as after a memcached restart). Restoring evicts like Set when
// a dictionary is full. On any error nothing has been stored.
func ReadSnapshot(r io.ReadSeeker, dicts []*Dict) (SnapshotStats, error) {
	size, err := r.Seek(0, io.SeekEnd)
	if err != nil {
		return SnapshotStats{}, err
	}
	byName := make(map[string]*Dict, len(dicts))
	for _, d := range dicts {
		byName[d.name] = d
	}
	pass := func(apply bool) (SnapshotStats, error) {
		if _, err := r.Seek(0, io.SeekStart); err != nil {
			return SnapshotStats{}, err
		}
		sr := &snapReader{br: bufio.NewReaderSize(r, 64<<10), size: size}
		return sr.decode(byName, apply)
	}
	if _, err := pass(false); err != nil {
		return SnapshotStats{}, err
	}
	// The file was just verified; the second pass fails only if it changed
	// in between, which nothing in streamlua does.
	st, err := pass(true)
	st.Bytes = size
	return st, err
}

// snapReader decodes a snapshot, checksumming every byte it consumes.
type snapReader struct {
	br   *bufio.Reader
	crc  uint32
	off  int64 // bytes consumed
	size int64 // total size, which bounds every length read
	err  error // first failure; later reads return zero values
}

func (r *snapReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: at byte %d: %s", ErrSnapshotCorrupt, r.off, fmt.Sprintf(format, args...))
	}
}

// ReadByte makes snapReader an io.ByteReader for the varint decoders.
func (r *snapReader) ReadByte() (byte, error) {
	if r.err != nil {
		return 0, r.err
	}
	b, err := r.br.ReadByte()
	if err != nil {
		r.fail("truncated")
		return 0, r.err
	}
	r.crc = crc32.Update(r.crc, castagnoli, []byte{b})
	r.off++
	return b, nil
}

func (r *snapReader) uvarint() uint64 {
	v, err := binary.ReadUvarint(r)
	if err != nil {
		r.fail("bad number")
	}
	return v
}

func (r *snapReader) varint() int64 {
	v, err := binary.ReadVarint(r)
	if err != nil {
		r.fail("bad number")
	}
	return v
}

// length reads a length that must fit in what is left of the file.
func (r *snapReader) length(max uint64) int {
	n := r.uvarint()
	if r.err == nil && (n > max || n > uint64(r.size-r.off)) {
		r.fail("length %d out of range", n)
	}
	if r.err != nil {
		return 0
	}
	return int(n)
}

// bytes consumes n bytes; with keep it returns them as a string, otherwise
// it only checksums them, so the verifying pass allocates nothing per value.
func (r *snapReader) bytes(n int, keep bool) string {
	if r.err != nil {
		return ""
	}
	var out []byte
	if keep {
		out = make([]byte, 0, n)
	}
	for n > 0 {
		chunk, err := r.br.Peek(min(n, r.br.Size()))
		if len(chunk) == 0 {
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			r.fail("truncated")
			return ""
		}
		r.crc = crc32.Update(r.crc, castagnoli, chunk)
		if keep {
			out = append(out, chunk...)
		}
		r.off += int64(len(chunk))
		n -= len(chunk)
		r.br.Discard(len(chunk))
	}
	return string(out)
}

func (r *snapReader) value(keep bool, allowBool bool) Value {
	k, _ := r.ReadByte()
	switch Kind(k) {
	case KindString:
		return String(r.bytes(r.length(math.MaxInt), keep))
	case KindNumber:
		var b [8]byte
		for i := range b {
			b[i], _ = r.ReadByte()
		}
		return Number(math.Float64frombits(binary.LittleEndian.Uint64(b[:])))
	case KindBoolean:
		if allowBool {
			b, _ := r.ReadByte()
			if b > 1 {
				r.fail("bad boolean %d", b)
			}
			return Bool(b == 1)
		}
	}
	r.fail("bad value kind %d", k)
	return Value{}
}

func (r *snapReader) key(keep bool) string {
	n := r.length(MaxKeyLen)
	if r.err == nil && n == 0 {
		r.fail("empty key")
	}
	return r.bytes(n, keep)
}

func (r *snapReader) flags() uint32 {
	f := r.uvarint()
	if f > math.MaxUint32 {
		r.fail("flags %d out of range", f)
	}
	return uint32(f)
}

// decode walks the snapshot. Without apply it only validates; with apply
// it stores entries and counts what happened to them.
func (r *snapReader) decode(byName map[string]*Dict, apply bool) (SnapshotStats, error) {
	var st SnapshotStats
	var head [len(snapMagic)]byte
	for i := range head {
		head[i], _ = r.ReadByte()
	}
	if r.err != nil || string(head[:]) != snapMagic {
		return st, ErrSnapshotFormat
	}
	r.uvarint() // created: informational
	var cur *Dict
	entries := 0
	for r.err == nil {
		tag, _ := r.ReadByte()
		if r.err != nil {
			break
		}
		if tag != tagDict && tag != tagEnd && tag != tagScalar && tag != tagList {
			r.fail("bad record tag %d", tag)
			break
		}
		if (tag == tagScalar || tag == tagList) && cur == nil {
			r.fail("entry before any dictionary")
			break
		}
		switch tag {
		case tagDict:
			name := r.bytes(r.length(maxDictName), true)
			r.uvarint() // capacity when saved: informational
			if r.err != nil {
				break
			}
			d, ok := byName[name]
			if !ok {
				return st, fmt.Errorf("%w: %q (declare it, or move the snapshot away)", ErrSnapshotDict, name)
			}
			cur = d
			st.Dicts++
		case tagScalar:
			key := r.key(apply)
			v := r.value(apply, true)
			flags := r.flags()
			exp := r.varint()
			if r.err != nil {
				break
			}
			entries++
			if apply {
				st.Scalars++
				st.count(cur.restore(key, Item{Value: v, Flags: flags, ExpiresAt: exp}, nil))
			}
		case tagList:
			key := r.key(apply)
			flags := r.flags()
			exp := r.varint()
			n := r.length(math.MaxInt)
			if r.err == nil && n == 0 {
				r.fail("empty list")
			}
			var elems []Value
			if apply {
				elems = make([]Value, 0, n)
			}
			for i := 0; i < n && r.err == nil; i++ {
				e := r.value(apply, false)
				if apply {
					elems = append(elems, e)
				}
			}
			if r.err != nil {
				break
			}
			entries++
			if apply {
				st.Lists++
				st.count(cur.restore(key, Item{Value: Value{Kind: KindList}, Flags: flags, ExpiresAt: exp}, elems))
			}
		case tagEnd:
			nd, ne := r.uvarint(), r.uvarint()
			if r.err != nil {
				break
			}
			if nd != uint64(st.Dicts) || ne != uint64(entries) {
				r.fail("end record counts %d dictionaries and %d entries, the file holds %d and %d", nd, ne, st.Dicts, entries)
				break
			}
			want := r.crc
			var sum [4]byte
			if _, err := io.ReadFull(r.br, sum[:]); err != nil {
				r.fail("truncated checksum")
				break
			}
			if got := binary.LittleEndian.Uint32(sum[:]); got != want {
				r.fail("checksum mismatch (%08x, computed %08x)", got, want)
				break
			}
			if _, err := r.br.ReadByte(); err != io.EOF {
				r.off += 4
				r.fail("data after the end record")
				break
			}
			return st, nil
		}
	}
	return st, r.err
}

// restoreResult is what restoring one entry did.
type restoreResult uint8

const (
	restored restoreResult = iota
	restoredEvicting
	restoreExpired
	restoreNoMemory
)

func (st *SnapshotStats) count(r restoreResult) {
	switch r {
	case restoredEvicting:
		st.Evicted++
	case restoreExpired:
		st.Expired++
	case restoreNoMemory:
		st.Dropped++
	}
}

// restore stores one snapshot entry with its absolute expiry and flags,
// replacing whatever is under key. it.Kind is KindList for a list, whose
// elements are elems. A list is created in one step, so one that does not
// fit leaves nothing behind.
func (d *Dict) restore(key string, it Item, elems []Value) restoreResult {
	c := d.begin()
	if it.ExpiresAt != 0 && it.ExpiresAt <= c.clock() {
		return restoreExpired
	}
	s, h := d.locate(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if i := s.find(h, key); i != nilSlot {
		s.remove(i)
	}
	var (
		i        int32
		forcible bool
	)
	if it.Kind != KindList {
		var err error
		if i, forcible, err = s.insert(&c, h, key, encodedLen(it.Value), true); err != nil {
			return restoreNoMemory
		}
		s.at(i).setValue(it.Value)
	} else {
		l := newList()
		for _, e := range elems {
			l.pushBack(e)
			l.bytes += elemCost(e)
		}
		need := entryCost(roundSize(len(key))) + l.bytes
		if need > s.budget {
			return restoreNoMemory
		}
		var ok bool
		if forcible, ok = s.makeRoom(&c, need, true, nilSlot); !ok {
			return restoreNoMemory
		}
		// The room is made: this insert evicts nothing more.
		var err error
		if i, _, err = s.insert(&c, h, key, 0, false); err != nil {
			return restoreNoMemory
		}
		s.lists[i] = l
		s.used += l.bytes
		s.at(i).kind = KindList
	}
	sl := s.at(i)
	sl.flags, sl.expires, sl.cas = it.Flags, it.ExpiresAt, d.nextCAS()
	if forcible {
		return restoredEvicting
	}
	return restored
}

package shdict

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// This file checks Dict against a deliberately naive reference model: a
// slice ordered by recency, a boolean per entry for "flushed", and CAS
// values predicted by counting modifications. Every result of every
// operation is compared. The dict is large enough that nothing is evicted
// (eviction has its own table tests), and has one shard so the LRU order,
// which decides what the purge step frees, is global.

type mEntry struct {
	key     string
	val     Value // scalar value
	list    []Value
	isList  bool
	flags   uint32
	exp     int64
	cas     uint64
	flushed bool
	marks   Marks
}

type model struct {
	lru     []*mEntry // oldest first
	now     int64
	cas     uint64
	flushAt int64
}

func (m *model) find(key string) (int, *mEntry) {
	for i, e := range m.lru {
		if e.key == key {
			return i, e
		}
	}
	return -1, nil
}

func (m *model) dead(e *mEntry) bool { return (e.exp != 0 && e.exp <= m.now) || e.flushed }

func (m *model) begin() {
	if m.flushAt != 0 && m.now >= m.flushAt {
		m.flushAll()
		if m.now > m.flushAt {
			m.flushAt = 0
		}
	}
}

func (m *model) flushAll() {
	for _, e := range m.lru {
		e.flushed = true
	}
}

func (m *model) purge() {
	for n := 0; n < 2 && len(m.lru) > 0 && m.dead(m.lru[0]); n++ {
		m.lru = m.lru[1:]
	}
}

func (m *model) bump(key string) {
	i, e := m.find(key)
	m.lru = append(slices.Delete(m.lru, i, i+1), e)
}

func (m *model) remove(key string) {
	i, _ := m.find(key)
	m.lru = slices.Delete(m.lru, i, i+1)
}

func (m *model) modified(e *mEntry) {
	m.cas++
	e.cas = m.cas
	e.flushed = false
}

func (m *model) expiry(ttl time.Duration) int64 {
	switch {
	case ttl == 0:
		return 0
	case ttl > 0:
		if ttl < time.Millisecond {
			return 0
		}
		return m.now + int64(ttl/time.Millisecond)
	}
	ms := int64(ttl / time.Millisecond)
	if ms == 0 {
		ms = -1
	}
	return max(m.now+ms, 1)
}

func (m *model) item(e *mEntry) Item {
	it := Item{Value: e.val, Flags: e.flags, CAS: e.cas, ExpiresAt: e.exp, Marks: e.marks}
	if e.flushed {
		it.ExpiresAt = 1
	}
	return it
}

func validKey(k string) error {
	if k == "" {
		return ErrEmptyKey
	}
	if len(k) > MaxKeyLen {
		return ErrKeyTooLong
	}
	return nil
}

// The operations. Each returns what the corresponding Dict method returns,
// flattened into a comparable string.

func (m *model) get(k string, stale bool) string {
	if err := validKey(k); err != nil {
		return res(err)
	}
	m.begin()
	if !stale {
		m.purge()
	}
	_, e := m.find(k)
	if e == nil || (!stale && m.dead(e)) {
		return "miss"
	}
	m.bump(k)
	if e.isList {
		return res(ErrIsList)
	}
	defer func() { e.marks |= MarkFetched }()
	if stale {
		return fmt.Sprintf("%v stale=%v", m.item(e), m.dead(e))
	}
	return fmt.Sprint(m.item(e))
}

func (m *model) store(k string, v Value, ttl time.Duration, flags uint32, mode StoreMode, cas uint64) string {
	if err := validKey(k); err != nil {
		return res(err)
	}
	if v.Kind < KindString || v.Kind > KindBoolean {
		return res(ErrBadValue)
	}
	m.begin()
	m.purge()
	_, e := m.find(k)
	live := e != nil && !m.dead(e)
	casMode := mode == StoreCAS || mode == StoreCASStale
	stale := mode == StoreCASStale && live && cas != 0 && cas < e.cas
	switch {
	case mode == StoreAdd && live:
		m.bump(k)
		return res(ErrExists)
	case (mode == StoreReplace || casMode) && !live:
		return res(ErrNotFound)
	case casMode && e.cas != cas && !stale:
		m.bump(k)
		return res(ErrExists)
	}
	n := &mEntry{key: k, val: v, flags: flags, exp: m.expiry(ttl)}
	if stale {
		n.exp, n.marks = e.exp, MarkStale|e.marks&MarkToken
	}
	if e != nil {
		m.remove(k)
	}
	e = n
	m.modified(e)
	m.lru = append(m.lru, e)
	return "ok"
}

func (m *model) del(k string) string {
	if err := validKey(k); err != nil {
		return res(err)
	}
	m.begin()
	m.purge()
	_, e := m.find(k)
	if e == nil {
		return "false"
	}
	m.remove(k)
	return strconv.FormatBool(!m.dead(e))
}

func (m *model) incr(k string, step float64, hasInit bool, init float64, ttl time.Duration) string {
	if err := validKey(k); err != nil {
		return res(err)
	}
	m.begin()
	m.purge()
	_, e := m.find(k)
	if e != nil && !m.dead(e) {
		if e.isList || e.val.Kind != KindNumber {
			return res(ErrNotNumber)
		}
		e.val.Num += step
		m.modified(e)
		m.bump(k)
		return fmt.Sprint(e.val.Num)
	}
	if !hasInit {
		return res(ErrNotFound)
	}
	if e != nil {
		m.remove(k)
	}
	e = &mEntry{key: k, val: Number(init + step), exp: m.expiry(ttl)}
	m.modified(e)
	m.lru = append(m.lru, e)
	return fmt.Sprint(e.val.Num)
}

func (m *model) push(k string, v Value, front bool) string {
	if err := validKey(k); err != nil {
		return res(err)
	}
	if v.Kind != KindString && v.Kind != KindNumber {
		return res(ErrBadValue)
	}
	m.begin()
	m.purge()
	_, e := m.find(k)
	if e != nil && m.dead(e) {
		m.remove(k)
		e = nil
	}
	switch {
	case e == nil:
		e = &mEntry{key: k, isList: true}
		m.lru = append(m.lru, e)
	case !e.isList:
		return res(ErrNotList)
	default:
		m.bump(k)
	}
	if front {
		e.list = append([]Value{v}, e.list...)
	} else {
		e.list = append(e.list, v)
	}
	m.modified(e)
	return strconv.Itoa(len(e.list))
}

func (m *model) pop(k string, front bool) string {
	if err := validKey(k); err != nil {
		return res(err)
	}
	m.begin()
	m.purge()
	_, e := m.find(k)
	if e == nil || m.dead(e) {
		return "miss"
	}
	if !e.isList {
		return res(ErrNotList)
	}
	var v Value
	if front {
		v, e.list = e.list[0], e.list[1:]
	} else {
		v, e.list = e.list[len(e.list)-1], e.list[:len(e.list)-1]
	}
	if len(e.list) == 0 {
		m.remove(k)
	} else {
		m.modified(e)
		m.bump(k)
	}
	return fmt.Sprint(v)
}

func (m *model) llen(k string) string {
	if err := validKey(k); err != nil {
		return res(err)
	}
	m.begin()
	m.purge()
	_, e := m.find(k)
	if e == nil || m.dead(e) {
		return "0"
	}
	if !e.isList {
		return res(ErrNotList)
	}
	m.bump(k)
	return strconv.Itoa(len(e.list))
}

func (m *model) ttl(k string) string {
	if err := validKey(k); err != nil {
		return res(err)
	}
	m.begin()
	_, e := m.find(k)
	if e == nil {
		return res(ErrNotFound)
	}
	exp := e.exp
	if e.flushed {
		exp = 1
	}
	if exp == 0 {
		return "0s"
	}
	ms := exp - m.now
	if ms == 0 {
		ms = -1
	}
	return (time.Duration(ms) * time.Millisecond).String()
}

func (m *model) expire(k string, ttl time.Duration) string {
	if err := validKey(k); err != nil {
		return res(err)
	}
	m.begin()
	_, e := m.find(k)
	if e == nil {
		return res(ErrNotFound)
	}
	if e.flushed {
		m.modified(e)
	}
	if ttl <= 0 {
		e.exp = 0
	} else {
		e.exp = m.expiry(ttl)
	}
	return "ok"
}

func (m *model) flushExpired(max int) string {
	m.begin()
	n := 0
	for i := 0; i < len(m.lru); {
		if m.dead(m.lru[i]) && (max == 0 || n < max) {
			m.lru = slices.Delete(m.lru, i, i+1)
			n++
			continue
		}
		i++
	}
	return strconv.Itoa(n)
}

func (m *model) keys(max int) string {
	m.begin()
	var out []string
	for _, e := range m.lru {
		if !m.dead(e) && (max == 0 || len(out) < max) {
			out = append(out, e.key)
		}
	}
	return fmt.Sprintf("%q", out)
}

func (m *model) pend(k, data string, front bool, cas uint64) string {
	if err := validKey(k); err != nil {
		return res(err)
	}
	m.begin()
	m.purge()
	_, e := m.find(k)
	if e == nil || m.dead(e) {
		return res(ErrNotFound)
	}
	if e.isList || e.val.Kind != KindString {
		return res(ErrNotString)
	}
	if cas != 0 && e.cas != cas {
		return res(ErrExists)
	}
	m.bump(k)
	if front {
		e.val.Str = data + e.val.Str
	} else {
		e.val.Str += data
	}
	e.marks = 0
	m.modified(e)
	return fmt.Sprintf("ok cas=%d", e.cas)
}

func (m *model) arith(k string, delta uint64, decr bool, o ArithOptions) string {
	if err := validKey(k); err != nil {
		return res(err)
	}
	m.begin()
	m.purge()
	_, e := m.find(k)
	if e == nil || m.dead(e) {
		if !o.Create {
			return res(ErrNotFound)
		}
		if e != nil {
			m.remove(k)
		}
		e = &mEntry{key: k, val: String(strconv.FormatUint(o.Initial, 10)), exp: m.expiry(o.TTL)}
		m.modified(e)
		m.lru = append(m.lru, e)
		return fmt.Sprintf("%d cas=%d created=true", o.Initial, e.cas)
	}
	if e.isList || e.val.Kind != KindString {
		return res(ErrNotString)
	}
	if o.CAS != 0 && e.val.Str == "" {
		return res(ErrNotNumber)
	}
	if o.CAS != 0 && e.cas != o.CAS {
		return res(ErrExists)
	}
	cur, ok := modelStrtoull(e.val.Str)
	if !ok {
		return res(ErrNotNumber)
	}
	switch {
	case !decr:
		cur += delta
	case delta > cur:
		cur = 0
	default:
		cur -= delta
	}
	s := strconv.FormatUint(cur, 10)
	if len(s) > len(e.val.Str) {
		e.marks = 0 // a longer number is a new item in memcached
	}
	if len(s) < len(e.val.Str) {
		s += strings.Repeat(" ", len(e.val.Str)-len(s))
	}
	e.val.Str = s
	m.modified(e)
	m.bump(k)
	return fmt.Sprintf("%d cas=%d created=false", cur, e.cas)
}

// modelStrtoull is memcached's safe_strtoull on an item's data, written
// independently of parseDecimal: C's strtoull (white space, sign, digits,
// ERANGE past 2^64-1, a minus sign negating), then the end of the value or
// white space, and no negative result from a minus sign.
func modelStrtoull(s string) (uint64, bool) {
	rest := strings.TrimLeft(s, " \t\n\v\f\r")
	neg := strings.HasPrefix(rest, "-")
	rest = strings.TrimPrefix(strings.TrimPrefix(rest, "+"), "-")
	digits := rest[:len(rest)-len(strings.TrimLeft(rest, "0123456789"))]
	after := rest[len(digits):]
	if digits == "" || (after != "" && !strings.ContainsAny(after[:1], " \t\n\v\f\r")) {
		return 0, false
	}
	n, ok := new(big.Int).SetString(digits, 10)
	if !ok || n.BitLen() > 64 {
		return 0, false
	}
	v := n.Uint64()
	if neg {
		v = -v
		if int64(v) < 0 {
			return 0, false
		}
	}
	return v, true
}

func (m *model) touch(k string, ttl time.Duration, get bool) string {
	if err := validKey(k); err != nil {
		return res(err)
	}
	m.begin()
	m.purge()
	_, e := m.find(k)
	if e == nil || m.dead(e) {
		if get {
			return "miss"
		}
		return res(ErrNotFound)
	}
	m.bump(k)
	if get && e.isList {
		return res(ErrIsList)
	}
	e.exp = m.expiry(ttl)
	defer func() { e.marks |= MarkFetched }()
	if get {
		return fmt.Sprint(m.item(e))
	}
	return "ok"
}

func (m *model) fetch(k string, o FetchOptions) string {
	if err := validKey(k); err != nil {
		return res(err)
	}
	m.begin()
	m.purge()
	_, e := m.find(k)
	created := false
	if e == nil || m.dead(e) {
		if !o.has(StepVivify) {
			return "miss"
		}
		if e != nil {
			m.remove(k)
		}
		e = &mEntry{key: k, val: String("")}
		m.modified(e)
		m.lru = append(m.lru, e)
		created = true
	}
	if e.isList {
		m.bump(k)
		return res(ErrIsList)
	}
	prev, held, won := e.exp, e.marks&MarkToken != 0, false
	for _, st := range o.Steps {
		switch st {
		case StepTouch:
			e.exp = m.expiry(o.TouchTTL)
		case StepVivify:
			if created {
				e.exp = m.expiry(o.VivifyTTL)
				won = true
			}
		case StepRecache:
			left := int64(math.Ceil(float64(e.exp-m.now) / 1000))
			if !held && !created && e.exp != 0 && o.RecacheTTL > 0 && left*1000 < o.RecacheTTL.Milliseconds() {
				won = true
			}
		}
	}
	if e.marks&MarkStale != 0 && !held {
		won = true
	}
	var prevTTL time.Duration
	if prev != 0 {
		prevTTL = time.Duration(prev-m.now) * time.Millisecond
	}
	out := fmt.Sprintf("%v created=%v won=%v prev=%v", m.item(e), created, won, prevTTL)
	if won {
		e.marks |= MarkToken
	}
	if !o.NoBump {
		m.bump(k)
		e.marks |= MarkFetched
	}
	return out
}

func (m *model) invalidate(k string, o InvalidateOptions) string {
	if err := validKey(k); err != nil {
		return res(err)
	}
	m.begin()
	m.purge()
	_, e := m.find(k)
	switch {
	case e == nil || m.dead(e):
		return res(ErrNotFound)
	case e.isList:
		return res(ErrIsList)
	case o.CheckCAS && e.cas != o.CAS:
		return res(ErrExists)
	}
	if o.SetTTL {
		e.exp = m.expiry(o.TTL)
	}
	e.marks = e.marks&^MarkToken | MarkStale
	m.modified(e)
	return fmt.Sprintf("cas=%d", e.cas)
}

func res(err error) string { return "err:" + err.Error() }

// The same operations against a Dict, flattened the same way.

func flat(err error, ok string) string {
	if err != nil {
		return res(err)
	}
	return ok
}

// fuzzOps drives a Dict and the model from a byte stream and reports the
// first disagreement.
type fuzzRun struct {
	t   testing.TB
	d   *Dict
	clk *fakeClock
	m   *model
	in  []byte
}

func (r *fuzzRun) byte() byte {
	if len(r.in) == 0 {
		return 0
	}
	b := r.in[0]
	r.in = r.in[1:]
	return b
}

var (
	fuzzKeys    = []string{"a", "b", "c", "d", "e", "", strings.Repeat("L", MaxKeyLen+1)}
	fuzzStrings = []string{"", "0", "7", "99", "100", "abc", " 12 ", "18446744073709551615", "18446744073709551616", "1 2", "-3", "\x00\xff",
		"+5", "-0", "\t9\r\n", "0018446744073709551615", "12ab", "-18446744073709551615"}
	fuzzNums    = []float64{0, 1, -1, 2.5, 1e300, math.Inf(-1)}
	fuzzTTLs    = []time.Duration{0, 0, time.Millisecond, 500 * time.Microsecond, time.Second, 2 * time.Second, 1500 * time.Millisecond, -time.Second, -time.Nanosecond}
	fuzzDeltas  = []uint64{0, 1, 2, 100, math.MaxUint64}
	fuzzRecache = []time.Duration{0, time.Second, 2 * time.Second, 3 * time.Second, -time.Second}
)

func pick[T any](r *fuzzRun, s []T) T { return s[int(r.byte())%len(s)] }

func (r *fuzzRun) key() string {
	// Empty and over-long keys are rare, so most operations hit real keys.
	if b := r.byte(); b < 250 {
		return fuzzKeys[int(b)%5]
	} else {
		return fuzzKeys[5+int(b)%2]
	}
}

func (r *fuzzRun) value() Value {
	switch r.byte() % 8 {
	case 0, 1, 2, 3:
		return String(pick(r, fuzzStrings))
	case 4, 5:
		return Number(pick(r, fuzzNums))
	case 6:
		return Bool(r.byte()%2 == 0)
	}
	return Value{Kind: Kind(r.byte() % 6)}
}

func (r *fuzzRun) step() (op, got, want string) {
	d, m := r.d, r.m
	switch code := r.byte() % 34; code {
	case 0:
		k := r.key()
		it, ok, err := d.Get(k)
		return "get " + k, flat(err, ifs(ok, fmt.Sprint(it), "miss")), m.get(k, false)
	case 1:
		k := r.key()
		it, stale, ok, err := d.GetStale(k)
		return "get_stale " + k, flat(err, ifs(ok, fmt.Sprintf("%v stale=%v", it, stale), "miss")), m.get(k, true)
	case 2, 3, 4, 5, 6, 7:
		k, v, ttl, flags := r.key(), r.value(), pick(r, fuzzTTLs), uint32(r.byte()%3)
		modes := map[byte]StoreMode{2: StoreSet, 3: StoreSet, 4: StoreAdd, 5: StoreAdd, 6: StoreReplace, 7: StoreCAS}
		mode, safe := modes[code], code == 3 || code == 5
		var cas uint64
		if mode == StoreCAS {
			if _, e := m.find(k); e != nil {
				cas = e.cas
			}
			cas += uint64(r.byte() % 2) // sometimes a wrong one
		}
		// Half the stores that may evict go through Store, which also
		// returns the new entry's cas; the model's must match it.
		viaStore := !safe && r.byte()%2 == 0
		var newCAS uint64
		var forcible bool
		var err error
		switch {
		case viaStore:
			newCAS, forcible, err = d.Store(mode, k, v, ttl, flags, cas)
		case mode == StoreCAS:
			forcible, err = d.CompareAndSwap(k, v, ttl, flags, cas)
		case mode == StoreSet && safe:
			forcible, err = d.SafeSet(k, v, ttl, flags)
		case mode == StoreSet:
			forcible, err = d.Set(k, v, ttl, flags)
		case mode == StoreAdd && safe:
			forcible, err = d.SafeAdd(k, v, ttl, flags)
		case mode == StoreAdd:
			forcible, err = d.Add(k, v, ttl, flags)
		default:
			forcible, err = d.Replace(k, v, ttl, flags)
		}
		if forcible {
			return "store", "forcible", "no eviction"
		}
		name := fmt.Sprintf("store(%d,safe=%v)", mode, safe)
		if viaStore {
			name = fmt.Sprintf("Store(%d)", mode)
		}
		desc := fmt.Sprintf("%s %s %v ttl=%v cas=%d", name, k, v, ttl, cas)
		got, want := flat(err, "ok"), m.store(k, v, ttl, flags, mode, cas)
		if viaStore && err == nil {
			if _, e := m.find(k); e != nil {
				got += fmt.Sprintf(" cas=%d", newCAS)
				want += fmt.Sprintf(" cas=%d", e.cas)
			}
		}
		return desc, got, want
	case 8:
		k := r.key()
		ok, err := d.Delete(k)
		return "delete " + k, flat(err, strconv.FormatBool(ok)), m.del(k)
	case 9:
		k, step := r.key(), pick(r, fuzzNums)
		v, err := d.Incr(k, step)
		return "incr " + k, flat(err, fmt.Sprint(v)), m.incr(k, step, false, 0, 0)
	case 10:
		k, step, init, ttl := r.key(), pick(r, fuzzNums), pick(r, fuzzNums), pick(r, fuzzTTLs)
		v, forcible, err := d.IncrInit(k, step, init, ttl)
		if forcible {
			return "incr_init", "forcible", "no eviction"
		}
		return "incr_init " + k, flat(err, fmt.Sprint(v)), m.incr(k, step, true, init, ttl)
	case 11, 12:
		k, v := r.key(), r.value()
		var n int
		var err error
		if code == 11 {
			n, err = d.LPush(k, v)
		} else {
			n, err = d.RPush(k, v)
		}
		return fmt.Sprintf("push(%d) %s %v", code, k, v), flat(err, strconv.Itoa(n)), m.push(k, v, code == 11)
	case 13, 14:
		k := r.key()
		var v Value
		var ok bool
		var err error
		if code == 13 {
			v, ok, err = d.LPop(k)
		} else {
			v, ok, err = d.RPop(k)
		}
		return "pop " + k, flat(err, ifs(ok, fmt.Sprint(v), "miss")), m.pop(k, code == 13)
	case 15:
		k := r.key()
		n, err := d.LLen(k)
		return "llen " + k, flat(err, strconv.Itoa(n)), m.llen(k)
	case 16:
		k := r.key()
		ttl, err := d.TTL(k)
		return "ttl " + k, flat(err, ttl.String()), m.ttl(k)
	case 17:
		k, ttl := r.key(), pick(r, fuzzTTLs)
		return "expire " + k, flat(d.Expire(k, ttl), "ok"), m.expire(k, ttl)
	case 18:
		d.FlushAll()
		m.flushAt = 0
		m.flushAll()
		return "flush_all", "", ""
	case 19:
		max := int(r.byte() % 3)
		return "flush_expired", strconv.Itoa(d.FlushExpired(max)), m.flushExpired(max)
	case 20:
		max := int(r.byte() % 4)
		return "keys", fmt.Sprintf("%q", d.Keys(max)), m.keys(max)
	case 21, 22:
		// Append/Prepend, or PendCAS with the entry's cas or a wrong one.
		k, data, front := r.key(), pick(r, fuzzStrings), code == 22
		var cas uint64
		casMode := r.byte() % 3
		if _, e := m.find(k); e != nil && casMode > 0 {
			cas = e.cas + uint64(casMode-1)
		}
		var newCAS uint64
		var forcible bool
		var err error
		switch {
		case casMode > 0:
			newCAS, forcible, err = d.PendCAS(k, data, front, cas)
		case front:
			forcible, err = d.Prepend(k, data)
		default:
			forcible, err = d.Append(k, data)
		}
		if forcible {
			return "pend", "forcible", "no eviction"
		}
		got, want := flat(err, fmt.Sprintf("ok cas=%d", newCAS)), m.pend(k, data, front, cas)
		if casMode == 0 {
			got, _, _ = strings.Cut(got, " cas=")
			want, _, _ = strings.Cut(want, " cas=")
		}
		return fmt.Sprintf("pend %s cas=%d", k, cas), got, want
	case 23:
		k, delta, decr := r.key(), pick(r, fuzzDeltas), r.byte()%2 == 0
		v, err := d.IncrDecimal(k, delta, decr)
		want, _, _ := strings.Cut(m.arith(k, delta, decr, ArithOptions{}), " cas=")
		return fmt.Sprintf("incr_decimal %s %d %v", k, delta, decr), flat(err, strconv.FormatUint(v, 10)), want
	case 24:
		k, ttl := r.key(), pick(r, fuzzTTLs)
		return "touch " + k, flat(d.Touch(k, ttl), "ok"), m.touch(k, ttl, false)
	case 25:
		k, ttl := r.key(), pick(r, fuzzTTLs)
		it, ok, err := d.GetAndTouch(k, ttl)
		return "gat " + k, flat(err, ifs(ok, fmt.Sprint(it), "miss")), m.touch(k, ttl, true)
	case 26:
		delay := pick(r, []time.Duration{0, time.Millisecond, time.Second, 3 * time.Second})
		d.FlushAllAfter(delay)
		if delay < time.Millisecond {
			m.flushAt = 0
			m.flushAll()
		} else {
			m.begin()
			m.flushAt = m.now + delay.Milliseconds()
		}
		return "flush_all_after", "", ""
	case 27, 28:
		dur := pick(r, []time.Duration{0, time.Millisecond, 500 * time.Millisecond, time.Second, 3 * time.Second})
		r.clk.advance(dur)
		m.now += dur.Milliseconds()
		return "advance", "", ""
	case 29:
		k := r.key()
		var o FetchOptions
		for i := range o.Steps {
			o.Steps[i] = FetchStep(r.byte() % 4)
		}
		o.TouchTTL, o.VivifyTTL, o.RecacheTTL = pick(r, fuzzTTLs), pick(r, fuzzTTLs), pick(r, fuzzRecache)
		o.NoBump = r.byte()%4 == 0
		it, res, ok, err := d.Fetch(k, o)
		got := flat(err, ifs(ok, fmt.Sprintf("%v created=%v won=%v prev=%v", it, res.Created, res.Won, res.PrevTTL), "miss"))
		return fmt.Sprintf("fetch %s %+v", k, o), got, m.fetch(k, o)
	case 30:
		k := r.key()
		o := InvalidateOptions{CheckCAS: r.byte()%2 == 0, SetTTL: r.byte()%2 == 0, TTL: pick(r, fuzzTTLs)}
		if _, e := m.find(k); e != nil {
			o.CAS = e.cas
		}
		o.CAS += uint64(r.byte() % 2)
		cas, err := d.Invalidate(k, o)
		return fmt.Sprintf("invalidate %s %+v", k, o), flat(err, fmt.Sprintf("cas=%d", cas)), m.invalidate(k, o)
	case 31:
		// StoreCASStale with the entry's cas, one newer, or one older.
		k, v, ttl, flags := r.key(), r.value(), pick(r, fuzzTTLs), uint32(r.byte()%3)
		var cas uint64
		if _, e := m.find(k); e != nil {
			cas = e.cas
		}
		cas = cas + 1 - min(cas, uint64(r.byte()%3))
		newCAS, forcible, err := d.Store(StoreCASStale, k, v, ttl, flags, cas)
		if forcible {
			return "store", "forcible", "no eviction"
		}
		got, want := flat(err, "ok"), m.store(k, v, ttl, flags, StoreCASStale, cas)
		if err == nil {
			if _, e := m.find(k); e != nil {
				got += fmt.Sprintf(" cas=%d", newCAS)
				want += fmt.Sprintf(" cas=%d", e.cas)
			}
		}
		return fmt.Sprintf("Store(4) %s %v ttl=%v cas=%d", k, v, ttl, cas), got, want
	case 32:
		// Arith with a cas (the entry's, a wrong one, or none) and a create.
		k, delta, decr := r.key(), pick(r, fuzzDeltas), r.byte()%2 == 0
		o := ArithOptions{Create: r.byte()%2 == 0, Initial: pick(r, fuzzDeltas), TTL: pick(r, fuzzTTLs)}
		if _, e := m.find(k); e != nil {
			if b := r.byte() % 3; b > 0 {
				o.CAS = e.cas + uint64(b-1)
			}
		}
		v, cas, created, err := d.Arith(k, delta, decr, o)
		got := flat(err, fmt.Sprintf("%d cas=%d created=%v", v, cas, created))
		return fmt.Sprintf("arith %s %d %v %+v", k, delta, decr, o), got, m.arith(k, delta, decr, o)
	default:
		return "stats", fmt.Sprint(d.Stats().Items), fmt.Sprint(len(m.lru))
	}
}

func ifs(c bool, a, b string) string {
	if c {
		return a
	}
	return b
}

// runModel executes ops from in and fails on the first divergence.
// It returns, per operation name, how many results were neither errors nor
// misses, so callers can check the sequences exercised something.
func runModel(t testing.TB, in []byte, maxOps int) map[string]int {
	clk := newClock()
	d, err := New("fuzz", 64<<20, Options{Shards: 1, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	r := &fuzzRun{t: t, d: d, clk: clk, m: &model{now: clk.now()}, in: in}
	var trail []string
	hits := map[string]int{}
	for n := 0; len(r.in) > 0 && n < maxOps; n++ {
		op, got, want := r.step()
		trail = append(trail, op)
		if got != want {
			t.Fatalf("op %d %s: dict %q, model %q\nhistory:\n%s", n, op, got, want, strings.Join(trail, "\n"))
		}
		if err := d.verify(); err != nil {
			t.Fatalf("after op %d %s: %v", n, op, err)
		}
		if !strings.HasPrefix(got, "err:") && got != "miss" {
			hits[strings.Fields(op)[0]]++
		}
	}
	return hits
}

// FuzzDict runs random operation sequences against the reference model.
func FuzzDict(f *testing.F) {
	f.Add([]byte{2, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{2, 0, 0, 1, 4, 0, 16, 0, 27, 3, 1, 0, 0, 16, 0})
	f.Add([]byte{11, 1, 0, 0, 12, 1, 4, 1, 13, 1, 14, 1, 15, 1, 0, 1})
	f.Add([]byte{2, 2, 0, 4, 0, 0, 18, 1, 2, 0, 17, 2, 0, 1, 2, 20, 0, 19, 0})
	f.Add([]byte{26, 2, 2, 0, 0, 0, 0, 0, 27, 3, 2, 1, 0, 0, 0, 0, 0, 0, 2, 27, 1, 0, 0})
	f.Add([]byte{2, 3, 0, 4, 0, 0, 0, 23, 3, 1, 1, 23, 3, 4, 0, 21, 3, 5, 22, 3, 2, 25, 3, 4})
	f.Fuzz(func(t *testing.T, in []byte) {
		runModel(t, in, 2000)
	})
}

// TestModelRandom runs a fixed set of pseudo-random sequences through the
// model so the comparison is exercised by a plain go test.
func TestModelRandom(t *testing.T) {
	total := map[string]int{}
	for seed := range uint64(300) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 42))
			in := make([]byte, 2000)
			for i := range in {
				in[i] = byte(rng.UintN(256))
			}
			for op, n := range runModel(t, in, 400) {
				total[op] += n
			}
		})
	}
	// Every operation must have succeeded somewhere, or the comparison
	// proves little.
	for _, op := range []string{"get", "get_stale", "store(0,safe=false)", "store(0,safe=true)", "store(1,safe=false)",
		"store(2,safe=false)", "store(3,safe=false)", "Store(0)", "Store(1)", "Store(2)", "Store(3)", "delete", "incr", "incr_init", "push(11)", "push(12)", "pop", "llen",
		"ttl", "expire", "flush_expired", "keys", "pend", "incr_decimal", "touch", "gat", "stats",
		"fetch", "invalidate", "Store(4)", "arith"} {
		if total[op] == 0 {
			t.Errorf("no successful %s in any sequence", op)
		}
	}
}

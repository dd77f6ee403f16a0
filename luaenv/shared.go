package luaenv

import (
	"math"
	"strconv"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/streamlua/streamlua/luaenv/ljcompat"
	"github.com/streamlua/streamlua/luaenv/luabox"
	"github.com/streamlua/streamlua/luaenv/luanum"
	"github.com/streamlua/streamlua/shdict"
)

// sharedTable builds ngx.shared: one table per dictionary holding the zone
// userdata at index 1, sharing one metatable of methods, as OpenResty does.
func (v *vm) sharedTable() *lua.LTable {
	L := v.L
	shared := L.CreateTable(0, len(v.env.names))
	methods := L.SetFuncs(L.CreateTable(0, len(dictMethods)), dictMethods)
	mt := L.CreateTable(1, 0)
	mt.RawSetString("__index", methods)
	for _, name := range v.env.names {
		zone := L.NewUserData()
		zone.Value = &dictZone{d: v.env.dicts[name], strs: &v.strs}
		t := L.CreateTable(1, 0)
		t.RawSetInt(1, zone)
		L.SetMetatable(t, mt)
		shared.RawSetString(name, t)
	}
	return shared
}

// dictZone is what a state's ngx.shared.NAME table holds: the dictionary,
// and the state's string boxer for the values its reads return.
type dictZone struct {
	d    *shdict.Dict
	strs *luabox.Boxer
}

func checkZone(L *lua.LState) *dictZone {
	if t, ok := L.Get(1).(*lua.LTable); ok {
		if ud, ok := t.RawGetInt(1).(*lua.LUserData); ok {
			if z, ok := ud.Value.(*dictZone); ok {
				return z
			}
		}
	}
	L.RaiseError(`bad "zone" argument`)
	return nil
}

func checkDict(L *lua.LState) *shdict.Dict { return checkZone(L).d }

// dictKey converts the key argument the way OpenResty does: nil is an
// error value (not a raised error), other values go through tostring.
func dictKey(L *lua.LState) (string, bool) {
	switch k := L.Get(2).(type) {
	case lua.LString:
		return string(k), true
	case *lua.LNilType:
		L.Push(lua.LNil)
		L.Push(lua.LString("nil key"))
		return "", false
	case lua.LNumber:
		return ljcompat.FormatNumber(float64(k)), true
	default:
		return ljcompat.ToString(L, k), true
	}
}

func pushErr(L *lua.LState, first lua.LValue, err error) int {
	L.Push(first)
	L.Push(lua.LString(err.Error()))
	return 2
}

// pushStore returns a store's outcome as OpenResty does: true, nil,
// forcible; false, err, forcible; or nil, err for a bad key.
func pushStore(L *lua.LState, forcible bool, err error) int {
	if err != nil {
		if keyErr(err) {
			return pushErr(L, lua.LNil, err)
		}
		L.Push(lua.LFalse)
		L.Push(lua.LString(err.Error()))
		L.Push(lua.LBool(forcible))
		return 3
	}
	L.Push(lua.LTrue)
	L.Push(lua.LNil)
	L.Push(lua.LBool(forcible))
	return 3
}

// keyErr reports key validation errors as nil, msg.
func keyErr(err error) bool {
	return err == shdict.ErrEmptyKey || err == shdict.ErrKeyTooLong
}

// pushValue pushes a dictionary value; strings are boxed by strs, the
// state's boxer (see luabox), as every read a server makes per request
// returns one.
func pushValue(L *lua.LState, strs *luabox.Boxer, v shdict.Value) {
	switch v.Kind {
	case shdict.KindString:
		L.Push(strs.String(v.Str))
	case shdict.KindNumber:
		L.Push(lua.LNumber(v.Num))
	case shdict.KindBoolean:
		L.Push(lua.LBool(v.Bool))
	default:
		L.Push(lua.LNil)
	}
}

// luaValue converts a Lua value for storage; ok is false for types a
// dictionary cannot hold.
func luaValue(lv lua.LValue) (shdict.Value, bool) {
	switch x := lv.(type) {
	case lua.LString:
		return shdict.String(string(x)), true
	case lua.LNumber:
		return shdict.Number(float64(x)), true
	case lua.LBool:
		return shdict.Bool(bool(x)), true
	}
	return shdict.Value{}, false
}

// numArg reads a number argument, accepting numeric strings as Lua's own
// coercion would (scripts pass exptime and flags parsed from the wire).
func numArg(L *lua.LState, i int, what string) (float64, bool) {
	switch x := L.Get(i).(type) {
	case *lua.LNilType:
		return 0, false
	case lua.LNumber:
		return float64(x), true
	case lua.LString:
		if f, ok := parseNumber(string(x)); ok {
			return f, true
		}
	}
	L.RaiseError(`bad "%s" argument`, what)
	return 0, false
}

// exptimeArg converts OpenResty's exptime (seconds, fractions allowed, 1 ms
// resolution) to a TTL; negative values are an error, as upstream.
func exptimeArg(L *lua.LState, i int) time.Duration {
	f, ok := numArg(L, i, "exptime")
	if !ok {
		return 0
	}
	if f < 0 {
		L.RaiseError(`bad "exptime" argument`)
	}
	return secondsToTTL(f)
}

func secondsToTTL(f float64) time.Duration {
	ms := math.Trunc(f * 1000)
	if ms <= 0 {
		if f < 0 {
			return -time.Millisecond
		}
		return 0
	}
	if ms > float64(math.MaxInt64/int64(time.Millisecond)) {
		return 0
	}
	return time.Duration(ms) * time.Millisecond
}

func flagsArg(L *lua.LState, i int) uint32 {
	f, ok := numArg(L, i, "flags")
	if !ok {
		return 0
	}
	return uint32(int64(f))
}

func dictGet(L *lua.LState) int {
	z := checkZone(L)
	key, ok := dictKey(L)
	if !ok {
		return 2
	}
	it, found, err := z.d.Get(key)
	if err != nil {
		return pushErr(L, lua.LNil, err)
	}
	if !found {
		L.Push(lua.LNil)
		return 1
	}
	pushValue(L, z.strs, it.Value)
	if it.Flags != 0 {
		L.Push(luanum.Uint(uint64(it.Flags)))
		return 2
	}
	return 1
}

func dictGetStale(L *lua.LState) int {
	z := checkZone(L)
	key, ok := dictKey(L)
	if !ok {
		return 2
	}
	it, stale, found, err := z.d.GetStale(key)
	if err != nil {
		return pushErr(L, lua.LNil, err)
	}
	if !found {
		L.Push(lua.LNil)
		return 1
	}
	pushValue(L, z.strs, it.Value)
	if it.Flags != 0 {
		L.Push(luanum.Uint(uint64(it.Flags)))
	} else {
		L.Push(lua.LNil)
	}
	L.Push(lua.LBool(stale))
	return 3
}

type storeFunc func(d *shdict.Dict, key string, v shdict.Value, ttl time.Duration, flags uint32) (bool, error)

func dictStore(op storeFunc, nilDeletes bool) lua.LGFunction {
	return func(L *lua.LState) int {
		d := checkDict(L)
		key, ok := dictKey(L)
		if !ok {
			return 2
		}
		lv := L.Get(3)
		if lv == lua.LNil {
			if nilDeletes {
				if _, err := d.Delete(key); err != nil {
					return pushErr(L, lua.LNil, err)
				}
				L.Push(lua.LTrue)
				L.Push(lua.LNil)
				L.Push(lua.LFalse)
				return 3
			}
			L.Push(lua.LFalse)
			L.Push(lua.LString("attempt to add or replace nil values"))
			L.Push(lua.LFalse)
			return 3
		}
		val, ok := luaValue(lv)
		if !ok {
			L.Push(lua.LNil)
			L.Push(lua.LString("bad value type"))
			return 2
		}
		ttl := exptimeArg(L, 4)
		flags := flagsArg(L, 5)
		forcible, err := op(d, key, val, ttl, flags)
		return pushStore(L, forcible, err)
	}
}

func dictDelete(L *lua.LState) int {
	d := checkDict(L)
	key, ok := dictKey(L)
	if !ok {
		return 2
	}
	if _, err := d.Delete(key); err != nil {
		return pushErr(L, lua.LNil, err)
	}
	L.Push(lua.LTrue)
	L.Push(lua.LNil)
	L.Push(lua.LFalse)
	return 3
}

func dictIncr(L *lua.LState) int {
	d := checkDict(L)
	key, ok := dictKey(L)
	if !ok {
		return 2
	}
	var step float64
	switch x := L.Get(3).(type) {
	case lua.LNumber:
		step = float64(x)
	case lua.LString:
		f, ok := parseNumber(string(x))
		if !ok {
			L.RaiseError("cannot convert 'nil' to 'double'")
		}
		step = f
	default:
		L.RaiseError("cannot convert '%s' to 'double'", x.Type().String())
	}
	initV := L.Get(4)
	initTTL := L.Get(5)
	if initV == lua.LNil {
		if initTTL != lua.LNil {
			L.RaiseError(`must provide "init" when providing "init_ttl"`)
		}
		n, err := d.Incr(key, step)
		if err != nil {
			return pushErr(L, lua.LNil, err)
		}
		L.Push(lua.LNumber(n))
		return 1
	}
	initN, isNum := initV.(lua.LNumber)
	if !isNum {
		L.RaiseError("bad init arg: number expected, got %s", initV.Type().String())
	}
	var ttl time.Duration
	if initTTL != lua.LNil {
		t, isNum := initTTL.(lua.LNumber)
		if !isNum {
			L.RaiseError("bad init_ttl arg: number expected, got %s", initTTL.Type().String())
		}
		if t < 0 {
			L.RaiseError(`bad "init_ttl" argument`)
		}
		ttl = secondsToTTL(float64(t))
	}
	n, forcible, err := d.IncrInit(key, step, float64(initN), ttl)
	if err != nil {
		L.Push(lua.LNil)
		L.Push(lua.LString(err.Error()))
		L.Push(lua.LBool(forcible))
		return 3
	}
	L.Push(lua.LNumber(n))
	L.Push(lua.LNil)
	L.Push(lua.LBool(forcible))
	return 3
}

func dictPush(left bool) lua.LGFunction {
	return func(L *lua.LState) int {
		d := checkDict(L)
		key, ok := dictKey(L)
		if !ok {
			return 2
		}
		var val shdict.Value
		switch x := L.Get(3).(type) {
		case lua.LString:
			val = shdict.String(string(x))
		case lua.LNumber:
			val = shdict.Number(float64(x))
		default:
			L.Push(lua.LNil)
			L.Push(lua.LString("bad value type"))
			return 2
		}
		var n int
		var err error
		if left {
			n, err = d.LPush(key, val)
		} else {
			n, err = d.RPush(key, val)
		}
		if err != nil {
			if err == shdict.ErrNoMemory {
				return pushErr(L, lua.LFalse, err)
			}
			return pushErr(L, lua.LNil, err)
		}
		L.Push(lua.LNumber(n))
		return 1
	}
}

func dictPop(left bool) lua.LGFunction {
	return func(L *lua.LState) int {
		z := checkZone(L)
		key, ok := dictKey(L)
		if !ok {
			return 2
		}
		var val shdict.Value
		var found bool
		var err error
		if left {
			val, found, err = z.d.LPop(key)
		} else {
			val, found, err = z.d.RPop(key)
		}
		if err != nil {
			return pushErr(L, lua.LNil, err)
		}
		if !found {
			L.Push(lua.LNil)
			return 1
		}
		pushValue(L, z.strs, val)
		return 1
	}
}

func dictLLen(L *lua.LState) int {
	d := checkDict(L)
	key, ok := dictKey(L)
	if !ok {
		return 2
	}
	n, err := d.LLen(key)
	if err != nil {
		return pushErr(L, lua.LNil, err)
	}
	L.Push(lua.LNumber(n))
	return 1
}

func dictTTL(L *lua.LState) int {
	d := checkDict(L)
	key, ok := dictKey(L)
	if !ok {
		return 2
	}
	ttl, err := d.TTL(key)
	if err != nil {
		return pushErr(L, lua.LNil, err)
	}
	L.Push(lua.LNumber(float64(ttl.Milliseconds()) / 1000))
	return 1
}

func dictExpire(L *lua.LState) int {
	d := checkDict(L)
	key, ok := dictKey(L)
	if !ok {
		return 2
	}
	f, given := numArg(L, 3, "exptime")
	if !given {
		L.RaiseError(`bad "exptime" argument`)
	}
	if err := d.Expire(key, secondsToTTL(f)); err != nil {
		return pushErr(L, lua.LNil, err)
	}
	L.Push(lua.LTrue)
	return 1
}

func dictFlushAll(L *lua.LState) int {
	checkDict(L).FlushAll()
	return 0
}

func dictFlushExpired(L *lua.LState) int {
	d := checkDict(L)
	L.Push(lua.LNumber(d.FlushExpired(L.OptInt(2, 0))))
	return 1
}

func dictGetKeys(L *lua.LState) int {
	d := checkDict(L)
	keys := d.Keys(L.OptInt(2, 1024))
	t := L.CreateTable(len(keys), 0)
	for i, k := range keys {
		t.RawSetInt(i+1, lua.LString(k))
	}
	L.Push(t)
	return 1
}

// memcached extensions (streamlua's own, not OpenResty's) ------------------

// mcTTL converts a relative exptime in seconds where a negative value means
// "already expired", as memcached defines it (the script resolves absolute
// Unix times before calling).
func mcTTL(L *lua.LState, i int) time.Duration {
	f, ok := numArg(L, i, "exptime")
	if !ok {
		return 0
	}
	if f < 0 {
		return -time.Millisecond
	}
	return secondsToTTL(f)
}

// pushItem returns a read as value, flags (always) and, with withCAS, cas;
// a single nil on a miss, or nil, err.
func pushItem(L *lua.LState, strs *luabox.Boxer, it shdict.Item, found bool, err error, withCAS bool) int {
	if err != nil {
		return pushErr(L, lua.LNil, err)
	}
	if !found {
		L.Push(lua.LNil)
		return 1
	}
	pushValue(L, strs, it.Value)
	L.Push(luanum.Uint(uint64(it.Flags)))
	if !withCAS {
		return 2
	}
	L.Push(lua.LNumber(it.CAS))
	return 3
}

// dictGets is gets(key[, hits[, misses]]): value, flags (always present)
// and cas, or nil on a miss, counting like lookup.
func dictGets(L *lua.LState) int { return countedGet(L, true) }

// countedGet is gets, or lookup without the cas.
func countedGet(L *lua.LState, withCAS bool) int {
	z := checkZone(L)
	key, ok := dictKey(L)
	if !ok {
		return 2
	}
	it, found, err := z.d.Get(key)
	countLookup(L, 3, found, err)
	return pushItem(L, z.strs, it, found, err, withCAS)
}

// countLookup adds 1 to the hits counter at argument i or, when nothing
// was found (an error included: the caller sees nil either way), to the
// misses counter at i+1; either may be nil.
func countLookup(L *lua.LState, i int, found bool, err error) {
	if !found || err != nil {
		i++
	}
	if c := optCounter(L, i); c != nil {
		c.Add(1)
	}
}

// dictLookup is lookup(key[, hits[, misses]]): value and flags (always
// present) of a live entry, or nil, adding 1 to the hits or the misses
// counter (handles from require("streamlua").counter; either may be nil).
// It is a get and a counter add in one call, which is most of what a cache
// does per request: in gopher-lua the call saved costs as much as the
// dictionary lookup.
func dictLookup(L *lua.LState) int { return countedGet(L, false) }

// dictGat is gat(key, exptime[, hits[, misses]]), get-and-touch: value,
// flags, cas with the new exptime applied, counting like lookup.
func dictGat(L *lua.LState) int {
	z := checkZone(L)
	key, ok := dictKey(L)
	if !ok {
		return 2
	}
	it, found, err := z.d.GetAndTouch(key, mcTTL(L, 3))
	countLookup(L, 4, found, err)
	return pushItem(L, z.strs, it, found, err, true)
}

// dictMcStore is memcached's storage family in one call:
// store(cmd, key, value, exptime, flags[, cas[, calls[, stored]]]) with cmd
// one of set, add, replace, cas; exptime follows memcached (negative =
// expired at once). It returns what set does, and on success also the cas
// unique the entry got (memcached's binary protocol answers with it).
// calls and stored are optional counters: 1 is added to calls on every
// call that gets this far, and to stored when the value was stored, so a
// server's set and its stats are one call (cas may be nil).
func dictMcStore(L *lua.LState) int {
	z := checkZone(L)
	cmd := L.CheckString(2)
	L.Remove(2)
	key, ok := dictKey(L)
	if !ok {
		return 2
	}
	val, ok := luaValue(L.Get(3))
	if !ok {
		L.Push(lua.LNil)
		L.Push(lua.LString("bad value type"))
		return 2
	}
	ttl := mcTTL(L, 4)
	flags := flagsArg(L, 5)
	var mode shdict.StoreMode
	var c uint64
	switch cmd {
	case "set":
		mode = shdict.StoreSet
	case "add":
		mode = shdict.StoreAdd
	case "replace":
		mode = shdict.StoreReplace
	case "cas", "cas_stale":
		mode = shdict.StoreCAS
		if cmd == "cas_stale" {
			mode = shdict.StoreCASStale
		}
		c = casArg(L, 6)
	default:
		L.RaiseError("unknown store command %q", cmd)
	}
	// The counters are checked before the store: a bad one raises with
	// the dictionary unchanged.
	calls, stored := optCounter(L, 7), optCounter(L, 8)
	newCAS, forcible, err := z.d.Store(mode, key, val, ttl, flags, c)
	if calls != nil {
		calls.Add(1)
	}
	if err != nil {
		return pushStore(L, forcible, err)
	}
	if stored != nil {
		stored.Add(1)
	}
	pushStore(L, forcible, nil)
	L.Push(z.strs.Number(float64(newCAS)))
	return 4
}

// dictPend is append/prepend(key, data[, cas]): with a cas other than 0
// the entry must have it ("exists" otherwise), checked in the same locked
// step as the change. On success the cas the entry got comes fourth, as
// for store.
func dictPend(prepend bool) lua.LGFunction {
	return func(L *lua.LState) int {
		d := checkDict(L)
		key, ok := dictKey(L)
		if !ok {
			return 2
		}
		data := L.CheckString(3)
		var cas uint64
		if L.Get(4) != lua.LNil {
			cas = casArg(L, 4)
		}
		newCAS, forcible, err := d.PendCAS(key, data, prepend, cas)
		if err != nil {
			return pushStore(L, forcible, err)
		}
		pushStore(L, forcible, nil)
		L.Push(lua.LNumber(newCAS))
		return 4
	}
}

// dictIncrDecimal is memcached's incr/decr:
// incr_decimal(key, delta, decr[, cas[, initial[, exptime]]]) with delta,
// cas and initial decimal strings or numbers; the result is a decimal
// string because uint64 values do not fit a Lua number, followed by the
// cas the entry got and whether it was created. A cas other than 0 must
// be the entry's ("exists"); with initial, a missing key is created with
// that value and exptime (memcached conventions) instead of "not found".
// Each is decided in the same locked step as the change.
func dictIncrDecimal(L *lua.LState) int {
	d := checkDict(L)
	key, ok := dictKey(L)
	if !ok {
		return 2
	}
	delta, ok := u64Arg(L, 3)
	if !ok {
		L.Push(lua.LNil)
		L.Push(lua.LString("invalid delta"))
		return 2
	}
	var o shdict.ArithOptions
	if L.Get(5) != lua.LNil {
		if o.CAS, ok = u64Arg(L, 5); !ok {
			L.RaiseError(`bad "cas" argument`)
		}
	}
	if L.Get(6) != lua.LNil {
		if o.Initial, ok = u64Arg(L, 6); !ok {
			L.RaiseError(`bad "initial" argument`)
		}
		o.Create, o.TTL = true, mcTTL(L, 7)
	}
	n, cas, created, err := d.Arith(key, delta, L.ToBool(4), o)
	if err != nil {
		return pushErr(L, lua.LNil, err)
	}
	L.Push(lua.LString(strconv.FormatUint(n, 10)))
	L.Push(lua.LNumber(cas))
	L.Push(lua.LBool(created))
	return 3
}

// u64Arg reads a non-negative integer given as a decimal string or a
// number (uint64 values above 2^53 only survive as strings).
func u64Arg(L *lua.LState, i int) (uint64, bool) {
	switch x := L.Get(i).(type) {
	case lua.LString:
		n, err := strconv.ParseUint(string(x), 10, 64)
		return n, err == nil
	case lua.LNumber:
		if x < 0 {
			return 0, false
		}
		return uint64(x), true
	}
	return 0, false
}

// dictRemove is delete that says what happened: remove(key[, cas]) →
// true, or false, "not found" (no live item) or false, "exists" (cas
// given and different). memcached's delete and md need the answer, and
// asking first would not be atomic.
func dictRemove(L *lua.LState) int {
	d := checkDict(L)
	key, ok := dictKey(L)
	if !ok {
		return 2
	}
	if L.Get(3) != lua.LNil {
		if err := d.DeleteCAS(key, casArg(L, 3)); err != nil {
			return pushErr(L, lua.LFalse, err)
		}
		L.Push(lua.LTrue)
		return 1
	}
	existed, err := d.Delete(key)
	if err != nil {
		return pushErr(L, lua.LNil, err)
	}
	if !existed {
		return pushErr(L, lua.LFalse, shdict.ErrNotFound)
	}
	L.Push(lua.LTrue)
	return 1
}

// dictFetch is memcached's mg read: fetch(key, steps, touch, vivify,
// recache, nobump[, hits[, misses]]). steps lists "T", "N" and "R" in the
// order the client gave its T, N and R flags; touch, vivify and recache are
// their exptimes (memcached conventions, as for gat), ignored when their
// letter is absent; nobump leaves LRU position and the fetched mark alone.
// A miss returns nil; a hit value, flags, cas, the seconds the entry had
// left before the call (0: never expires), then whether it had been
// fetched before (mg h), whether another client holds its token (Z), whether
// it is stale (X), whether this call won the token (W), and whether this
// call created it (N on a miss). hits/misses count like lookup; a created
// entry counts as a hit, as in memcached.
func dictFetch(L *lua.LState) int {
	z := checkZone(L)
	key, ok := dictKey(L)
	if !ok {
		return 2
	}
	steps := L.CheckString(3)
	var o shdict.FetchOptions
	if len(steps) > len(o.Steps) {
		L.ArgError(3, "at most three steps")
	}
	for i := 0; i < len(steps); i++ {
		switch steps[i] {
		case 'T':
			o.Steps[i], o.TouchTTL = shdict.StepTouch, mcTTL(L, 4)
		case 'N':
			o.Steps[i], o.VivifyTTL = shdict.StepVivify, mcTTL(L, 5)
		case 'R':
			o.Steps[i], o.RecacheTTL = shdict.StepRecache, mcTTL(L, 6)
		default:
			L.ArgError(3, `steps are "T", "N" and "R"`)
		}
	}
	o.NoBump = L.ToBool(7)
	it, r, found, err := z.d.Fetch(key, o)
	countLookup(L, 8, found, err)
	if n := pushItem(L, z.strs, it, found, err, true); n != 3 {
		return n
	}
	L.Push(lua.LNumber(float64(r.PrevTTL.Milliseconds()) / 1000))
	L.Push(lua.LBool(it.Marks&shdict.MarkFetched != 0))
	L.Push(lua.LBool(it.Marks&shdict.MarkToken != 0))
	L.Push(lua.LBool(it.Marks&shdict.MarkStale != 0))
	L.Push(lua.LBool(r.Won))
	L.Push(lua.LBool(r.Created))
	return 9
}

// dictInvalidate is memcached's md with I: invalidate(key[, cas[, exptime]])
// marks the live entry stale instead of deleting it, clears its token and
// gives it a new cas, and with exptime a new expiry. It returns true, or
// false, "not found" / false, "exists" (cas given and different).
func dictInvalidate(L *lua.LState) int {
	d := checkDict(L)
	key, ok := dictKey(L)
	if !ok {
		return 2
	}
	var o shdict.InvalidateOptions
	if L.Get(3) != lua.LNil {
		o.CAS, o.CheckCAS = casArg(L, 3), true
	}
	if L.Get(4) != lua.LNil {
		o.TTL, o.SetTTL = mcTTL(L, 4), true
	}
	if _, err := d.Invalidate(key, o); err != nil {
		return pushErr(L, lua.LFalse, err)
	}
	L.Push(lua.LTrue)
	return 1
}

// casArg reads a cas unique given as a number or a decimal string (uint64
// values above 2^53 do not survive a Lua number).
func casArg(L *lua.LState, i int) uint64 {
	n, ok := u64Arg(L, i)
	if !ok {
		L.RaiseError(`bad "cas" argument`)
	}
	return n
}

func dictTouch(L *lua.LState) int {
	d := checkDict(L)
	key, ok := dictKey(L)
	if !ok {
		return 2
	}
	if err := d.Touch(key, mcTTL(L, 3)); err != nil {
		return pushErr(L, lua.LFalse, err)
	}
	L.Push(lua.LTrue)
	return 1
}

func dictFlushAllAfter(L *lua.LState) int {
	d := checkDict(L)
	f, _ := numArg(L, 2, "delay")
	d.FlushAllAfter(secondsToTTL(f))
	return 0
}

func dictStats(L *lua.LState) int {
	st := checkDict(L).Stats()
	t := L.CreateTable(0, 5)
	t.RawSetString("items", lua.LNumber(st.Items))
	t.RawSetString("bytes", lua.LNumber(st.Bytes))
	t.RawSetString("capacity", lua.LNumber(st.Capacity))
	t.RawSetString("evictions", lua.LNumber(st.Evictions))
	t.RawSetString("expired", lua.LNumber(st.Expired))
	L.Push(t)
	return 1
}

var dictMethods = map[string]lua.LGFunction{
	"get":           dictGet,
	"get_stale":     dictGetStale,
	"set":           dictStore((*shdict.Dict).Set, true),
	"safe_set":      dictStore((*shdict.Dict).SafeSet, true),
	"add":           dictStore((*shdict.Dict).Add, false),
	"safe_add":      dictStore((*shdict.Dict).SafeAdd, false),
	"replace":       dictStore((*shdict.Dict).Replace, false),
	"delete":        dictDelete,
	"incr":          dictIncr,
	"lpush":         dictPush(true),
	"rpush":         dictPush(false),
	"lpop":          dictPop(true),
	"rpop":          dictPop(false),
	"llen":          dictLLen,
	"ttl":           dictTTL,
	"expire":        dictExpire,
	"flush_all":     dictFlushAll,
	"flush_expired": dictFlushExpired,
	"get_keys":      dictGetKeys,
	"capacity": func(L *lua.LState) int {
		L.Push(lua.LNumber(checkDict(L).Capacity()))
		return 1
	},
	"free_space": func(L *lua.LState) int {
		L.Push(lua.LNumber(checkDict(L).FreeSpace()))
		return 1
	},
	// streamlua extensions for memcached semantics.
	"gets":            dictGets,
	"lookup":          dictLookup,
	"gat":             dictGat,
	"store":           dictMcStore,
	"append":          dictPend(false),
	"prepend":         dictPend(true),
	"incr_decimal":    dictIncrDecimal,
	"touch":           dictTouch,
	"remove":          dictRemove,
	"fetch":           dictFetch,
	"invalidate":      dictInvalidate,
	"flush_all_after": dictFlushAllAfter,
	"stats":           dictStats,
}

package ljcompat

import (
	"maps"
	"math"
	"reflect"
	"slices"
	"unsafe"

	lua "github.com/yuin/gopher-lua"
)

// tableLayout mirrors the fields of gopher-lua v1.1.2's LTable. table.clear
// and table.clone use it to reset or copy the array part, both hash maps and
// the key-order index together: gopher-lua's own RawSet(k, nil) never
// removes a key from that index, so clearing through the public API would
// leave every key ever used behind and make next() walk them forever.
// layoutMatches checks the mirror against the real type at start-up, and
// the functions fall back to the public API when it does not match.
type tableLayout struct {
	Metatable lua.LValue
	array     []lua.LValue
	dict      map[lua.LValue]lua.LValue
	strdict   map[string]lua.LValue
	keys      []lua.LValue
	k2i       map[lua.LValue]int
}

// layoutMatches is computed once from the types and never changes.
var layoutMatches = checkLayout()

func checkLayout() bool {
	real := reflect.TypeOf(lua.LTable{})
	mirror := reflect.TypeOf(tableLayout{})
	if real.Size() != mirror.Size() || real.NumField() != mirror.NumField() {
		return false
	}
	for i := 0; i < real.NumField(); i++ {
		r, m := real.Field(i), mirror.Field(i)
		if r.Name != m.Name || r.Type != m.Type || r.Offset != m.Offset {
			return false
		}
	}
	return true
}

func layoutOf(t *lua.LTable) *tableLayout {
	return (*tableLayout)(unsafe.Pointer(t))
}

// Limits from LuaJIT's lj_def.h: table.new beyond them raises "table
// overflow". preallocCap bounds what is actually preallocated, since the
// sizes are only a hint and a script should not reserve gigabytes with one
// call.
const (
	maxArraySize = 1<<27 + 1
	maxHashSize  = 1 << 26
	preallocCap  = 1 << 16
)

// tableNew is table.new(narr, nrec): an empty table with room reserved.
func tableNew(L *lua.LState) int {
	narr := checkInt(L, 1)
	nrec := checkInt(L, 2)
	if narr > 0 && narr+1 > maxArraySize || nrec > maxHashSize {
		L.RaiseError("table overflow")
	}
	L.Push(L.CreateTable(min(max(narr, 0), preallocCap), min(max(nrec, 0), preallocCap)))
	return 1
}

// tableClear is table.clear(t): t is emptied in place, keeping its
// metatable and, like LuaJIT, the memory already allocated for its parts.
func tableClear(L *lua.LState) int {
	clearTable(L.CheckTable(1), layoutMatches)
	return 0
}

// clearTable empties t, through the mirrored layout when useLayout is set.
func clearTable(t *lua.LTable, useLayout bool) {
	if useLayout {
		lt := layoutOf(t)
		clear(lt.array)
		lt.array = lt.array[:0]
		clear(lt.dict)
		clear(lt.strdict)
		clear(lt.keys)
		lt.keys = lt.keys[:0]
		clear(lt.k2i)
		return
	}
	var keys []lua.LValue
	t.ForEach(func(k, _ lua.LValue) { keys = append(keys, k) })
	for _, k := range keys {
		t.RawSet(k, lua.LNil)
	}
}

// tableNKeys is table.nkeys(t): the number of non-nil entries in both parts.
func tableNKeys(L *lua.LState) int {
	t := L.CheckTable(1)
	n := 0
	t.ForEach(func(_, _ lua.LValue) { n++ })
	L.Push(lua.LNumber(n))
	return 1
}

// tableIsEmpty is table.isempty(t): whether t has no non-nil entry.
func tableIsEmpty(L *lua.LState) int {
	k, _ := L.CheckTable(1).Next(lua.LNil)
	L.Push(lua.LBool(k == lua.LNil))
	return 1
}

// tableIsArray is table.isarray(t) as OpenResty's LuaJIT implements it:
// true when every key with a non-nil value is an integral number (holes,
// zero and negative keys allowed), so an empty table is an array too.
func tableIsArray(L *lua.LState) int {
	t := L.CheckTable(1)
	ok := true
	t.ForEach(func(k, _ lua.LValue) {
		if n, isNum := k.(lua.LNumber); !isNum || math.Trunc(float64(n)) != float64(n) {
			ok = false
		}
	})
	L.Push(lua.LBool(ok))
	return 1
}

// tableClone is table.clone(t): a shallow copy without the metatable. With
// the known layout the copy keeps t's iteration order, as LuaJIT's does.
func tableClone(L *lua.LState) int {
	L.Push(cloneTable(L, L.CheckTable(1), layoutMatches))
	return 1
}

// cloneTable copies src, through the mirrored layout when useLayout is set.
func cloneTable(L *lua.LState, src *lua.LTable, useLayout bool) *lua.LTable {
	dst := L.CreateTable(0, 0)
	if useLayout {
		s, d := layoutOf(src), layoutOf(dst)
		d.array = slices.Clone(s.array)
		d.dict = maps.Clone(s.dict)
		d.strdict = maps.Clone(s.strdict)
		d.keys = slices.Clone(s.keys)
		d.k2i = maps.Clone(s.k2i)
	} else {
		src.ForEach(func(k, v lua.LValue) { dst.RawSet(k, v) })
	}
	return dst
}

// tableConcat is table.concat(t [, sep [, i [, j]]]) with LuaJIT's rules:
// indices may be numeric strings, j defaults to #t, numbers are written as
// FormatNumber writes them, and any other element raises "invalid value
// (TYPE) at index N in table for 'concat'".
func tableConcat(L *lua.LState) int {
	t := L.CheckTable(1)
	sep := optString(L, 2, "")
	i := 1
	if L.GetTop() >= 3 && L.Get(3) != lua.LNil {
		i = checkInt(L, 3)
	}
	var j int
	if L.GetTop() >= 4 && L.Get(4) != lua.LNil {
		j = checkInt(L, 4)
	} else {
		j = t.Len()
	}
	if i > j {
		L.Push(lua.LString(""))
		return 1
	}
	size := 0
	for k := i; ; k++ {
		switch v := t.RawGetInt(k).(type) {
		case lua.LString:
			size += len(v)
		case lua.LNumber:
			size += 24
		default:
			L.RaiseError("invalid value (%s) at index %d in table for 'concat'", v.Type().String(), k)
		}
		if k == j {
			break
		}
		size += len(sep)
	}
	buf := make([]byte, 0, size)
	for k := i; ; k++ {
		switch v := t.RawGetInt(k).(type) {
		case lua.LString:
			buf = append(buf, v...)
		case lua.LNumber:
			buf = AppendNumber(buf, float64(v))
		}
		if k == j {
			break
		}
		buf = append(buf, sep...)
	}
	L.Push(lua.LString(buf))
	return 1
}

// tableRemove is table.remove(t [, pos]) with LuaJIT's rules: without pos
// the element at #t is removed; with pos, only 1 <= pos <= #t removes
// anything, and otherwise nothing is returned.
func tableRemove(L *lua.LState) int {
	t := L.CheckTable(1)
	n := t.Len()
	pos := n
	if L.GetTop() >= 2 && L.Get(2) != lua.LNil {
		pos = checkInt(L, 2)
	} else if n == 0 {
		return 0
	}
	if pos < 1 || pos > n {
		return 0
	}
	L.Push(t.RawGetInt(pos))
	t.Remove(pos)
	return 1
}

// wrapInsert coerces a numeric-string position in table.insert(t, pos, v);
// with two arguments the second is the value and stays as it is.
func wrapInsert(orig lua.LGFunction) lua.LGFunction {
	return func(L *lua.LState) int {
		if L.GetTop() == 3 {
			coerceNumber(L, 2)
		}
		return orig(L)
	}
}

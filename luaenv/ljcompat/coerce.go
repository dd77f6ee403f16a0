package ljcompat

import (
	"math"
	"math/rand/v2"
	"unsafe"

	lua "github.com/yuin/gopher-lua"
)

// checkInt reads argument i as LuaJIT's lj_lib_checkint does: a number or a
// numeric string, truncated toward zero.
func checkInt(L *lua.LState, i int) int {
	return int(numToInt64(checkNum(L, i)))
}

// checkNum reads argument i as a number, converting numeric strings.
func checkNum(L *lua.LState, i int) float64 {
	if i > L.GetTop() {
		L.ArgError(i, "number expected, got no value")
	}
	switch x := L.Get(i).(type) {
	case lua.LNumber:
		return float64(x)
	case lua.LString:
		if f, ok := ParseNumber(string(x)); ok {
			return f
		}
	}
	L.TypeError(i, lua.LTNumber)
	return 0
}

// checkStr reads argument i as a string, converting numbers as LuaJIT does.
func checkStr(L *lua.LState, i int) string {
	if i > L.GetTop() {
		L.ArgError(i, "string expected, got no value")
	}
	switch x := L.Get(i).(type) {
	case lua.LString:
		return string(x)
	case lua.LNumber:
		return FormatNumber(float64(x))
	}
	L.TypeError(i, lua.LTString)
	return ""
}

// optString reads an optional string argument, converting numbers.
func optString(L *lua.LState, i int, def string) string {
	if L.Get(i) == lua.LNil {
		return def
	}
	return checkStr(L, i)
}

// coerceNumber replaces a numeric string in stack slot i with its number,
// so that gopher-lua's CheckInt/OptInt accept it as LuaJIT would.
func coerceNumber(L *lua.LState, i int) {
	if s, ok := L.Get(i).(lua.LString); ok {
		if f, ok := ParseNumber(string(s)); ok {
			L.Replace(i, lua.LNumber(f))
		}
	}
}

// coerceString replaces a number in stack slot i with its LuaJIT string
// form, so that gopher-lua's CheckString does not use Go's formatting.
func coerceString(L *lua.LState, i int) {
	if n, ok := L.Get(i).(lua.LNumber); ok {
		L.Replace(i, lua.LString(FormatNumber(float64(n))))
	}
}

// argSpec says which arguments of a wrapped library function are numbers
// and which are strings. Bit i stands for argument i; allNum covers every
// argument.
type argSpec struct {
	num, str uint32
	allNum   bool
}

// wrapArgs returns a copy of the Go function fn (keeping its upvalues and
// environment) that first rewrites its arguments per spec and then runs the
// original in the same frame. Arguments already of the right type cost one
// type check and no allocation.
func wrapArgs(fn *lua.LFunction, spec argSpec) *lua.LFunction {
	orig := fn.GFunction
	w := *fn
	w.GFunction = func(L *lua.LState) int {
		top := L.GetTop()
		for i := 1; i <= top; i++ {
			switch {
			case spec.allNum || (i < 32 && spec.num&(1<<uint(i)) != 0):
				coerceNumber(L, i)
			case i < 32 && spec.str&(1<<uint(i)) != 0:
				coerceString(L, i)
			}
		}
		return orig(L)
	}
	return &w
}

// bitsOf builds an argSpec mask from argument positions.
func bitsOf(pos ...int) uint32 {
	var m uint32
	for _, p := range pos {
		m |= 1 << uint(p)
	}
	return m
}

// strRep is string.rep(s, n [, sep]) as in LuaJIT 2.1, including the
// separator and LuaJIT's limit on the result's length.
func strRep(L *lua.LState) int {
	s := checkStr(L, 1)
	n := checkInt(L, 2)
	sep := optString(L, 3, "")
	if n <= 0 || len(s)+len(sep) == 0 {
		L.Push(lua.LString(""))
		return 1
	}
	const maxStr = 0x7fffff00 // LuaJIT's LJ_MAX_STR
	total := uint64(len(s))*uint64(n) + uint64(len(sep))*uint64(n-1)
	if uint64(n) > maxStr || total > maxStr {
		L.RaiseError("not enough memory")
	}
	// Fill by doubling: after the first copy of s the result is periodic
	// in sep+s, so each step copies everything written so far.
	buf := make([]byte, total)
	k := copy(buf, s)
	if n > 1 {
		k += copy(buf[k:], sep)
		k += copy(buf[k:], s)
		for start := len(s); k < len(buf); {
			k += copy(buf[k:], buf[start:k])
		}
	}
	// buf is never written again, so the string may share it.
	L.Push(lua.LString(unsafe.String(unsafe.SliceData(buf), len(buf))))
	return 1
}

// mathRandom is math.random as in LuaJIT 2.1: floor(r*m)+1 for one
// argument and floor(r*(n-m+1))+m for two, with no "interval is empty"
// check (gopher-lua's version panics inside math/rand on such intervals).
func mathRandom(L *lua.LState) int {
	d := rand.Float64()
	switch top := L.GetTop(); {
	case top == 0:
	case top == 1:
		d = math.Floor(d*checkNum(L, 1)) + 1
	default:
		lo, hi := checkNum(L, 1), checkNum(L, 2)
		d = math.Floor(d*(hi-lo+1)) + lo
	}
	L.Push(lua.LNumber(d))
	return 1
}

package ngxre

import (
	"math"
	"strconv"

	lua "github.com/yuin/gopher-lua"
)

// formatNumber renders a number as LuaJIT's tostring does ("%.14g"), so
// subjects and replacements that are numbers read the same as on OpenResty
// (gopher-lua itself prints 1e15 as 1000000000000000 and 0.1+0.2 in full).
func formatNumber(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		if math.Signbit(f) {
			return "-nan"
		}
		return "nan"
	}
	if f == 0 && math.Signbit(f) {
		return "-0"
	}
	if f == math.Trunc(f) && math.Abs(f) < 1e14 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'g', 14, 64)
}

// toLuaString converts v the way tostring() does on LuaJIT: strings as they
// are, numbers as "%.14g", other values through __tostring or their default
// text ("nil", "true", "table: 0x...").
func toLuaString(L *lua.LState, v lua.LValue) string {
	switch x := v.(type) {
	case lua.LString:
		return string(x)
	case lua.LNumber:
		return formatNumber(float64(x))
	}
	s := L.ToStringMeta(v)
	if str, ok := s.(lua.LString); ok {
		return string(str)
	}
	return s.String()
}

// smallInts holds pre-boxed numbers for the offsets and counts ngx.re
// returns, so that pushing them does not allocate. It is read-only.
var smallInts = func() [1024]lua.LValue {
	var t [1024]lua.LValue
	for i := range t {
		t[i] = lua.LNumber(i)
	}
	return t
}()

// luaInt boxes n as a Lua number.
func luaInt(n int) lua.LValue {
	if n >= 0 && n < len(smallInts) {
		return smallInts[n]
	}
	return lua.LNumber(n)
}

package ljcompat

import (
	"math/bits"
	"os"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// ToString converts v the way LuaJIT's tostring does: strings as they are,
// numbers through FormatNumber, nil and booleans by name, a value whose
// metatable has __tostring through that metamethod, and anything else as
// "type: 0x..." (or "NAME: 0x..." when the metatable has a string __name, a
// Lua 5.3 convention the host may use for its own userdata). A userdata
// whose Value is nil prints as "userdata: NULL", which is how LuaJIT prints
// the NULL light userdata that ngx.null is.
//
// Because it may call a metamethod, ToString must run where a Lua error can
// be raised (inside a Go function called from Lua, or under PCall); a
// __tostring that returns something other than a string or a number raises
// "'__tostring' must return a string".
func ToString(L *lua.LState, v lua.LValue) string {
	switch x := v.(type) {
	case lua.LString:
		return string(x)
	case lua.LNumber:
		return FormatNumber(float64(x))
	}
	if mm := L.GetMetaField(v, "__tostring"); mm != lua.LNil {
		L.Push(mm)
		L.Push(v)
		L.Call(1, 1)
		r := L.Get(-1)
		L.Pop(1)
		switch x := r.(type) {
		case lua.LString:
			return string(x)
		case lua.LNumber:
			return FormatNumber(float64(x))
		}
		L.RaiseError("'__tostring' must return a string")
	}
	return rawToString(L, v)
}

// rawToString converts v without calling metamethods (except reading
// __name).
func rawToString(L *lua.LState, v lua.LValue) string {
	switch x := v.(type) {
	case lua.LString:
		return string(x)
	case lua.LNumber:
		return FormatNumber(float64(x))
	case lua.LBool:
		if x {
			return "true"
		}
		return "false"
	case *lua.LNilType:
		return "nil"
	case *lua.LUserData:
		if x.Value == nil {
			return "userdata: NULL"
		}
	}
	s := v.String()
	switch v.(type) {
	case *lua.LTable, *lua.LUserData:
		if name, ok := L.GetMetaField(v, "__name").(lua.LString); ok {
			if i := strings.Index(s, ": "); i >= 0 {
				return string(name) + s[i:]
			}
		}
	}
	return s
}

// luaToString is the Lua tostring: it returns the metamethod's result as it
// is (like LuaJIT, which tail-calls it) and otherwise rawToString.
func luaToString(L *lua.LState) int {
	v := L.CheckAny(1)
	switch v.(type) {
	case lua.LString:
		L.Push(v)
		return 1
	case lua.LNumber:
		L.Push(lua.LString(FormatNumber(float64(v.(lua.LNumber)))))
		return 1
	}
	if mm := L.GetMetaField(v, "__tostring"); mm != lua.LNil {
		L.Push(mm)
		L.Push(v)
		L.Call(1, 1)
		return 1
	}
	L.Push(lua.LString(rawToString(L, v)))
	return 1
}

// luaToNumber is the Lua tonumber with LuaJIT's rules: without a base (or
// with base 10) strings go through ParseNumber; with another base in 2..36
// the argument is read as strtoul does, with an optional leading minus.
func luaToNumber(L *lua.LState) int {
	top := L.GetTop()
	if top < 1 {
		L.ArgError(1, "value expected")
	}
	base := 10
	if top >= 2 && L.Get(2) != lua.LNil {
		base = checkInt(L, 2)
	}
	v := L.Get(1)
	if base == 10 {
		switch x := v.(type) {
		case lua.LNumber:
			L.Push(x)
			return 1
		case lua.LString:
			if f, ok := ParseNumber(string(x)); ok {
				L.Push(lua.LNumber(f))
				return 1
			}
		}
		L.Push(lua.LNil)
		return 1
	}
	var s string
	switch x := v.(type) {
	case lua.LString:
		s = string(x)
	case lua.LNumber:
		s = FormatNumber(float64(x))
	default:
		L.TypeError(1, lua.LTString)
	}
	if base < 2 || base > 36 {
		L.ArgError(2, "base out of range")
	}
	if f, ok := parseBase(s, base); ok {
		L.Push(lua.LNumber(f))
	} else {
		L.Push(lua.LNil)
	}
	return 1
}

// parseBase converts s in the given base (2..36) as LuaJIT's tonumber does:
// spaces, an optional sign, then (only if an alphanumeric character follows)
// C's strtoul, which in base 16 also takes a "0x" prefix, then only spaces.
// Like the C code it stops at an embedded NUL. Overflow saturates at
// 2^64-1.
func parseBase(s string, base int) (float64, bool) {
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	i, n := 0, len(s)
	for i < n && isSpace(s[i]) {
		i++
	}
	neg := false
	if i < n && (s[i] == '-' || s[i] == '+') {
		neg = s[i] == '-'
		i++
	}
	if i >= n || digitVal(s[i]) > 35 {
		return 0, false
	}
	if base == 16 && i+2 < n && s[i] == '0' && lowerASCII(s[i+1]) == 'x' && digitVal(s[i+2]) < 16 {
		i += 2
	}
	var u uint64
	overflow := false
	digits := 0
	for ; i < n; i++ {
		d := digitVal(s[i])
		if d >= base {
			break
		}
		digits++
		if overflow {
			continue
		}
		hi, lo := bits.Mul64(u, uint64(base))
		sum, carry := bits.Add64(lo, uint64(d), 0)
		if hi != 0 || carry != 0 {
			overflow = true
		}
		u = sum
	}
	if digits == 0 {
		return 0, false
	}
	for i < n && isSpace(s[i]) {
		i++
	}
	if i != n {
		return 0, false
	}
	if overflow {
		u = ^uint64(0)
	}
	f := float64(u)
	if neg {
		f = -f
	}
	return f, true
}

// digitVal is the value of c as a digit in bases up to 36, or 99.
func digitVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'Z':
		return int(c-'A') + 10
	}
	return 99
}

// newPrint returns LuaJIT's print: each argument goes through the global
// tostring (ToString directly while that is still the built-in one),
// separated by tabs, and the line is written to standard output at once.
func newPrint(builtin *lua.LFunction) lua.LGFunction {
	return func(L *lua.LState) int {
		top := L.GetTop()
		ts := L.GetGlobal("tostring")
		var small [128]byte
		line := small[:0]
		for i := 1; i <= top; i++ {
			if i > 1 {
				line = append(line, '\t')
			}
			v := L.Get(i)
			if fn, ok := ts.(*lua.LFunction); ok && fn == builtin {
				switch x := v.(type) {
				case lua.LString:
					line = append(line, x...)
				case lua.LNumber:
					line = AppendNumber(line, float64(x))
				default:
					line = append(line, ToString(L, v)...)
				}
				continue
			}
			L.Push(ts)
			L.Push(v)
			L.Call(1, 1)
			r := L.Get(-1)
			L.Pop(1)
			switch x := r.(type) {
			case lua.LString:
				line = append(line, x...)
			case lua.LNumber:
				line = AppendNumber(line, float64(x))
			default:
				L.RaiseError("'tostring' must return a string to 'print'")
			}
		}
		line = append(line, '\n')
		_, _ = os.Stdout.Write(line)
		return 0
	}
}

package ljcompat

import (
	"strconv"
	"strings"
	"unsafe"

	lua "github.com/yuin/gopher-lua"
)

// strFormat is string.format with LuaJIT 2.1's semantics. gopher-lua hands
// the format to Go's fmt, which differs from C in many places a server
// notices: %s of a number uses Go's shortest form, %d of a numeric string
// is printed as a string, %x of a string prints its bytes in hex, %c writes
// UTF-8, %g without a precision is not %.6g, %x of a negative number keeps
// the sign, %u and %q are Go's, and a missing argument prints
// "%!d(MISSING)" instead of raising an error.
//
// Supported conversions: d i o u x X c e E f F g G a A s q p and %%, with
// the flags "-+ #0", a width and a precision of at most two digits each.
func strFormat(L *lua.LState) int {
	f := checkStr(L, 1)
	top := L.GetTop()
	var small [256]byte
	buf := small[:0]
	arg := 1
	for i := 0; i < len(f); {
		c := f[i]
		if c != '%' {
			j := strings.IndexByte(f[i:], '%')
			if j < 0 {
				j = len(f) - i
			}
			buf = append(buf, f[i:i+j]...)
			i += j
			continue
		}
		if i+1 < len(f) && f[i+1] == '%' {
			buf = append(buf, '%')
			i += 2
			continue
		}
		sp, next, ok := parseSpec(f, i)
		if !ok {
			end := next
			if end < len(f) && f[end] >= 32 {
				end++
			}
			L.RaiseError("invalid option '%s' to 'format'", f[i:end])
		}
		i = next
		arg++
		if arg > top {
			L.ArgError(arg, "value expected")
		}
		switch sp.verb {
		case 'd', 'i':
			sp.verb = 'd'
			buf = appendInt(buf, uint64(numToInt64(checkNum(L, arg))), sp)
		case 'o', 'u', 'x', 'X':
			buf = appendInt(buf, numToUint64(checkNum(L, arg)), sp)
		case 'e', 'E', 'f', 'F', 'g', 'G', 'a', 'A':
			buf = appendFloat(buf, checkNum(L, arg), sp)
		case 'c':
			ch := [1]byte{byte(checkInt(L, arg))}
			buf = pad(buf, ch[:], 0, sp.width, sp.minus, false)
		case 's':
			s := formatArgString(L, arg)
			if sp.prec >= 0 && len(s) > sp.prec {
				s = s[:sp.prec]
			}
			buf = pad(buf, unsafe.Slice(unsafe.StringData(s), len(s)), 0, sp.width, sp.minus, false)
		case 'q':
			buf = appendQuoted(buf, formatArgString(L, arg))
		case 'p':
			buf = appendPointer(buf, L.Get(arg))
		}
	}
	L.Push(lua.LString(buf))
	return 1
}

// parseSpec parses the conversion starting at f[i] == '%' as LuaJIT's
// lj_strfmt_parse does. It returns the index after the conversion, or, when
// the conversion is invalid, the index of the offending character.
func parseSpec(f string, i int) (numSpec, int, bool) {
	sp := numSpec{prec: -1}
	i++
flags:
	for ; i < len(f); i++ {
		switch f[i] {
		case '-':
			sp.minus = true
		case '+':
			sp.plus = true
		case ' ':
			sp.space = true
		case '#':
			sp.alt = true
		case '0':
			sp.zero = true
		default:
			break flags
		}
	}
	if i < len(f) && isDigit(f[i]) {
		sp.width = int(f[i] - '0')
		i++
		if i < len(f) && isDigit(f[i]) {
			sp.width = sp.width*10 + int(f[i]-'0')
			i++
		}
	}
	if i < len(f) && f[i] == '.' {
		sp.prec = 0
		i++
		if i < len(f) && isDigit(f[i]) {
			sp.prec = int(f[i] - '0')
			i++
			if i < len(f) && isDigit(f[i]) {
				sp.prec = sp.prec*10 + int(f[i]-'0')
				i++
			}
		}
	}
	if i >= len(f) || strings.IndexByte("aAcdeEfFgGiopqsuxX", f[i]) < 0 {
		return sp, i, false
	}
	sp.verb = f[i]
	return sp, i + 1, true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// formatArgString converts argument i for %s and %q: strings as they are,
// otherwise through __tostring once, otherwise as tostring would.
func formatArgString(L *lua.LState, i int) string {
	v := L.Get(i)
	if s, ok := v.(lua.LString); ok {
		return string(s)
	}
	if _, ok := v.(lua.LNumber); !ok {
		if mm := L.GetMetaField(v, "__tostring"); mm != lua.LNil {
			L.Push(mm)
			L.Push(v)
			L.Call(1, 1)
			v = L.Get(-1)
			L.Pop(1)
		}
	}
	return rawToString(L, v)
}

// appendQuoted appends s as LuaJIT's %q does: in double quotes, with '"',
// '\\' and newline escaped by a backslash and other control characters as
// decimal escapes, padded to three digits only when a digit follows.
func appendQuoted(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\' || c == '\n':
			b = append(b, '\\', c)
		case c < 32 || c == 127:
			b = append(b, '\\')
			if i+1 < len(s) && isDigit(s[i+1]) {
				b = append(b, '0'+c/100, '0'+c/10%10, '0'+c%10)
			} else {
				b = strconv.AppendUint(b, uint64(c), 10)
			}
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// appendPointer appends %p: the address of a garbage-collected value, or
// "NULL" for values that have none.
func appendPointer(b []byte, v lua.LValue) []byte {
	switch x := v.(type) {
	case *lua.LTable, *lua.LFunction, *lua.LUserData, *lua.LState:
		s := v.String()
		if j := strings.Index(s, ": "); j >= 0 {
			return append(b, s[j+2:]...)
		}
	case lua.LString:
		if len(x) > 0 {
			b = append(b, '0', 'x')
			return strconv.AppendUint(b, uint64(uintptr(unsafe.Pointer(unsafe.StringData(string(x))))), 16)
		}
	}
	return append(b, "NULL"...)
}

package ljcompat

import (
	"math"
	"math/bits"

	lua "github.com/yuin/gopher-lua"
)

// bitFuncs returns LuaJIT's BitOp library. Every result is a signed 32-bit
// integer returned as a Lua number.
func bitFuncs() map[string]lua.LGFunction {
	return map[string]lua.LGFunction{
		"tobit":   bitToBit,
		"tohex":   bitToHex,
		"bnot":    bitNot,
		"band":    bitAnd,
		"bor":     bitOr,
		"bxor":    bitXor,
		"lshift":  bitLShift,
		"rshift":  bitRShift,
		"arshift": bitARShift,
		"rol":     bitRol,
		"ror":     bitRor,
		"bswap":   bitSwap,
	}
}

// toBit normalizes a Lua number to 32 bits exactly as LuaJIT does: adding
// 2^52+2^51 puts the integer part, rounded to nearest even, in the low word
// of the double, which is then read as a signed 32-bit integer. Numbers are
// thus taken modulo 2^32; beyond +-2^51 the result is what x86-64 LuaJIT
// computes, which BitOp calls unspecified.
func toBit(n float64) int32 {
	return int32(uint32(math.Float64bits(n + 6755399441055744.0)))
}

// checkBit reads argument i as BitOp does: a number, or a string that
// converts to one.
func checkBit(L *lua.LState, i int) int32 {
	if i > L.GetTop() {
		L.ArgError(i, "number expected, got no value")
	}
	switch x := L.Get(i).(type) {
	case lua.LNumber:
		return toBit(float64(x))
	case lua.LString:
		if f, ok := ParseNumber(string(x)); ok {
			return toBit(f)
		}
	}
	L.TypeError(i, lua.LTNumber)
	return 0
}

func pushBit(L *lua.LState, v int32) int {
	L.Push(lua.LNumber(v))
	return 1
}

func bitToBit(L *lua.LState) int { return pushBit(L, checkBit(L, 1)) }

func bitNot(L *lua.LState) int { return pushBit(L, ^checkBit(L, 1)) }

func bitSwap(L *lua.LState) int {
	return pushBit(L, int32(bits.ReverseBytes32(uint32(checkBit(L, 1)))))
}

func bitAnd(L *lua.LState) int {
	v := checkBit(L, 1)
	for i, top := 2, L.GetTop(); i <= top; i++ {
		v &= checkBit(L, i)
	}
	return pushBit(L, v)
}

func bitOr(L *lua.LState) int {
	v := checkBit(L, 1)
	for i, top := 2, L.GetTop(); i <= top; i++ {
		v |= checkBit(L, i)
	}
	return pushBit(L, v)
}

func bitXor(L *lua.LState) int {
	v := checkBit(L, 1)
	for i, top := 2, L.GetTop(); i <= top; i++ {
		v ^= checkBit(L, i)
	}
	return pushBit(L, v)
}

// shiftArgs reads the value and the shift count; only the low five bits of
// the count matter, as on x86.
func shiftArgs(L *lua.LState) (uint32, uint) {
	x := uint32(checkBit(L, 1))
	n := uint(checkBit(L, 2)) & 31
	return x, n
}

func bitLShift(L *lua.LState) int {
	x, n := shiftArgs(L)
	return pushBit(L, int32(x<<n))
}

func bitRShift(L *lua.LState) int {
	x, n := shiftArgs(L)
	return pushBit(L, int32(x>>n))
}

func bitARShift(L *lua.LState) int {
	x, n := shiftArgs(L)
	return pushBit(L, int32(x)>>n)
}

func bitRol(L *lua.LState) int {
	x, n := shiftArgs(L)
	return pushBit(L, int32(bits.RotateLeft32(x, int(n))))
}

func bitRor(L *lua.LState) int {
	x, n := shiftArgs(L)
	return pushBit(L, int32(bits.RotateLeft32(x, -int(n))))
}

// bitToHex is bit.tohex(x [, n]): n hex digits (default 8), upper case when
// n is negative. As in LuaJIT 2.1 with FFI, the 32-bit value is zero-extended
// to 64 bits and masked to n digits when n < 16, and n is capped at 254, so
// tohex(-1, 10) is "00ffffffff" and tohex(x, 0) is "".
func bitToHex(L *lua.LState) int {
	b := uint64(uint32(checkBit(L, 1)))
	n := int32(8)
	if L.GetTop() >= 2 {
		n = checkBit(L, 2)
	}
	digits := "0123456789abcdef"
	if n < 0 {
		n = int32(^uint32(n) + 1)
		digits = "0123456789ABCDEF"
	}
	if uint32(n) > 254 {
		n = 254
	}
	if n < 16 {
		b &= 1<<(4*uint(n)) - 1
	}
	var buf [254]byte
	out := buf[:n]
	for i := len(out) - 1; i >= 0; i-- {
		out[i] = digits[b&15]
		b >>= 4
	}
	L.Push(lua.LString(out))
	return 1
}

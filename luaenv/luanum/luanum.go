// Package luanum hands out Lua numbers as gopher-lua values without
// allocating for the small integers that host functions return on every
// request: byte counts, token counts, lengths, opcodes, flags.
//
// Go code passes numbers to gopher-lua as lua.LValue, an interface, and
// converting a float64 to an interface allocates for every value but 0.
// At a million requests a second those 8-byte allocations are a few
// percent of the server's CPU, in the allocator and the collector. The
// values here are boxed once and shared: an interface holding a number is
// immutable, so states on any goroutine may push the same one.
package luanum

import lua "github.com/yuin/gopher-lua"

// Max is the largest integer Int returns without allocating.
const Max = 1023

var small = func() (t [Max + 1]lua.LValue) {
	for i := range t {
		t[i] = lua.LNumber(i)
	}
	return t
}()

// Int returns n as a Lua number.
func Int(n int) lua.LValue {
	if n >= 0 && n <= Max {
		return small[n]
	}
	return lua.LNumber(n)
}

// Uint returns n as a Lua number (exact below 2^53, as every Lua number).
func Uint(n uint64) lua.LValue {
	if n <= Max {
		return small[n]
	}
	return lua.LNumber(n)
}

// Package luabox hands short strings and numbers to gopher-lua without a
// heap allocation each.
//
// A lua.LValue is an interface, and putting a string or a float64 in one
// allocates its 16-byte header or 8-byte number on the heap. A server hands
// a key and a value to Lua on every request, and those allocations, with
// the collector's work on them, are a measurable share of its CPU. A Boxer
// allocates them in pages instead and points each interface at an element
// of a page, the way gopher-lua itself boxes numbers (its allocator's
// LNumber2I).
//
// The price is retention: while any value from a page is reachable, the
// whole page and every string its headers point to stay alive. Strings
// longer than MaxLen are therefore boxed the ordinary way, which bounds
// what one long-lived value can keep alive to a page of short strings.
//
// A Boxer is not safe for concurrent use: keep one per Lua state. The
// values it returns are ordinary immutable Lua values, safe anywhere.
package luabox

import (
	"unsafe"

	lua "github.com/yuin/gopher-lua"
)

const (
	// MaxLen is the longest string boxed in a page; longer ones are
	// boxed one allocation each.
	MaxLen = 256
	// PageLen is how many strings (2 KiB of headers) or numbers (1 KiB)
	// a page holds.
	PageLen = 128
)

// iface is the layout of a non-empty Go interface value.
type iface struct {
	tab  unsafe.Pointer
	data unsafe.Pointer
}

// tabOf returns the interface table of v's dynamic type as a lua.LValue,
// taken from a value boxed by the compiler, so it is the one every such
// interface in the program carries.
func tabOf(v lua.LValue) unsafe.Pointer { return (*iface)(unsafe.Pointer(&v)).tab }

var (
	stringTab = tabOf(lua.LString(""))
	numberTab = tabOf(lua.LNumber(0))
)

// Boxer boxes strings and numbers into Lua values from pages. The zero
// value is ready to use.
type Boxer struct {
	strs []string
	nums []float64
}

// String returns s as a Lua string value.
func (b *Boxer) String(s string) lua.LValue {
	if len(s) > MaxLen {
		return lua.LString(s)
	}
	if len(b.strs) == cap(b.strs) {
		b.strs = make([]string, 0, PageLen)
	}
	b.strs = append(b.strs, s)
	var v lua.LValue
	*(*iface)(unsafe.Pointer(&v)) = iface{stringTab, unsafe.Pointer(&b.strs[len(b.strs)-1])}
	return v
}

// Bytes returns a copy of p as a Lua string value.
func (b *Boxer) Bytes(p []byte) lua.LValue {
	if len(p) > MaxLen {
		return lua.LString(p)
	}
	return b.String(string(p))
}

// Number returns f as a Lua number value.
func (b *Boxer) Number(f float64) lua.LValue {
	if len(b.nums) == cap(b.nums) {
		b.nums = make([]float64, 0, PageLen)
	}
	b.nums = append(b.nums, f)
	var v lua.LValue
	*(*iface)(unsafe.Pointer(&v)) = iface{numberTab, unsafe.Pointer(&b.nums[len(b.nums)-1])}
	return v
}

// Reset lets go of the current pages, so that an idle owner keeps no
// strings alive; values already handed out keep what they need.
func (b *Boxer) Reset() { b.strs, b.nums = nil, nil }

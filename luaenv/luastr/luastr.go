// Package luastr hands short Go strings to gopher-lua without a heap
// allocation each.
//
// A lua.LValue is an interface, and putting a string in one allocates a
// 16-byte string header on the heap. A server hands a key and a value to
// Lua on every request, and those headers, with the collector's work on
// them, are a measurable share of its CPU. A Boxer allocates the headers
// in pages instead and points each interface at an element of a page, the
// way gopher-lua itself boxes numbers (its allocator's LNumber2I).
//
// The price is retention: while any value from a page is reachable, the
// whole page and every string its headers point to stay alive. Strings
// longer than MaxLen are therefore boxed the ordinary way, which bounds
// what one long-lived value can keep alive to a page of short strings.
//
// A Boxer is not safe for concurrent use: keep one per Lua state. The
// values it returns are ordinary immutable Lua strings, safe anywhere.
package luastr

import (
	"unsafe"

	lua "github.com/yuin/gopher-lua"
)

const (
	// MaxLen is the longest string boxed in a page; longer ones are
	// boxed one allocation each.
	MaxLen = 256
	// PageLen is how many headers a page holds (2 KiB of them).
	PageLen = 128
)

// iface is the layout of a non-empty Go interface value.
type iface struct {
	tab  unsafe.Pointer
	data unsafe.Pointer
}

// stringTab is the interface table of lua.LString as a lua.LValue, taken
// from a value boxed by the compiler, so it is the one every LString
// interface in the program carries.
var stringTab = func() unsafe.Pointer {
	var v lua.LValue = lua.LString("")
	return (*iface)(unsafe.Pointer(&v)).tab
}()

// Boxer boxes strings into Lua values from pages of string headers. The
// zero value is ready to use.
type Boxer struct {
	page []string
}

// String returns s as a Lua string value.
func (b *Boxer) String(s string) lua.LValue {
	if len(s) > MaxLen {
		return lua.LString(s)
	}
	if len(b.page) == cap(b.page) {
		b.page = make([]string, 0, PageLen)
	}
	b.page = append(b.page, s)
	var v lua.LValue
	*(*iface)(unsafe.Pointer(&v)) = iface{stringTab, unsafe.Pointer(&b.page[len(b.page)-1])}
	return v
}

// Reset lets go of the current page, so that an idle owner keeps no
// strings alive; values already handed out keep what they need.
func (b *Boxer) Reset() { b.page = nil }

// Bytes returns a copy of p as a Lua string value.
func (b *Boxer) Bytes(p []byte) lua.LValue {
	if len(p) > MaxLen {
		return lua.LString(p)
	}
	return b.String(string(p))
}

// Package bytepack gives Lua scripts big-endian integer packing, which Lua
// 5.1 (and so gopher-lua) lacks: there is no string.pack, and a Lua number
// is a double, so a 64-bit integer cannot be held in one exactly.
//
// Scripts load it with
//
//	local pack = require "streamlua.pack"
//
// after luaenv registers Loader as a preload. It is written for binary wire
// protocols such as memcached's, whose handler (scripts/resty/memcached/
// binary.lua) runs once per request, so the module is shaped around that
// request path:
//
//  1. The script keeps its unread input in a string and hands it to
//     request (or header, for every field), which splits the header at a
//     position into its fields in one Go call and returns them as plain
//     values, with the extras and key after it as one string: no table
//     per request, and no second call to cut out the key.
//  2. The script reads the body, picks integers out of it with read_u8 …
//     read_u64 (64-bit values come back as decimal strings, or as two
//     32-bit halves with read_u64_halves, so nothing is rounded), and
//     takes keys and values with string.sub.
//  3. It answers with response, which builds the 24-byte response header
//     (optionally followed by a 32-bit extras word) in one call, and sends
//     it with the key and value as separate send arguments, so the value is
//     never copied into an intermediate Lua string.
//
// The Go functions behind the module (ParseHeader, Header.Append,
// ParseDecimal, AppendUint) are exported for Go callers and tests. Bad
// arguments from a script (wrong types, integers out of range) raise Lua
// errors; input that is merely too short returns nil and an error string,
// since it comes from the network, not from a programming mistake.
//
// read_u64 returns decimal strings; the cas field of header is a number
// when it is at most 2^53 (every such integer is exact in a double; the
// usual cas of 0 then needs no string) and a decimal string above. The
// functions that take a 64-bit value accept either form, or two 32-bit
// halves.
package bytepack

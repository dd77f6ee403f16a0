// Package ljcompat makes a gopher-lua state behave like LuaJIT (as bundled
// with OpenResty) wherever OpenResty code can tell the difference.
//
// The host creates an LState with the base, string, table, math and package
// libraries open and calls Open once. Open adds what LuaJIT has and
// gopher-lua lacks (the bit library, table.new and OpenResty's other table
// extensions, a jit stub) and replaces or wraps the library functions whose
// behaviour differs (tostring, tonumber, print, string.format, string.rep,
// table.concat, table.remove, math.random). Functions that gopher-lua
// implements correctly but whose integer arguments it checks strictly
// (string.sub(s, 1, "5") is an error in gopher-lua and fine in LuaJIT) are
// wrapped: the wrapper converts numeric-string arguments to numbers in
// place on the Lua stack and then runs the original Go function in the same
// frame, so arguments that are already numbers cost one type check.
//
// Numbers become text in one place, AppendNumber, which follows LuaJIT's
// "%.14g" exactly (including its rounding of exact ties away from zero);
// FormatNumber and ToString are built on it and the host uses them for
// send, ngx.say and ngx.log. Text becomes a number in one place,
// ParseNumber, which follows LuaJIT's lj_strscan (decimal, hex with
// fraction and binary exponent, 0b binary, inf and nan).
//
// What this package cannot change: gopher-lua's VM converts between numbers
// and strings itself for operators. The .. operator uses Go's shortest form,
// so 0.1+0.2 .. "" is "0.30000000000000004" and 1e15 .. "" is
// "1000000000000000", while tostring gives "0.3" and "1e+15"; arithmetic on
// strings uses Go's base-0 integer syntax, so "010"+0 is 8 (LuaJIT: 10).
// Its lexer also ignores LuaJIT's \x escapes; TranslateSource rewrites
// source text so that they keep their meaning.
package ljcompat

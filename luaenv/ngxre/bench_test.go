package ngxre

import (
	"testing"

	lua "github.com/yuin/gopher-lua"
)

const benchLine = "set user:1234 0 3600 5"

// benchCall calls fn with args b.N times from Go, which is how the cost of
// one ngx.re call (binding, cache hit, match, result boxing) is isolated
// from Lua interpretation.
func benchCall(b *testing.B, L *lua.LState, fn lua.LValue, args ...lua.LValue) {
	b.Helper()
	benchCallReset(b, L, nil, fn, args...)
}

// benchCallReset is benchCall with a reset step before every call.
func benchCallReset(b *testing.B, L *lua.LState, reset func(), fn lua.LValue, args ...lua.LValue) {
	b.Helper()
	p := lua.P{Fn: fn, NRet: lua.MultRet, Protect: true}
	if err := L.CallByParam(p, args...); err != nil {
		b.Fatal(err)
	}
	L.SetTop(0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if reset != nil {
			reset()
		}
		if err := L.CallByParam(p, args...); err != nil {
			b.Fatal(err)
		}
		L.SetTop(0)
	}
}

func reFunc(b *testing.B, L *lua.LState, name string) lua.LValue {
	b.Helper()
	fn := L.GetField(L.GetField(L.GetGlobal("ngx"), "re"), name)
	if fn == lua.LNil {
		b.Fatalf("ngx.re.%s missing", name)
	}
	return fn
}

func splitFunc(b *testing.B, L *lua.LState) lua.LValue {
	b.Helper()
	if err := L.DoString(`split = require("ngx.re").split`); err != nil {
		b.Fatal(err)
	}
	return L.GetGlobal("split")
}

// BenchmarkFindJO is one ngx.re.find(line, [[\S+]], "jo", ctx) call, the
// memcached script's tokeniser step.
func BenchmarkFindJO(b *testing.B) {
	L := newState(b, NewCache(DefaultCacheEntries))
	ctx := L.NewTable()
	start := luaInt(5)
	reset := func() { ctx.RawSetString("pos", start) }
	reset()
	fn := reFunc(b, L, "find")
	benchCallReset(b, L, reset, fn, lua.LString(benchLine), lua.LString(`\S+`), lua.LString("jo"), ctx)
	if got := ctx.RawGetString("pos"); got != lua.LNumber(14) {
		b.Fatalf("ctx.pos = %v after the last call, want 14", got)
	}
}

// BenchmarkFindJOGoEngine is find with a pattern that runs on Go's regexp.
func BenchmarkFindJOGoEngine(b *testing.B) {
	L := newState(b, NewCache(DefaultCacheEntries))
	fn := reFunc(b, L, "find")
	benchCall(b, L, fn, lua.LString(benchLine), lua.LString(`^(\w+) (\S+)`), lua.LString("jo"), lua.LNil, lua.LNumber(2))
}

// BenchmarkFindJORegexp2 is find with a pattern only regexp2 can run.
func BenchmarkFindJORegexp2(b *testing.B) {
	L := newState(b, NewCache(DefaultCacheEntries))
	fn := reFunc(b, L, "find")
	benchCall(b, L, fn, lua.LString(benchLine), lua.LString(`(\w+)(?= \d)`), lua.LString("jo"))
}

// BenchmarkFindNoCache is find with caching disabled, i.e. a compile per
// call as OpenResty does without "o".
func BenchmarkFindNoCache(b *testing.B) {
	L := newState(b, NewCache(0))
	fn := reFunc(b, L, "find")
	benchCall(b, L, fn, lua.LString(benchLine), lua.LString(`\S+`), lua.LString("j"))
}

// BenchmarkTokenizeFindLoop is the whole memcached-script tokeniser in Lua:
// a find loop with ctx.pos over one command line.
func BenchmarkTokenizeFindLoop(b *testing.B) {
	L := newState(b, NewCache(DefaultCacheEntries))
	if err := L.DoString(`
		local find = ngx.re.find
		function tokenize(line)
			local n, ctx = 0, {pos = 1}
			while true do
				local from, to = find(line, [[\S+]], "jo", ctx)
				if not from then return n end
				n = n + 1
			end
		end`); err != nil {
		b.Fatal(err)
	}
	benchCall(b, L, L.GetGlobal("tokenize"), lua.LString(benchLine))
}

// BenchmarkSplitCommandLine splits a memcached command line with the
// separators scripts use; all three take the byte-scan fast path.
func BenchmarkSplitCommandLine(b *testing.B) {
	for _, bc := range []struct{ name, re string }{
		{"spaces", " +"},
		{"whitespace", `\s+`},
		{"bracket", "[ ]+"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			L := newState(b, NewCache(DefaultCacheEntries))
			benchCall(b, L, splitFunc(b, L), lua.LString(benchLine), lua.LString(bc.re), lua.LString("jo"))
		})
	}
}

// BenchmarkSplitGoEngine splits with a separator that needs Go's regexp.
func BenchmarkSplitGoEngine(b *testing.B) {
	L := newState(b, NewCache(DefaultCacheEntries))
	benchCall(b, L, splitFunc(b, L), lua.LString("a ; b;c ;d"), lua.LString(`\s*;\s*`), lua.LString("jo"))
}

// BenchmarkGsubTemplate is a gsub with a capture template.
func BenchmarkGsubTemplate(b *testing.B) {
	L := newState(b, NewCache(DefaultCacheEntries))
	fn := reFunc(b, L, "gsub")
	benchCall(b, L, fn, lua.LString(benchLine), lua.LString(`(\d+)`), lua.LString("<$1>"), lua.LString("jo"))
}

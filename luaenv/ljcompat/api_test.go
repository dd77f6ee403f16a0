package ljcompat

import (
	"io"
	"os"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

func TestToString(t *testing.T) {
	L := newState(t)
	named := L.NewTable()
	L.SetMetatable(named, mustTable(t, L, `return {__name = "my.type"}`))
	custom := L.NewUserData()
	custom.Value = 1
	L.SetMetatable(custom, mustTable(t, L, `return {__tostring = function(u) return "custom!" end}`))
	numeric := L.NewTable()
	L.SetMetatable(numeric, mustTable(t, L, `return {__tostring = function() return 0.1 + 0.2 end}`))
	null := L.NewUserData()

	for _, c := range []struct {
		name   string
		in     lua.LValue
		want   string
		prefix bool
	}{
		{name: "string", in: lua.LString("abc"), want: "abc"},
		{name: "integer", in: lua.LNumber(12), want: "12"},
		{name: "float", in: lua.LNumber(1.0 / 3), want: "0.33333333333333"},
		{name: "nil", in: lua.LNil, want: "nil"},
		{name: "true", in: lua.LTrue, want: "true"},
		{name: "false", in: lua.LFalse, want: "false"},
		{name: "table", in: L.NewTable(), want: "table: 0x", prefix: true},
		{name: "function", in: L.NewFunction(luaToString), want: "function: 0x", prefix: true},
		{name: "__name", in: named, want: "my.type: 0x", prefix: true},
		{name: "__tostring", in: custom, want: "custom!"},
		{name: "__tostring returning a number", in: numeric, want: "0.3"},
		{name: "NULL userdata", in: null, want: "userdata: NULL"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := ToString(L, c.in)
			if c.prefix && !strings.HasPrefix(got, c.want) || !c.prefix && got != c.want {
				t.Errorf("ToString = %q, want %q (prefix %v)", got, c.want, c.prefix)
			}
		})
	}
}

func TestToStringBadMetamethod(t *testing.T) {
	L := newState(t)
	bad := L.NewTable()
	L.SetMetatable(bad, mustTable(t, L, `return {__tostring = function() return {} end}`))
	err := L.CallByParam(lua.P{Fn: L.NewFunction(func(L *lua.LState) int {
		ToString(L, bad)
		return 0
	}), Protect: true})
	if err == nil || !strings.Contains(err.Error(), "'__tostring' must return a string") {
		t.Errorf("error = %v, want the __tostring message", err)
	}
}

func mustTable(t *testing.T, L *lua.LState, code string) *lua.LTable {
	t.Helper()
	if err := L.DoString(code); err != nil {
		t.Fatal(err)
	}
	tb := L.Get(-1).(*lua.LTable)
	L.Pop(1)
	return tb
}

func TestPrint(t *testing.T) {
	for _, c := range []struct {
		name string
		code string
		want string
	}{
		{"numbers", `print(1/3, 1e15, 2^53, -0.0, 12)`, "0.33333333333333\t1e+15\t9.007199254741e+15\t-0\t12\n"},
		{"mixed", `print("a", nil, true, setmetatable({}, {__tostring = function() return "T" end}))`, "a\tnil\ttrue\tT\n"},
		{"no arguments", `print()`, "\n"},
		{"overridden tostring", `local old = tostring; tostring = function(v) return "<" .. old(v) .. ">" end; print(1, "x"); tostring = old`, "<1>\t<x>\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			L := newState(t)
			got := captureStdout(t, func() {
				if err := L.DoString(c.code); err != nil {
					t.Error(err)
				}
			})
			if got != c.want {
				t.Errorf("printed %q, want %q", got, c.want)
			}
		})
	}
}

func TestPrintTostringMustReturnString(t *testing.T) {
	L := newState(t)
	var err error
	captureStdout(t, func() {
		err = L.DoString(`tostring = function() return {} end; print(1)`)
	})
	if err == nil || !strings.Contains(err.Error(), "'tostring' must return a string to 'print'") {
		t.Errorf("error = %v", err)
	}
}

// captureStdout runs fn with os.Stdout redirected to a pipe.
func captureStdout(t *testing.T, fn func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = w
	done := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		done <- string(b)
	}()
	func() {
		defer func() { os.Stdout = old }()
		fn()
	}()
	w.Close()
	return <-done
}

func TestTableLayoutMatchesGopherLua(t *testing.T) {
	if !layoutMatches {
		t.Fatal("the LTable mirror no longer matches gopher-lua; table.clear and table.clone use the slow fallback")
	}
}

// TestClearTable checks both implementations: after clearing, the table is
// empty, reusable, and (with the layout) its key index does not keep the
// old keys.
func TestClearTable(t *testing.T) {
	for _, c := range []struct {
		name      string
		useLayout bool
	}{
		{"layout", true},
		{"fallback", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			L := newState(t)
			tb := L.NewTable()
			for round := 0; round < 50; round++ {
				for i := 1; i <= 10; i++ {
					tb.RawSetInt(i, lua.LNumber(i))
					tb.RawSetString("k"+strings.Repeat("x", round)+string(rune('a'+i)), lua.LTrue)
					tb.RawSet(lua.LNumber(float64(i)+0.5), lua.LTrue)
				}
				clearTable(tb, c.useLayout)
				if k, _ := tb.Next(lua.LNil); k != lua.LNil {
					t.Fatalf("round %d: key %v left after clear", round, k)
				}
				if tb.Len() != 0 {
					t.Fatalf("round %d: #t = %d after clear", round, tb.Len())
				}
			}
			tb.RawSetString("after", lua.LNumber(1))
			n := 0
			tb.ForEach(func(_, _ lua.LValue) { n++ })
			if n != 1 || tb.RawGetString("after") != lua.LNumber(1) {
				t.Fatalf("table not reusable: %d entries", n)
			}
			if c.useLayout {
				if got := len(layoutOf(tb).keys); got != 1 {
					t.Errorf("key index holds %d keys after clear and one insert, want 1", got)
				}
			}
		})
	}
}

func TestCloneTable(t *testing.T) {
	for _, c := range []struct {
		name      string
		useLayout bool
	}{
		{"layout", true},
		{"fallback", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			L := newState(t)
			src := mustTable(t, L, `return setmetatable({1, 2, nil, 4, a = "x", [2.5] = true}, {})`)
			dst := cloneTable(L, src, c.useLayout)
			if dst == src || dst.Metatable != lua.LNil {
				t.Fatal("clone is the same table or kept the metatable")
			}
			for _, k := range []lua.LValue{lua.LNumber(1), lua.LNumber(2), lua.LNumber(3), lua.LNumber(4), lua.LString("a"), lua.LNumber(2.5)} {
				if dst.RawGet(k) != src.RawGet(k) {
					t.Errorf("clone[%v] = %v, want %v", k, dst.RawGet(k), src.RawGet(k))
				}
			}
			dst.RawSetInt(1, lua.LString("changed"))
			dst.RawSetString("b", lua.LTrue)
			if src.RawGetInt(1) != lua.LNumber(1) || src.RawGetString("b") != lua.LNil {
				t.Error("changing the clone changed the source")
			}
		})
	}
}

// TestWrappersDoNotAllocate checks that a coercing wrapper costs no
// allocation beyond the original when the arguments are already numbers.
func TestWrappersDoNotAllocate(t *testing.T) {
	L := newState(t)
	str := L.GetGlobal("string").(*lua.LTable)
	wrapped := str.RawGetString("sub").(*lua.LFunction)
	plain := lua.NewState()
	defer plain.Close()
	orig := plain.GetGlobal("string").(*lua.LTable).RawGetString("sub").(*lua.LFunction).GFunction
	subject := lua.LString("hello world")
	run := func(fn lua.LGFunction) float64 {
		return testing.AllocsPerRun(200, func() {
			L.SetTop(0)
			L.Push(subject)
			L.Push(lua.LNumber(2))
			L.Push(lua.LNumber(5))
			fn(L)
		})
	}
	// Warm up so that the stack has grown before counting.
	run(wrapped.GFunction)
	if w, o := run(wrapped.GFunction), run(orig); w > o {
		t.Errorf("wrapped string.sub allocates %v times per call, original %v", w, o)
	}
	L.SetTop(0)
}

func TestOpenRegistersModules(t *testing.T) {
	L := newState(t)
	for _, name := range []string{"bit", "jit", "jit.opt", "table.new", "table.clear", "table.nkeys", "table.isempty", "table.isarray", "table.clone"} {
		t.Run(name, func(t *testing.T) {
			if err := L.DoString(`return require("` + name + `")`); err != nil {
				t.Fatal(err)
			}
			if L.Get(-1) == lua.LNil {
				t.Errorf("require %q returned nil", name)
			}
			L.Pop(1)
		})
	}
}

// benchStates returns a plain gopher-lua state and one with Open applied,
// so that each benchmark reports the cost of the compatibility layer.
func benchStates(b *testing.B) map[string]*lua.LState {
	plain := lua.NewState()
	b.Cleanup(plain.Close)
	return map[string]*lua.LState{"gopher-lua": plain, "ljcompat": newState(b)}
}

// benchCall calls the global function f(args...) once per iteration.
func benchCall(b *testing.B, code string, args ...lua.LValue) {
	for _, name := range []string{"gopher-lua", "ljcompat"} {
		L := benchStates(b)[name]
		if err := L.DoString(code); err != nil {
			b.Fatal(err)
		}
		fn := L.GetGlobal("f")
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := L.CallByParam(lua.P{Fn: fn, NRet: 1}, args...); err != nil {
					b.Fatal(err)
				}
				L.Pop(1)
			}
		})
	}
}

func BenchmarkStringSub(b *testing.B) {
	benchCall(b, `function f(s) return s:sub(2, 5) end`, lua.LString("hello world"))
}

func BenchmarkStringFormat(b *testing.B) {
	benchCall(b, `function f(k, n) return string.format("VALUE %s %d %d\r\n", k, 0, n) end`, lua.LString("key"), lua.LNumber(1234))
}

func BenchmarkTostring(b *testing.B) {
	benchCall(b, `function f(n) return tostring(n) end`, lua.LNumber(0.1))
}

func BenchmarkTableConcat(b *testing.B) {
	benchCall(b, `local t = {"VALUE ", "key", " ", 0, " ", 5, "\r\n"} function f() return table.concat(t) end`)
}

// BenchmarkOpen measures what Open adds to the construction of a state:
// compare the two sub-benchmarks.
func BenchmarkOpen(b *testing.B) {
	for _, c := range []struct {
		name string
		open bool
	}{
		{"NewState", false},
		{"NewState+Open", true},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				L := lua.NewState(lua.Options{SkipOpenLibs: true})
				for _, fn := range []lua.LGFunction{lua.OpenPackage, lua.OpenBase, lua.OpenTable, lua.OpenString, lua.OpenMath} {
					L.Push(L.NewFunction(fn))
					L.Call(0, 0)
				}
				if c.open {
					Open(L)
				}
				L.Close()
			}
		})
	}
}

func TestOpenTwice(t *testing.T) {
	L := newState(t)
	before := L.GetGlobal("string").(*lua.LTable).RawGetString("sub")
	Open(L)
	if after := L.GetGlobal("string").(*lua.LTable).RawGetString("sub"); after != before {
		t.Error("second Open wrapped string.sub again")
	}
	if got := eval(t, L, `return string.sub("hello", "2", "3"), tostring(0.1 + 0.2)`); got != "el\t0.3" {
		t.Errorf("after a second Open: %q", got)
	}
}

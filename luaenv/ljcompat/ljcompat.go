package ljcompat

import (
	lua "github.com/yuin/gopher-lua"
)

// The jit stub reports the LuaJIT release OpenResty code expects, while
// jit.status() says the JIT is off, which is the truth here.
const (
	// JITVersion is the value of jit.version.
	JITVersion = "LuaJIT 2.1.0-beta3"
	// JITVersionNum is the value of jit.version_num.
	JITVersionNum = 20100
)

// openedKey marks a state in its registry (which scripts cannot reach) once
// Open has run, so that a second call changes nothing.
const openedKey = "ljcompat.opened"

// Open installs the LuaJIT compatibility layer into L, whose base, string,
// table, math and package libraries must already be open:
//
//   - the bit library (global bit, package.loaded.bit, require "bit");
//   - table.new, clear, nkeys, isempty, isarray and clone, both as fields of
//     table and as require "table.new" and so on;
//   - a jit table (os, arch, version, version_num, on, off, flush, status,
//     opt.start);
//   - LuaJIT's tostring, tonumber and print;
//   - LuaJIT's string.format, string.rep, table.concat, table.remove and
//     math.random;
//   - numeric-string coercion for the integer arguments of the string,
//     table, math and base functions that gopher-lua checks strictly, and
//     LuaJIT number formatting where those functions take a number as a
//     string.
//
// Open replaces library functions in place, so string methods (s:sub) see
// the new versions too. A second call on the same state does nothing.
func Open(L *lua.LState) {
	if L.G.Registry.RawGetString(openedKey) != lua.LNil {
		return
	}
	L.G.Registry.RawSetString(openedKey, lua.LTrue)
	g := L.G.Global
	loaded, _ := L.GetField(L.GetField(g, "package"), "loaded").(*lua.LTable)
	preload, _ := L.GetField(L.GetField(g, "package"), "preload").(*lua.LTable)

	// Modules go into package.loaded, which require consults first, and
	// behind one shared package.preload loader, so that require still
	// finds them if a script empties package.loaded.
	modules := L.CreateTable(0, 12)
	loader := L.NewFunction(func(L *lua.LState) int {
		L.Push(modules.RawGet(L.Get(1)))
		return 1
	})
	register := func(name string, mod lua.LValue) {
		modules.RawSetString(name, mod)
		if loaded != nil {
			loaded.RawSetString(name, mod)
		}
		if preload != nil {
			preload.RawSetString(name, loader)
		}
	}

	// bit
	funcs := bitFuncs()
	bit := L.CreateTable(0, len(funcs))
	for name, fn := range funcs {
		bit.RawSetString(name, L.NewFunction(fn))
	}
	g.RawSetString("bit", bit)
	register("bit", bit)

	// jit
	jit := L.CreateTable(0, 10)
	jit.RawSetString("os", lua.LString("Linux"))
	jit.RawSetString("arch", lua.LString("x64"))
	jit.RawSetString("version", lua.LString(JITVersion))
	jit.RawSetString("version_num", lua.LNumber(JITVersionNum))
	noop := L.NewFunction(func(*lua.LState) int { return 0 })
	jit.RawSetString("on", noop)
	jit.RawSetString("off", noop)
	jit.RawSetString("flush", noop)
	jit.RawSetString("status", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LFalse)
		return 1
	}))
	opt := L.CreateTable(0, 1)
	opt.RawSetString("start", noop)
	jit.RawSetString("opt", opt)
	g.RawSetString("jit", jit)
	register("jit", jit)
	register("jit.opt", opt)

	// table
	if tab, ok := g.RawGetString("table").(*lua.LTable); ok {
		for _, f := range []struct {
			name string
			fn   lua.LGFunction
		}{
			{"new", tableNew},
			{"clear", tableClear},
			{"nkeys", tableNKeys},
			{"isempty", tableIsEmpty},
			{"isarray", tableIsArray},
			{"clone", tableClone},
		} {
			fn := L.NewFunction(f.fn)
			tab.RawSetString(f.name, fn)
			register("table."+f.name, fn)
		}
		tab.RawSetString("concat", L.NewFunction(tableConcat))
		tab.RawSetString("remove", L.NewFunction(tableRemove))
		if ins, ok := tab.RawGetString("insert").(*lua.LFunction); ok && ins.IsG {
			w := *ins
			w.GFunction = wrapInsert(ins.GFunction)
			tab.RawSetString("insert", &w)
		}
	}

	// string
	if str, ok := g.RawGetString("string").(*lua.LTable); ok {
		str.RawSetString("format", L.NewFunction(strFormat))
		str.RawSetString("rep", L.NewFunction(strRep))
		one, two := bitsOf(1), bitsOf(1, 2)
		for _, w := range []struct {
			name string
			spec argSpec
		}{
			{"byte", argSpec{str: one, num: bitsOf(2, 3)}},
			{"char", argSpec{allNum: true}},
			{"find", argSpec{str: two, num: bitsOf(3)}},
			{"match", argSpec{str: two, num: bitsOf(3)}},
			{"gmatch", argSpec{str: two}},
			{"gfind", argSpec{str: two}},
			{"gsub", argSpec{str: bitsOf(1, 2, 3), num: bitsOf(4)}},
			{"sub", argSpec{str: one, num: bitsOf(2, 3)}},
			{"len", argSpec{str: one}},
			{"lower", argSpec{str: one}},
			{"upper", argSpec{str: one}},
			{"reverse", argSpec{str: one}},
		} {
			wrapField(str, w.name, w.spec)
		}
	}

	// math
	if m, ok := g.RawGetString("math").(*lua.LTable); ok {
		var names []string
		m.ForEach(func(k, v lua.LValue) {
			if fn, ok := v.(*lua.LFunction); ok && fn.IsG {
				if s, ok := k.(lua.LString); ok {
					names = append(names, string(s))
				}
			}
		})
		for _, name := range names {
			wrapField(m, name, argSpec{allNum: true})
		}
		m.RawSetString("random", L.NewFunction(mathRandom))
	}

	// base
	toString := L.NewFunction(luaToString)
	g.RawSetString("tostring", toString)
	g.RawSetString("tonumber", L.NewFunction(luaToNumber))
	g.RawSetString("print", L.NewFunction(newPrint(toString)))
	wrapField(g, "unpack", argSpec{num: bitsOf(2, 3)})
	if sel, ok := g.RawGetString("select").(*lua.LFunction); ok && sel.IsG {
		orig := sel.GFunction
		w := *sel
		w.GFunction = func(L *lua.LState) int {
			if s, ok := L.Get(1).(lua.LString); ok && s != "#" {
				coerceNumber(L, 1)
			}
			return orig(L)
		}
		g.RawSetString("select", &w)
	}
}

// wrapField replaces the Go function t[name], if there is one, with a copy
// that coerces its arguments per spec.
func wrapField(t *lua.LTable, name string, spec argSpec) {
	if fn, ok := t.RawGetString(name).(*lua.LFunction); ok && fn.IsG {
		t.RawSetString(name, wrapArgs(fn, spec))
	}
}

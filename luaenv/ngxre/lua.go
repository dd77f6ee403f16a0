package ngxre

import (
	"math"
	"strconv"

	lua "github.com/yuin/gopher-lua"
)

// binding holds what the Lua functions of one LState share: only the
// server-wide cache. It has no per-call state, so Lua callbacks (a gsub
// function replacement) may re-enter ngx.re freely.
type binding struct {
	c *Cache
}

// Open installs find, match, gmatch, sub, gsub and opt into re, which the
// host places at ngx.re. Compiled patterns come from c, which every LState
// of a server shares; c may be nil to compile on every call.
func Open(L *lua.LState, re *lua.LTable, c *Cache) {
	b := &binding{c: c}
	re.RawSetString("match", L.NewFunction(b.match))
	re.RawSetString("find", L.NewFunction(b.find))
	re.RawSetString("gmatch", L.NewFunction(b.gmatch))
	re.RawSetString("sub", L.NewFunction(b.sub))
	re.RawSetString("gsub", L.NewFunction(b.gsub))
	re.RawSetString("opt", L.NewFunction(b.opt))
}

// Loader returns a gopher-lua module loader for `require "ngx.re"`, which
// in OpenResty is lua-resty-core's module: split (with its exact field
// rules) and opt. Register it with L.PreloadModule("ngx.re", Loader(c)).
func Loader(c *Cache) lua.LGFunction {
	return func(L *lua.LState) int {
		b := &binding{c: c}
		mod := L.CreateTable(0, 2)
		mod.RawSetString("split", L.NewFunction(b.split))
		mod.RawSetString("opt", L.NewFunction(b.opt))
		L.Push(mod)
		return 1
	}
}

// stackCaps is how many capture offsets a call keeps on the stack before
// falling back to the heap (7 groups).
const stackCaps = 16

func capsFor(buf []int, n int) []int {
	if n <= len(buf) {
		return buf[:n]
	}
	return make([]int, n)
}

func execMessage(code int) lua.LString {
	return lua.LString("pcre_exec() failed: " + strconv.Itoa(code))
}

// compileArgs reads the pattern (argument reIdx) and options (optIdx) and
// returns the compiled pattern, or the error message ngx.re returns for a
// pattern that does not compile. An unknown option letter raises, as it
// does in OpenResty.
func (b *binding) compileArgs(L *lua.LState, reIdx, optIdx int) (*regex, lua.LString) {
	var pattern string
	switch v := L.Get(reIdx).(type) {
	case lua.LString:
		pattern = string(v)
	case lua.LNumber:
		pattern = formatNumber(float64(v))
	default:
		L.TypeError(reIdx, lua.LTString)
	}
	var f flags
	once := false
	switch o := L.Get(optIdx).(type) {
	case lua.LString:
		var bad byte
		var ok bool
		if f, once, bad, ok = parseOpts(string(o)); !ok {
			L.RaiseError(`unknown flag "%s" (flags "%s")`, string(rune(bad)), string(o))
		}
	case *lua.LNilType:
	case lua.LBool:
		if o {
			L.TypeError(optIdx, lua.LTString)
		}
	default:
		L.TypeError(optIdx, lua.LTString)
	}
	r, err := b.c.get(pattern, f, once)
	if err != nil {
		return nil, lua.LString(`pcre2_compile() failed: ` + err.Error() + ` in "` + pattern + `"`)
	}
	return r, ""
}

// ctxArg returns the ctx table argument, or nil when it is absent or false.
func ctxArg(L *lua.LState, idx int) *lua.LTable {
	switch v := L.Get(idx).(type) {
	case *lua.LTable:
		return v
	case *lua.LNilType:
		return nil
	case lua.LBool:
		if !v {
			return nil
		}
	}
	L.TypeError(idx, lua.LTTable)
	return nil
}

// ctxStart turns ctx.pos (1-based) into a 0-based start offset.
func ctxStart(L *lua.LState, ctx *lua.LTable) int {
	if ctx == nil {
		return 0
	}
	switch p := L.GetField(ctx, "pos").(type) {
	case lua.LNumber:
		if !(p > 1) {
			return 0
		}
		return int(math.Min(float64(p)-1, math.MaxInt32))
	case *lua.LNilType:
		return 0
	case lua.LBool:
		if !p {
			return 0
		}
		L.RaiseError("attempt to compare boolean with number")
	default:
		L.RaiseError("attempt to compare %s with number", p.Type().String())
	}
	return 0
}

// collect builds the match table: [0] the whole match, [n] the groups
// (false when unset), and named groups by name (arrays under D).
func collect(L *lua.LState, r *regex, subj string, caps []int, res *lua.LTable) *lua.LTable {
	if res == nil {
		res = L.CreateTable(r.ncap, len(r.names))
	}
	for g := 0; g <= r.ncap; g++ {
		if caps[2*g] >= 0 {
			res.RawSetInt(g, lua.LString(subj[caps[2*g]:caps[2*g+1]]))
		} else {
			res.RawSetInt(g, lua.LFalse)
		}
	}
	dup := r.flags&flagDupNames != 0
	for _, n := range r.names {
		v := res.RawGetInt(n.index)
		if !dup {
			res.RawSetString(n.name, v)
			continue
		}
		if v == lua.LFalse {
			continue
		}
		if old, ok := res.RawGetString(n.name).(*lua.LTable); ok {
			old.RawSetInt(old.Len()+1, v)
			continue
		}
		t := L.CreateTable(1, 0)
		t.RawSetInt(1, v)
		res.RawSetString(n.name, t)
	}
	return res
}

// match implements ngx.re.match(subj, regex, opts?, ctx?, res?).
func (b *binding) match(L *lua.LState) int {
	subj := toLuaString(L, L.Get(1))
	r, msg := b.compileArgs(L, 2, 3)
	if r == nil {
		L.Push(lua.LNil)
		L.Push(msg)
		return 2
	}
	ctx := ctxArg(L, 4)
	pos := ctxStart(L, ctx)
	var buf [stackCaps]int
	caps := capsFor(buf[:], r.capsLen())
	sub := newSubject(subj, r.flags)
	ok, code := r.exec(&sub, pos, caps)
	if code != 0 {
		L.Push(lua.LNil)
		L.Push(execMessage(code))
		return 2
	}
	if !ok {
		L.Push(lua.LNil)
		return 1
	}
	if ctx != nil {
		L.SetField(ctx, "pos", luaInt(caps[1]+1))
	}
	res, _ := L.Get(5).(*lua.LTable)
	L.Push(collect(L, r, subj, caps, res))
	return 1
}

// find implements ngx.re.find(subj, regex, opts?, ctx?, nth?).
func (b *binding) find(L *lua.LState) int {
	subj := toLuaString(L, L.Get(1))
	r, msg := b.compileArgs(L, 2, 3)
	if r == nil {
		L.Push(lua.LNil)
		L.Push(lua.LNil)
		L.Push(msg)
		return 3
	}
	ctx := ctxArg(L, 4)
	pos := ctxStart(L, ctx)
	var buf [stackCaps]int
	caps := capsFor(buf[:], r.capsLen())
	sub := newSubject(subj, r.flags)
	ok, code := r.exec(&sub, pos, caps)
	if code != 0 {
		L.Push(lua.LNil)
		L.Push(lua.LNil)
		L.Push(execMessage(code))
		return 3
	}
	if !ok {
		L.Push(lua.LNil)
		return 1
	}
	if ctx != nil {
		L.SetField(ctx, "pos", luaInt(caps[1]+1))
	}
	nth := 0
	switch v := L.Get(5).(type) {
	case lua.LNumber:
		if v > 0 {
			nth = int(math.Min(float64(v), math.MaxInt32))
		}
	case *lua.LNilType:
	default:
		L.RaiseError("attempt to compare %s with number", v.Type().String())
	}
	if nth > r.ncap {
		L.Push(lua.LNil)
		L.Push(lua.LNil)
		L.Push(lua.LString("nth out of bound"))
		return 3
	}
	if caps[2*nth] < 0 {
		L.Push(lua.LNil)
		L.Push(lua.LNil)
		return 2
	}
	L.Push(luaInt(caps[2*nth] + 1))
	L.Push(luaInt(caps[2*nth+1]))
	return 2
}

// gmatchIter is the state of one ngx.re.gmatch iterator.
type gmatchIter struct {
	r    *regex
	sub  subject
	caps []int
	pos  int
	done bool
}

// gmatch implements ngx.re.gmatch(subj, regex, opts?).
func (b *binding) gmatch(L *lua.LState) int {
	subj := toLuaString(L, L.Get(1))
	r, msg := b.compileArgs(L, 2, 3)
	if r == nil {
		L.Push(lua.LNil)
		L.Push(msg)
		return 2
	}
	it := &gmatchIter{r: r, sub: newSubject(subj, r.flags), caps: make([]int, r.capsLen())}
	L.Push(L.NewFunction(it.next))
	return 1
}

// next returns the next match table, then nil. After an empty match the
// search resumes one byte further on, as in lua-resty-core.
func (it *gmatchIter) next(L *lua.LState) int {
	if it.done {
		L.Push(lua.LNil)
		return 1
	}
	ok, code := it.r.exec(&it.sub, it.pos, it.caps)
	if code != 0 {
		it.done = true
		L.Push(lua.LNil)
		L.Push(execMessage(code))
		return 2
	}
	if !ok {
		it.done = true
		L.Push(lua.LNil)
		return 1
	}
	end := it.caps[1]
	if end == it.caps[0] {
		end++
		if end > len(it.sub.s) {
			it.done = true
		}
	}
	it.pos = end
	L.Push(collect(L, it.r, it.sub.s, it.caps, nil))
	return 1
}

// sub implements ngx.re.sub(subj, regex, replace, opts?).
func (b *binding) sub(L *lua.LState) int { return b.substitute(L, false) }

// gsub implements ngx.re.gsub(subj, regex, replace, opts?).
func (b *binding) gsub(L *lua.LState) int { return b.substitute(L, true) }

func (b *binding) substitute(L *lua.LState, global bool) int {
	fn, isFn := L.Get(3).(*lua.LFunction)
	var tpl string
	if !isFn {
		tpl = toLuaString(L, L.Get(3))
	}
	r, msg := b.compileArgs(L, 2, 4)
	if r == nil {
		L.Push(lua.LNil)
		L.Push(lua.LNil)
		L.Push(msg)
		return 3
	}
	if !isFn && !validTemplate(tpl) {
		L.Push(lua.LNil)
		L.Push(lua.LNil)
		L.Push(lua.LString("failed to compile the replacement template"))
		return 3
	}
	subj := toLuaString(L, L.Get(1))
	var buf [stackCaps]int
	caps := capsFor(buf[:], r.capsLen())
	sub := newSubject(subj, r.flags)
	var out []byte
	count, pos, copied := 0, 0, 0
	for {
		ok, code := r.exec(&sub, pos, caps)
		if code != 0 {
			L.Push(lua.LNil)
			L.Push(lua.LNil)
			L.Push(execMessage(code))
			return 3
		}
		if !ok {
			break
		}
		if out == nil {
			out = make([]byte, 0, len(subj)+len(tpl))
		}
		count++
		out = append(out, subj[copied:caps[0]]...)
		if isFn {
			L.Push(fn)
			L.Push(collect(L, r, subj, caps, nil))
			L.Call(1, 1)
			piece := toLuaString(L, L.Get(-1))
			L.Pop(1)
			out = append(out, piece...)
		} else {
			out = expandTemplate(out, tpl, subj, caps)
		}
		copied = caps[1]
		pos = copied
		if pos == caps[0] {
			pos++
			if pos > len(subj) {
				break
			}
		}
		if !global {
			break
		}
	}
	if count == 0 {
		L.Push(lua.LString(subj))
		L.Push(luaInt(0))
		return 2
	}
	out = append(out, subj[copied:]...)
	L.Push(lua.LString(out))
	L.Push(luaInt(count))
	return 2
}

// opt implements require("ngx.re").opt(name, value). The only option,
// jit_stack_size, sizes PCRE's JIT stack; there is no JIT here, so it is
// accepted and ignored.
func (b *binding) opt(L *lua.LState) int {
	if L.CheckString(1) == "jit_stack_size" {
		L.CheckNumber(2)
		return 0
	}
	L.RaiseError("unrecognized option name")
	return 0
}

// luaSub is Lua 5.1's string.sub(s, i, j) index arithmetic.
func luaSub(s string, i, j int) string {
	l := len(s)
	if i < 0 {
		i = max(l+i+1, 1)
	} else if i == 0 {
		i = 1
	}
	if j < 0 {
		j = l + j + 1
	} else if j > l {
		j = l
	}
	if i > j {
		return ""
	}
	return s[i-1 : j]
}

// split implements lua-resty-core's ngx.re.split(subj, regex, opts?, ctx?,
// max?, res?), keeping its exact rules: a leading empty field is kept,
// trailing empty fields are dropped when max is not positive, the first
// capture group (if any) is inserted after each field, and an empty match
// splits between characters.
func (b *binding) split(L *lua.LState) int {
	subj := toLuaString(L, L.Get(1))
	ctx := ctxArg(L, 4)
	start := 1
	if ctx != nil {
		switch p := L.GetField(ctx, "pos").(type) {
		case *lua.LNilType:
			L.SetField(ctx, "pos", luaInt(1))
		case lua.LNumber:
			start = int(math.Max(math.Min(float64(p), math.MaxInt32), math.MinInt32))
		default:
			L.RaiseError("attempt to compare %s with number", p.Type().String())
		}
	}
	limit := 0.0
	switch v := L.Get(5).(type) {
	case lua.LNumber:
		limit = float64(v)
	case *lua.LNilType:
	default:
		L.RaiseError("attempt to compare number with %s", v.Type().String())
	}
	var res *lua.LTable
	switch v := L.Get(6).(type) {
	case *lua.LTable:
		res = v
	case *lua.LNilType:
		res = L.CreateTable(8, 0)
	default:
		L.RaiseError("res is not a table")
	}
	if start > len(subj) {
		res.RawSetInt(1, lua.LNil)
		L.Push(res)
		return 1
	}
	r, msg := b.compileArgs(L, 2, 3)
	if r == nil {
		L.Push(lua.LNil)
		L.Push(msg)
		return 2
	}
	var buf [stackCaps]int
	caps := capsFor(buf[:], r.capsLen())
	sub := newSubject(subj, r.flags)

	field := start // start of the current field (1-based, like sub_idx)
	next := start - 1
	n := 0
	lastEmpty, haveEmpty := 0, false
	count := 1
	for limit <= 0 || float64(count) < limit {
		ok, code := r.exec(&sub, max(next, 0), caps)
		if code != 0 {
			L.Push(lua.LNil)
			L.Push(execMessage(code))
			return 2
		}
		if !ok {
			break
		}
		if caps[0] == caps[1] {
			next = caps[1] + 1
		} else {
			next = caps[1]
		}
		from, to := caps[0]+1, caps[1]+1
		if haveEmpty {
			field = lastEmpty
		}
		if from == to {
			lastEmpty, haveEmpty = from, true
		}
		if from > field || !haveEmpty {
			count++
			n++
			res.RawSetInt(n, lua.LString(luaSub(subj, field, from-1)))
			if c, ok := firstCapture(subj, r.ncap, caps); ok {
				n++
				res.RawSetInt(n, lua.LString(c))
			}
			field = to
			if field > len(subj) {
				break
			}
		}
	}
	if ctx != nil {
		L.SetField(ctx, "pos", lua.LNumber(next))
	}
	if limit <= 0 && field > len(subj) {
		for k := n; k >= 1; k-- {
			if v, ok := res.RawGetInt(k).(lua.LString); !ok || v != "" {
				n = k
				break
			}
			res.RawSetInt(k, lua.LNil)
		}
	} else {
		n++
		res.RawSetInt(n, lua.LString(luaSub(subj, field, -1)))
	}
	res.RawSetInt(n+1, lua.LNil)
	L.Push(res)
	return 1
}

// firstCapture returns what lua-resty-core inserts after a split field:
// the text of group 1 when any group took part in the match. When group 1
// itself did not, upstream's string.sub(subj, 0, -1) yields the whole
// subject, and so does this.
func firstCapture(subj string, ncap int, caps []int) (string, bool) {
	if ncap == 0 {
		return "", false
	}
	for g := 1; g <= ncap; g++ {
		if caps[2*g] >= 0 {
			return luaSub(subj, caps[2]+1, caps[3]), true
		}
	}
	return "", false
}

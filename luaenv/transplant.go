package luaenv

import (
	"fmt"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// Transplanting moves a Lua function and its arguments from one LState to
// another. LStates cannot share values, so timers and light threads, which
// run on their own state and goroutine, get a copy: the function's compiled
// proto (shared, read-only) with its upvalues copied by value. Values that
// belong to the state itself are re-bound by name instead of copied: the
// ngx table and anything reachable from the globals (string.format,
// ngx.shared.dogs, …) and modules in package.loaded. Sockets and semaphores
// are Go objects and are shared as they are.
//
// The consequence, documented in the README: a timer or thread sees copies
// of its upvalues and of the tables it was given; what it changes in them
// is not seen by the code that created it. Share state through ngx.shared.

// frozen values are state-independent: nil, bool, float64, string, or one
// of the types below.
type (
	frozenTable struct {
		keys, vals []any
		meta       any
	}
	frozenFunc struct {
		proto *lua.FunctionProto
		upv   []any
	}
	frozenRef   string // a path resolved in the target state
	frozenUData struct {
		value any
		kind  string // which metatable to give it
	}
)

// freezer converts values of one state, sharing structure for repeated and
// cyclic references.
type freezer struct {
	v     *vm
	index map[lua.LValue]string
	seen  map[lua.LValue]any
}

func newFreezer(v *vm) *freezer {
	f := &freezer{v: v, seen: map[lua.LValue]any{}}
	f.buildIndex()
	return f
}

// buildIndex names every table, function and userdata reachable from the
// globals (three levels deep) and every loaded module.
func (f *freezer) buildIndex() {
	L := f.v.L
	f.index = map[lua.LValue]string{}
	var walk func(t *lua.LTable, prefix string, depth int)
	walk = func(t *lua.LTable, prefix string, depth int) {
		t.ForEach(func(k, val lua.LValue) {
			ks, ok := k.(lua.LString)
			if !ok {
				return
			}
			switch val.(type) {
			case *lua.LTable, *lua.LFunction, *lua.LUserData:
			default:
				return
			}
			if _, dup := f.index[val]; dup {
				return
			}
			path := prefix + string(ks)
			f.index[val] = "g:" + path
			if tt, ok := val.(*lua.LTable); ok && depth < 3 && path != "_G" && path != "package.loaded" {
				walk(tt, path+".", depth+1)
			}
		})
	}
	if loaded, ok := L.GetField(L.Get(lua.RegistryIndex), "_LOADED").(*lua.LTable); ok {
		loaded.ForEach(func(k, val lua.LValue) {
			if ks, ok := k.(lua.LString); ok {
				if _, isTable := val.(*lua.LTable); isTable {
					f.index[val] = "m:" + string(ks)
				}
			}
		})
	}
	walk(L.G.Global, "", 1)
}

func (f *freezer) freeze(val lua.LValue) (any, error) {
	switch x := val.(type) {
	case *lua.LNilType:
		return nil, nil
	case lua.LBool:
		return bool(x), nil
	case lua.LNumber:
		return float64(x), nil
	case lua.LString:
		return string(x), nil
	}
	if p, ok := f.index[val]; ok {
		return frozenRef(p), nil
	}
	if got, ok := f.seen[val]; ok {
		return got, nil
	}
	switch x := val.(type) {
	case *lua.LTable:
		ft := &frozenTable{}
		f.seen[val] = ft
		var err error
		x.ForEach(func(k, v lua.LValue) {
			if err != nil {
				return
			}
			var fk, fv any
			if fk, err = f.freeze(k); err != nil {
				return
			}
			if fv, err = f.freeze(v); err != nil {
				return
			}
			ft.keys = append(ft.keys, fk)
			ft.vals = append(ft.vals, fv)
		})
		if err != nil {
			return nil, err
		}
		if mt, ok := x.Metatable.(*lua.LTable); ok {
			if ft.meta, err = f.freeze(mt); err != nil {
				return nil, err
			}
		}
		return ft, nil
	case *lua.LFunction:
		if x.IsG || x.Proto == nil {
			return nil, fmt.Errorf("cannot pass a Go function that is not reachable by name")
		}
		ff := &frozenFunc{proto: x.Proto, upv: make([]any, len(x.Upvalues))}
		f.seen[val] = ff
		for i, uv := range x.Upvalues {
			if uv == nil {
				continue
			}
			fv, err := f.freeze(uv.Value())
			if err != nil {
				return nil, fmt.Errorf("upvalue %d: %w", i+1, err)
			}
			ff.upv[i] = fv
		}
		return ff, nil
	case *lua.LUserData:
		switch x.Value.(type) {
		case *Socket:
			return &frozenUData{value: x.Value, kind: "socket"}, nil
		case *clientSocket:
			return &frozenUData{value: x.Value, kind: "cosocket"}, nil
		case *semaphore:
			return &frozenUData{value: x.Value, kind: "semaphore"}, nil
		}
		return nil, fmt.Errorf("cannot pass this userdata")
	}
	return nil, fmt.Errorf("cannot pass a %s", val.Type().String())
}

// thaw rebuilds frozen values in a target state.
type thawer struct {
	v    *vm
	done map[any]lua.LValue
}

func newThawer(v *vm) *thawer { return &thawer{v: v, done: map[any]lua.LValue{}} }

func (t *thawer) thaw(x any) (lua.LValue, error) {
	switch y := x.(type) {
	case nil:
		return lua.LNil, nil
	case bool:
		return lua.LBool(y), nil
	case float64:
		return lua.LNumber(y), nil
	case string:
		return lua.LString(y), nil
	case frozenRef:
		return t.resolve(string(y))
	}
	if got, ok := t.done[x]; ok {
		return got, nil
	}
	L := t.v.L
	switch y := x.(type) {
	case *frozenTable:
		tbl := L.CreateTable(0, len(y.keys))
		t.done[x] = tbl
		for i := range y.keys {
			k, err := t.thaw(y.keys[i])
			if err != nil {
				return nil, err
			}
			val, err := t.thaw(y.vals[i])
			if err != nil {
				return nil, err
			}
			tbl.RawSet(k, val)
		}
		if y.meta != nil {
			mt, err := t.thaw(y.meta)
			if err != nil {
				return nil, err
			}
			tbl.Metatable = mt
		}
		return tbl, nil
	case *frozenFunc:
		fn := L.NewFunctionFromProto(y.proto)
		t.done[x] = fn
		for i, u := range y.upv {
			val, err := t.thaw(u)
			if err != nil {
				return nil, err
			}
			uv := &lua.Upvalue{}
			uv.SetValue(val)
			fn.Upvalues[i] = uv
		}
		return fn, nil
	case *frozenUData:
		ud := L.NewUserData()
		ud.Value = y.value
		switch y.kind {
		case "socket":
			ud.Metatable = t.v.sockMT
		case "cosocket":
			ud.Metatable = t.v.cosockMT
		case "semaphore":
			ud.Metatable = t.v.semaMT
		}
		t.done[x] = ud
		return ud, nil
	}
	return nil, fmt.Errorf("cannot rebuild %T", x)
}

func (t *thawer) resolve(p string) (lua.LValue, error) {
	L := t.v.L
	if name, ok := strings.CutPrefix(p, "m:"); ok {
		if err := L.CallByParam(lua.P{Fn: L.GetGlobal("require"), NRet: 1, Protect: true}, lua.LString(name)); err != nil {
			return nil, fmt.Errorf("require %s: %w", name, err)
		}
		val := L.Get(-1)
		L.Pop(1)
		return val, nil
	}
	var cur lua.LValue = L.G.Global
	for _, part := range strings.Split(strings.TrimPrefix(p, "g:"), ".") {
		tbl, ok := cur.(*lua.LTable)
		if !ok {
			return nil, fmt.Errorf("%s is not reachable in the new state", p)
		}
		cur = tbl.RawGetString(part)
	}
	return cur, nil
}

// transplant freezes fn and args in v for running elsewhere.
type transplant struct {
	fn   any
	args []any
}

func (v *vm) freezeCall(fn *lua.LFunction, args []lua.LValue) (*transplant, error) {
	f := newFreezer(v)
	ffn, err := f.freeze(fn)
	if err != nil {
		return nil, err
	}
	tp := &transplant{fn: ffn}
	for i, a := range args {
		fa, err := f.freeze(a)
		if err != nil {
			return nil, fmt.Errorf("argument %d: %w", i+1, err)
		}
		tp.args = append(tp.args, fa)
	}
	return tp, nil
}

// thawCall rebuilds a transplant in v and pushes the function and its
// arguments (after any extra leading arguments) ready for a call.
func (v *vm) thawCall(tp *transplant, lead ...lua.LValue) (*lua.LFunction, []lua.LValue, error) {
	t := newThawer(v)
	fv, err := t.thaw(tp.fn)
	if err != nil {
		return nil, nil, err
	}
	fn, ok := fv.(*lua.LFunction)
	if !ok {
		return nil, nil, fmt.Errorf("not a function")
	}
	args := append([]lua.LValue(nil), lead...)
	for _, a := range tp.args {
		val, err := t.thaw(a)
		if err != nil {
			return nil, nil, err
		}
		args = append(args, val)
	}
	return fn, args, nil
}

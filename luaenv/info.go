package luaenv

import (
	"sync"
	"sync/atomic"

	lua "github.com/yuin/gopher-lua"
	luar "layeh.com/gopher-luar"
)

// Info describes the running server to scripts, which read it through
// require("streamlua").info. It is exposed with gopher-luar because it is
// a plain Go struct read a few times per connection at most, never per
// request; hot-path bindings are hand-written instead.
type Info struct {
	// Version is the streamlua version string.
	Version string
	// PID is the process id.
	PID int
	// StartTime is the Unix time the process started.
	StartTime int64
	// MaxConns is the connection cap of each listener.
	MaxConns int
	// MaxItemSize is the largest value the memcached script accepts.
	MaxItemSize int
	// Threads is GOMAXPROCS, reported where memcached reports its threads.
	Threads int
	// Settings carries handler options given on the command line or in the
	// config file (for example the memcached script's limits).
	Settings map[string]string

	// conns sits behind a pointer because gopher-luar copies the whole
	// struct on every field read from Lua: counters stored inline would be
	// read non-atomically by that copy while connections update them.
	conns *connCounts
}

// connCounts are the connection counters behind Info; New allocates them.
type connCounts struct{ curr, total, rejected atomic.Int64 }

// CurrConnections is the number of open client connections.
func (i *Info) CurrConnections() int64 {
	if i.conns == nil {
		return 0
	}
	return i.conns.curr.Load()
}

// TotalConnections counts every accepted connection since start.
func (i *Info) TotalConnections() int64 {
	if i.conns == nil {
		return 0
	}
	return i.conns.total.Load()
}

// RejectedConnections counts connections refused over the cap.
func (i *Info) RejectedConnections() int64 {
	if i.conns == nil {
		return 0
	}
	return i.conns.rejected.Load()
}

func (v *vm) openStreamlua(L *lua.LState) int {
	t := L.CreateTable(0, 8)
	t.RawSetString("info", luar.New(L, v.env.cfg.Info))
	t.RawSetString("version", lua.LString(v.env.cfg.Info.Version))
	t.RawSetString("reloads", L.NewFunction(func(L *lua.LState) int {
		ok, failed := v.env.Reloads()
		L.Push(lua.LNumber(ok))
		L.Push(lua.LNumber(failed))
		return 2
	}))
	t.RawSetString("lua_errors", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LNumber(v.env.LuaErrors()))
		return 1
	}))
	v.installCounterAPI(t)
	L.Push(t)
	return 1
}

// Counters is a process-wide set of named int64 counters that scripts
// share across connections (memcached's cmd_get, get_hits, ...). Lua code
// takes a handle once, require("streamlua").counter(name), and calls
// handle:add(n) per request: one atomic add, no map lookup.
type Counters struct {
	mu sync.Mutex
	m  map[string]*atomic.Int64
}

// Counter returns the named counter, creating it at zero.
func (c *Counters) Counter(name string) *atomic.Int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]*atomic.Int64)
	}
	v := c.m[name]
	if v == nil {
		v = new(atomic.Int64)
		c.m[name] = v
	}
	return v
}

// Snapshot copies every counter's current value.
func (c *Counters) Snapshot() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int64, len(c.m))
	for k, v := range c.m {
		out[k] = v.Load()
	}
	return out
}

// Reset sets every counter to zero (memcached's stats reset).
func (c *Counters) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, v := range c.m {
		v.Store(0)
	}
}

// Counters returns the Env's shared counters.
func (e *Env) Counters() *Counters { return &e.counters }

func checkCounter(L *lua.LState) *atomic.Int64 {
	c := optCounter(L, 1)
	if c == nil {
		L.ArgError(1, "counter expected")
	}
	return c
}

// optCounter returns the counter handle at argument i, or nil when the
// argument is nil or absent; anything else is an argument error.
func optCounter(L *lua.LState, i int) *atomic.Int64 {
	switch v := L.Get(i).(type) {
	case *lua.LNilType:
		return nil
	case *lua.LUserData:
		if c, ok := v.Value.(*atomic.Int64); ok {
			return c
		}
	}
	L.ArgError(i, "counter expected")
	return nil
}

var counterMethods = map[string]lua.LGFunction{
	"add": func(L *lua.LState) int {
		c := checkCounter(L)
		L.Push(lua.LNumber(c.Add(int64(L.OptNumber(2, 1)))))
		return 1
	},
	"get": func(L *lua.LState) int {
		L.Push(lua.LNumber(checkCounter(L).Load()))
		return 1
	},
	"set": func(L *lua.LState) int {
		checkCounter(L).Store(int64(L.CheckNumber(2)))
		return 0
	},
}

func (v *vm) installCounterAPI(t *lua.LTable) {
	L := v.L
	mt := L.CreateTable(0, 4)
	mt.RawSetString("__index", L.SetFuncs(L.CreateTable(0, len(counterMethods)), counterMethods))
	t.RawSetString("counter", L.NewFunction(func(L *lua.LState) int {
		ud := L.NewUserData()
		ud.Value = v.env.counters.Counter(L.CheckString(1))
		ud.Metatable = mt
		L.Push(ud)
		return 1
	}))
	t.RawSetString("counters", L.NewFunction(func(L *lua.LState) int {
		snap := v.env.counters.Snapshot()
		out := L.CreateTable(0, len(snap))
		for k, n := range snap {
			out.RawSetString(k, lua.LNumber(n))
		}
		L.Push(out)
		return 1
	}))
	t.RawSetString("reset_counters", L.NewFunction(func(L *lua.LState) int {
		v.env.counters.Reset()
		return 0
	}))
}

package luaenv

import (
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

	curr, total, rejected atomic.Int64
}

// CurrConnections is the number of open client connections.
func (i *Info) CurrConnections() int64 { return i.curr.Load() }

// TotalConnections counts every accepted connection since start.
func (i *Info) TotalConnections() int64 { return i.total.Load() }

// RejectedConnections counts connections refused over the cap.
func (i *Info) RejectedConnections() int64 { return i.rejected.Load() }

func (v *vm) openStreamlua(L *lua.LState) int {
	t := L.NewTable()
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
	L.Push(t)
	return 1
}

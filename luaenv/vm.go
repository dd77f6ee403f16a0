package luaenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/streamlua/streamlua/luaenv/luabox"

	"github.com/streamlua/streamlua/luaenv/bytepack"
	"github.com/streamlua/streamlua/luaenv/ljcompat"
)

// vm is one pooled LState with the ngx API installed. It plays the role of
// an nginx worker's VM for one connection at a time: module-level state
// (package.loaded) survives between the connections it serves.
type vm struct {
	env    *Env
	gen    *Scripts
	L      *lua.LState
	id     int
	ngx    *lua.LTable
	sockMT *lua.LTable
	null   *lua.LUserData
	exit   *lua.LUserData // raised by ngx.exit; never seen by scripts
	phase  string
	conn   *connState
	stdout *os.File
	broken bool
	budget *budget

	cosockMT  *lua.LTable
	cosockets []*clientSocket
	semaMT    *lua.LTable
	threads   []*lightThread
	started   chan struct{}         // set while a spawner waits for this thread's first wait
	words     map[string]lua.LValue // boxed command words, see command.go
	recent    [16]recentWord        // a direct-mapped cache in front of words
	strs      luabox.Boxer          // boxes the keys and values handed to Lua per request
}

// connState is what a vm knows about the connection it is serving.
type connState struct {
	sock   *Socket
	ud     *lua.LUserData
	taken  bool
	serial uint64
	start  time.Time
	server string // listen address, for logs
}

// stateOptions are memory-lean settings (a bare state in about a third of
// the defaults' heap), except for the call stack: MinimizeStackMemory's
// growing frame stack saves 10 KiB a state but puts a segment check on
// every Lua and Go call, about 2 % of the server's CPU at 16 requests in
// flight. Only connections that are busy hold a state (idle ones give it
// back, see sock:setidle), so the speed is worth more than the memory.
var stateOptions = lua.Options{
	SkipOpenLibs:    true,
	CallStackSize:   128,
	RegistrySize:    1024,
	RegistryMaxSize: 256 * 1024,
}

func newVM(e *Env, gen *Scripts, id int) *vm {
	L := lua.NewState(stateOptions)
	v := &vm{env: e, gen: gen, L: L, id: id, phase: "content"}
	libs := []struct {
		name string
		fn   lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
		{lua.StringLibName, lua.OpenString},
		{lua.MathLibName, lua.OpenMath},
		{lua.CoroutineLibName, lua.OpenCoroutine},
	}
	if e.cfg.UnsafeLibs {
		libs = append(libs,
			struct {
				name string
				fn   lua.LGFunction
			}{lua.IoLibName, lua.OpenIo},
			struct {
				name string
				fn   lua.LGFunction
			}{lua.OsLibName, lua.OpenOs},
			struct {
				name string
				fn   lua.LGFunction
			}{lua.DebugLibName, lua.OpenDebug})
	}
	for _, lib := range libs {
		L.Push(L.NewFunction(lib.fn))
		L.Push(lua.LString(lib.name))
		L.Call(1, 0)
	}
	if !e.cfg.UnsafeLibs {
		L.SetGlobal("dofile", lua.LNil)
		L.SetGlobal("loadfile", lua.LNil)
	}
	ljcompat.Open(L)
	v.installPackage()
	v.installNgx()
	return v
}

// installPackage makes require serve compiled protos from the generation's
// cache instead of re-reading files in every state.
func (v *vm) installPackage() {
	L := v.L
	pkg := L.GetGlobal("package").(*lua.LTable)
	L.SetField(pkg, "path", lua.LString(v.gen.Path()))
	loaders := L.CreateTable(2, 0)
	loaders.RawSetInt(1, L.GetField(pkg, "loaders").(*lua.LTable).RawGetInt(1)) // preload
	loaders.RawSetInt(2, L.NewFunction(v.searcher))
	L.SetField(pkg, "loaders", loaders)
	L.SetField(L.Get(lua.RegistryIndex), "_LOADERS", loaders)
	preload := L.GetField(pkg, "preload").(*lua.LTable)
	L.SetField(preload, "resty.core", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LTrue)
		return 1
	}))
	L.SetField(preload, "streamlua", L.NewFunction(v.openStreamlua))
	L.PreloadModule("streamlua.pack", bytepack.Loader)
}

func (v *vm) searcher(L *lua.LState) int {
	name := L.CheckString(1)
	path, _ := L.GetField(L.GetGlobal("package"), "path").(lua.LString)
	file, proto, err := v.gen.Find(string(path), name)
	if err != nil {
		if errors.Is(err, errNoModule) {
			L.Push(lua.LString(strings.TrimPrefix(err.Error(), errNoModule.Error()+": ")))
			return 1
		}
		L.RaiseError("error loading module '%s' from file '%s':\n\t%s", name, file, err.Error())
	}
	L.Push(L.NewFunctionFromProto(proto))
	return 1
}

// reset prepares a state for the next connection.
func (v *vm) reset() {
	v.closeCosockets()
	v.L.SetTop(0)
	v.conn = nil
	v.phase = "content"
	v.stdout = nil
	v.strs.Reset()
	v.L.SetField(v.ngx, "ctx", lua.LNil)
	if v.budget != nil {
		v.L.RemoveContext()
		v.budget = nil
	}
}

// exitCode is how ngx.exit unwinds the handler.
type exitCode struct{ code int }

// call runs fn as a protected call and classifies its outcome: a normal
// return (with fn's first result) and ngx.exit are nil errors; a Lua error
// comes back as *ScriptError.
func (v *vm) call(ctx context.Context, fn *lua.LFunction) (lua.LValue, error) {
	L := v.L
	if v.env.cfg.ExecTimeout > 0 {
		v.budget = newBudget(ctx, v.env.cfg.ExecTimeout)
		L.SetContext(v.budget)
		defer v.budget.stop()
	}
	L.Push(fn)
	err := L.PCall(0, 1, nil)
	if len(v.threads) > 0 {
		v.finishThreads(err != nil)
	}
	if err == nil {
		ret := L.Get(-1)
		L.Pop(1)
		return ret, nil
	}
	var ae *lua.ApiError
	if errors.As(err, &ae) {
		if ud, ok := ae.Object.(*lua.LUserData); ok && ud == v.exit {
			return lua.LNil, nil
		}
		msg := ae.Object.String()
		if v.budget != nil && v.budget.expired() {
			msg = fmt.Sprintf("%s (lua exec timeout of %s exceeded)", strings.TrimSpace(msg), v.env.cfg.ExecTimeout)
		}
		return lua.LNil, &ScriptError{Message: msg, Traceback: ae.StackTrace}
	}
	return lua.LNil, &ScriptError{Message: err.Error()}
}

// ScriptError is a Lua error that ended a handler; Message starts with the
// script's file:line as Lua reports it.
type ScriptError struct {
	Message   string
	Traceback string
}

func (e *ScriptError) Error() string { return e.Message }

// Handle runs the entry for one accepted connection on a pooled state and
// closes the connection when the handler returns, errors or exits. An
// entry that returns ngx.AGAIN is run again, possibly on another state,
// once the connection has input (see idle.go); the state is given back in
// between.
func (e *Env) Handle(ctx context.Context, c net.Conn, en Entry, server string) error {
	sock := newSocket(c, &e.cfg.Socket, ctx.Done())
	sock.pollIn = pollAfter
	sock.observe, sock.server = e.cfg.ObserveRequest, server
	cs := &connState{sock: sock, serial: e.serial.Add(1), start: time.Now(), server: server}
	var err error
	for {
		v := e.attach(cs)
		var more bool
		more, err = v.runEntry(ctx, en)
		if err != nil {
			// Logged before the close so that whoever sees the connection
			// end can already find the reason in the log.
			e.countError(err.Error())
			e.log.Error("lua handler failed; closing connection", "server", server, "client", c.RemoteAddr().String(), "error", err.Error())
		}
		if more {
			sock.Flush()
		}
		e.detach(v, cs)
		if !more {
			break
		}
		e.parked.Add(1)
		resume := sock.park()
		e.parked.Add(-1)
		if !resume {
			break
		}
	}
	sock.finish()
	if e.cfg.ObserveConnection != nil {
		e.cfg.ObserveConnection(server, time.Since(cs.start))
	}
	return err
}

// attach gives a connection a pooled state for one run of its entry.
func (e *Env) attach(cs *connState) *vm {
	v := e.get()
	e.live.Add(1)
	v.conn = cs
	cs.taken = false
	cs.sock.vm = v
	cs.sock.consumed, cs.sock.idled = false, false
	v.L.SetField(v.ngx, "ctx", v.L.CreateTable(0, 0))
	return v
}

// detach gives the state back to the pool.
func (e *Env) detach(v *vm, cs *connState) {
	cs.sock.vm = nil
	cs.ud = nil
	e.live.Add(-1)
	e.put(v)
}

// runEntry runs the entry once. more reports that it returned ngx.AGAIN
// with the connection still open for reading.
func (v *vm) runEntry(ctx context.Context, en Entry) (more bool, err error) {
	fn, err := v.entryFunction(en)
	if err != nil {
		// A module body that raised leaves require's "loop or previous
		// error" sentinel in package.loaded; a pooled state would report
		// that from then on instead of the real error, so drop the state.
		v.broken = true
		return false, err
	}
	ret, err := v.call(ctx, fn)
	if err != nil || !again(ret) {
		return false, err
	}
	s := v.conn.sock
	if !s.idled {
		v.env.log.Warn("handler returned ngx.AGAIN but no receive reported \"idle\" in this run; closing connection",
			"server", v.conn.server, "client", s.conn.RemoteAddr().String())
		return false, nil
	}
	return !s.readClosed && !s.shutdown, nil
}

// entryFunction resolves the per-connection function: run() of the handler
// module, or the content file's chunk.
func (v *vm) entryFunction(en Entry) (*lua.LFunction, error) {
	L := v.L
	if en.File != "" {
		proto, err := v.gen.File(en.File)
		if err != nil {
			return nil, err
		}
		return L.NewFunctionFromProto(proto), nil
	}
	if err := L.CallByParam(lua.P{Fn: L.GetGlobal("require"), NRet: 1, Protect: true}, lua.LString(en.Module)); err != nil {
		var ae *lua.ApiError
		if errors.As(err, &ae) {
			return nil, &ScriptError{Message: ae.Object.String(), Traceback: ae.StackTrace}
		}
		return nil, err
	}
	mod := L.Get(-1)
	L.Pop(1)
	run, ok := L.GetField(mod, "run").(*lua.LFunction)
	if !ok {
		return nil, &ScriptError{Message: fmt.Sprintf("handler module %s has no run() function", en.Module)}
	}
	return run, nil
}

// budget is a context whose Done channel closes when a handler has run
// longer than the Lua budget without reading from its socket. Reads pause
// it, so a handler that waits for input is never charged for the wait.
type budget struct {
	context.Context
	limit time.Duration
	done  chan struct{}
	once  sync.Once
	timer *time.Timer
	fired bool
	mu    sync.Mutex
}

var errBudget = errors.New("lua exec timeout")

func newBudget(parent context.Context, limit time.Duration) *budget {
	b := &budget{Context: context.WithoutCancel(parent), limit: limit, done: make(chan struct{})}
	b.timer = time.AfterFunc(limit, b.fire)
	return b
}

func (b *budget) fire() {
	b.mu.Lock()
	b.fired = true
	b.mu.Unlock()
	b.once.Do(func() { close(b.done) })
}

func (b *budget) expired() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.fired
}

// Done implements context.Context.
func (b *budget) Done() <-chan struct{} { return b.done }

// Err implements context.Context.
func (b *budget) Err() error {
	select {
	case <-b.done:
		return errBudget
	default:
		return nil
	}
}

func (b *budget) pause()  { b.timer.Stop() }
func (b *budget) resume() { b.timer.Reset(b.limit) }
func (b *budget) stop()   { b.timer.Stop() }

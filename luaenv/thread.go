package luaenv

import (
	"context"

	lua "github.com/yuin/gopher-lua"
)

// Light threads (ngx.thread.*). Each spawned function runs on a state of
// its own and its own goroutine, transplanted like a timer callback, and
// shares the connection's socket with its parent (the socket allows one
// reader and one writer at a time, as upstream). spawn returns once the
// thread has finished or first waits for I/O, sleep or a semaphore, which
// keeps upstream's ordering for output written before the first wait.
type lightThread struct {
	parent  *vm
	done    chan struct{}
	started chan struct{}
	cancel  context.CancelFunc
	ok      bool
	results []any  // frozen return values
	errMsg  string // when !ok
	waited  bool
}

func checkThread(L *lua.LState, i int) *lightThread {
	if ud, ok := L.Get(i).(*lua.LUserData); ok {
		if t, ok := ud.Value.(*lightThread); ok {
			return t
		}
	}
	L.ArgError(i, "thread expected")
	return nil
}

// willBlock tells a spawner waiting for its thread's first yield point
// that the thread is about to wait.
func (v *vm) willBlock() {
	if v.started != nil {
		close(v.started)
		v.started = nil
		v.env.starting.Add(-1)
		v.env.startingVMs.Delete(v.L)
	}
}

// blockingFrom is willBlock for shared socket methods, which know only the
// calling LState. It costs one atomic load unless a thread is starting.
func (e *Env) blockingFrom(L *lua.LState) {
	if e.starting.Load() == 0 {
		return
	}
	if v, ok := e.startingVMs.Load(L); ok {
		v.(*vm).willBlock()
	}
}

func (v *vm) ngxThreadSpawn(L *lua.LState) int {
	fn, ok := L.Get(1).(*lua.LFunction)
	if !ok || fn.IsG {
		L.ArgError(1, "Lua function expected")
	}
	args := make([]lua.LValue, 0, L.GetTop())
	for i := 2; i <= L.GetTop(); i++ {
		args = append(args, L.Get(i))
	}
	tp, err := v.freezeCall(fn, args)
	if err != nil {
		L.RaiseError("cannot spawn thread: %s", err.Error())
	}
	ctx, cancel := context.WithCancel(context.Background())
	th := &lightThread{parent: v, done: make(chan struct{}), started: make(chan struct{}), cancel: cancel}
	if v.conn != nil {
		v.conn.sock.Flush()
	}
	go v.env.runThread(th, tp, v.conn, ctx)
	if v.budget != nil {
		v.budget.pause()
	}
	select {
	case <-th.started:
	case <-th.done:
	}
	if v.budget != nil {
		v.budget.resume()
	}
	v.threads = append(v.threads, th)
	ud := L.NewUserData()
	ud.Value = th
	L.Push(ud)
	return 1
}

func (e *Env) runThread(th *lightThread, tp *transplant, conn *connState, ctx context.Context) {
	defer close(th.done)
	v := e.get()
	defer e.put(v)
	v.phase = "content"
	v.conn = conn
	v.started = th.started
	e.starting.Add(1)
	e.startingVMs.Store(v.L, v)
	defer v.willBlock()
	fn, args, err := v.thawCall(tp)
	if err != nil {
		th.errMsg = "cannot start thread: " + err.Error()
		return
	}
	L := v.L
	L.SetContext(ctx)
	defer L.RemoveContext()
	L.Push(fn)
	for _, a := range args {
		L.Push(a)
	}
	if err := L.PCall(len(args), lua.MultRet, nil); err != nil {
		th.errMsg = luaErrText(err)
		if ctx.Err() == nil {
			e.countError(th.errMsg)
			e.log.Error("lua thread failed", "error", th.errMsg)
		}
		return
	}
	f := newFreezer(v)
	for i := 1; i <= L.GetTop(); i++ {
		fv, err := f.freeze(L.Get(i))
		if err != nil {
			th.errMsg = "cannot return value: " + err.Error()
			return
		}
		th.results = append(th.results, fv)
	}
	th.ok = true
}

func (v *vm) ngxThreadWait(L *lua.LState) int {
	n := L.GetTop()
	if n == 0 {
		L.RaiseError("at least one coroutine should be specified")
	}
	ths := make([]*lightThread, n)
	for i := range ths {
		th := checkThread(L, i+1)
		if th.parent != v {
			L.RaiseError("only the parent coroutine can wait on the thread")
		}
		if th.waited {
			L.Push(lua.LNil)
			L.Push(lua.LString("already waited or killed"))
			return 2
		}
		ths[i] = th
	}
	if v.conn != nil {
		v.conn.sock.Flush()
	}
	if v.budget != nil {
		v.budget.pause()
		defer v.budget.resume()
	}
	v.willBlock()
	var got *lightThread
	for got == nil {
		for _, th := range ths {
			select {
			case <-th.done:
				got = th
			default:
			}
			if got != nil {
				break
			}
		}
		if got == nil {
			// Wait for any of them: one goroutine-free select per thread
			// count would need reflection; waiting on the first and
			// re-polling is enough for the handful of threads scripts use.
			cases := make(chan *lightThread, len(ths))
			stop := make(chan struct{})
			for _, th := range ths {
				go func(th *lightThread) {
					select {
					case <-th.done:
						cases <- th
					case <-stop:
					}
				}(th)
			}
			got = <-cases
			close(stop)
		}
	}
	got.waited = true
	if !got.ok {
		L.Push(lua.LFalse)
		L.Push(lua.LString(got.errMsg))
		return 2
	}
	L.Push(lua.LTrue)
	t := newThawer(v)
	for _, r := range got.results {
		val, err := t.thaw(r)
		if err != nil {
			L.RaiseError("cannot return value from thread: %s", err.Error())
		}
		L.Push(val)
	}
	return 1 + len(got.results)
}

func (v *vm) ngxThreadKill(L *lua.LState) int {
	th := checkThread(L, 1)
	if th.parent != v {
		L.Push(lua.LNil)
		L.Push(lua.LString("killer not parent"))
		return 2
	}
	if th.waited {
		L.Push(lua.LNil)
		L.Push(lua.LString("already waited or killed"))
		return 2
	}
	select {
	case <-th.done:
		L.Push(lua.LNil)
		L.Push(lua.LString("already terminated"))
		return 2
	default:
	}
	th.waited = true
	th.cancel()
	L.Push(lua.LTrue)
	return 1
}

// finishThreads runs when the entry function ends: upstream the handler
// lives until its threads finish, unless it failed or called ngx.exit, in
// which case they are killed.
func (v *vm) finishThreads(kill bool) {
	for _, th := range v.threads {
		if kill {
			th.cancel()
		}
		<-th.done
		th.cancel()
	}
	v.threads = v.threads[:0]
}

func (v *vm) installThreads() {
	L := v.L
	t := L.CreateTable(0, 4)
	t.RawSetString("spawn", L.NewFunction(v.ngxThreadSpawn))
	t.RawSetString("wait", L.NewFunction(v.ngxThreadWait))
	t.RawSetString("kill", L.NewFunction(v.ngxThreadKill))
	v.ngx.RawSetString("thread", t)
}

package luaenv

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// Timers run their callback on a state of their own, on their own
// goroutine, after the delay: see transplant.go for how the callback gets
// there. Limits follow OpenResty's lua_max_pending_timers (1024) and
// lua_max_running_timers (256).
type timers struct {
	pending atomic.Int64
	running atomic.Int64
	slots   chan struct{} // running-timer slots
	stop    chan struct{} // closed by Env.Stop: pending timers fire prematurely
	once    sync.Once
	wg      sync.WaitGroup
}

const (
	maxPendingTimers = 1024
	maxRunningTimers = 256
)

func (e *Env) timerState() *timers {
	e.timersOnce.Do(func() {
		e.timers = &timers{slots: make(chan struct{}, maxRunningTimers), stop: make(chan struct{})}
	})
	return e.timers
}

// Stop makes pending timers fire at once with premature = true and waits
// (up to ctx) for running timers and every-timers to finish.
func (e *Env) Stop(ctx context.Context) {
	ts := e.timerState()
	ts.once.Do(func() { close(ts.stop) })
	done := make(chan struct{})
	go func() {
		ts.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

func (e *Env) exiting() bool {
	select {
	case <-e.timerState().stop:
		return true
	default:
		return false
	}
}

func (v *vm) ngxTimerAt(every bool) lua.LGFunction {
	return func(L *lua.LState) int {
		if L.GetTop() < 2 {
			L.RaiseError("expecting at least 2 arguments but got %d", L.GetTop())
		}
		delay := float64(L.CheckNumber(1))
		if delay < 0 {
			L.RaiseError("bad \"delay\" argument: %v", delay)
		}
		if every && delay == 0 {
			L.RaiseError("delay cannot be zero")
		}
		fn, ok := L.Get(2).(*lua.LFunction)
		if !ok || fn.IsG {
			L.ArgError(2, "Lua function expected")
		}
		e := v.env
		ts := e.timerState()
		if e.exiting() && delay > 0 {
			L.Push(lua.LNil)
			L.Push(lua.LString("process exiting"))
			return 2
		}
		if ts.pending.Load() >= maxPendingTimers {
			L.Push(lua.LNil)
			L.Push(lua.LString("too many pending timers"))
			return 2
		}
		args := make([]lua.LValue, 0, L.GetTop()-2)
		for i := 3; i <= L.GetTop(); i++ {
			args = append(args, L.Get(i))
		}
		tp, err := v.freezeCall(fn, args)
		if err != nil {
			L.RaiseError("cannot create timer: %s", err.Error())
		}
		d := time.Duration(delay * float64(time.Second))
		ts.pending.Add(1)
		ts.wg.Add(1)
		if every {
			go e.runEvery(tp, d)
		} else {
			go e.runTimer(tp, d)
		}
		L.Push(lua.LNumber(1))
		return 1
	}
}

func (e *Env) runTimer(tp *transplant, d time.Duration) {
	ts := e.timerState()
	defer ts.wg.Done()
	t := time.NewTimer(d)
	premature := false
	select {
	case <-t.C:
	case <-ts.stop:
		t.Stop()
		premature = true
	}
	ts.pending.Add(-1)
	ts.slots <- struct{}{}
	ts.running.Add(1)
	defer func() {
		ts.running.Add(-1)
		<-ts.slots
	}()
	v := e.get()
	defer e.put(v)
	e.callTransplant(v, tp, premature)
}

// runEvery keeps one state for the timer's whole life, so the callback's
// upvalues persist between runs as they do upstream.
func (e *Env) runEvery(tp *transplant, d time.Duration) {
	ts := e.timerState()
	defer ts.wg.Done()
	v := e.get()
	defer e.put(v)
	v.phase = "timer"
	fn, args, err := v.thawCall(tp, lua.LFalse)
	if err != nil {
		ts.pending.Add(-1)
		e.log.Error("timer failed to start", "error", err.Error())
		return
	}
	tick := time.NewTicker(d)
	defer tick.Stop()
	for {
		premature := false
		select {
		case <-tick.C:
		case <-ts.stop:
			premature = true
		}
		ts.pending.Add(-1)
		ts.running.Add(1)
		args[0] = lua.LBool(premature)
		v.L.Push(fn)
		for _, a := range args {
			v.L.Push(a)
		}
		if err := v.L.PCall(len(args), 0, nil); err != nil {
			e.countError(luaErrText(err))
			e.log.Error("lua timer failed", "error", luaErrText(err))
		}
		v.L.SetTop(0)
		ts.running.Add(-1)
		if premature {
			return
		}
		ts.pending.Add(1)
	}
}

func (e *Env) callTransplant(v *vm, tp *transplant, premature bool) {
	v.phase = "timer"
	fn, args, err := v.thawCall(tp, lua.LBool(premature))
	if err != nil {
		e.log.Error("timer failed to start", "error", err.Error())
		return
	}
	v.L.Push(fn)
	for _, a := range args {
		v.L.Push(a)
	}
	if err := v.L.PCall(len(args), 0, nil); err != nil {
		e.countError(luaErrText(err))
		e.log.Error("lua timer failed", "error", luaErrText(err))
	}
}

func luaErrText(err error) string {
	if ae, ok := err.(*lua.ApiError); ok {
		return ae.Object.String()
	}
	return err.Error()
}

func (v *vm) installTimers() {
	L := v.L
	t := L.CreateTable(0, 4)
	t.RawSetString("at", L.NewFunction(v.ngxTimerAt(false)))
	t.RawSetString("every", L.NewFunction(v.ngxTimerAt(true)))
	t.RawSetString("running_count", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LNumber(v.env.timerState().running.Load()))
		return 1
	}))
	t.RawSetString("pending_count", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LNumber(v.env.timerState().pending.Load()))
		return 1
	}))
	v.ngx.RawSetString("timer", t)
	v.ngx.RawSetString("on_abort", L.NewFunction(func(L *lua.LState) int {
		// Client-abort detection (lua_check_client_abort) is not offered:
		// answer as OpenResty does when it is off.
		L.Push(lua.LNil)
		L.Push(lua.LString("lua_check_client_abort is off"))
		return 2
	}))
}

// semaphore is ngx.semaphore: a counting semaphore that any state may use,
// since it is a Go object (passed to timers and threads as itself).
type semaphore struct {
	mu      sync.Mutex
	count   int
	waiters int
	ch      chan struct{} // signalled on post
}

func newSemaphore(n int) *semaphore {
	return &semaphore{count: n, ch: make(chan struct{}, 1)}
}

func (s *semaphore) post(n int) {
	s.mu.Lock()
	s.count += n
	s.mu.Unlock()
	s.signal()
}

func (s *semaphore) signal() {
	select {
	case s.ch <- struct{}{}:
	default:
	}
}

// take consumes one unit if there is one; the caller holds no lock.
func (s *semaphore) take() bool {
	s.mu.Lock()
	ok := s.count > 0
	more := false
	if ok {
		s.count--
		more = s.count > 0
	}
	s.mu.Unlock()
	if more {
		s.signal() // pass the wake-up on to another waiter
	}
	return ok
}

// wait takes one unit, waiting up to d (0 = do not wait) or until done.
func (s *semaphore) wait(d time.Duration, done <-chan struct{}) bool {
	if s.take() {
		return true
	}
	if d <= 0 {
		return false
	}
	deadline := time.Now().Add(d)
	s.mu.Lock()
	s.waiters++
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.waiters--
		s.mu.Unlock()
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-s.ch:
		case <-t.C:
		case <-done:
			return false
		}
		if s.take() {
			return true
		}
		if !time.Now().Before(deadline) {
			return false
		}
	}
}

func checkSema(L *lua.LState) *semaphore {
	if ud, ok := L.Get(1).(*lua.LUserData); ok {
		if s, ok := ud.Value.(*semaphore); ok {
			return s
		}
	}
	L.RaiseError("semaphore expected")
	return nil
}

func (v *vm) openSemaphore(L *lua.LState) int {
	mod := L.CreateTable(0, 4)
	mod.RawSetString("new", L.NewFunction(func(L *lua.LState) int {
		n := L.OptInt(1, 0)
		if n < 0 {
			L.Push(lua.LNil)
			L.Push(lua.LString("no memory"))
			return 2
		}
		ud := L.NewUserData()
		ud.Value = newSemaphore(n)
		ud.Metatable = v.semaMT
		L.Push(ud)
		return 1
	}))
	L.Push(mod)
	return 1
}

func (v *vm) installSemaphore() {
	L := v.L
	methods := L.SetFuncs(L.CreateTable(0, 4), map[string]lua.LGFunction{
		"post": func(L *lua.LState) int {
			s := checkSema(L)
			n := L.OptInt(2, 1)
			if n < 1 {
				L.RaiseError("bad \"n\" argument")
			}
			s.post(n)
			L.Push(lua.LTrue)
			return 1
		},
		"wait": func(L *lua.LState) int {
			s := checkSema(L)
			sec := float64(L.OptNumber(2, 0))
			if sec < 0 {
				L.RaiseError("bad \"timeout\" argument")
			}
			var done <-chan struct{}
			if v.conn != nil {
				v.conn.sock.Flush()
				done = v.conn.sock.done
			}
			if v.budget != nil {
				v.budget.pause()
				defer v.budget.resume()
			}
			v.willBlock()
			if s.wait(time.Duration(sec*float64(time.Second)), done) {
				L.Push(lua.LTrue)
				return 1
			}
			L.Push(lua.LNil)
			L.Push(lua.LString("timeout"))
			return 2
		},
		"count": func(L *lua.LState) int {
			s := checkSema(L)
			s.mu.Lock()
			n := s.count - s.waiters
			s.mu.Unlock()
			L.Push(lua.LNumber(n))
			return 1
		},
	})
	v.semaMT = L.CreateTable(0, 4)
	v.semaMT.RawSetString("__index", methods)
	L.PreloadModule("ngx.semaphore", v.openSemaphore)
}

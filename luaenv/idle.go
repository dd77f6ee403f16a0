package luaenv

import (
	"sync"
	"syscall"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// Idle release: giving an idle connection's Lua state back to the pool.
//
// One LState per connection is what makes handlers plain blocking loops,
// and it is also most of what a connection costs (a few hundred KiB with
// a protocol's modules loaded). A server with thousands of pooled client
// connections, most of them silent at any moment, should not pay that for
// each. So a handler can opt in (streamlua's extension, not OpenResty's):
//
//	sock:setidle(ms)
//
// after which receive_command, receiveany and peek — the calls a command
// loop waits in between requests — return nil, "idle" once ms milliseconds
// pass with nothing buffered and nothing arriving. The handler then returns
// ngx.AGAIN (honoured only in a run where a receive reported "idle": an
// entry that returned it straight away would otherwise run again and again
// on input it never reads). The host writes what is pending, returns the state (and the
// socket's buffers) to their pools, and parks the connection on the
// netpoller with no Lua state and no buffer at all. When input or EOF
// arrives, it takes a state from the pool and runs the entry again from the
// start, with a fresh ngx.ctx: the handler's locals are gone, so whatever
// must survive an idle period belongs in the socket's buffer (untouched),
// a shared dict, or is re-derived.
//
// The script's read timeout keeps counting across the release: when it
// passes with no input, the entry runs again and its first receive
// returns "timeout" at once, as if the handler had waited all along.

// bufPool holds read buffers of the configured initial size taken from
// released connections.
var bufPool sync.Pool

func getBuf(size int) []byte {
	if b, ok := bufPool.Get().(*[]byte); ok && len(*b) == size {
		return *b
	}
	return make([]byte, size)
}

// sockSetIdle implements sock:setidle(ms): 0 (or nil) turns idle reports
// off.
func sockSetIdle(L *lua.LState) int {
	s := checkSocket(L)
	ms := L.OptNumber(2, 0)
	if ms < 0 {
		L.ArgError(2, "idle time must not be negative")
	}
	s.idleAfter = time.Duration(float64(ms) * float64(time.Millisecond))
	L.Push(lua.LNumber(1))
	return 1
}

// fillIdle is fill for the calls that may report "idle": when idle
// reports are on and nothing is buffered, it waits for input only until
// the idle time, or the caller's deadline if that comes first.
func (s *Socket) fillIdle(L *lua.LState, deadline mono, limit int) string {
	if s.idleAfter <= 0 || s.rpos != s.rend || s.pendingTimeout {
		return s.fill(L, deadline, limit)
	}
	// Callers compute deadline from the clock as their wait starts: the
	// same reading serves here, instead of another call to time.Now on
	// every read.
	now := deadline - mono(s.readTimeout)
	idl := now.add(s.idleAfter)
	if idl >= deadline {
		return s.fill(L, deadline, limit)
	}
	if s.silentSince == 0 {
		s.silentSince = now
	}
	if e := s.fillFor(L, idl, s.idleAfter, limit); e != "timeout" {
		return e
	}
	s.idled = true
	return "idle"
}

// park is what Handle does between two runs of an entry that returned
// ngx.AGAIN: with nothing buffered, it gives back the buffers and waits
// for the connection to become readable, without reading. It reports
// whether the entry should run again (input, EOF, or the script's read
// timeout, which the next receive then reports): not when the server is
// shutting down.
func (s *Socket) park() bool {
	if s.rpos != s.rend || s.readClosed {
		return true
	}
	if s.silentSince == 0 {
		s.silentSince = monoNow()
	}
	deadline := s.silentSince.add(s.readTimeout)
	sc, ok := s.conn.(syscall.Conn)
	if !ok {
		// No descriptor to wait on (TLS): read into the buffer instead,
		// which keeps it, but the Lua state is still given back.
		e := s.fillFor(nil, deadline, s.readTimeout, len(s.rbuf))
		return s.parked(e)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	s.releaseBuffers()
	s.setReadDeadline(deadline, s.readTimeout)
	select {
	case <-s.done:
		return false
	default:
	}
	var peek [1]byte
	err = rc.Read(func(fd uintptr) bool {
		_, _, e := syscall.Recvfrom(int(fd), peek[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return e != syscall.EAGAIN && e != syscall.EINTR
	})
	// Input is there: the next read should try at once, not wait for
	// the read poller to say so.
	s.drained = false
	if err == nil {
		return true
	}
	return s.parked(errText(err, s.done))
}

// parked turns the outcome of a parked wait into park's result.
func (s *Socket) parked(e string) bool {
	select {
	case <-s.done:
		return false
	default:
	}
	if e == "timeout" {
		s.pendingTimeout = true
	}
	return true
}

// releaseBuffers gives an empty read buffer of the default size to the
// pool and drops the write buffer, for a connection about to sit idle.
func (s *Socket) releaseBuffers() {
	if s.rpos == s.rend && len(s.rbuf) == s.cfg.BufferSize {
		b := s.rbuf
		bufPool.Put(&b)
		s.rbuf = nil
		s.rpos, s.rend = 0, 0
	}
	s.wmu.Lock()
	if len(s.wbuf) == 0 {
		s.wbuf = nil
	}
	s.wmu.Unlock()
}

// again reports whether an entry's return value asks to run again when
// input arrives (ngx.AGAIN).
func again(ret lua.LValue) bool {
	n, ok := ret.(lua.LNumber)
	return ok && n == ngxAgain
}

// ngxAgain is ngx.AGAIN.
const ngxAgain = -2

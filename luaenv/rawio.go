package luaenv

import (
	"io"
	"net"
	"syscall"
	"time"
	"unsafe"
)

// rawConn reads and writes a connection's descriptor through its
// syscall.RawConn with syscall.RawSyscall. At one request per round trip
// a request costs a read and a write, and net.Conn's Read and Write wrap
// each in the scheduler's entersyscall/exitsyscall, about 2 % of the
// server's CPU. The descriptor is non-blocking, so neither call can block
// the thread; RawConn still takes the descriptor's lock (so a concurrent
// Close cannot hand the number to another connection mid-call) and waits
// on the netpoller, with the deadlines set on the net.Conn, when a read
// finds nothing or a write finds the send buffer full.
type rawConn struct {
	// A read and a write may be in progress at once, from different
	// goroutines (a light thread writes while its parent waits in a
	// read), so each direction keeps its call's state apart.
	rd, wr rawCall
	rc     syscall.RawConn
}

// rawCall is one direction's call in progress. Its step function and the
// RawConn method are bound once, so that a call allocates no closure.
type rawCall struct {
	p       []byte
	n       int
	errno   syscall.Errno
	empty   int  // reads that found nothing and waited, for tests
	nowait  bool // a write stops at a full send buffer instead of waiting
	blocked bool // it did
	step    func(fd uintptr) bool
	call    func(func(fd uintptr) bool) error
}

// newRawConn returns nil when c has no descriptor (TLS, pipes): the caller
// then uses c's own Read and Write.
func newRawConn(c net.Conn) *rawConn {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	r := &rawConn{rc: rc}
	r.rd.step, r.rd.call = r.rd.doRead, rc.Read
	r.wr.step, r.wr.call = r.wr.doWrite, rc.Write
	return r
}

// read is net.Conn's Read: at most len(p) bytes, io.EOF at end of stream.
func (r *rawConn) read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, err := r.rd.run(p)
	if err == nil && n == 0 {
		return 0, io.EOF
	}
	return n, err
}

// run makes the RawConn call with the step function over p, and returns
// what the step recorded: the byte count, and the call's error or the
// step's.
func (c *rawCall) run(p []byte) (int, error) {
	c.p, c.n, c.errno = p, 0, 0
	err := c.call(c.step)
	n := c.n
	if err == nil && c.errno != 0 {
		err = c.errno
	}
	c.p = nil
	return n, err
}

func (c *rawCall) doRead(fd uintptr) bool {
	for {
		n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(unsafe.SliceData(c.p))), uintptr(len(c.p)))
		switch e {
		case 0:
			c.n = int(n)
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			c.empty++
			return false // wait for the descriptor to become readable
		default:
			c.errno = e
			return true
		}
	}
}

// write is net.Conn's Write: all of p, or the count written and an error.
func (r *rawConn) write(p []byte) (int, error) {
	return r.wr.run(p)
}

// tryWrite writes what the send buffer takes now: all of p, or the count
// written with blocked set when the rest would have to wait for room.
func (r *rawConn) tryWrite(p []byte) (n int, blocked bool, err error) {
	w := &r.wr
	w.nowait, w.blocked = true, false
	n, err = w.run(p)
	blocked = w.blocked
	w.nowait, w.blocked = false, false
	return n, blocked, err
}

func (c *rawCall) doWrite(fd uintptr) bool {
	for c.n < len(c.p) {
		rest := c.p[c.n:]
		n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(unsafe.SliceData(rest))), uintptr(len(rest)))
		switch e {
		case 0:
			c.n += int(n)
		case syscall.EINTR:
		case syscall.EAGAIN:
			if c.nowait {
				c.blocked = true
				return true
			}
			return false // wait until the send buffer has room
		default:
			c.errno = e
			return true
		}
	}
	return true
}

// connRead reads from s.conn, through its descriptor when it has one.
func (s *Socket) connRead(p []byte) (int, error) {
	if s.raw == nil {
		return s.conn.Read(p)
	}
	if r := s.preg; r != nil {
		// The token is taken before every read (poller_linux.go): after a
		// read that emptied the socket, by waiting for it. r.final is
		// read after the token was last taken and is set before a token
		// is left, so an end of stream that came before that take is
		// seen here, and one after it leaves a token.
		s.waited = false
		if s.drained && r.mayWait() {
			select {
			case <-r.tok:
			default:
				s.waited = true
				select {
				case <-r.tok:
				case <-s.done:
				}
			}
		} else {
			select {
			case <-r.tok:
			default:
			}
		}
	} else if s.drained && s.pollIn > 0 {
		s.register()
	}
	n, err := s.raw.read(p)
	s.drained = err == nil && n < len(p)
	return n, err
}

// connWrite writes all of p to s.conn within the send timeout, through its
// descriptor when it has one. There the first attempt runs with no
// deadline: a write the send buffer takes at once cannot time out, and
// arming the timeout costs a clock read per write, which is most writes.
// Only a write that must wait arms it, and clears it after, because a
// deadline that expired while no write waited would fail the next write
// before it tried.
func (s *Socket) connWrite(p []byte) (int, error) {
	if s.raw == nil {
		s.setWriteDeadline(monoNow().add(s.sendTimeout))
		return s.conn.Write(p)
	}
	n, blocked, err := s.raw.tryWrite(p)
	if !blocked || err != nil {
		return n, err
	}
	s.conn.SetWriteDeadline(monoNow().add(s.sendTimeout).time())
	m, err := s.raw.write(p[n:])
	s.conn.SetWriteDeadline(time.Time{})
	return n + m, err
}

// setConn replaces the connection under s, and the rawConn that goes with
// it. It is made here, by the goroutine that owns the socket, and only read
// afterwards: a light thread may write while its parent reads.
func (s *Socket) setConn(c net.Conn) {
	s.conn = c
	s.raw = nil
	s.unregister()
	if c != nil {
		s.raw = newRawConn(c)
	}
}

// pollAfter is how many reads find the socket drained before a
// connection goes on the read poller.
const pollAfter = 3

// register puts s on the read poller, not on the first read that drains
// its socket: a connection that makes a request or two and closes would
// pay more for it (a system call, a timer) than the reads it saves.
func (s *Socket) register() {
	if s.pollIn--; s.pollIn > 0 {
		return
	}
	if p := readPoller(); p != nil {
		if s.preg = p.register(s.raw.rc); s.preg != nil {
			s.preg.arm(s.rdl)
		}
	}
}

// unregister takes s off the read poller.
func (s *Socket) unregister() {
	if s.preg != nil {
		s.preg.p.release(s.preg)
		s.preg = nil
	}
	s.drained = false
}

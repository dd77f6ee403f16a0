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
	// The call in progress; readFn and writeFn are bound once so that a
	// call allocates no closure.
	p       []byte
	n       int
	errno   syscall.Errno
	nowait  bool // a write stops at a full send buffer instead of waiting
	blocked bool // it did
	readFn  func(fd uintptr) bool
	writeFn func(fd uintptr) bool
	// The RawConn's Read and Write, bound once for the same reason.
	rawRead, rawWrite func(func(fd uintptr) bool) error
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
	r := &rawConn{}
	r.readFn, r.writeFn = r.doRead, r.doWrite
	r.rawRead, r.rawWrite = rc.Read, rc.Write
	return r
}

// read is net.Conn's Read: at most len(p) bytes, io.EOF at end of stream.
func (r *rawConn) read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, err := r.run(p, r.rawRead, r.readFn)
	if err == nil && n == 0 {
		return 0, io.EOF
	}
	return n, err
}

// run makes one RawConn call (rawRead or rawWrite) with f over p, and
// returns what f recorded: the byte count, and the call's error or f's.
func (r *rawConn) run(p []byte, call func(func(fd uintptr) bool) error, f func(fd uintptr) bool) (int, error) {
	r.p, r.n, r.errno = p, 0, 0
	err := call(f)
	n := r.n
	if err == nil && r.errno != 0 {
		err = r.errno
	}
	r.p = nil
	return n, err
}

func (r *rawConn) doRead(fd uintptr) bool {
	for {
		n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(unsafe.SliceData(r.p))), uintptr(len(r.p)))
		switch e {
		case 0:
			r.n = int(n)
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false // wait for the descriptor to become readable
		default:
			r.errno = e
			return true
		}
	}
}

// write is net.Conn's Write: all of p, or the count written and an error.
func (r *rawConn) write(p []byte) (int, error) {
	return r.run(p, r.rawWrite, r.writeFn)
}

// tryWrite writes what the send buffer takes now: all of p, or the count
// written with blocked set when the rest would have to wait for room.
func (r *rawConn) tryWrite(p []byte) (n int, blocked bool, err error) {
	r.nowait, r.blocked = true, false
	n, err = r.run(p, r.rawWrite, r.writeFn)
	blocked = r.blocked
	r.nowait, r.blocked = false, false
	return n, blocked, err
}

func (r *rawConn) doWrite(fd uintptr) bool {
	for r.n < len(r.p) {
		rest := r.p[r.n:]
		n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(unsafe.SliceData(rest))), uintptr(len(rest)))
		switch e {
		case 0:
			r.n += int(n)
		case syscall.EINTR:
		case syscall.EAGAIN:
			if r.nowait {
				r.blocked = true
				return true
			}
			return false // wait until the send buffer has room
		default:
			r.errno = e
			return true
		}
	}
	return true
}

// connRead reads from s.conn, through its descriptor when it has one.
func (s *Socket) connRead(p []byte) (int, error) {
	if s.raw != nil {
		return s.raw.read(p)
	}
	return s.conn.Read(p)
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
		s.setWriteDeadline(time.Now().Add(s.sendTimeout))
		return s.conn.Write(p)
	}
	n, blocked, err := s.raw.tryWrite(p)
	if !blocked || err != nil {
		return n, err
	}
	s.conn.SetWriteDeadline(time.Now().Add(s.sendTimeout))
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
	if c != nil {
		s.raw = newRawConn(c)
	}
}

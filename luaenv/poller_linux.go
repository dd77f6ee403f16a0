//go:build linux

package luaenv

import (
	"math"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// The read poller lets a connection that has just drained its socket wait
// for input without first making the read that would find nothing.
//
// Go's netpoller cannot do that: every Read (and RawConn.Read) first
// forgets the readiness the netpoller recorded, then reads, and only waits
// when that read fails with EAGAIN. At one request per round trip that
// empty read is a third of a request's syscalls; memcached skips it after
// a short read and goes straight back to epoll. Where a system call is
// dear (page-table isolation without PCID: ≈ 1.1 µs for a null call,
// against 75 ns elsewhere) skipping it took 6 % off the server's CPU per
// request (tests/bench/NOTES.md).
//
// So a busy connection's descriptor is also added, edge-triggered, to an
// epoll set of our own, and one goroutine turns its events into tokens: a
// channel of capacity one per connection. A reader takes the token before
// every read syscall (waiting for it, or taking one that is there), so a
// token present means something happened on the socket since the last
// read began.
// After a read that returned less than it asked for (the socket was empty
// when it ran), the next read waits for a token instead of trying.
//
// One thing a short read does not show: that nothing more is to come. A
// peer's shutdown or a socket error arriving with the last data is
// reported by the read after, with no further event; the poller keeps a
// flag for those (final), and a reader never waits once it is set.
//
// A token is only ever a hint to try reading: a spurious one costs a read
// that finds nothing, which then waits on Go's netpoller with the
// connection's deadlines exactly as before. Deadlines and shutdown reach a
// waiting reader through a per-connection timer that posts a token when
// the read deadline passes, and through the server's done channel.
//
// The epoll set is itself waited on through Go's netpoller (an epoll
// descriptor is pollable), by a goroutine that stays inside one
// RawConn.Read for its whole life, so that readiness is never reset
// between its waits.

// poller is the process's read poller: one epoll set and the goroutine
// that drains it, started on first use and kept for the process's life,
// as Go's own netpoller is.
type poller struct {
	epfd int
	// dead is set if the epoll set fails (no error epoll_wait can return
	// with these arguments is expected): readers then stop waiting for
	// tokens, and read as they did before the poller.
	dead atomic.Bool
	mu   sync.Mutex
	regs []*pollReg // by epoll event data; nil where free
	free []int32
}

// pollReg is one connection's registration.
type pollReg struct {
	p     *poller
	idx   int32
	tok   chan struct{}
	timer *time.Timer // posts a token when the read deadline passes
	// final is set for good once the peer has shut down, the socket has
	// an error, or urgent data arrived. A short read no longer shows the
	// socket empty then: it stops before an end of stream (or at the
	// urgent mark) that the next read reports at once, and that no later
	// event would announce.
	final atomic.Bool
}

var (
	pollerOnce sync.Once
	thePoller  *poller // nil where the poller could not start
)

// readPoller returns the process's poller, starting it on first use; nil
// when it cannot be had, and then connections read as they did before.
func readPoller() *poller {
	pollerOnce.Do(func() { thePoller = startPoller() })
	return thePoller
}

func startPoller() *poller {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil
	}
	if err := syscall.SetNonblock(epfd, true); err != nil {
		syscall.Close(epfd)
		return nil
	}
	f := os.NewFile(uintptr(epfd), "streamlua-read-poller")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil
	}
	p := &poller{epfd: epfd}
	go p.run(f, rc)
	return p
}

// run drains the epoll set whenever Go's netpoller reports it readable.
func (p *poller) run(f *os.File, rc syscall.RawConn) {
	events := make([]syscall.EpollEvent, 128)
	rc.Read(func(fd uintptr) bool {
		for {
			n, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, fd,
				uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), 0, 0, 0)
			switch e {
			case 0:
			case syscall.EINTR:
				continue
			default:
				return true
			}
			p.dispatch(events[:n])
			if int(n) < len(events) {
				// Drained: the next event makes the set readable again.
				return false
			}
		}
	})
	// Only a failed set ends up here: wake every waiting reader, and have
	// all of them read directly from now on.
	p.dead.Store(true)
	p.mu.Lock()
	for _, r := range p.regs {
		if r != nil {
			r.post()
		}
	}
	p.mu.Unlock()
	f.Close()
}

func (p *poller) dispatch(events []syscall.EpollEvent) {
	p.mu.Lock()
	for i := range events {
		if idx := events[i].Fd; idx >= 0 && int(idx) < len(p.regs) {
			if r := p.regs[idx]; r != nil {
				if events[i].Events&(syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR|syscall.EPOLLPRI) != 0 {
					r.final.Store(true) // before the token: see connRead
				}
				r.post()
			}
		}
	}
	p.mu.Unlock()
}

// post leaves a token unless one is waiting already.
func (r *pollReg) post() {
	select {
	case r.tok <- struct{}{}:
	default:
	}
}

// register adds the descriptor behind rc. It returns nil if epoll refuses
// it (the connection then reads as before).
func (p *poller) register(rc syscall.RawConn) *pollReg {
	r := &pollReg{p: p, tok: make(chan struct{}, 1)}
	r.timer = time.AfterFunc(math.MaxInt64, r.post) // armed by arm
	p.mu.Lock()
	if n := len(p.free); n > 0 {
		r.idx = p.free[n-1]
		p.free = p.free[:n-1]
		p.regs[r.idx] = r
	} else {
		r.idx = int32(len(p.regs))
		p.regs = append(p.regs, r)
	}
	p.mu.Unlock()
	var cerr error
	err := rc.Control(func(fd uintptr) {
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLPRI | 1<<31 /* EPOLLET */, Fd: r.idx}
		cerr = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, int(fd), &ev)
	})
	if err != nil || cerr != nil {
		p.release(r)
		return nil
	}
	return r
}

// release forgets r. Its descriptor leaves the epoll set by itself when it
// is closed; an event already taken from the set for it then goes to
// nobody, or as a harmless spurious token to the next registration that
// reuses its slot.
func (p *poller) release(r *pollReg) {
	r.timer.Stop()
	p.mu.Lock()
	p.regs[r.idx] = nil
	p.free = append(p.free, r.idx)
	p.mu.Unlock()
}

// mayWait reports whether a reader that has drained the socket should
// wait for r's token rather than read: not once the stream's end or an
// error is known (final), nor once the poller has failed.
func (r *pollReg) mayWait() bool { return !r.final.Load() && !r.p.dead.Load() }

// arm makes r's timer post a token at deadline d (none when d is 0).
func (r *pollReg) arm(d mono) {
	if d == 0 {
		r.timer.Stop()
		return
	}
	r.timer.Reset(time.Duration(d - monoNow()))
}

package luaenv

import (
	"bytes"
	"errors"
	"io"
	"math"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	lua "github.com/yuin/gopher-lua"

	"github.com/streamlua/streamlua/luaenv/ljcompat"
	"github.com/streamlua/streamlua/luaenv/luanum"
)

// Socket is the connection object behind ngx.req.socket(true): a buffered
// reader and a coalescing writer over one net.Conn.
//
// Output is appended to wbuf and written only when a read would block, when
// the handler ends, sleeps or flushes, or when wbuf grows past flushAt. So
// a pipelined batch of requests is answered with one write, which is where
// most of the per-request cost goes (see perf notes in the README). Before
// that write the connection yields once to the other runnable ones, so
// the replies of many connections leave close together (fillFor).
type Socket struct {
	conn net.Conn // set with setConn
	// raw does conn's reads and writes when it has a descriptor
	// (rawio.go).
	raw *rawConn
	// A connection the host serves is put on the read poller once reads
	// have drained its socket pollIn times (poller_linux.go); 0 for
	// other sockets, and once it has been tried.
	pollIn  int
	preg    *pollReg
	drained bool // the last read returned less than it asked for
	waited  bool // the last read waited for the poller's token
	cfg     *SocketConfig
	done    <-chan struct{} // closed when the server shuts down
	vm      *vm

	rbuf       []byte
	rpos, rend int
	wmu        sync.Mutex // guards wbuf and writes: a light thread may send while its parent reads
	wbuf       []byte
	reading    atomic.Bool // one reader at a time ("socket busy reading")

	readTimeout, sendTimeout, connectTimeout time.Duration

	readClosed  bool // EOF or a fatal read error was seen
	eofReported bool // the call that met EOF has returned its three values
	writeClosed bool
	shutdown    bool
	consumed    bool // a receive happened; peek is no longer allowed
	closedReads int  // receives on a closed socket, for the spin guard
	served      int  // reads served without blocking, for fairness
	yields      int  // yields before writing, for tests

	received, sent int64
	// sock:count_received and sock:count_sent.
	recvCount, sentCount byteCount

	rdl mono // read deadline in force on conn (see setReadDeadline); 0 = none
	wdl mono // write deadline in force on conn, when it has no descriptor

	observe  func(server string, d time.Duration) // Config.ObserveRequest
	server   string
	lastData time.Time // when a receive last returned data, for observe

	// Idle release (idle.go).
	idleAfter      time.Duration // sock:setidle; 0 = never report "idle"
	silentSince    mono          // start of the current wait with nothing buffered; 0 = none
	pendingTimeout bool          // the read timeout passed while parked
	idled          bool          // a receive reported "idle" in this run of the entry
}

const (
	flushAt = 64 << 10
	// spinLimit ends a handler that keeps calling receive on a closed
	// socket, the classic `while true do sock:receive() end` bug that pins
	// an nginx worker upstream.
	spinLimit = 100
	// yieldEvery hands the processor to other connections after this many
	// requests served from buffered input, as memcached's reqs_per_event
	// does, so one pipelining client cannot starve the rest.
	yieldEvery = 64
)

func newSocket(c net.Conn, cfg *SocketConfig, done <-chan struct{}) *Socket {
	s := &Socket{
		cfg:            cfg,
		done:           done,
		rbuf:           make([]byte, cfg.BufferSize),
		readTimeout:    cfg.ReadTimeout,
		sendTimeout:    cfg.SendTimeout,
		connectTimeout: cfg.ConnectTimeout,
	}
	s.setConn(c)
	return s
}

// Flush writes pending output. It returns the error text OpenResty uses.
func (s *Socket) Flush() string {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return s.flushLocked()
}

// hasOutput reports whether replies are waiting to be written.
func (s *Socket) hasOutput() bool {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return len(s.wbuf) > 0
}

func (s *Socket) flushLocked() string {
	if len(s.wbuf) == 0 {
		return ""
	}
	if s.writeClosed || s.conn == nil {
		s.wbuf = s.wbuf[:0]
		return "closed"
	}
	// Counted before the write: on loopback the peer can read the reply,
	// and ask another connection for the count, before write returns here.
	// What was not written is taken back after.
	want := len(s.wbuf)
	s.sentCount.add(want, s.sent+int64(want))
	n, err := s.connWrite(s.wbuf)
	s.sent += int64(n)
	if n < want {
		s.sentCount.add(n-want, s.sent)
	}
	s.wbuf = s.wbuf[:0]
	if cap(s.wbuf) > 4*flushAt {
		s.wbuf = nil // a huge reply should not pin memory for the connection's life
	}
	if err != nil {
		// A send error, timeout included, closes the write half (OpenResty).
		s.writeClosed = true
		return errText(err, s.done)
	}
	return ""
}

// finish flushes and closes the connection after the handler is done.
func (s *Socket) finish() {
	s.Flush()
	if s.conn != nil {
		s.conn.Close()
	}
	s.unregister()
}

// errText maps Go network errors onto OpenResty's error strings.
func errText(err error, done <-chan struct{}) string {
	select {
	case <-done:
		return "closed"
	default:
	}
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), errors.Is(err, syscall.EPIPE):
		return "closed"
	case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset by peer"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	}
	return "closed"
}

// fill reads more bytes from the connection into rbuf, flushing output
// first because the client may be waiting for it. It grows rbuf up to
// limit bytes of unread data.
func (s *Socket) fill(L *lua.LState, deadline mono, limit int) string {
	return s.fillFor(L, deadline, s.readTimeout, limit)
}

// fillFor is fill with the timeout the deadline stands for, which sets
// how far the deadline in force may drift (see setReadDeadline).
func (s *Socket) fillFor(L *lua.LState, deadline mono, timeout time.Duration, limit int) string {
	if s.pendingTimeout {
		// The read timeout passed while the connection was parked.
		s.pendingTimeout = false
		return "timeout"
	}
	if s.rbuf == nil {
		s.rbuf = getBuf(s.cfg.BufferSize)
	}
	if s.vm != nil {
		if b := s.vm.budget; b != nil {
			b.pause()
			defer b.resume()
		}
		s.vm.env.blockingFrom(L)
	}
	if s.hasOutput() {
		// Let the other runnable connections take their turn before this
		// one writes: their replies then leave in a burst with this one's,
		// the client's reader wakes once for many of them, and by the time
		// this connection reads again its client has often answered, so
		// the read finds data instead of parking. At 16 requests in flight
		// this took a fifth off the server's CPU per request and made
		// latency fair across connections (tests/bench/NOTES.md). With
		// nothing else runnable it returns at once.
		//
		// Not for a single reply on a connection on the read poller whose
		// last read had to wait for input: it will not read after writing
		// (it waits for the poller's token), so the yield can only batch
		// writes, and for one reply that is worth less than the trip
		// through the scheduler (−4 % CPU per request and a lower p99 at
		// one request per round trip). A client whose next request was
		// already there when we read is ahead of us, and a connection
		// serving it one request per read would otherwise never give
		// the others their turn.
		if s.served > 1 || s.preg == nil || !s.waited {
			s.yields++
			runtime.Gosched()
		}
		// A write error surfaces on the next send; reading may still work.
		s.Flush()
	}
	if s.rpos == s.rend {
		s.rpos, s.rend = 0, 0
	}
	if s.rend == len(s.rbuf) {
		if s.rpos > 0 {
			s.rend = copy(s.rbuf, s.rbuf[s.rpos:s.rend])
			s.rpos = 0
		} else {
			if len(s.rbuf) >= limit {
				return "too large"
			}
			n := 2 * len(s.rbuf)
			if n > limit {
				n = limit
			}
			nb := make([]byte, n)
			copy(nb, s.rbuf[:s.rend])
			s.rbuf = nb
		}
	}
	s.setReadDeadline(deadline, timeout)
	// Checked after setting the deadline: a shutdown that moved the
	// deadline to "now" before this point is seen here instead.
	select {
	case <-s.done:
		s.readClosed = true
		return "closed"
	default:
	}
	n, err := s.connRead(s.rbuf[s.rend:])
	s.rend += n
	s.addReceived(n)
	s.served = 0
	if n > 0 {
		s.silentSince = 0
		return ""
	}
	if err == nil {
		return ""
	}
	e := errText(err, s.done)
	if e != "timeout" {
		s.readClosed = true
	}
	return e
}

func (s *Socket) buffered() []byte { return s.rbuf[s.rpos:s.rend] }

func (s *Socket) tick() {
	s.served++
	if s.served >= yieldEvery {
		s.served = 0
		runtime.Gosched()
	}
}

// closedResult answers a read on an already-closed socket: the call that
// met EOF got three values; every later one gets two, and the spin guard
// counts them.
func (s *Socket) closedResult(L *lua.LState) int {
	s.closedReads++
	if s.closedReads >= spinLimit {
		L.RaiseError("streamlua: handler called receive %d times on a closed socket; ending it (OpenResty would spin forever here)", s.closedReads)
	}
	L.Push(lua.LNil)
	L.Push(lua.LString("closed"))
	return 2
}

// failRead returns nil, err, partial and marks EOF as reported.
func (s *Socket) failRead(L *lua.LState, e string, partial lua.LString) int {
	if e != "timeout" {
		s.readClosed = true
		s.eofReported = true
	}
	L.Push(lua.LNil)
	L.Push(lua.LString(e))
	L.Push(partial)
	return 3
}

// failKeeping answers a receive that frames its input in Go and consumes
// nothing until a whole unit (line, block, request) is in: a timeout or an
// idle report returns nil, err with the partial input still buffered, so
// calling again resumes; any other error ends reading with the partial
// input, as failRead does.
func (s *Socket) failKeeping(L *lua.LState, e string) int {
	if e == "timeout" || e == "idle" {
		L.Push(lua.LNil)
		L.Push(lua.LString(e))
		return 2
	}
	return s.failRead(L, e, s.takeAll())
}

func stripCR(b []byte) string {
	if bytes.IndexByte(b, '\r') < 0 {
		return string(b)
	}
	out := make([]byte, 0, len(b))
	for _, c := range b {
		if c != '\r' {
			out = append(out, c)
		}
	}
	return string(out)
}

// byteCount feeds a counter (a handle from require("streamlua").counter)
// with one direction of a socket's traffic.
type byteCount struct {
	c       *atomic.Int64
	counted int64 // how much of the socket's total c has been given
}

// add counts n more bytes, total being the socket's count including them.
func (b *byteCount) add(n int, total int64) {
	if b.c != nil {
		b.c.Add(int64(n))
		b.counted = total
	}
}

// set starts feeding c (nil stops), first with what total holds that no
// counter has been given yet, so that turning it on twice counts nothing
// twice.
func (b *byteCount) set(c *atomic.Int64, total int64) {
	if c != nil {
		c.Add(total - b.counted)
		b.counted = total
	}
	b.c = c
}

// addReceived counts n bytes read from the connection.
func (s *Socket) addReceived(n int) {
	s.received += int64(n)
	s.recvCount.add(n, s.received)
}

// sockCountReceived implements sock:count_received(counter) and
// sockCountSent sock:count_sent(counter): from now on every byte read from
// (written to) the connection is added to the counter, starting with those
// so far not yet counted; nil stops it. A server's bytes_read and
// bytes_written statistics cost no Lua work per request this way, and are
// exact at any moment (sent bytes count when they are written, not when
// send buffers them).
func sockCountReceived(L *lua.LState) int {
	s := checkSocket(L)
	s.recvCount.set(optCounter(L, 2), s.received)
	L.Push(lua.LTrue)
	return 1
}

func sockCountSent(L *lua.LState) int {
	s := checkSocket(L)
	c := optCounter(L, 2)
	s.wmu.Lock() // a light thread may be flushing
	s.sentCount.set(c, s.sent)
	s.wmu.Unlock()
	L.Push(lua.LTrue)
	return 1
}

func (s *Socket) deadline() mono { return monoNow().add(s.readTimeout) }

// mono is a time on the monotonic clock, in nanoseconds since monoBase:
// what deadlines are kept in. A read that must wait for input computes
// one per request at one request per round trip, and time.Time's
// arithmetic and time.Now's second clock read are measurable there.
type mono int64

// monoBase anchors mono times.
var monoBase = time.Now()

// monoNow reads the monotonic clock (one vDSO call, where time.Now makes
// two).
func monoNow() mono { return mono(time.Since(monoBase)) }

// add returns m+d, saturating: a configured timeout may be any duration.
func (m mono) add(d time.Duration) mono {
	if r := m + mono(d); r >= m || d < 0 {
		return r
	}
	return math.MaxInt64
}

// time converts m for the net.Conn deadline calls.
func (m mono) time() time.Time { return monoBase.Add(time.Duration(m)) }

// Moving a connection's deadline is a runtime timer update, paid on every
// read and write at one request per round trip. So a deadline is moved
// only when the one in force would fire too early, and then set a
// sixteenth of the timeout later than asked: a timeout fires between the
// configured time and 1/16 after it, never before.
func (s *Socket) setReadDeadline(want mono, timeout time.Duration) {
	if d, move := moveDeadline(s.rdl, want, timeout); move {
		s.rdl = d
		s.conn.SetReadDeadline(d.time())
		if s.preg != nil {
			s.preg.arm(d)
		}
	}
}

// setWriteDeadline is setReadDeadline for writes, with the send timeout.
func (s *Socket) setWriteDeadline(want mono) {
	if d, move := moveDeadline(s.wdl, want, s.sendTimeout); move {
		s.wdl = d
		s.conn.SetWriteDeadline(d.time())
	}
}

// moveDeadline applies the rule above to the deadline in force: it reports
// whether to move it, and where to.
func moveDeadline(inForce, want mono, timeout time.Duration) (mono, bool) {
	if want > inForce || inForce-want > mono(timeout/8) {
		return want.add(timeout / 16), true
	}
	return inForce, false
}

// receiveLine implements receive("*l").
func (s *Socket) receiveLine(L *lua.LState) int {
	scan := 0
	var dl mono
	for {
		buf := s.buffered()
		if i := bytes.IndexByte(buf[scan:], '\n'); i >= 0 {
			i += scan
			line := stripCR(buf[:i])
			s.rpos += i + 1
			s.tick()
			L.Push(lua.LString(line))
			return 1
		}
		scan = len(buf)
		if s.readClosed {
			partial := stripCR(buf)
			s.rpos = s.rend
			return s.failRead(L, "closed", lua.LString(partial))
		}
		if len(buf) >= s.cfg.MaxLine {
			s.rpos = s.rend
			return s.failRead(L, "line too long", "")
		}
		if dl == 0 {
			dl = s.deadline()
		}
		if e := s.fill(L, dl, s.cfg.MaxLine+1); e != "" {
			if e == "too large" {
				continue
			}
			buf = s.buffered()
			partial := stripCR(buf)
			s.rpos = s.rend
			return s.failRead(L, e, lua.LString(partial))
		}
	}
}

// receiveSize implements receive(n).
func (s *Socket) receiveSize(L *lua.LState, n int) int {
	if n == 0 {
		L.Push(lua.LString(""))
		return 1
	}
	if n > s.cfg.MaxReceive {
		L.Push(lua.LNil)
		L.Push(lua.LString("no memory"))
		L.Push(lua.LString(""))
		return 3
	}
	if s.rend-s.rpos >= n {
		str := string(s.rbuf[s.rpos : s.rpos+n])
		s.rpos += n
		L.Push(lua.LString(str))
		return 1
	}
	if n <= len(s.rbuf) || n <= 64<<10 {
		if e := s.ensure(L, n); e != "" {
			return s.failRead(L, e, s.takeAll())
		}
		str := string(s.rbuf[s.rpos : s.rpos+n])
		s.rpos += n
		L.Push(lua.LString(str))
		return 1
	}
	// Large reads go straight into the result so the connection's buffer
	// stays small.
	out := make([]byte, n)
	got := copy(out, s.buffered())
	s.rpos, s.rend = 0, 0
	if s.readClosed {
		return s.failRead(L, "closed", lua.LString(out[:got]))
	}
	s.Flush()
	if b := s.vm.budget; b != nil {
		b.pause()
		defer b.resume()
	}
	s.vm.env.blockingFrom(L)
	s.setReadDeadline(s.deadline(), s.readTimeout)
	for got < n {
		m, err := s.connRead(out[got:])
		got += m
		s.addReceived(m)
		if err != nil && got < n {
			return s.failRead(L, errText(err, s.done), lua.LString(out[:got]))
		}
	}
	L.Push(lua.LString(unsafe.String(&out[0], n)))
	return 1
}

// ensure reads until n bytes are buffered (growing the buffer to n), and
// returns the error text if that fails; it consumes nothing, so a caller
// may keep or take the partial data.
func (s *Socket) ensure(L *lua.LState, n int) string {
	var dl mono
	for s.rend-s.rpos < n {
		if s.readClosed {
			return "closed"
		}
		if s.rpos > 0 && len(s.rbuf)-s.rpos < n {
			s.rend = copy(s.rbuf, s.rbuf[s.rpos:s.rend])
			s.rpos = 0
		}
		if dl == 0 {
			dl = s.deadline()
		}
		if e := s.fill(L, dl, max(n, len(s.rbuf))); e != "" {
			return e
		}
	}
	return ""
}

func (s *Socket) takeAll() lua.LString {
	str := string(s.buffered())
	s.rpos, s.rend = 0, 0
	return lua.LString(str)
}

// receiveAll implements receive("*a").
func (s *Socket) receiveAll(L *lua.LState) int {
	if s.readClosed {
		// "*a" at EOF answers "" again without closing the read side.
		L.Push(lua.LString(""))
		return 1
	}
	var dl mono
	for {
		if dl == 0 {
			dl = s.deadline()
		}
		if s.rpos > 0 {
			s.rend = copy(s.rbuf, s.rbuf[s.rpos:s.rend])
			s.rpos = 0
		}
		e := s.fill(L, dl, s.cfg.MaxReceive)
		switch e {
		case "":
			continue
		case "closed":
			s.eofReported = false // the next *l or size read reports closed with ""
			L.Push(s.takeAll())
			return 1
		case "too large":
			L.Push(lua.LNil)
			L.Push(lua.LString("no memory"))
			L.Push(s.takeAll())
			return 3
		default:
			return s.failRead(L, e, s.takeAll())
		}
	}
}

// startRead claims the socket's read side for one call (a light thread
// may share the socket; OpenResty allows one reader at a time) and starts
// the request-time observation. It returns false, having pushed nil,
// "socket busy reading", when another reader holds it.
func (s *Socket) startRead(L *lua.LState) bool {
	if !s.reading.CompareAndSwap(false, true) {
		L.Push(lua.LNil)
		L.Push(lua.LString("socket busy reading"))
		return false
	}
	if s.observe != nil {
		s.observeRequest()
	}
	s.consumed = true
	return true
}

// endRead releases what startRead claimed.
func (s *Socket) endRead() {
	if s.observe != nil {
		s.markData()
	}
	s.reading.Store(false)
}

// observeRequest reports the time since the previous receive returned data:
// how long the handler took to process that request.
func (s *Socket) observeRequest() {
	if !s.lastData.IsZero() {
		s.observe(s.server, time.Since(s.lastData))
		s.lastData = time.Time{}
	}
}

func (s *Socket) markData() { s.lastData = time.Now() }

// Lua methods ---------------------------------------------------------------

func checkSocket(L *lua.LState) *Socket {
	if ud, ok := L.Get(1).(*lua.LUserData); ok {
		switch s := ud.Value.(type) {
		case *Socket:
			return s
		case *clientSocket:
			return s.Socket
		}
	}
	L.ArgError(1, "socket expected")
	return nil
}

func sockReceive(L *lua.LState) int {
	s := checkSocket(L)
	top := L.GetTop()
	if top > 2 {
		L.RaiseError("expecting 1 or 2 arguments (including the object), but got %d", top)
	}
	if !s.startRead(L) {
		return 2
	}
	defer s.endRead()
	if s.readClosed && s.eofReported {
		return s.closedResult(L)
	}
	if top == 1 {
		return s.receiveLine(L)
	}
	switch p := L.Get(2).(type) {
	case lua.LNumber:
		return s.receiveCount(L, float64(p))
	case lua.LString:
		switch p {
		case "*l":
			return s.receiveLine(L)
		case "*a":
			return s.receiveAll(L)
		}
		if f, ok := parseNumber(string(p)); ok {
			return s.receiveCount(L, f)
		}
		L.ArgError(2, "bad pattern argument: "+string(p))
	default:
		L.ArgError(2, "bad pattern argument")
	}
	return 0
}

func (s *Socket) receiveCount(L *lua.LState, f float64) int {
	if f < 0 {
		L.ArgError(2, "bad pattern argument")
	}
	if f > float64(s.cfg.MaxReceive) {
		f = float64(s.cfg.MaxReceive) + 1
	}
	return s.receiveSize(L, int(f))
}

// parseNumber accepts what Lua's number coercion accepts for pattern and
// size arguments that arrive as strings from the wire.
func parseNumber(str string) (float64, bool) { return ljcompat.ParseNumber(str) }

func sockReceiveAny(L *lua.LState) int {
	s := checkSocket(L)
	if L.GetTop() != 2 {
		L.RaiseError("expecting 2 arguments (including the object), but got %d", L.GetTop())
	}
	var max float64
	switch m := L.Get(2).(type) {
	case lua.LNumber:
		max = float64(m)
	case lua.LString:
		max, _ = parseNumber(string(m))
	}
	if max < 1 {
		L.ArgError(2, "bad max argument")
	}
	if !s.startRead(L) {
		return 2
	}
	defer s.endRead()
	if s.readClosed && s.eofReported {
		return s.closedResult(L)
	}
	if s.rend == s.rpos {
		if s.readClosed {
			s.eofReported = true
			L.Push(lua.LNil)
			L.Push(lua.LString("closed"))
			L.Push(lua.LString(""))
			return 3
		}
		if e := s.fillIdle(L, s.deadline(), len(s.rbuf)); e != "" {
			if e != "timeout" && e != "idle" {
				s.eofReported = true
			}
			L.Push(lua.LNil)
			L.Push(lua.LString(e))
			L.Push(lua.LString(""))
			return 3
		}
	}
	n := s.rend - s.rpos
	if float64(n) > max {
		n = int(max)
	}
	str := string(s.rbuf[s.rpos : s.rpos+n])
	s.rpos += n
	L.Push(lua.LString(str))
	return 1
}

func sockSend(L *lua.LState) int {
	s := checkSocket(L)
	top := L.GetTop()
	if top < 2 {
		L.RaiseError("expecting 2 arguments (including the object), but got %d", top)
	}
	if s.writeClosed || s.shutdown {
		L.Push(lua.LNil)
		L.Push(lua.LString("closed"))
		return 2
	}
	return s.output(L, func(b []byte) []byte {
		for i := 2; i <= top; i++ {
			b = appendSendValue(L, b, L.Get(i), 0)
		}
		return b
	})
}

// output appends a reply to the output buffer under the write lock (a
// bad argument raises with the lock released by the deferred unlock),
// writes when the buffer passes flushAt, and pushes what send returns:
// the byte count, or nil and the error.
func (s *Socket) output(L *lua.LState, add func([]byte) []byte) int {
	n, e := func() (int, string) {
		s.wmu.Lock()
		defer s.wmu.Unlock()
		before := len(s.wbuf)
		s.wbuf = add(s.wbuf)
		n := len(s.wbuf) - before
		if len(s.wbuf) >= flushAt {
			if e := s.flushLocked(); e != "" {
				return 0, e
			}
		}
		return n, ""
	}()
	if e != "" {
		L.Push(lua.LNil)
		L.Push(lua.LString(e))
		return 2
	}
	L.Push(luanum.Int(n))
	return 1
}

// appendSendValue renders one send argument the way OpenResty's send does:
// strings and numbers, nil and booleans at the top level, and nested array
// tables of strings and numbers.
func appendSendValue(L *lua.LState, b []byte, v lua.LValue, depth int) []byte {
	switch x := v.(type) {
	case lua.LString:
		return append(b, x...)
	case lua.LNumber:
		return ljcompat.AppendNumber(b, float64(x))
	case *lua.LTable:
		if depth > 64 {
			L.ArgError(1, "table nested too deeply")
		}
		n := x.Len()
		for i := 1; i <= n; i++ {
			e := x.RawGetInt(i)
			switch e.(type) {
			case lua.LString, lua.LNumber, *lua.LTable:
				b = appendSendValue(L, b, e, depth+1)
			default:
				L.ArgError(1, "bad data type "+e.Type().String()+" found")
			}
		}
		if k, _ := x.Next(lua.LNumber(n)); k != lua.LNil {
			L.ArgError(1, "non-array table found")
		}
		return b
	}
	if depth == 0 {
		switch x := v.(type) {
		case *lua.LNilType:
			return append(b, "nil"...)
		case lua.LBool:
			if x {
				return append(b, "true"...)
			}
			return append(b, "false"...)
		}
		L.ArgError(1, "string, number, boolean, nil, or array table expected, got "+v.Type().String())
	}
	L.ArgError(1, "bad data type "+v.Type().String()+" found")
	return b
}

func timeoutArg(L *lua.LState, i int, def time.Duration) time.Duration {
	v := L.Get(i)
	if v == lua.LNil {
		return def
	}
	var f float64
	switch x := v.(type) {
	case lua.LNumber:
		f = float64(x)
	case lua.LString:
		var ok bool
		if f, ok = parseNumber(string(x)); !ok {
			L.RaiseError("bad timeout value")
		}
	default:
		L.RaiseError("bad timeout value")
	}
	if f < 0 || f >= 1<<31 {
		L.RaiseError("bad timeout value")
	}
	if int64(f) == 0 {
		return def
	}
	return time.Duration(int64(f)) * time.Millisecond
}

func sockSetTimeout(L *lua.LState) int {
	s := checkSocket(L)
	s.readTimeout = timeoutArg(L, 2, s.cfg.ReadTimeout)
	s.sendTimeout = timeoutArg(L, 2, s.cfg.SendTimeout)
	s.connectTimeout = timeoutArg(L, 2, s.cfg.ConnectTimeout)
	return 0
}

func sockSetTimeouts(L *lua.LState) int {
	s := checkSocket(L)
	if L.GetTop() != 4 {
		L.RaiseError("ngx.socket settimout: expecting 4 arguments (including the object) but seen %d", L.GetTop())
	}
	s.connectTimeout = timeoutArg(L, 2, s.cfg.ConnectTimeout)
	s.sendTimeout = timeoutArg(L, 3, s.cfg.SendTimeout)
	s.readTimeout = timeoutArg(L, 4, s.cfg.ReadTimeout)
	return 0
}

func sockShutdown(L *lua.LState) int {
	s := checkSocket(L)
	if s.writeClosed {
		L.Push(lua.LNil)
		L.Push(lua.LString("closed"))
		return 2
	}
	if s.shutdown {
		L.Push(lua.LNil)
		L.Push(lua.LString("already shutdown"))
		return 2
	}
	how := L.OptString(2, "send")
	if how == "" {
		L.Push(lua.LNil)
		L.Push(lua.LString("pattern is empty"))
		return 2
	}
	if how != "send" {
		L.RaiseError("bad shutdown argument: %s", how)
	}
	if e := s.Flush(); e != "" {
		L.Push(lua.LNil)
		L.Push(lua.LString(e))
		return 2
	}
	s.shutdown = true
	if cw, ok := s.conn.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	L.Push(lua.LNumber(1))
	return 1
}

func sockPeek(L *lua.LState) int {
	s := checkSocket(L)
	v := L.Get(2)
	var f float64
	switch x := v.(type) {
	case lua.LNumber:
		f = float64(x)
	case lua.LString:
		var ok bool
		if f, ok = parseNumber(string(x)); !ok {
			L.RaiseError("argument must be a number")
		}
	default:
		L.RaiseError("argument must be a number")
	}
	if f < 0 {
		L.RaiseError("bytes can not be negative")
	}
	if s.consumed {
		L.RaiseError("attempt to peek on a consumed socket")
	}
	n := int(f)
	if n > s.cfg.MaxLine {
		L.RaiseError("peek size too large")
	}
	dl := s.deadline()
	for s.rend-s.rpos < n {
		if s.readClosed {
			L.Push(lua.LNil)
			L.Push(lua.LString("closed"))
			return 2
		}
		if e := s.fillIdle(L, dl, max(n, len(s.rbuf))); e != "" {
			L.Push(lua.LNil)
			L.Push(lua.LString(e))
			return 2
		}
	}
	L.Push(lua.LString(s.rbuf[s.rpos : s.rpos+n]))
	return 1
}

// receiveuntil ---------------------------------------------------------------

// untilState is one receiveuntil iterator.
type untilState struct {
	s         *Socket
	pat       []byte
	inclusive bool
	reached   bool // the chunked call that hit the pattern has returned
}

func sockReceiveUntil(L *lua.LState) int {
	s := checkSocket(L)
	if L.GetTop() < 2 || L.GetTop() > 3 {
		L.RaiseError("expecting 2 or 3 arguments (including the object), but got %d", L.GetTop())
	}
	pat := L.CheckString(2)
	if pat == "" {
		L.Push(lua.LNil)
		L.Push(lua.LString("pattern is empty"))
		return 2
	}
	u := &untilState{s: s, pat: []byte(pat)}
	if opts, ok := L.Get(3).(*lua.LTable); ok {
		switch inc := opts.RawGetString("inclusive").(type) {
		case *lua.LNilType:
		case lua.LBool:
			u.inclusive = bool(inc)
		default:
			L.RaiseError("bad \"inclusive\" option value type: %s", inc.Type().String())
		}
	}
	ud := L.NewUserData()
	ud.Value = u
	L.Push(L.NewClosure(untilIter, ud))
	return 1
}

func untilIter(L *lua.LState) int {
	u := L.CheckUserData(lua.UpvalueIndex(1)).Value.(*untilState)
	s := u.s
	size := -1
	if L.GetTop() > 1 {
		L.RaiseError("expecting 0 or 1 arguments, but got %d", L.GetTop())
	}
	if L.GetTop() == 1 {
		size = int(L.CheckNumber(1))
		if size < 0 {
			size = 0
		}
	}
	s.consumed = true
	if u.reached {
		u.reached = false
		L.Push(lua.LNil)
		L.Push(lua.LNil)
		L.Push(lua.LNil)
		return 3
	}
	if s.readClosed && s.eofReported {
		return s.closedResult(L)
	}
	var dl mono
	for {
		buf := s.buffered()
		if i := bytes.Index(buf, u.pat); i >= 0 && (size < 0 || i <= size) {
			end := i
			if u.inclusive {
				end = i + len(u.pat)
			}
			str := string(buf[:end])
			s.rpos += i + len(u.pat)
			if size >= 0 {
				u.reached = true
			}
			L.Push(lua.LString(str))
			return 1
		} else if size >= 0 {
			// Bytes that cannot start the pattern are safe to hand out.
			safe := len(buf)
			if i >= 0 {
				safe = i
			} else if safe >= len(u.pat) {
				safe -= len(u.pat) - 1
			} else {
				safe = 0
			}
			if safe >= size && size > 0 {
				str := string(buf[:size])
				s.rpos += size
				L.Push(lua.LString(str))
				return 1
			}
		}
		if s.readClosed {
			return s.failRead(L, "closed", s.takeAll())
		}
		if dl == 0 {
			dl = s.deadline()
		}
		if s.rpos > 0 && s.rend == len(s.rbuf) {
			s.rend = copy(s.rbuf, s.rbuf[s.rpos:s.rend])
			s.rpos = 0
		}
		if e := s.fill(L, dl, s.cfg.MaxReceive); e != "" {
			if e == "too large" {
				return s.failRead(L, "no memory", s.takeAll())
			}
			return s.failRead(L, e, s.takeAll())
		}
	}
}

// socketMethods are the downstream socket's methods. As in OpenResty there
// is no close, setkeepalive or connect: the connection ends with the handler.
var socketMethods = map[string]lua.LGFunction{
	"receive":      sockReceive,
	"receiveany":   sockReceiveAny,
	"receiveuntil": sockReceiveUntil,
	"send":         sockSend,
	"settimeout":   sockSetTimeout,
	"settimeouts":  sockSetTimeouts,
	"shutdown":     sockShutdown,
	"peek":         sockPeek,
	// streamlua extensions for line protocols (command.go).
	"receive_command": sockReceiveCommand,
	"count_received":  sockCountReceived,
	"count_sent":      sockCountSent,
	"receive_block":   sockReceiveBlock,
	"setidle":         sockSetIdle,
	// streamlua extensions for memcached's binary protocol (binary.go).
	"receive_binary": sockReceiveBinary,
	"send_response":  sockSendResponse,
}

//go:build linux

package luaenv

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"
)

// pingPong makes n round trips on s as a memcached client at one request
// per round trip does: the peer writes only after it has the reply, so
// each of s's reads starts on an empty socket. It returns how many reads
// found nothing and waited on Go's netpoller.
func pingPong(s *Socket, cli net.Conn, n int) (int, error) {
	errc := make(chan error, 1)
	go func() {
		buf := make([]byte, 16)
		for i := 0; i < n; i++ {
			time.Sleep(50 * time.Microsecond) // the server is waiting by now, mostly
			if _, err := cli.Write([]byte{'q', byte(i)}); err != nil {
				errc <- err
				return
			}
			if _, err := io.ReadFull(cli, buf[:2]); err != nil || buf[0] != 'r' || buf[1] != byte(i) {
				errc <- errors.New("bad reply")
				return
			}
		}
		errc <- nil
	}()
	before := s.raw.rd.empty
	buf := make([]byte, 64)
	for i := 0; i < n; i++ {
		m, err := s.connRead(buf)
		if err != nil || m != 2 || buf[0] != 'q' || buf[1] != byte(i) {
			return 0, fmt.Errorf("read %d = %q, %v", i, buf[:m], err)
		}
		if _, err := s.connWrite([]byte{'r', byte(i)}); err != nil {
			return 0, err
		}
	}
	if err := <-errc; err != nil {
		return 0, err
	}
	return s.raw.rd.empty - before, nil
}

// A connection the host serves stops making the read that finds nothing:
// after a short read it waits for the poller's token. The same exchange
// on a socket kept off the poller shows that the reads would otherwise
// find nothing nearly every time.
func TestReadPollerSkipsEmptyReads(t *testing.T) {
	const n = 300
	srv, cli := tcpPair(t)
	off := &Socket{done: make(chan struct{})}
	off.setConn(srv)
	e, err := pingPong(off, cli, n)
	if err != nil {
		t.Fatal(err)
	}
	if e < n/2 {
		t.Fatalf("without the poller %d of %d reads found nothing; the exchange does not test it", e, n)
	}

	srv, cli = tcpPair(t)
	on := &Socket{done: make(chan struct{}), pollIn: pollAfter}
	on.setConn(srv)
	t.Cleanup(func() { on.setConn(nil) })
	if e, err = pingPong(on, cli, n); err != nil {
		t.Fatal(err)
	}
	if e > n/20 {
		t.Fatalf("with the poller %d of %d reads found nothing", e, n)
	}
	if on.preg == nil {
		t.Fatal("the socket was never put on the poller")
	}
	on.setConn(nil)
	if on.preg != nil || on.drained {
		t.Fatal("registration kept after the conn went away")
	}
}

// onPoller returns a socket on the poller, drained, so its next read
// waits for a token.
func onPoller(t *testing.T, timeout time.Duration) (*Socket, *net.TCPConn, chan struct{}) {
	t.Helper()
	srv, cli := tcpPair(t)
	done := make(chan struct{})
	s := &Socket{done: done, pollIn: pollAfter, readTimeout: timeout}
	s.setConn(srv)
	buf := make([]byte, 8)
	for s.preg == nil {
		cli.Write([]byte("x"))
		if _, err := s.connRead(buf); err != nil {
			t.Fatal(err)
		}
	}
	if !s.drained {
		t.Fatal("a one-byte read into eight bytes was not short")
	}
	// Registering a socket with input queues an event for it, which
	// leaves a token after that input was read: take it, so the next
	// read starts from a settled state.
	time.Sleep(10 * time.Millisecond)
	select {
	case <-s.preg.tok:
	default:
	}
	t.Cleanup(func() { s.setConn(nil) })
	return s, cli, done
}

// readWithin reads once on s, failing the test if that takes over limit.
func readWithin(t *testing.T, s *Socket, limit time.Duration) (int, time.Duration, error) {
	t.Helper()
	type res struct {
		n   int
		err error
	}
	got := make(chan res, 1)
	start := time.Now()
	go func() {
		n, err := s.connRead(make([]byte, 8))
		got <- res{n, err}
	}()
	select {
	case r := <-got:
		return r.n, time.Since(start), r.err
	case <-time.After(limit):
		t.Fatalf("read still waiting after %v", limit)
		return 0, 0, nil
	}
}

// A reader waiting for a token still times out at its read deadline (the
// timer posts one), and no earlier.
func TestReadPollerDeadline(t *testing.T) {
	const timeout = 150 * time.Millisecond
	s, _, _ := onPoller(t, timeout)
	s.setReadDeadline(monoNow().add(timeout), timeout)
	_, el, err := readWithin(t, s, 5*time.Second)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read = %v, want a timeout", err)
	}
	if el < timeout*9/10 {
		t.Fatalf("timed out after %v, before the %v deadline", el, timeout)
	}
}

// Input, EOF and shutdown each end a wait for a token.
func TestReadPollerWakes(t *testing.T) {
	s, cli, _ := onPoller(t, time.Minute)
	go func() {
		time.Sleep(20 * time.Millisecond)
		cli.Write([]byte("abc"))
	}()
	if n, _, err := readWithin(t, s, 5*time.Second); n != 3 || err != nil {
		t.Fatalf("read = %d, %v; want the 3 bytes sent", n, err)
	}
	if !s.waited {
		t.Error("a read that waited for input does not say so (the yield rule reads it)")
	}

	s2, cli2, _ := onPoller(t, time.Minute)
	go func() {
		time.Sleep(20 * time.Millisecond)
		cli2.Close()
	}()
	if _, _, err := readWithin(t, s2, 5*time.Second); err != io.EOF {
		t.Fatalf("read after the peer closed = %v, want EOF", err)
	}

	// Data and the peer's shutdown arriving together: the read that takes
	// the data is short, yet the next must not wait, as no event follows
	// the end of stream it reports.
	s4, cli4, _ := onPoller(t, time.Minute)
	cli4.Write([]byte("abc"))
	cli4.Close()
	time.Sleep(50 * time.Millisecond) // both events are in before the reads
	if n, _, err := readWithin(t, s4, 5*time.Second); n != 3 || err != nil {
		t.Fatalf("read = %d, %v; want the 3 bytes sent", n, err)
	}
	if s4.waited {
		t.Error("a read whose input was already there says it waited")
	}
	if _, _, err := readWithin(t, s4, 5*time.Second); err != io.EOF {
		t.Fatalf("read after data and close = %v, want EOF", err)
	}

	// Shutdown: done closes and the server moves the deadline to now.
	s3, _, done := onPoller(t, time.Minute)
	go func() {
		time.Sleep(20 * time.Millisecond)
		close(done)
		s3.conn.SetReadDeadline(time.Now())
	}()
	if _, _, err := readWithin(t, s3, 5*time.Second); errText(err, done) != "closed" {
		t.Fatalf("read at shutdown = %v, want closed", err)
	}
}

// Registrations come and go in parallel with traffic on others: slots are
// reused, and a token meant for a slot's earlier owner only makes a read
// try early.
func TestReadPollerManyConnections(t *testing.T) {
	p := readPoller()
	held := func() (n, slots int) {
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, r := range p.regs {
			if r != nil {
				n++
			}
		}
		return n, len(p.regs)
	}
	// Other tests' connections may still be registered; this one's must
	// all be gone at the end.
	before, _ := held()
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := 0; round < 5; round++ {
				srv, cli := tcpPair(t)
				s := &Socket{done: make(chan struct{}), pollIn: pollAfter}
				s.setConn(srv)
				if _, err := pingPong(s, cli, 40); err != nil {
					t.Error(err)
				}
				s.finish()
				if s.preg != nil {
					t.Error("finish kept the registration")
				}
			}
		}()
	}
	wg.Wait()
	after, slots := held()
	if after > before {
		t.Errorf("%d registrations held after every socket finished, %d before", after, before)
	}
	if slots > before+64 {
		t.Errorf("%d slots for at most 8 sockets at a time: freed slots are not reused", slots)
	}
}

// A connection on the poller writes a single reply without yielding first
// (it will not read after the write, so the yield could only batch
// writes); after a batch, off the poller, or when the client's next
// request was already waiting (so the connection would never yield), it
// still yields.
func TestYieldBeforeWriteOnlyForBatches(t *testing.T) {
	s, cli, _ := onPoller(t, time.Minute)
	s.rbuf = make([]byte, 64)
	off := &Socket{done: make(chan struct{}), rbuf: make([]byte, 64), readTimeout: time.Minute}
	srv2, cli2 := tcpPair(t)
	off.setConn(srv2)
	cases := []struct {
		name   string
		s      *Socket
		cli    net.Conn
		served int
		waited bool // the read before waited for input
		yields int
	}{
		{"one reply, on the poller", s, cli, 1, true, 0},
		{"a batch, on the poller", s, cli, 2, true, 1},
		{"one reply to a client that is ahead", s, cli, 1, false, 1},
		{"one reply, off the poller", off, cli2, 1, true, 1},
	}
	for _, c := range cases {
		c.s.served, c.s.waited = c.served, c.waited
		c.s.wbuf = append(c.s.wbuf[:0], "reply"...)
		before := c.s.yields
		go func() {
			b := make([]byte, 5)
			io.ReadFull(c.cli, b)
			c.cli.Write([]byte("next"))
		}()
		if e := c.s.fill(nil, monoNow().add(5*time.Second), 64); e != "" {
			t.Fatalf("%s: fill: %s", c.name, e)
		}
		if got := c.s.yields - before; got != c.yields {
			t.Errorf("%s: %d yields before writing, want %d", c.name, got, c.yields)
		}
		c.s.rpos, c.s.rend = 0, 0
	}
}

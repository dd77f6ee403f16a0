package luaenv

import (
	"bytes"
	"errors"
	"io"
	"math"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t *testing.T) (server, client *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s := <-accepted
	if s == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { s.Close(); c.Close() })
	return s.(*net.TCPConn), c.(*net.TCPConn)
}

func TestRawConnReadWrite(t *testing.T) {
	srv, cli := tcpPair(t)
	r := newRawConn(srv)
	if r == nil {
		t.Fatal("no rawConn for a TCP connection")
	}

	// A read waits for data (the first attempt finds nothing), then
	// returns what arrived.
	go func() {
		time.Sleep(20 * time.Millisecond)
		cli.Write([]byte("hello"))
	}()
	buf := make([]byte, 64)
	n, err := r.read(buf)
	if err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("read = %q, %v; want hello", buf[:n], err)
	}

	// A write larger than the socket buffers waits for room and still
	// writes everything, in order.
	srv.SetWriteBuffer(16 << 10)
	cli.SetReadBuffer(16 << 10)
	big := make([]byte, 2<<20)
	for i := range big {
		big[i] = byte(i * 7)
	}
	got := make(chan []byte, 1)
	go func() {
		time.Sleep(50 * time.Millisecond) // let the sender fill the buffers first
		b, _ := io.ReadAll(io.LimitReader(cli, int64(len(big))))
		got <- b
	}()
	start := time.Now()
	n, err = r.write(big)
	if err != nil || n != len(big) {
		t.Fatalf("write = %d, %v; want %d, nil", n, err, len(big))
	}
	if time.Since(start) < 40*time.Millisecond {
		t.Fatal("write returned before the peer read: it never waited for room")
	}
	if b := <-got; !bytes.Equal(b, big) {
		t.Fatalf("peer read %d bytes, not what was written", len(b))
	}

	// End of stream is io.EOF.
	cli.CloseWrite()
	if n, err := r.read(buf); n != 0 || err != io.EOF {
		t.Fatalf("read at EOF = %d, %v; want 0, io.EOF", n, err)
	}
	if n, err := r.read(nil); n != 0 || err != nil {
		t.Fatalf("empty read = %d, %v; want 0, nil", n, err)
	}
}

func TestRawConnDeadline(t *testing.T) {
	srv, _ := tcpPair(t)
	r := newRawConn(srv)
	srv.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
	start := time.Now()
	_, err := r.read(make([]byte, 8))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past the deadline: %v; want a deadline error", err)
	}
	if errText(err, nil) != "timeout" {
		t.Fatalf("errText = %q; want timeout", errText(err, nil))
	}
	if time.Since(start) < 25*time.Millisecond {
		t.Fatal("read returned before its deadline")
	}
}

func TestRawConnReset(t *testing.T) {
	srv, cli := tcpPair(t)
	r := newRawConn(srv)
	cli.SetLinger(0) // close sends RST
	cli.Close()
	time.Sleep(20 * time.Millisecond)
	_, err := r.read(make([]byte, 8))
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("read after RST: %v; want ECONNRESET", err)
	}
	if errText(err, nil) != "connection reset by peer" {
		t.Fatalf("errText = %q", errText(err, nil))
	}
}

func TestRawConnClosedLocally(t *testing.T) {
	srv, _ := tcpPair(t)
	r := newRawConn(srv)
	srv.Close()
	if _, err := r.read(make([]byte, 8)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read on a closed conn: %v; want net.ErrClosed", err)
	}
	if _, err := r.write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write on a closed conn: %v; want net.ErrClosed", err)
	}
}

// A connection without a descriptor is read and written through its own
// methods, and a new conn under the socket gets a rawConn of its own.
func TestSocketConnFallbackAndSwitch(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	s := &Socket{}
	s.setConn(a)
	go b.Write([]byte("via pipe"))
	buf := make([]byte, 16)
	n, err := s.connRead(buf)
	if err != nil || string(buf[:n]) != "via pipe" || s.raw != nil {
		t.Fatalf("pipe read = %q, %v, raw %v", buf[:n], err, s.raw)
	}

	srv, cli := tcpPair(t)
	s.setConn(srv)
	go cli.Write([]byte("via tcp"))
	n, err = s.connRead(buf)
	if err != nil || string(buf[:n]) != "via tcp" || s.raw == nil {
		t.Fatalf("tcp read = %q, %v, raw %v", buf[:n], err, s.raw)
	}
	if _, err := s.connWrite([]byte("back")); err != nil {
		t.Fatal(err)
	}
	cli.SetReadDeadline(time.Now().Add(time.Second))
	if n, _ := io.ReadFull(cli, buf[:4]); string(buf[:n]) != "back" {
		t.Fatalf("peer got %q", buf[:n])
	}
	s.setConn(nil)
	if s.raw != nil {
		t.Fatal("rawConn kept after the conn went away")
	}
}

// A write arms the send timeout only when it has to wait for room: one
// the peer never makes room for times out, and one that waited leaves no
// deadline behind to fail the next write once it has passed.
func TestSocketWriteTimeoutOnlyWhenWaiting(t *testing.T) {
	const timeout = 200 * time.Millisecond
	big := make([]byte, 4<<20)

	srv, _ := tcpPair(t)
	srv.SetWriteBuffer(16 << 10)
	s := &Socket{sendTimeout: timeout}
	s.setConn(srv)
	start := time.Now()
	n, err := s.connWrite(big)
	if err == nil || errText(err, nil) != "timeout" {
		t.Fatalf("write to a peer that never reads = %d, %v; want a timeout", n, err)
	}
	if el := time.Since(start); el < timeout*9/10 {
		t.Fatalf("write timed out after %v, before its %v timeout", el, timeout)
	}

	// Small socket buffers make loopback TCP slow (a window per round
	// trip), so here the buffers keep their size and the write outgrows
	// them: it must wait for the reader, then completes within the timeout.
	srv, cli := tcpPair(t)
	s = &Socket{sendTimeout: timeout}
	s.setConn(srv)
	big = make([]byte, 32<<20)
	got := make(chan int64, 1)
	go func() {
		time.Sleep(30 * time.Millisecond) // the first write must wait
		n, _ := io.Copy(io.Discard, io.LimitReader(cli, int64(len(big))+1))
		got <- n
	}()
	start = time.Now()
	n, err = s.connWrite(big)
	if err != nil || n != len(big) {
		t.Fatalf("write that waited for room = %d, %v", n, err)
	}
	if time.Since(start) < 25*time.Millisecond {
		t.Fatal("the write did not wait for the peer: the test proves nothing")
	}
	time.Sleep(timeout * 3 / 2)
	if n, err := s.connWrite([]byte("x")); err != nil || n != 1 {
		t.Fatalf("write after the timeout's span = %d, %v; a deadline was left armed", n, err)
	}
	if n := <-got; n != int64(len(big))+1 {
		t.Fatalf("peer read %d bytes, want %d", n, len(big)+1)
	}
}

// monoNow stands in for time.Now in deadlines: converted back it must
// agree with it and carry a monotonic reading, which is what deadlines are
// measured by; adding a duration saturates instead of wrapping.
func TestMonoNow(t *testing.T) {
	before := time.Now()
	m := monoNow().time()
	after := time.Now()
	if m.Before(before) || m.After(after) {
		t.Fatalf("monoNow %v outside [%v, %v]", m, before, after)
	}
	if !strings.Contains(m.String(), " m=") {
		t.Fatalf("monoNow %v has no monotonic reading", m)
	}
	if d := time.Until(monoNow().add(time.Hour).time()); d < 59*time.Minute || d > time.Hour {
		t.Fatalf("an hour from monoNow is %v away", d)
	}
	if got := monoNow().add(math.MaxInt64); got != math.MaxInt64 {
		t.Fatalf("adding the longest duration = %d, want saturation", got)
	}
	if got := mono(100).add(-50); got != 50 {
		t.Fatalf("100 + -50 = %d", got)
	}
}

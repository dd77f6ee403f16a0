package tests

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The bundled memcached gives an idle connection's Lua state back
// (memcached.idle_release, sock:setidle + ngx.AGAIN): these tests check
// that parked connections are really parked (the host's gauges), that
// they serve correctly once woken, in both protocols and with requests cut
// across an idle period, and that shutdown does not wait for them.

// idleServer starts the bundled memcached with a short idle release and a
// metrics listener, and returns it with a function that reads the parked
// and live gauges.
func idleServer(t *testing.T, release string) (*Proc, func() (parked, live float64)) {
	t.Helper()
	metricsAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	p := startStreamlua(t, "--metrics-listen", metricsAddr, "--set", "memcached.idle_release="+release)
	return p, func() (float64, float64) {
		s := scrapeMetrics(t, metricsAddr)
		parked, ok1 := s.find("streamlua_connections_parked")
		live, ok2 := s.find("streamlua_lua_states_live")
		if !ok1 || !ok2 {
			t.Fatal("metrics lack streamlua_connections_parked or streamlua_lua_states_live")
		}
		return parked, live
	}
}

func waitGauges(t *testing.T, what string, gauges func() (float64, float64), parked, live float64) {
	t.Helper()
	var p, l float64
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if p, l = gauges(); p == parked && l == live {
			return
		}
	}
	t.Fatalf("%s: parked %v, live %v; want %v and %v", what, p, l, parked, live)
}

func TestIdleReleaseText(t *testing.T) {
	p, gauges := idleServer(t, "0.05")
	const n = 20
	conns := make([]*bufio.ReadWriter, n)
	for i := range conns {
		c, err := net.Dial("tcp", p.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(30 * time.Second))
		conns[i] = bufio.NewReadWriter(bufio.NewReader(c), bufio.NewWriter(c))
	}
	ask := func(i int, req, want string) {
		t.Helper()
		rw := conns[i]
		rw.WriteString(req)
		rw.Flush()
		got := make([]byte, len(want))
		if _, err := io.ReadFull(rw, got); err != nil || string(got) != want {
			t.Fatalf("conn %d: %q answered %q (%v), want %q", i, req, got, err, want)
		}
	}
	for i := range conns {
		ask(i, fmt.Sprintf("set k%d 0 0 2\r\nv%d\r\n", i%10, i%10), "STORED\r\n")
	}
	waitGauges(t, "after one request each", gauges, n, 0)
	// Woken connections answer, a pipelined batch included.
	for i := range conns {
		ask(i, fmt.Sprintf("get k%d\r\nget nope\r\nversion\r\n", i%10),
			fmt.Sprintf("VALUE k%d 0 2\r\nv%d\r\nEND\r\nEND\r\nVERSION ", i%10, i%10))
		line, err := conns[i].ReadString('\n')
		if err != nil || !strings.HasSuffix(line, "\r\n") {
			t.Fatalf("version line %q: %v", line, err)
		}
	}
	// A data block cut across the idle time keeps its state: the handler
	// is inside the request, not between requests.
	rw := conns[0]
	rw.WriteString("set cut 0 0 5\r\nhel")
	rw.Flush()
	time.Sleep(300 * time.Millisecond)
	if parked, live := gauges(); parked != n-1 || live != 1 {
		t.Fatalf("mid-request: parked %v, live %v; want %d and 1", parked, live, n-1)
	}
	ask(0, "lo\r\nget cut\r\n", "STORED\r\nVALUE cut 0 5\r\nhello\r\nEND\r\n")
	// So does a command line cut in two.
	rw.WriteString("get c")
	rw.Flush()
	time.Sleep(300 * time.Millisecond)
	ask(0, "ut\r\n", "VALUE cut 0 5\r\nhello\r\nEND\r\n")
	waitGauges(t, "idle again", gauges, n, 0)
	// A parked connection that quits is gone.
	ask(0, "quit\r\n", "")
	waitGauges(t, "after quit", gauges, n-1, 0)
}

func TestIdleReleaseBinary(t *testing.T) {
	p, gauges := idleServer(t, "0.05")
	c, err := net.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	req := func(op byte, key, extras, value string, opaque uint32) []byte {
		h := make([]byte, 24)
		h[0], h[1] = 0x80, op
		binary.BigEndian.PutUint16(h[2:], uint16(len(key)))
		h[4] = byte(len(extras))
		binary.BigEndian.PutUint32(h[8:], uint32(len(extras)+len(key)+len(value)))
		binary.BigEndian.PutUint32(h[12:], opaque)
		return append(append(append(h, extras...), key...), value...)
	}
	readReply := func() (status uint16, opaque uint32, body []byte) {
		t.Helper()
		h := make([]byte, 24)
		if _, err := io.ReadFull(c, h); err != nil {
			t.Fatal(err)
		}
		body = make([]byte, binary.BigEndian.Uint32(h[8:]))
		if _, err := io.ReadFull(c, body); err != nil {
			t.Fatal(err)
		}
		return binary.BigEndian.Uint16(h[6:]), binary.BigEndian.Uint32(h[12:]), body
	}
	c.Write(req(0x01, "bk", "\x00\x00\x00\x07\x00\x00\x00\x00", "bval", 1)) // SET, flags 7
	if st, op, _ := readReply(); st != 0 || op != 1 {
		t.Fatalf("set: status %d opaque %d", st, op)
	}
	waitGauges(t, "binary connection idle", gauges, 1, 0)
	// A header cut across the idle time.
	get := req(0x00, "bk", "", "", 2)
	c.Write(get[:10])
	time.Sleep(300 * time.Millisecond)
	c.Write(get[10:])
	st, op, body := readReply()
	if st != 0 || op != 2 || string(body) != "\x00\x00\x00\x07bval" {
		t.Fatalf("get after a cut header: status %d opaque %d body %q", st, op, body)
	}
	waitGauges(t, "idle again", gauges, 1, 0)
	// The woken connection is still binary: NOOP answers in binary.
	c.Write(req(0x0a, "", "", "", 3))
	if st, op, _ := readReply(); st != 0 || op != 3 {
		t.Fatalf("noop: status %d opaque %d", st, op)
	}
}

// TestIdleReleaseOff: memcached.idle_release=0 keeps every state.
func TestIdleReleaseOff(t *testing.T) {
	p, gauges := idleServer(t, "0")
	c := dialLine(t, p.Addr)
	if got, err := c.ask("version"); err != nil || !strings.HasPrefix(got, "VERSION ") {
		t.Fatalf("version: %q (%v)", got, err)
	}
	time.Sleep(300 * time.Millisecond)
	waitGauges(t, "release off", gauges, 0, 1)
}

// TestIdleReleaseShutdown: SIGTERM ends parked connections at once.
func TestIdleReleaseShutdown(t *testing.T) {
	p, gauges := idleServer(t, "0.05")
	var conns []net.Conn
	for i := 0; i < 5; i++ {
		c, err := net.Dial("tcp", p.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	waitGauges(t, "parked", gauges, 5, 0)
	start := time.Now()
	p.Cmd.Process.Signal(syscall.SIGTERM)
	if err, exited := p.Wait(8 * time.Second); !exited || err != nil {
		t.Fatalf("exit %v (exited %v)\n%s", err, exited, p.Logs())
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Fatalf("shutdown took %v with parked connections", d)
	}
	for _, c := range conns {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatal("a parked connection was not closed")
		}
	}
}

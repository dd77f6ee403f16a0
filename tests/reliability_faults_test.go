package tests

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Hostile and broken clients against the bundled memcached script: floods
// over the connection cap, thousands of connections dropped in every
// state, clients that vanish mid-reply or stop reading, half-closes. Each
// checks that the others keep being served and that goroutines and heap
// come back to where they were.

// relBaseline warms the host up (pooled Lua states, buffers) with n
// concurrent connections and returns the goroutine count and live heap.
func relBaseline(t *testing.T, h *relHost, n int) (int, uint64) {
	t.Helper()
	conns := make([]net.Conn, 0, n)
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp", h.addr)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := relAsk(c, bufio.NewReader(c), "version\r\n", "VERSION *"); err != nil {
			t.Fatalf("warm-up: %q %v", got, err)
		}
		conns = append(conns, c)
	}
	for _, c := range conns {
		c.Close()
	}
	h.waitIdle(t)
	// The lowest of a few samples: goroutines of closed connections may
	// still be unwinding.
	g := runtime.NumGoroutine()
	for i := 0; i < 20; i++ {
		time.Sleep(10 * time.Millisecond)
		g = min(g, runtime.NumGoroutine())
	}
	return g, relHeap()
}

// relCheckRecovered asserts that goroutines and heap are back near the
// baseline and that the server still answers.
func relCheckRecovered(t *testing.T, h *relHost, g0 int, h0 uint64) {
	t.Helper()
	h.waitIdle(t)
	// A few goroutines of slack: timers and the runtime come and go.
	g := relGoroutines(g0 + 3)
	if g > g0+3 {
		t.Errorf("goroutines: %d after, %d before", g, g0)
	}
	// Heap: the dictionary contents do not change in these tests and the
	// Lua state pool is capped at the baseline's size, so 8 MiB is room
	// for noise only (measured: up to 2.2 MiB); 10,000 connections each
	// leaking a kilobyte would exceed it.
	hp := relHeap()
	if hp > h0+8<<20 {
		t.Errorf("live heap: %d MiB after, %d MiB before", hp>>20, h0>>20)
	}
	t.Logf("goroutines %d -> %d, live heap %.1f -> %.1f MiB", g0, g, float64(h0)/(1<<20), float64(hp)/(1<<20))
	if err := relVersion(h.addr); err != nil {
		t.Errorf("server no longer answers: %v", err)
	}
}

func TestRelFloodOverConnectionCap(t *testing.T) {
	const capacity, flood, workers = 16, 400, 16
	h := startRelHost(t, relHostOptions{maxConns: capacity})
	g0, h0 := relBaseline(t, h, capacity)

	// Fill the cap with live clients, one of which keeps working during
	// the flood.
	held := make([]net.Conn, capacity)
	readers := make([]*bufio.Reader, capacity)
	for i := range held {
		c, err := net.Dial("tcp", h.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held[i], readers[i] = c, bufio.NewReader(c)
		if _, err := relAsk(c, readers[i], fmt.Sprintf("set held%d 0 0 1\r\nx\r\n", i), "STORED\r\n"); err != nil {
			t.Fatal(err)
		}
	}
	stop := make(chan struct{})
	var served, failed atomic.Int64
	busy := make(chan struct{})
	go func() {
		defer close(busy)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if got, err := relAsk(held[0], readers[0], "get held0\r\n", "END\r\n"); err != nil || got != "VALUE held0 0 1\r\nx\r\nEND\r\n" {
				failed.Add(1)
				return
			}
			served.Add(1)
		}
	}()

	var wg sync.WaitGroup
	var wrong atomic.Int64
	var sample atomic.Value
	jobs := make(chan int)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				c, err := net.Dial("tcp", h.addr)
				if err != nil {
					wrong.Add(1)
					sample.Store("dial: " + err.Error())
					continue
				}
				c.SetDeadline(time.Now().Add(10 * time.Second))
				got, err := io.ReadAll(c)
				c.Close()
				if err != nil || string(got) != "ERROR Too many open connections\r\n" {
					wrong.Add(1)
					sample.Store(fmt.Sprintf("%q %v", got, err))
				}
			}
		}()
	}
	for i := 0; i < flood; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	close(stop)
	<-busy

	if n := wrong.Load(); n != 0 {
		t.Errorf("%d of %d flood connections did not get memcached's refusal then EOF; e.g. %v", n, flood, sample.Load())
	}
	if failed.Load() != 0 || served.Load() == 0 {
		t.Errorf("a client under the cap was disturbed: %d requests served, %d failures", served.Load(), failed.Load())
	}
	for i, c := range held {
		if got, err := relAsk(c, readers[i], fmt.Sprintf("get held%d\r\n", i), "END\r\n"); err != nil || !strings.HasPrefix(got, "VALUE") {
			t.Errorf("held connection %d after the flood: %q %v", i, got, err)
		}
		c.Close()
	}
	relCheckRecovered(t, h, g0, h0)
}

// TestRelTenThousandConnections opens and drops 10,000 connections (64 at
// a time) in every state a client can leave one in.
func TestRelTenThousandConnections(t *testing.T) {
	total := 10000
	if testing.Short() {
		total = 1000
	}
	const workers = 64
	// Idle Lua states are pooled up to MaxIdleStates (--max-conns in the
	// CLI); capping the pool at the warm-up's concurrency makes any heap
	// growth past the baseline a leak rather than a bigger pool.
	h := startRelHost(t, relHostOptions{maxIdle: workers})
	g0, h0 := relBaseline(t, h, workers)
	ways := []struct {
		name string
		use  func(c *net.TCPConn) error
	}{
		{"close at once", func(c *net.TCPConn) error { return nil }},
		{"reset at once", func(c *net.TCPConn) error { return c.SetLinger(0) }},
		{"after a request", func(c *net.TCPConn) error {
			_, err := relAsk(c, bufio.NewReader(c), "version\r\n", "VERSION *")
			return err
		}},
		{"mid command line", func(c *net.TCPConn) error {
			_, err := io.WriteString(c, "get abc de")
			return err
		}},
		{"mid data block, reset", func(c *net.TCPConn) error {
			if _, err := io.WriteString(c, "set k 0 0 100\r\nabc"); err != nil {
				return err
			}
			return c.SetLinger(0)
		}},
		{"pipelined, unread replies", func(c *net.TCPConn) error {
			_, err := io.WriteString(c, strings.Repeat("version\r\n", 50))
			return err
		}},
	}
	var wg sync.WaitGroup
	var failures atomic.Int64
	var sample atomic.Value
	jobs := make(chan int)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				way := ways[i%len(ways)]
				c, err := net.Dial("tcp", h.addr)
				if err == nil {
					c.SetDeadline(time.Now().Add(10 * time.Second))
					err = way.use(c.(*net.TCPConn))
					c.Close()
				}
				if err != nil {
					failures.Add(1)
					sample.Store(way.name + ": " + err.Error())
				}
			}
		}()
	}
	for i := 0; i < total; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if n := failures.Load(); n != 0 {
		t.Errorf("%d of %d connections failed on the client side; e.g. %v", n, total, sample.Load())
	}
	relCheckRecovered(t, h, g0, h0)
	if _, found, _ := h.dict.Get("k"); found {
		t.Error("a data block cut short was stored")
	}
	if n := h.env.LuaErrors(); n != 0 {
		t.Errorf("clients going away caused %d Lua errors:\n%s", n, h.logs.String())
	}
}

// TestRelClientStopsMidReply covers a client that vanishes while a large
// reply is being written: its handler ends and nothing is left behind.
func TestRelClientStopsMidReply(t *testing.T) {
	h := startRelHost(t, relHostOptions{sendTimeout: 300 * time.Millisecond})
	g0, h0 := relBaseline(t, h, 4)
	relStoreBig(t, h.addr)
	cases := []struct {
		name  string
		reset bool
	}{
		{"reset after the first bytes", true},
		{"close after the first bytes", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := relFloodBig(t, h.addr)
			if tc.reset {
				c.SetLinger(0)
			}
			c.Close()
			h.waitIdle(t)
			if err := relVersion(h.addr); err != nil {
				t.Fatal(err)
			}
		})
	}
	relCheckRecovered(t, h, g0, h0)
}

// TestRelStalledReader covers a client that stops reading but keeps its
// connection open. memcached keeps such a client until its idle_timeout,
// and so does the script; what the host adds is that the pending replies
// are dropped after the send timeout instead of piling up in memory.
func TestRelStalledReader(t *testing.T) {
	cases := []struct {
		name     string
		settings map[string]string
		closed   bool
	}{
		{"no idle timeout: kept, replies dropped", nil, false},
		{"idle timeout: closed", map[string]string{"memcached.idle_timeout": "1"}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := startRelHost(t, relHostOptions{sendTimeout: 300 * time.Millisecond, settings: tc.settings})
			_, h0 := relBaseline(t, h, 4)
			relStoreBig(t, h.addr)
			c := relFloodBig(t, h.addr)
			defer c.Close()
			if tc.closed {
				h.waitIdle(t)
				return
			}
			// The server has met the send timeout when its next reply
			// cannot be written; the 32 MiB asked for must not be held.
			time.Sleep(time.Second)
			if hp := relHeap(); hp > h0+16<<20 {
				t.Fatalf("live heap grew from %d to %d MiB for a stalled reader", h0>>20, hp>>20)
			}
			if h.srv.Active() != 1 {
				t.Fatalf("%d connections open, want the stalled one", h.srv.Active())
			}
		})
	}
}

// relStoreBig stores a 512 KiB value under "big".
func relStoreBig(t *testing.T, addr string) {
	t.Helper()
	big := strings.Repeat("v", 512<<10)
	if got := roundTrip(t, addr, fmt.Sprintf("set big 0 0 %d\r\n%s\r\n", len(big), big), 300*time.Millisecond); got != "STORED\r\n" {
		t.Fatalf("set big: %q", got)
	}
}

// relFloodBig asks for 64 copies of "big" (32 MiB of replies, far more
// than socket buffers hold) and reads only the first bytes.
func relFloodBig(t *testing.T, addr string) *net.TCPConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	tcp := c.(*net.TCPConn)
	tcp.SetReadBuffer(4096)
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(c, strings.Repeat("get big\r\n", 64)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	return tcp
}

func TestRelHalfClose(t *testing.T) {
	h := startRelHost(t, relHostOptions{})
	cases := []struct {
		name, req, want string
	}{
		{"replies then closes", "set a 0 0 1\r\nx\r\nget a\r\n", "STORED\r\nVALUE a 0 1\r\nx\r\nEND\r\n"},
		{"pipelined batch", strings.Repeat("incr n 1\r\n", 3) + "set n 0 0 1\r\n5\r\nincr n 2\r\n", "NOT_FOUND\r\nNOT_FOUND\r\nNOT_FOUND\r\nSTORED\r\n7\r\n"},
		{"half-closed mid line", "version\r\nget a", "VERSION 1.6.18+streamlua\r\n"},
		{"half-closed mid data block", "set b 0 0 5\r\nab", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", h.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			io.WriteString(conn, c.req)
			conn.(*net.TCPConn).CloseWrite()
			conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			got, err := io.ReadAll(conn)
			if err != nil || string(got) != c.want {
				t.Fatalf("got %q (%v), want %q then EOF", got, err, c.want)
			}
		})
	}
	if _, found, _ := h.dict.Get("b"); found {
		t.Error("a data block cut by a half-close was stored")
	}
}

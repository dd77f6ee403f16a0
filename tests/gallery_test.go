package tests

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
)

// The gallery tests run each handler of examples/ in the real binary and
// drive it the way its comment says a user would: the Redis subset with
// Debian's redis-cli, the others over their line protocols.

// galleryStep is one client command and what must come back.
type galleryStep struct {
	args  []string
	stdin string // for redis-cli -x: the last argument, read from stdin
	want  string
	// check replaces want where the exact reply depends on the clock
	// (a TTL counting down).
	check func(got string) error
}

func redisStep(want string, args ...string) galleryStep {
	return galleryStep{args: args, want: want}
}

// ttlWithin accepts a redis-cli TTL reply between lo and hi seconds.
func ttlWithin(lo, hi int) func(string) error {
	return func(got string) error {
		n, err := strconv.Atoi(strings.TrimPrefix(got, "(integer) "))
		if err != nil || !strings.HasPrefix(got, "(integer) ") || n < lo || n > hi {
			return fmt.Errorf("got %q, want (integer) %d..%d", got, lo, hi)
		}
		return nil
	}
}

// startRedisExample serves examples/redis/redis.lua as its comment says.
func startRedisExample(t *testing.T) *Proc {
	t.Helper()
	return startStreamlua(t, "--dict", "redis=16m",
		"--package-path", filepath.Join("..", "examples", "redis", "?.lua")+";;", "--handler", "redis")
}

// redisCLI runs redis-cli against addr with --no-raw, so that replies keep
// their types: (nil), (integer) n, (error) ..., "string".
func redisCLI(t *testing.T, bin, addr, stdin string, args ...string) string {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(bin, append([]string{"-h", host, "-p", port, "--no-raw"}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli %q: %v\n%s", args, err, out)
	}
	return strings.TrimRight(string(out), "\n")
}

// TestGalleryRedis drives the Redis subset with redis-cli, command by
// command, each case on its own keys.
func TestGalleryRedis(t *testing.T) {
	bin := needTool(t, "redis-cli")
	p := startRedisExample(t)
	cases := []struct {
		name  string
		steps []galleryStep
	}{
		{"ping", []galleryStep{
			redisStep("PONG", "PING"),
			redisStep(`"hello"`, "PING", "hello"),
			redisStep(`"hi there"`, "ECHO", "hi there"),
		}},
		{"set and get", []galleryStep{
			redisStep("OK", "SET", "sg:a", "hello world"),
			redisStep(`"hello world"`, "GET", "sg:a"),
			redisStep("(nil)", "GET", "sg:missing"),
			redisStep("OK", "set", "sg:a", ""),
			redisStep(`""`, "get", "sg:a"),
		}},
		{"binary-safe values", []galleryStep{
			{args: []string{"-x", "SET", "bin:a"}, stdin: "a\r\nb\x00c", want: "OK"},
			redisStep(`"a\r\nb\x00c"`, "GET", "bin:a"),
		}},
		{"set NX", []galleryStep{
			redisStep("OK", "SET", "nx:a", "1", "NX"),
			redisStep("(nil)", "SET", "nx:a", "2", "nx"),
			redisStep(`"1"`, "GET", "nx:a"),
		}},
		{"set XX", []galleryStep{
			redisStep("(nil)", "SET", "xx:a", "1", "XX"),
			redisStep("(nil)", "GET", "xx:a"),
			redisStep("OK", "SET", "xx:a", "1"),
			redisStep("OK", "SET", "xx:a", "2", "XX"),
			redisStep(`"2"`, "GET", "xx:a"),
		}},
		{"set EX and PX", []galleryStep{
			redisStep("OK", "SET", "ex:a", "v", "EX", "100"),
			{args: []string{"TTL", "ex:a"}, check: ttlWithin(1, 100)},
			redisStep("OK", "SET", "ex:b", "v", "PX", "100000", "NX"),
			{args: []string{"TTL", "ex:b"}, check: ttlWithin(1, 100)},
			redisStep("OK", "SET", "ex:a", "w"),
			redisStep("(integer) -1", "TTL", "ex:a"),
		}},
		{"set option errors", []galleryStep{
			redisStep("(error) ERR invalid expire time in 'set' command", "SET", "opt:a", "v", "EX", "0"),
			redisStep("(error) ERR invalid expire time in 'set' command", "SET", "opt:a", "v", "PX", "-5"),
			redisStep("(error) ERR value is not an integer or out of range", "SET", "opt:a", "v", "EX", "ten"),
			redisStep("(error) ERR syntax error", "SET", "opt:a", "v", "NX", "XX"),
			redisStep("(error) ERR syntax error", "SET", "opt:a", "v", "EX"),
			redisStep("(error) ERR syntax error", "SET", "opt:a", "v", "EX", "10", "PX", "10"),
			redisStep("(error) ERR syntax error", "SET", "opt:a", "v", "KEEPTTL"),
			redisStep("(nil)", "GET", "opt:a"),
		}},
		{"del", []galleryStep{
			redisStep("OK", "SET", "del:a", "1"),
			redisStep("OK", "SET", "del:b", "2"),
			redisStep("(integer) 2", "DEL", "del:a", "del:b", "del:c"),
			redisStep("(nil)", "GET", "del:a"),
			redisStep("(integer) 0", "DEL", "del:a"),
		}},
		{"incr", []galleryStep{
			redisStep("(integer) 1", "INCR", "incr:a"),
			redisStep("(integer) 2", "INCR", "incr:a"),
			redisStep(`"2"`, "GET", "incr:a"),
			redisStep("OK", "SET", "incr:a", "41"),
			redisStep("(integer) 42", "INCR", "incr:a"),
			redisStep("OK", "SET", "incr:neg", "-1"),
			redisStep("(integer) 0", "INCR", "incr:neg"),
			redisStep("OK", "SET", "incr:s", "abc"),
			redisStep("(error) ERR value is not an integer or out of range", "INCR", "incr:s"),
			redisStep("OK", "SET", "incr:z", "010"),
			redisStep("(error) ERR value is not an integer or out of range", "INCR", "incr:z"),
			redisStep(`"010"`, "GET", "incr:z"),
			redisStep("OK", "SET", "incr:f", "1.5"),
			redisStep("(error) ERR value is not an integer or out of range", "INCR", "incr:f"),
			redisStep("OK", "SET", "incr:max", "9007199254740990"),
			redisStep("(integer) 9007199254740991", "INCR", "incr:max"),
			redisStep("(error) ERR increment or decrement would overflow", "INCR", "incr:max"),
			redisStep(`"9007199254740991"`, "GET", "incr:max"),
			redisStep("OK", "SET", "incr:big", "9007199254740992"),
			redisStep("(error) ERR value is not an integer or out of range", "INCR", "incr:big"),
			redisStep(`"9007199254740992"`, "GET", "incr:big"),
		}},
		{"incr keeps the expiry", []galleryStep{
			redisStep("OK", "SET", "incrttl:a", "1", "EX", "100"),
			redisStep("(integer) 2", "INCR", "incrttl:a"),
			{args: []string{"TTL", "incrttl:a"}, check: ttlWithin(1, 100)},
		}},
		{"expire and ttl", []galleryStep{
			redisStep("(integer) -2", "TTL", "exp:a"),
			redisStep("(integer) 0", "EXPIRE", "exp:a", "10"),
			redisStep("OK", "SET", "exp:a", "v"),
			redisStep("(integer) -1", "TTL", "exp:a"),
			redisStep("(integer) 1", "EXPIRE", "exp:a", "100"),
			{args: []string{"TTL", "exp:a"}, check: ttlWithin(1, 100)},
			redisStep("(error) ERR value is not an integer or out of range", "EXPIRE", "exp:a", "soon"),
			redisStep("(integer) 1", "EXPIRE", "exp:a", "0"),
			redisStep("(nil)", "GET", "exp:a"),
			redisStep("(integer) -2", "TTL", "exp:a"),
		}},
		{"mget", []galleryStep{
			redisStep("OK", "SET", "mget:a", "x"),
			redisStep("OK", "SET", "mget:c", "7"),
			redisStep("1) \"x\"\n2) (nil)\n3) \"7\"", "MGET", "mget:a", "mget:b", "mget:c"),
		}},
		{"errors", []galleryStep{
			redisStep("(error) ERR unknown command 'FLUSHALL'", "FLUSHALL"),
			redisStep("(error) ERR wrong number of arguments for 'get' command", "GET"),
			redisStep("(error) ERR wrong number of arguments for 'get' command", "GET", "a", "b"),
			redisStep("(error) ERR wrong number of arguments for 'set' command", "SET", "a"),
			redisStep("(error) ERR wrong number of arguments for 'incr' command", "incr"),
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, s := range tc.steps {
				got := redisCLI(t, bin, p.Addr, s.stdin, s.args...)
				if s.check != nil {
					if err := s.check(got); err != nil {
						t.Errorf("%q: %v", s.args, err)
					}
				} else if got != s.want {
					t.Errorf("%q: got %q, want %q", s.args, got, s.want)
				}
			}
		})
	}
	if t.Failed() {
		t.Logf("server log:\n%s", p.Logs())
	}
}

// respCommand encodes a request the way clients send it.
func respCommand(args ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b.String()
}

// TestGalleryRedisPipe loads keys with redis-cli --pipe (Redis's mass
// insertion: raw RESP on stdin, one write stream, replies counted).
func TestGalleryRedisPipe(t *testing.T) {
	bin := needTool(t, "redis-cli")
	p := startRedisExample(t)
	const n = 10000
	var in strings.Builder
	for i := range n {
		in.WriteString(respCommand("SET", fmt.Sprintf("pipe:%d", i), strconv.Itoa(i*7)))
	}
	out := redisCLI(t, bin, p.Addr, in.String(), "--pipe")
	if !strings.Contains(out, fmt.Sprintf("errors: 0, replies: %d", n)) {
		t.Fatalf("redis-cli --pipe: %s", out)
	}
	for _, i := range []int{0, 1, n / 2, n - 1} {
		want := fmt.Sprintf("%q", strconv.Itoa(i*7))
		if got := redisCLI(t, bin, p.Addr, "", "GET", fmt.Sprintf("pipe:%d", i)); got != want {
			t.Errorf("GET pipe:%d = %s, want %s", i, got, want)
		}
	}
}

// respConn is a raw client for what redis-cli cannot send.
type respConn struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dialRESP(t *testing.T, addr string) *respConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(30 * time.Second))
	return &respConn{t: t, c: c, r: bufio.NewReader(c)}
}

func (rc *respConn) send(s string) {
	rc.t.Helper()
	if _, err := io.WriteString(rc.c, s); err != nil {
		rc.t.Fatal(err)
	}
}

// reply reads one reply; bulk strings come back with their header line,
// "$3\r\nabc", arrays as their header only.
func (rc *respConn) reply() (string, error) {
	line, err := rc.r.ReadString('\n')
	if err != nil {
		return line, err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if strings.HasPrefix(line, "$") && line != "$-1" {
		n, err := strconv.Atoi(line[1:])
		if err != nil {
			return line, err
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(rc.r, buf); err != nil {
			return line, err
		}
		return line + "\r\n" + string(buf[:n]), nil
	}
	return line, nil
}

// TestGalleryRedisWire covers what only a raw client sends: inline
// requests, pipelined batches, protocol errors, concurrent INCRs.
func TestGalleryRedisWire(t *testing.T) {
	p := startRedisExample(t)
	cases := []struct {
		name string
		send string
		want []string
		// closed: the server ends the connection after these replies.
		closed bool
	}{
		{"inline requests", "PING\r\nset inl:a  spaced\r\nGET inl:a\r\n\r\nQUIT\r\n",
			[]string{"+PONG", "+OK", "$6\r\nspaced", "+OK"}, true},
		{"pipelined batch", respCommand("SET", "pl:a", "1") + respCommand("INCR", "pl:a") +
			respCommand("MGET", "pl:a", "pl:none") + respCommand("DEL", "pl:a"),
			[]string{"+OK", ":2", "*2", "$1\r\n2", "$-1", ":1"}, false},
		{"value with CRLF inside", respCommand("SET", "crlf:a", "x\r\n$1\r\ny") + respCommand("GET", "crlf:a"),
			[]string{"+OK", "$8\r\nx\r\n$1\r\ny"}, false},
		{"bad multibulk length", "*x\r\n", []string{"-ERR Protocol error: invalid multibulk length"}, true},
		{"bad bulk length", "*1\r\n$-3\r\n", []string{"-ERR Protocol error: invalid bulk length"}, true},
		{"missing dollar", "*1\r\n+PING\r\n", []string{"-ERR Protocol error: expected '$', got '+'"}, true},
		{"no CRLF after bulk", "*1\r\n$4\r\nPINGxx", []string{"-ERR Protocol error: expected CRLF after bulk"}, true},
		{"bulk over the item size", "*2\r\n$3\r\nGET\r\n$2000000\r\n", []string{"-ERR Protocol error: invalid bulk length"}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rc := dialRESP(t, p.Addr)
			rc.send(tc.send)
			for _, want := range tc.want {
				got, err := rc.reply()
				if err != nil || got != want {
					t.Fatalf("got %q (%v), want %q", got, err, want)
				}
			}
			if tc.closed {
				if extra, err := rc.reply(); err != io.EOF {
					t.Fatalf("after the replies: %q, %v; want the connection closed", extra, err)
				}
			} else {
				rc.send(respCommand("PING"))
				if got, err := rc.reply(); got != "+PONG" {
					t.Fatalf("connection unusable afterwards: %q, %v", got, err)
				}
			}
		})
	}

	t.Run("concurrent INCR", func(t *testing.T) {
		const clients, each = 4, 250
		var wg sync.WaitGroup
		errs := make(chan error, clients)
		for range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := net.Dial("tcp", p.Addr)
				if err != nil {
					errs <- err
					return
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(30 * time.Second))
				r := bufio.NewReader(c)
				for range each {
					if _, err := io.WriteString(c, respCommand("INCR", "conc:n")); err != nil {
						errs <- err
						return
					}
					line, err := r.ReadString('\n')
					if err != nil || !strings.HasPrefix(line, ":") {
						errs <- fmt.Errorf("INCR: %q, %v", line, err)
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		rc := dialRESP(t, p.Addr)
		rc.send(respCommand("GET", "conc:n"))
		want := fmt.Sprintf("$%d\r\n%d", len(strconv.Itoa(clients*each)), clients*each)
		if got, err := rc.reply(); got != want {
			t.Fatalf("after %d INCRs: %q, %v; want %q", clients*each, got, err, want)
		}
	})

	t.Run("expiry", func(t *testing.T) {
		rc := dialRESP(t, p.Addr)
		rc.send(respCommand("SET", "short:a", "v", "PX", "50"))
		if got, err := rc.reply(); got != "+OK" {
			t.Fatalf("SET PX: %q, %v", got, err)
		}
		waitFor(t, "short:a to expire", func() bool {
			rc.send(respCommand("GET", "short:a"))
			got, err := rc.reply()
			if err != nil {
				t.Fatal(err)
			}
			return got == "$-1"
		})
		rc.send(respCommand("TTL", "short:a"))
		if got, err := rc.reply(); got != ":-2" {
			t.Fatalf("TTL after expiry: %q, %v", got, err)
		}
	})
}

// startRateLimitExample serves examples/ratelimit/ratelimit.lua.
func startRateLimitExample(t *testing.T, extra ...string) *Proc {
	t.Helper()
	return startStreamlua(t, append([]string{"--dict", "ratelimit=4m",
		"--content", filepath.Join("..", "examples", "ratelimit", "ratelimit.lua")}, extra...)...)
}

// TestGalleryRateLimit checks the limiter's replies, its atomicity under
// concurrent clients, and that a window ends.
func TestGalleryRateLimit(t *testing.T) {
	p := startRateLimitExample(t)
	cases := []struct {
		name  string
		lines []string
		want  []string
	}{
		{"within and over the limit",
			[]string{"hit a 3 60", "hit a 3 60", "hit a 3 60", "hit a 3 60", "hit a 3 60"},
			[]string{"allowed 2", "allowed 1", "allowed 0", "denied 60.000", "denied 60.000"}},
		{"keys are independent",
			[]string{"hit u:1 1 60", "hit u:2 1 60", "hit u:1 1 60"},
			[]string{"allowed 0", "allowed 0", "denied 60.000"}},
		{"bad requests",
			[]string{"hit", "hit k 0 1", "hit k 1.5 1", "hit k ten 1", "hit k 1 0", "hit k 1 -1", "hit k 1 x", "hit k 1 1 extra", "miss k 1 1",
				"hit " + strings.Repeat("k", 251) + " 1 1"},
			[]string{"error usage: hit KEY LIMIT WINDOW",
				"error LIMIT must be a positive integer", "error LIMIT must be a positive integer", "error LIMIT must be a positive integer",
				"error WINDOW must be a number of seconds, at least 0.001", "error WINDOW must be a number of seconds, at least 0.001",
				"error WINDOW must be a number of seconds, at least 0.001",
				"error usage: hit KEY LIMIT WINDOW", "error usage: hit KEY LIMIT WINDOW",
				"error key longer than 250 bytes"}},
		{"quit", []string{"quit"}, []string{"bye"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			lc := dialLine(t, p.Addr)
			for i, line := range tc.lines {
				got, err := lc.ask(line)
				// denied replies carry the seconds left, which count down.
				if strings.HasPrefix(tc.want[i], "denied ") && strings.HasPrefix(got, "denied ") {
					secs, perr := strconv.ParseFloat(strings.TrimPrefix(got, "denied "), 64)
					limit, _ := strconv.ParseFloat(strings.TrimPrefix(tc.want[i], "denied "), 64)
					if perr != nil || secs <= 0 || secs > limit {
						t.Errorf("%q: got %q, want denied with 0 < seconds <= %v", line, got, limit)
					}
					continue
				}
				if err != nil || got != tc.want[i] {
					t.Errorf("%q: got %q (%v), want %q", line, got, err, tc.want[i])
				}
			}
		})
	}

	t.Run("concurrent clients share the limit", func(t *testing.T) {
		const clients, each, limit = 4, 60, 100
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			allowed int
			bad     []string
		)
		for range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := net.Dial("tcp", p.Addr)
				if err != nil {
					mu.Lock()
					bad = append(bad, err.Error())
					mu.Unlock()
					return
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(30 * time.Second))
				r := bufio.NewReader(c)
				for range each {
					fmt.Fprintf(c, "hit shared %d 600\r\n", limit)
					line, err := r.ReadString('\n')
					mu.Lock()
					switch {
					case err != nil:
						bad = append(bad, err.Error())
					case strings.HasPrefix(line, "allowed "):
						allowed++
					case !strings.HasPrefix(line, "denied "):
						bad = append(bad, line)
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(bad) > 0 || allowed != limit {
			t.Fatalf("%d of %d hits allowed (want exactly %d); bad replies: %q", allowed, clients*each, limit, bad)
		}
	})

	t.Run("a window ends", func(t *testing.T) {
		lc := dialLine(t, p.Addr)
		lc.mustAsk("hit win 1 0.2", "allowed 0")
		if got, _ := lc.ask("hit win 1 0.2"); !strings.HasPrefix(got, "denied ") {
			// The window may have ended already on a slow machine; then
			// this hit opened the next one.
			if got != "allowed 0" {
				t.Fatalf("second hit: %q", got)
			}
		}
		waitFor(t, "the window to end", func() bool {
			got, err := lc.ask("hit win 1 0.2")
			if err != nil {
				t.Fatal(err)
			}
			return got == "allowed 0"
		})
	})
}

// TestGalleryEcho drives examples/echo/echo.lua.
func TestGalleryEcho(t *testing.T) {
	p := startStreamlua(t, "--content", filepath.Join("..", "examples", "echo", "echo.lua"))
	cases := []struct {
		name string
		line string
		want string
	}{
		{"word", "hello", "hello"},
		{"spaces kept", "  two  words ", "  two  words "},
		{"empty line", "", ""},
		{"long line", strings.Repeat("x", 100000), strings.Repeat("x", 100000)},
		{"bytes beyond ASCII", "héllo\x01", "héllo\x01"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dialLine(t, p.Addr).mustAsk(tc.line, tc.want)
		})
	}
	lc := dialLine(t, p.Addr)
	lc.mustAsk("one", "one")
	lc.mustAsk("quit", "bye")
	if got, err := lc.r.ReadString('\n'); err != io.EOF {
		t.Fatalf("after quit: %q, %v; want the connection closed", got, err)
	}
}

// TestGalleryKV drives examples/kv/kv.lua.
func TestGalleryKV(t *testing.T) {
	p := startStreamlua(t, "--dict", "kv=1m", "--content", filepath.Join("..", "examples", "kv", "kv.lua"))
	cases := []struct {
		name  string
		steps [][2]string // request, reply
	}{
		{"set get del", [][2]string{
			{"GET a", "NIL"},
			{"SET a hello world", "OK"},
			{"GET a", "VALUE hello world"},
			{"DEL a", "OK"},
			{"GET a", "NIL"},
		}},
		{"overwrite", [][2]string{
			{"SET b 1", "OK"},
			{"SET b 2", "OK"},
			{"GET b", "VALUE 2"},
		}},
		{"incr", [][2]string{
			{"INCR n", "1"},
			{"INCR n", "2"},
			{"SET s text", "OK"},
			{"INCR s", "ERR not a number"},
		}},
		{"unknown", [][2]string{
			{"PUT a b", "ERR unknown command"},
			{"get a", "ERR unknown command"},
			{"GET", "ERR unknown command"},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			lc := dialLine(t, p.Addr)
			for _, s := range tc.steps {
				lc.mustAsk(s[0], s[1])
			}
		})
	}
	// Every connection sees the same dictionary.
	dialLine(t, p.Addr).mustAsk("GET b", "VALUE 2")
}

// TestGalleryConfigFile runs examples/streamlua.json (memcached, echo and
// kv in one process) with its ports and paths moved for the test.
func TestGalleryConfigFile(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "examples", "streamlua.json"))
	if err != nil {
		t.Fatal(err)
	}
	conf := string(b)
	addrs := map[string]string{}
	for _, old := range []string{"127.0.0.1:11211", "127.0.0.1:7000", "127.0.0.1:7001"} {
		if !strings.Contains(conf, old) {
			t.Fatalf("examples/streamlua.json no longer listens on %s; update the test", old)
		}
		addrs[old] = fmt.Sprintf("127.0.0.1:%d", freePort(t))
		conf = strings.ReplaceAll(conf, `"`+old+`"`, `"`+addrs[old]+`"`)
	}
	// The example's paths are relative to the repository root.
	conf = strings.ReplaceAll(conf, `"examples/`, `"../examples/`)
	path := filepath.Join(t.TempDir(), "streamlua.json")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	startProc(t, addrs["127.0.0.1:11211"], streamluaBinary(t), "serve", "--config", path)

	mc := memcache.New(addrs["127.0.0.1:11211"])
	if err := mc.Set(&memcache.Item{Key: "dog", Value: []byte("32")}); err != nil {
		t.Fatal(err)
	}
	if it, err := mc.Get("dog"); err != nil || string(it.Value) != "32" {
		t.Fatalf("memcached get: %v %v", it, err)
	}
	waitFor(t, "echo and kv to listen", func() bool {
		for _, a := range []string{addrs["127.0.0.1:7000"], addrs["127.0.0.1:7001"]} {
			c, err := net.Dial("tcp", a)
			if err != nil {
				return false
			}
			c.Close()
		}
		return true
	})
	dialLine(t, addrs["127.0.0.1:7000"]).mustAsk("ping", "ping")
	kv := dialLine(t, addrs["127.0.0.1:7001"])
	kv.mustAsk("SET a 1", "OK")
	kv.mustAsk("GET a", "VALUE 1")
}

// TestGalleryRedisExtension runs the "add a command" snippet of
// examples/README.md: a module of one's own that adds EXISTS to the Redis
// example.
func TestGalleryRedisExtension(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "myredis.lua"), []byte(`local redis = require "redis"
redis.command("exists", -2, function(dict, argv, argc)
    local n = 0
    for i = 2, argc do
        if dict:get(argv[i]) ~= nil then n = n + 1 end
    end
    return redis.int(n)
end)
return { run = redis.run }
`), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startStreamlua(t, "--dict", "redis=1m", "--package-path",
		filepath.Join(dir, "?.lua")+";"+filepath.Join("..", "examples", "redis", "?.lua")+";;", "--handler", "myredis")
	rc := dialRESP(t, p.Addr)
	rc.send(respCommand("SET", "a", "1") + respCommand("EXISTS", "a", "b", "a") + respCommand("GET", "a"))
	for _, want := range []string{"+OK", ":2", "$1\r\n1"} {
		if got, err := rc.reply(); got != want {
			t.Fatalf("got %q (%v), want %q\n%s", got, err, want, p.Logs())
		}
	}
}

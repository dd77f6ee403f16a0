package tests

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Real binary protocol clients against streamlua's bundled memcached
// server: libmemcached's conformance tool, the memjs Node.js client, and a
// small client written here for what memjs lacks (quiet multi-get), plus
// checks that both protocols share one store and one set of statistics.

func TestBinaryMemccapable(t *testing.T) {
	tool := needTool(t, "memccapable")
	sl := startStreamlua(t)
	host, port, _ := net.SplitHostPort(sl.Addr)
	out, err := exec.Command(tool, "-b", "-h", host, "-p", port).CombinedOutput()
	if err != nil {
		t.Fatalf("memccapable -b: %v\n%s\nserver log:\n%s", err, out, sl.Logs())
	}
	text := string(out)
	if strings.Contains(text, "[FAIL]") || !strings.Contains(text, "All tests passed") {
		t.Fatalf("memccapable -b reported failures:\n%s", text)
	}
	if n := strings.Count(text, "[pass]"); n < 25 {
		t.Fatalf("memccapable -b ran only %d tests:\n%s", n, text)
	}
}

// TestBinaryMemjs runs tests/binary/memjs_check.js (memjs pinned in
// tests/binary/package.json; install it with `npm ci --prefix
// tests/binary`) against the real memcached, whose behaviour the script
// expects, and against streamlua.
func TestBinaryMemjs(t *testing.T) {
	node := needTool(t, "node")
	if _, err := os.Stat(filepath.Join("binary", "node_modules", "memjs", "package.json")); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("memjs is not installed; .ci/run must run `npm ci --prefix tests/binary`")
		}
		t.Skip("memjs is not installed (run `npm ci --prefix tests/binary`)")
	}
	for _, target := range []struct {
		name  string
		start func(testing.TB, ...string) *Proc
	}{
		{"memcached", startMemcached},
		{"streamlua", startStreamlua},
	} {
		t.Run(target.name, func(t *testing.T) {
			p := target.start(t)
			cmd := exec.Command(node, "memjs_check.js", p.Addr)
			cmd.Dir = "binary"
			out, err := cmd.CombinedOutput()
			text := string(out)
			if err != nil || strings.Contains(text, "FAIL") {
				t.Fatalf("memjs checks failed (%v):\n%s\nserver log:\n%s", err, text, p.Logs())
			}
			if n := strings.Count("\n"+text, "\nok   "); n < 40 {
				t.Fatalf("memjs ran only %d checks:\n%s", n, text)
			}
		})
	}
}

// binClient is a minimal binary protocol client: do writes requests and a
// NOOP, and returns every response before the NOOP's.
type binClient struct {
	t    testing.TB
	conn net.Conn
}

func dialBin(t testing.TB, addr string) *binClient {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &binClient{t: t, conn: c}
}

func (c *binClient) do(reqs ...binReq) []binPacket {
	c.t.Helper()
	var b []byte
	for _, r := range reqs {
		b = append(b, r.encode(0)...)
	}
	b = append(b, binReq{op: opNoop, opaque: binSentinelOpaque}.encode(0)...)
	if _, err := c.conn.Write(b); err != nil {
		c.t.Fatal(err)
	}
	pkts, rest, eof := binRead(c.conn, true)
	if eof || len(rest) > 0 {
		c.t.Fatalf("connection ended or left %d stray bytes after %d replies", len(rest), len(pkts))
	}
	return pkts
}

func TestBinaryQuietMultiGet(t *testing.T) {
	sl := startStreamlua(t)
	c := dialBin(t, sl.Addr)
	const n = 200
	var sets []binReq
	for i := range n {
		if i%3 == 0 {
			continue // every third key stays missing
		}
		sets = append(sets, bSet(opSetQ, fmt.Sprintf("mk%d", i), strings.Repeat(strconv.Itoa(i%10), i), uint32(i), 0))
	}
	if got := c.do(sets...); len(got) != 0 {
		t.Fatalf("quiet sets answered %d packets", len(got))
	}
	var gets []binReq
	for i := range n {
		gets = append(gets, bGet(opGetKQ, fmt.Sprintf("mk%d", i)).opq(uint32(1000+i)))
	}
	got := c.do(gets...)
	tests := []struct {
		name string
		ok   bool
	}{
		{"one reply per hit", len(got) == n-(n+2)/3},
	}
	next := 0
	for i := range n {
		if i%3 == 0 {
			continue
		}
		if next >= len(got) {
			break
		}
		p := got[next]
		next++
		want := strings.Repeat(strconv.Itoa(i%10), i)
		tests = append(tests, struct {
			name string
			ok   bool
		}{fmt.Sprintf("hit %d", i), p.op == opGetKQ && p.status == 0 && p.opaque == uint32(1000+i) &&
			string(p.key) == fmt.Sprintf("mk%d", i) && string(p.value) == want &&
			binary.BigEndian.Uint32(p.extras) == uint32(i) && p.cas != 0})
	}
	for _, tt := range tests {
		if !tt.ok {
			t.Errorf("%s: failed; replies: %v", tt.name, summarise(got))
			break
		}
	}
}

func summarise(pkts []binPacket) string {
	var b strings.Builder
	for i, p := range pkts {
		if i == 8 {
			fmt.Fprintf(&b, " ... (%d in all)", len(pkts))
			break
		}
		fmt.Fprintf(&b, " [op=%02x st=%d opq=%d key=%q]", p.op, p.status, p.opaque, p.key)
	}
	return b.String()
}

// TestBinarySharedStore checks that the text and binary protocols see one
// store and count in one set of statistics.
func TestBinarySharedStore(t *testing.T) {
	sl := startStreamlua(t)
	bc := dialBin(t, sl.Addr)
	tc, err := net.Dial("tcp", sl.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	textDo := func(req, end string) string {
		t.Helper()
		if _, err := io.WriteString(tc, req); err != nil {
			t.Fatal(err)
		}
		var buf []byte
		tmp := make([]byte, 64<<10)
		tc.SetReadDeadline(time.Now().Add(10 * time.Second))
		for !bytes.HasSuffix(buf, []byte(end)) {
			n, err := tc.Read(tmp)
			buf = append(buf, tmp[:n]...)
			if err != nil {
				t.Fatalf("text reply: %v after %q", err, buf)
			}
		}
		return string(buf)
	}
	textStat := func(name string) int {
		t.Helper()
		out := textDo("stats\r\n", "END\r\n")
		for _, line := range strings.Split(out, "\r\n") {
			if f := strings.Fields(line); len(f) == 3 && f[1] == name {
				n, _ := strconv.Atoi(f[2])
				return n
			}
		}
		t.Fatalf("no %s in stats:\n%s", name, out)
		return 0
	}
	binStat := func(name string) int {
		t.Helper()
		for _, p := range bc.do(bStat("")) {
			if string(p.key) == name {
				n, _ := strconv.Atoi(string(p.value))
				return n
			}
		}
		t.Fatalf("no %s in binary stats", name)
		return 0
	}

	hits0, misses0, sets0 := textStat("get_hits"), textStat("get_misses"), textStat("cmd_set")
	textDo("set fromtext 5 0 3\r\nabc\r\n", "STORED\r\n")
	got := bc.do(bGet(opGetK, "fromtext"), bSet(opSet, "frombin", "xyz\x00", 9, 0), bGet(opGet, "nope"))
	tests := []struct {
		name      string
		got, want string
	}{
		{"binary reads a text set", fmt.Sprintf("%d %q %x", got[0].status, got[0].value, got[0].extras), `0 "abc" 00000005`},
		{"binary set succeeds", fmt.Sprint(got[1].status), "0"},
		{"binary miss", fmt.Sprint(got[2].status), "1"},
		{"text reads a binary set", textDo("get frombin\r\n", "END\r\n"), "VALUE frombin 9 4\r\nxyz\x00\r\nEND\r\n"},
		{"hits counted across protocols", fmt.Sprint(textStat("get_hits") - hits0), "2"},
		{"misses counted across protocols", fmt.Sprint(textStat("get_misses") - misses0), "1"},
		{"sets counted across protocols", fmt.Sprint(textStat("cmd_set") - sets0), "2"},
		{"binary stats agree with text stats", fmt.Sprint(binStat("get_hits")), fmt.Sprint(textStat("get_hits"))},
	}
	textDo("incr counter 1\r\n", "NOT_FOUND\r\n")
	inc := bc.do(bArith(opIncrement, "counter", 5, 40, 0))
	tests = append(tests,
		struct{ name, got, want string }{"binary incr creates", fmt.Sprintf("%x", inc[0].value), "0000000000000028"},
		struct{ name, got, want string }{"text incr sees it", textDo("incr counter 2\r\n", "\r\n"), "42\r\n"},
	)
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}

// TestBinaryDetection checks the first-byte rule on new connections.
func TestBinaryDetection(t *testing.T) {
	sl := startStreamlua(t)
	tests := []struct {
		name string
		send string
		want string
	}{
		{"text command", "version\r\n", "VERSION "},
		{"binary noop", string(bOp(opNoop).opq(1).encode(0)), "\x81\x0a\x00\x00\x00\x00\x00\x00"},
		{"response magic is text", "\x81 junk\r\n", "ERROR\r\n"},
		{"meta command", "mn\r\n", "MN\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := roundTrip(t, sl.Addr, tt.send, 300*time.Millisecond)
			if !strings.HasPrefix(got, tt.want) {
				t.Fatalf("got %q, want a reply starting %q", got, tt.want)
			}
		})
	}
}

// TestBinarySlowClient sends requests in pieces slower than the server's
// read timeout: as in memcached, a timeout is not a reason to drop the
// connection or the bytes received so far.
func TestBinarySlowClient(t *testing.T) {
	sl := startStreamlua(t, "--read-timeout", "100ms")
	c, err := net.Dial("tcp", sl.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	value := strings.Repeat("s", 100000)
	req := bSet(opSet, "slow", value, 3, 0).opq(1).encode(0)
	req = append(req, bGet(opGetK, "slow").opq(2).encode(0)...)
	req = append(req, binReq{op: opNoop, opaque: binSentinelOpaque}.encode(0)...)
	// Pause before the first byte (the protocol is not yet known), inside
	// the header, inside the key and inside the value.
	for _, size := range []int{0, 10, 20, 5000, len(req)} {
		time.Sleep(250 * time.Millisecond)
		size = min(size, len(req))
		if _, err := c.Write(req[:size]); err != nil {
			t.Fatal(err)
		}
		req = req[size:]
	}
	pkts, rest, eof := binRead(c, true)
	if eof || len(rest) > 0 || len(pkts) != 2 {
		t.Fatalf("got %d replies (eof %v, %d stray bytes); log:\n%s", len(pkts), eof, len(rest), sl.Logs())
	}
	if pkts[0].status != 0 || pkts[1].status != 0 || string(pkts[1].value) != value {
		t.Fatalf("set status %d, get status %d, value of %d bytes", pkts[0].status, pkts[1].status, len(pkts[1].value))
	}
}

// TestBinarySmallItemLimit runs values around a small --max-item-size, so
// that too-large values are longer than what the loop reads at once.
func TestBinarySmallItemLimit(t *testing.T) {
	sl := startStreamlua(t, "--max-item-size", "2k")
	c := dialBin(t, sl.Addr)
	limit := 2048 - 60 // item header, cas, key "k" and its NUL, CRLF
	tests := []struct {
		name   string
		value  string
		status uint16
	}{
		{"at the limit", strings.Repeat("a", limit), 0},
		{"one over", strings.Repeat("b", limit+1), 3},
		{"far over", strings.Repeat("c", 300000), 3},
		{"after a far-over value", strings.Repeat("d", 10), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := c.do(bSet(opSet, "k", tt.value, 0, 0), bGet(opGet, "k"))
			if len(got) != 2 || got[0].status != tt.status {
				t.Fatalf("replies %s", summarise(got))
			}
			if tt.status == 0 && string(got[1].value) != tt.value {
				t.Fatalf("get returned %d bytes, want %d", len(got[1].value), len(tt.value))
			}
			if tt.status != 0 && got[1].status != 1 {
				t.Fatalf("a too-large set left a value behind: %s", summarise(got))
			}
		})
	}
}

// TestBinaryHandlerError checks the reply to a Lua error inside a handler:
// status 0x84 for the request that failed, then the connection closes. The
// error is provoked with a value only a script can store (a boolean).
func TestBinaryHandlerError(t *testing.T) {
	sl := startStreamlua(t, "--init", "testdata/binary/odd_value.lua")
	c := dialBin(t, sl.Addr)
	if _, err := c.conn.Write(bGet(opGet, "boolean").opq(42).encode(0)); err != nil {
		t.Fatal(err)
	}
	pkts, _, eof := binRead(c.conn, false)
	if !eof || len(pkts) != 1 || pkts[0].status != 0x84 || pkts[0].opaque != 42 || string(pkts[0].value) != "Internal error" {
		t.Fatalf("got %s (closed %v)", summarise(pkts), eof)
	}
	// The log reaches the test through a pipe, so it may trail the reply.
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(sl.Logs(), "binary opcode 0x00 failed"); {
		if time.Now().After(deadline) {
			t.Fatalf("the error was not logged:\n%s", sl.Logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

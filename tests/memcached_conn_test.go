package tests

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Connection-level behaviour of the bundled memcached server that the
// differential test cannot show: timeouts, clients that vanish mid-block,
// the item size flag and the statistics.

func TestMemcachedIdleClient(t *testing.T) {
	cases := []struct {
		name   string
		args   []string
		closes bool
	}{
		// The host's read timeout is not an idle limit: memcached keeps
		// idle clients, and so does the script.
		{"read timeout does not close", []string{"--read-timeout", "100ms"}, false},
		{"idle_timeout closes", []string{"--read-timeout", "100ms", "--set", "memcached.idle_timeout=1"}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sl := startStreamlua(t, c.args...)
			conn, err := net.Dial("tcp", sl.Addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			r := bufio.NewReader(conn)
			if c.closes {
				conn.SetReadDeadline(time.Now().Add(10 * time.Second))
				if _, err := r.ReadByte(); err != io.EOF {
					t.Fatalf("idle connection: read %v, want EOF", err)
				}
				return
			}
			time.Sleep(500 * time.Millisecond)
			fmt.Fprint(conn, "version\r\n")
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			line, err := r.ReadString('\n')
			if err != nil || !strings.HasPrefix(line, "VERSION ") {
				t.Fatalf("after idling: %q %v\nlog:\n%s", line, err, sl.Logs())
			}
		})
	}
}

func TestMemcachedClientGoesAway(t *testing.T) {
	sl := startStreamlua(t)
	cases := []struct {
		name, req string
	}{
		{"mid data block", "set a 0 0 10\r\nabc"},
		{"mid terminator", "set a 0 0 3\r\nabc\r"},
		{"mid line", "set a 0 0"},
		{"mid swallow", "set a 0 0 2000000\r\n" + strings.Repeat("x", 1000)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", sl.Addr)
			if err != nil {
				t.Fatal(err)
			}
			io.WriteString(conn, c.req)
			conn.(*net.TCPConn).CloseWrite()
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			rest, err := io.ReadAll(conn)
			conn.Close()
			if err != nil {
				t.Fatalf("server did not close: %v", err)
			}
			if c.name == "mid swallow" {
				if string(rest) != "SERVER_ERROR object too large for cache\r\n" {
					t.Fatalf("reply %q", rest)
				}
			} else if len(rest) != 0 {
				t.Fatalf("reply %q, want none", rest)
			}
			if got := roundTrip(t, sl.Addr, "get a\r\n", 200*time.Millisecond); got != "END\r\n" {
				t.Fatalf("a partial block was stored: %q", got)
			}
		})
	}
	if strings.Contains(sl.Logs(), "ERROR") {
		t.Fatalf("a client going away was logged as an error:\n%s", sl.Logs())
	}
}

func TestMemcachedMaxItemSize(t *testing.T) {
	sl := startStreamlua(t, "--max-item-size", "2m")
	cases := []struct {
		name string
		size int
		want string
	}{
		{"over the default limit", 1500000, "STORED\r\n"},
		{"largest for a 3-byte key", 2*1048576 - 48 - 8 - 4 - 2, "STORED\r\n"},
		{"one byte more", 2*1048576 - 48 - 8 - 4 - 2 + 1, "SERVER_ERROR object too large for cache\r\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			val := strings.Repeat("q", c.size)
			got := roundTrip(t, sl.Addr, fmt.Sprintf("set abc 0 0 %d\r\n%s\r\n", c.size, val), 500*time.Millisecond)
			if got != c.want {
				t.Fatalf("set: %q", got)
			}
			got = roundTrip(t, sl.Addr, "get abc\r\n", 500*time.Millisecond)
			want := "END\r\n"
			if c.want == "STORED\r\n" {
				want = fmt.Sprintf("VALUE abc 0 %d\r\n%s\r\nEND\r\n", c.size, val)
			}
			if got != want {
				t.Fatalf("get returned %d bytes, want %d", len(got), len(want))
			}
		})
	}
}

// statsOf parses a stats reply into a map.
func statsOf(t *testing.T, reply string) map[string]string {
	t.Helper()
	if !strings.HasSuffix(reply, "END\r\n") {
		t.Fatalf("stats reply does not end with END: %q", reply)
	}
	m := map[string]string{}
	for _, line := range strings.Split(strings.TrimSuffix(reply, "END\r\n"), "\r\n") {
		if line == "" {
			continue
		}
		f := strings.SplitN(line, " ", 3)
		if len(f) != 3 || f[0] != "STAT" {
			t.Fatalf("bad stats line %q", line)
		}
		m[f[1]] = f[2]
	}
	return m
}

func TestMemcachedStats(t *testing.T) {
	sl := startStreamlua(t)
	conn, err := net.Dial("tcp", sl.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	// ask sends a request and reads the reply up to its last line.
	ask := func(req, last string) string {
		fmt.Fprint(conn, req)
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		var b strings.Builder
		for {
			line, err := r.ReadString('\n')
			b.WriteString(line)
			if err != nil {
				t.Fatalf("%q: %v after %q", req, err, b.String())
			}
			if line == last {
				return b.String()
			}
		}
	}
	ask("set a 0 0 1\r\nx\r\nget a\r\nget b\r\ngets a b\r\ntouch a 10\r\ntouch b 10\r\nincr b 1\r\ndelete a\r\nmn\r\n", "MN\r\n")

	general := statsOf(t, ask("stats\r\n", "END\r\n"))
	want := map[string]string{
		"pid":                  fmt.Sprint(sl.Cmd.Process.Pid),
		"cmd_get":              "4",
		"get_hits":             "2",
		"get_misses":           "2",
		"cmd_set":              "1",
		"cmd_touch":            "2",
		"touch_hits":           "1",
		"touch_misses":         "1",
		"incr_misses":          "1",
		"delete_hits":          "1",
		"total_items":          "1",
		"limit_maxbytes":       "67108864",
		"version":              "1.6.18+streamlua",
		"pointer_size":         "64",
		"accepting_conns":      "1",
		"rejected_connections": "0",
	}
	for k, v := range want {
		if general[k] != v {
			t.Errorf("stats %s = %q, want %q", k, general[k], v)
		}
	}
	// The harness's readiness probe may still count as open, so only the
	// lower bound of curr_connections is certain.
	if n, err := strconv.Atoi(general["curr_connections"]); err != nil || n < 1 {
		t.Errorf("stats curr_connections = %q, want at least 1", general["curr_connections"])
	}
	for _, k := range []string{"uptime", "time", "threads", "bytes", "curr_items", "evictions", "total_connections", "bytes_read"} {
		if _, ok := general[k]; !ok {
			t.Errorf("stats lacks %s", k)
		}
	}

	groups := []struct {
		name, req, key, want string
	}{
		{"settings", "stats settings\r\n", "item_size_max", "1048576"},
		{"items", "set c 0 0 1\r\ny\r\nstats items\r\n", "items:1:number", ""},
		{"slabs", "stats slabs\r\n", "active_slabs", "1"},
		{"sizes", "stats sizes\r\n", "sizes_status", "disabled"},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			reply := ask(g.req, "END\r\n")
			m := statsOf(t, strings.TrimPrefix(reply, "STORED\r\n"))
			v, ok := m[g.key]
			if !ok || (g.want != "" && v != g.want) {
				t.Fatalf("%s: %s = %q (present %v), want %q", g.name, g.key, v, ok, g.want)
			}
		})
	}

	t.Run("reset", func(t *testing.T) {
		ask("verbosity 1\r\n", "OK\r\n")
		if got := ask("stats reset\r\n", "RESET\r\n"); got != "RESET\r\n" {
			t.Fatalf("stats reset: %q", got)
		}
		after := statsOf(t, ask("stats\r\n", "END\r\n"))
		if after["cmd_get"] != "0" || after["get_hits"] != "0" || after["total_items"] != "0" {
			t.Fatalf("counters after reset: cmd_get %s get_hits %s total_items %s", after["cmd_get"], after["get_hits"], after["total_items"])
		}
		if after["curr_items"] == "0" {
			t.Fatal("stats reset emptied the cache")
		}
		if v := statsOf(t, ask("stats settings\r\n", "END\r\n"))["verbosity"]; v != "1" {
			t.Fatalf("verbosity after reset = %q, want 1", v)
		}
	})

	t.Run("shared across connections", func(t *testing.T) {
		roundTrip(t, sl.Addr, "get zz\r\nget zz\r\n", 200*time.Millisecond)
		after := statsOf(t, ask("stats\r\n", "END\r\n"))
		if after["get_misses"] != "2" {
			t.Fatalf("get_misses = %s, want 2 (counted on another connection)", after["get_misses"])
		}
	})
}

// TestMemcachedByteCounts compares stats bytes_read and bytes_written with
// memcached's while the connection that made the traffic is still open and
// busy: streamlua's counts are the host's (sock:count_received and
// count_sent), exact at any moment, as memcached's per-read and per-write
// counts are.
func TestMemcachedByteCounts(t *testing.T) {
	counts := func(addr string) (read, written string) {
		a, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		ra := bufio.NewReader(a)
		for i := 0; i < 3; i++ {
			fmt.Fprintf(a, "set key%d 0 0 5\r\nhello\r\nget key%d\r\n", i, i)
			a.SetReadDeadline(time.Now().Add(5 * time.Second))
			for _, want := range []string{"STORED\r\n", "VALUE", "hello\r\n", "END\r\n"} {
				line, err := ra.ReadString('\n')
				if err != nil || !strings.HasPrefix(line, want) {
					t.Fatalf("%s: got %q (%v), want %q", addr, line, err, want)
				}
			}
		}
		st := statsOf(t, roundTrip(t, addr, "stats\r\n", 300*time.Millisecond))
		return st["bytes_read"], st["bytes_written"]
	}
	// Three busy rounds, then "stats" itself, which is read before it runs;
	// its reply is not written yet when it reports.
	wantRead := fmt.Sprint(3*len("set key0 0 0 5\r\nhello\r\nget key0\r\n") + len("stats\r\n"))
	wantWritten := fmt.Sprint(3 * len("STORED\r\nVALUE key0 0 5\r\nhello\r\nEND\r\n"))
	if read, written := counts(startStreamlua(t).Addr); read != wantRead || written != wantWritten {
		t.Fatalf("bytes_read %s, bytes_written %s; want %s and %s", read, written, wantRead, wantWritten)
	}
	t.Run("memcached agrees", func(t *testing.T) {
		if read, written := counts(startMemcached(t).Addr); read != wantRead || written != wantWritten {
			t.Fatalf("memcached: bytes_read %s, bytes_written %s; want %s and %s", read, written, wantRead, wantWritten)
		}
	})
}

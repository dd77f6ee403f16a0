package tests

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
)

// boomLua fails on line 3 when a client sends a line, and ends quietly
// when the client goes away without one.
const boomLua = `local sock = assert(ngx.req.socket(true))
local line = sock:receive()
if line then error("boom: " .. line) end
`

// scrape is one reading of /metrics: every sample by its series, exactly as
// printed (name{label="value",...}), and every family's TYPE.
type scrape struct {
	samples map[string]float64
	types   map[string]string
}

func scrapeMetrics(t testing.TB, addr string) scrape {
	t.Helper()
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("scrape: %s\n%s", resp.Status, b)
	}
	s := scrape{samples: map[string]float64{}, types: map[string]string{}}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			if name, typ, ok := strings.Cut(rest, " "); ok {
				s.types[name] = typ
			}
			continue
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if i < 0 || err != nil {
			t.Fatalf("scrape: unparsable sample %q", line)
		}
		s.samples[line[:i]] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("scrape: %v", err)
	}
	return s
}

// find returns the sample of a series and whether it is there.
func (s scrape) find(series string) (float64, bool) {
	v, ok := s.samples[series]
	return v, ok
}

// suffixed returns the value of the one series of name whose labels end
// with suffix (a label value not known in advance, such as a script path).
func (s scrape) suffixed(name, suffix string) (float64, bool) {
	for k, v := range s.samples {
		if strings.HasPrefix(k, name+"{") && strings.HasSuffix(k, suffix) {
			return v, true
		}
	}
	return 0, false
}

// TestMetrics runs a server with three listeners (the memcached script, a
// script that fails, the rate limiter), makes traffic of every kind, and
// checks that each metric family is exposed and moves.
func TestMetrics(t *testing.T) {
	dir := t.TempDir()
	boom := filepath.Join(dir, "boom.lua")
	if err := os.WriteFile(boom, []byte(boomLua), 0o644); err != nil {
		t.Fatal(err)
	}
	ratelimit, err := filepath.Abs(filepath.Join("..", "examples", "ratelimit", "ratelimit.lua"))
	if err != nil {
		t.Fatal(err)
	}
	mcAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	boomAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	rlAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	metricsAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	conf := filepath.Join(dir, "streamlua.json")
	if err := os.WriteFile(conf, fmt.Appendf(nil, `{
  "dicts": {"memcached": "1m", "ratelimit": "1m"},
  "servers": [
    {"listen": %q, "handler": "resty.memcached.server"},
    {"listen": %q, "content": %q},
    {"listen": %q, "content": %q}
  ]
}`, mcAddr, boomAddr, boom, rlAddr, ratelimit), 0o644); err != nil {
		t.Fatal(err)
	}
	const maxConns = 3
	p := startProc(t, mcAddr, streamluaBinary(t), "serve", "--config", conf,
		"--metrics-listen", metricsAddr, "--max-conns", strconv.Itoa(maxConns))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", p.Logs())
		}
	})

	before := scrapeMetrics(t, metricsAddr)
	// The memcached script's counters exist once it has been loaded (by
	// its first connection), so they are checked after the traffic.
	for _, name := range []string{
		"streamlua_connections_current", "streamlua_connections_total", "streamlua_connections_rejected_total",
		`streamlua_dict_items{dict="memcached"}`, `streamlua_dict_bytes{dict="memcached"}`,
		`streamlua_dict_evictions_total{dict="memcached"}`, `streamlua_dict_expired_total{dict="ratelimit"}`,
		`streamlua_reloads_total{result="success"}`, `streamlua_reloads_total{result="failure"}`,
		"go_goroutines", "process_start_time_seconds",
	} {
		if _, ok := before.find(name); !ok {
			t.Errorf("no %s before any traffic", name)
		}
	}
	if v, _ := before.find(`streamlua_dict_capacity_bytes{dict="memcached"}`); v != 1<<20 {
		t.Errorf("dict capacity = %v, want %d", v, 1<<20)
	}

	// memcached traffic: hits, misses, a delete miss, and enough data to
	// overflow the 1 MiB dictionary.
	mc := memcache.New(mcAddr)
	mc.Timeout = 5 * time.Second
	for i := range 10 {
		if err := mc.Set(&memcache.Item{Key: fmt.Sprintf("k%d", i), Value: []byte("v")}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 15 {
		_, err := mc.Get(fmt.Sprintf("k%d", i))
		if want := i >= 10; (err == memcache.ErrCacheMiss) != want {
			t.Fatalf("get k%d: %v", i, err)
		}
	}
	if err := mc.Delete("nope"); err != memcache.ErrCacheMiss {
		t.Fatalf("delete: %v", err)
	}
	big := []byte(strings.Repeat("x", 8<<10))
	for i := range 300 {
		if err := mc.Set(&memcache.Item{Key: fmt.Sprintf("big%d", i), Value: big}); err != nil {
			t.Fatal(err)
		}
	}

	// The rate limiter keeps its own counters.
	rl := dialLine(t, rlAddr)
	rl.mustAsk("hit m 2 600", "allowed 1")
	rl.mustAsk("hit m 2 600", "allowed 0")
	if got, _ := rl.ask("hit m 2 600"); !strings.HasPrefix(got, "denied ") {
		t.Fatalf("third hit: %q", got)
	}

	// Two Lua errors, then a full listener refusing a connection.
	for i := range 2 {
		reply := roundTrip(t, boomAddr, fmt.Sprintf("line %d\r\n", i), 5*time.Second)
		if reply != "" {
			t.Fatalf("boom replied %q", reply)
		}
	}
	// Close the other clients, so that the connection gauge counts only
	// the held connections and shows when all of them are admitted.
	mc.Close()
	rl.c.Close()
	waitFor(t, "the other connections to close", func() bool {
		v, _ := scrapeMetrics(t, metricsAddr).find("streamlua_connections_current")
		return v == 0
	})
	held := make([]net.Conn, maxConns)
	for i := range held {
		c, err := net.Dial("tcp", boomAddr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held[i] = c
	}
	waitFor(t, "the held connections to count", func() bool {
		v, _ := scrapeMetrics(t, metricsAddr).find("streamlua_connections_current")
		return v == maxConns
	})
	if got := roundTrip(t, boomAddr, "", 5*time.Second); got != "ERROR Too many open connections\r\n" {
		t.Fatalf("connection over the cap read %q", got)
	}
	for _, c := range held {
		c.Close()
	}

	if err := p.Cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}

	delta := func(s scrape, series string) float64 {
		a, _ := before.find(series)
		b, _ := s.find(series)
		return b - a
	}
	var after scrape
	waitFor(t, "the counters to settle", func() bool {
		after = scrapeMetrics(t, metricsAddr)
		cur, _ := after.find("streamlua_connections_current")
		reloads, _ := after.find(`streamlua_reloads_total{result="success"}`)
		boomConns, _ := after.find(fmt.Sprintf(`streamlua_connection_duration_seconds_count{server=%q}`, boomAddr))
		return cur == 0 && reloads == 1 && boomConns >= 2+maxConns
	})
	checks := []struct {
		name string
		got  float64
		ok   func(float64) bool
		want string
	}{
		{"gets", delta(after, `streamlua_commands_total{command="get"}`), eq(15), "15"},
		{"get hits", delta(after, `streamlua_command_hits_total{command="get"}`), eq(10), "10"},
		{"get misses", delta(after, `streamlua_command_misses_total{command="get"}`), eq(5), "5"},
		{"sets", delta(after, `streamlua_commands_total{command="set"}`), eq(310), "310"},
		{"delete misses", delta(after, `streamlua_command_misses_total{command="delete"}`), eq(1), "1"},
		{"deletes", delta(after, `streamlua_commands_total{command="delete"}`), eq(1), "1"},
		{"evictions", delta(after, `streamlua_dict_evictions_total{dict="memcached"}`), gt(0), "> 0"},
		{"items", delta(after, `streamlua_dict_items{dict="memcached"}`), gt(10), "> 10"},
		{"bytes", delta(after, `streamlua_dict_bytes{dict="memcached"}`), gt(100 << 10), "> 100 KiB"},
		{"rate limiter items", delta(after, `streamlua_dict_items{dict="ratelimit"}`), eq(1), "1"},
		{"allowed", delta(after, `streamlua_lua_counter{name="ratelimit_allowed"}`), eq(2), "2"},
		{"denied", delta(after, `streamlua_lua_counter{name="ratelimit_denied"}`), eq(1), "1"},
		// Two boom connections, the held ones, the memcached client's and
		// the rate limiter's; the refused one is not accepted.
		{"connections", delta(after, "streamlua_connections_total"), gt(2 + maxConns + 1), fmt.Sprintf(">= %d", 2+maxConns+2)},
		{"rejected", delta(after, "streamlua_connections_rejected_total"), eq(1), "1"},
		{"reloads", delta(after, `streamlua_reloads_total{result="success"}`), eq(1), "1"},
		{"failed reloads", delta(after, `streamlua_reloads_total{result="failure"}`), eq(0), "0"},
		{"memcached requests timed", delta(after, fmt.Sprintf(`streamlua_request_duration_seconds_count{server=%q}`, mcAddr)), gt(0), "> 0"},
		{"rate limiter requests timed", delta(after, fmt.Sprintf(`streamlua_request_duration_seconds_count{server=%q}`, rlAddr)), gt(2), "> 2"},
		{"failed connections timed", delta(after, fmt.Sprintf(`streamlua_connection_duration_seconds_count{server=%q}`, boomAddr)), eq(2 + maxConns), strconv.Itoa(2 + maxConns)},
	}
	for _, c := range checks {
		if !c.ok(c.got) {
			t.Errorf("%s: moved by %v, want %s", c.name, c.got, c.want)
		}
	}
	if v, ok := after.suffixed("streamlua_lua_errors_total", `boom.lua"}`); !ok || v != 2 {
		t.Errorf("lua errors of boom.lua = %v (present %v), want 2", v, ok)
	}
	if v, ok := after.suffixed("streamlua_build_info", `"}`); !ok || v != 1 {
		t.Errorf("build_info = %v (present %v), want 1", v, ok)
	}
	for name, typ := range map[string]string{
		"streamlua_request_duration_seconds":    "histogram",
		"streamlua_connection_duration_seconds": "histogram",
		"streamlua_commands_total":              "counter",
		"streamlua_connections_current":         "gauge",
		"streamlua_dict_evictions_total":        "counter",
		"streamlua_lua_errors_total":            "counter",
		"streamlua_lua_counter":                 "gauge",
	} {
		if after.types[name] != typ {
			t.Errorf("%s has TYPE %q, want %q", name, after.types[name], typ)
		}
	}
}

func eq(want float64) func(float64) bool { return func(v float64) bool { return v == want } }
func gt(lo float64) func(float64) bool   { return func(v float64) bool { return v > lo } }

// TestMetricsListenErrors checks that a bad --metrics-listen stops the
// server at startup, like a bad --listen.
func TestMetricsListenErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cases := []struct {
		name, addr, want string
	}{
		{"address in use", busy.Addr().String(), "address already in use"},
		{"not an address", "nowhere", "missing port"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, code := runServeBriefly(t, "--listen", fmt.Sprintf("127.0.0.1:%d", freePort(t)), "--metrics-listen", tc.addr)
			if code == 0 || !strings.Contains(out, "--metrics-listen") || !strings.Contains(out, tc.want) {
				t.Fatalf("exit %d, output %q; want a failure naming --metrics-listen and %q", code, out, tc.want)
			}
		})
	}
}

// runServeBriefly runs a serve that is expected to fail at startup and
// returns its output and exit code; one that starts after all is killed
// and fails the test.
func runServeBriefly(t *testing.T, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, streamluaBinary(t), append([]string{"serve"}, args...)...)
	out, _ := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("serve %q kept running: %s", args, out)
	}
	return string(out), cmd.ProcessState.ExitCode()
}

// TestLuaErrorLog checks that a handler's Lua error is logged with the
// script's file:line and the client's address, in both log formats.
func TestLuaErrorLog(t *testing.T) {
	dir := t.TempDir()
	scripts := []struct {
		name, code, where, message string
	}{
		{"error()", boomLua, "boom.lua:3:", "boom: hello"},
		{"runtime error", "local sock = assert(ngx.req.socket(true))\nif not sock:receive() then return end\n\nlocal t = nil\nreturn t.field\n",
			"index.lua:5:", "attempt to index"},
	}
	for _, format := range []string{"json", "text"} {
		for _, s := range scripts {
			t.Run(format+"/"+s.name, func(t *testing.T) {
				file := filepath.Join(dir, strings.TrimSuffix(s.where[:strings.IndexByte(s.where, ':')], ".lua")+".lua")
				if err := os.WriteFile(file, []byte(s.code), 0o644); err != nil {
					t.Fatal(err)
				}
				p := startStreamlua(t, "--content", file, "--log-format", format)
				c, err := net.Dial("tcp", p.Addr)
				if err != nil {
					t.Fatal(err)
				}
				client := c.LocalAddr().String()
				io.WriteString(c, "hello\r\n")
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				io.Copy(io.Discard, c) // until the server closes
				c.Close()
				// The harness's readiness probe sends nothing, so the one
				// failure is this client's.
				var failures []string
				waitFor(t, "the error to be logged", func() bool {
					failures = failures[:0]
					for _, l := range strings.Split(p.Logs(), "\n") {
						if strings.Contains(l, "lua handler failed") {
							failures = append(failures, l)
						}
					}
					return len(failures) > 0
				})
				if len(failures) != 1 {
					t.Fatalf("want one failure logged, got %q", failures)
				}
				line := failures[0]
				var errText, clientText string
				if format == "json" {
					var rec map[string]any
					if err := json.Unmarshal([]byte(line), &rec); err != nil {
						t.Fatalf("not JSON: %q: %v", line, err)
					}
					errText, _ = rec["error"].(string)
					clientText, _ = rec["client"].(string)
					if rec["level"] != "ERROR" {
						t.Errorf("level %v, want ERROR", rec["level"])
					}
				} else {
					errText, clientText = line, line
				}
				if !strings.Contains(errText, file+":"+strings.SplitN(s.where, ":", 2)[1]) || !strings.Contains(errText, s.message) {
					t.Errorf("error %q does not name %s%s with %q", errText, dir+"/", s.where, s.message)
				}
				if !strings.Contains(clientText, client) {
					t.Errorf("log line %q does not name the client %s", line, client)
				}
			})
		}
	}
}

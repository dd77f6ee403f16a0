package tests

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// restyMemcachedDir finds Debian's lua-nginx-memcached (lua-resty-memcached
// packaged as nginx/memcached.lua). .ci/run extracts the package without
// installing nginx; $LUA_RESTY_MEMCACHED_DIR overrides the search.
func restyMemcachedDir(t *testing.T) string {
	t.Helper()
	dirs := []string{os.Getenv("LUA_RESTY_MEMCACHED_DIR"), "/usr/share/lua/5.1", "/opt/lua-nginx-memcached/usr/share/lua/5.1"}
	for _, d := range dirs {
		if d == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, "nginx", "memcached.lua")); err == nil {
			return d
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("lua-nginx-memcached is not extracted; .ci/run must provide it")
	}
	t.Skip("lua-nginx-memcached not found (apt-get download lua-nginx-memcached; dpkg -x it to /opt/lua-nginx-memcached)")
	return ""
}

func runLua(t *testing.T, pkgPath, code string) string {
	t.Helper()
	cmd := exec.Command(streamluaBinary(t), "run", "--package-path", pkgPath, "-e", code)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("streamlua run: %v\n%s", err, out)
	}
	return string(out)
}

// TestRestyMemcachedClient runs the unmodified lua-resty-memcached client
// under `streamlua run` against `streamlua serve` on port 11212, starting
// with the exact program from the OpenResty write-up.
func TestRestyMemcachedClient(t *testing.T) {
	dir := restyMemcachedDir(t)
	if l, err := net.Listen("tcp", "127.0.0.1:11212"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("127.0.0.1:11212 is in use")
		}
		t.Skip("127.0.0.1:11212 is in use")
	} else {
		l.Close()
	}
	startProc(t, "127.0.0.1:11212", streamluaBinary(t), "serve", "--listen", "127.0.0.1:11212", "--dict", "memcached=16m")
	alias, _ := filepath.Abs(filepath.Join("testdata", "resty-alias"))
	pkg := alias + "/?.lua;" + dir + "/?.lua;;"

	const program = `local memcached = require "resty.memcached"; local memc = memcached:new(); memc:set_timeout(1000); local ok, err = memc:connect("127.0.0.1", 11212); local ok, err = memc:set("dog", 32); if not ok then ngx.say("failed to set dog: ", err) return end; local res, flags, err = memc:get("dog"); ngx.say("dog: ", res)`
	if got := runLua(t, pkg, program); got != "dog: 32\n" {
		t.Fatalf("the write-up's program printed %q, want %q", got, "dog: 32\n")
	}

	const methods = `
local memcached = require "resty.memcached"
local memc = memcached:new()
memc:set_timeout(1000)
assert(memc:connect("127.0.0.1", 11212))
local function say(...) ngx.say(table.concat({...}, " ")) end
assert(memc:flush_all())
assert(memc:set("k", "v", 0, 7))
local v, flags = memc:get("k") say("get", v, flags)
local ok, err = memc:add("k", "x") say("add", tostring(ok), err)
say("add2", tostring(memc:add("k2", "y")))
say("replace", tostring(memc:replace("k", "w")))
say("append", tostring(memc:append("k", "1")))
say("prepend", tostring(memc:prepend("k", "0")))
local v2, f2, cas = memc:gets("k") say("gets", v2, tostring(cas ~= nil))
say("cas", tostring(memc:cas("k", "new", cas)))
local okc, errc = memc:cas("k", "newer", cas) say("cas-stale", tostring(okc), errc)
assert(memc:set("n", 10))
say("incr", memc:incr("n", 5))
say("decr", memc:decr("n", 20))
say("touch", tostring(memc:touch("n", 100)))
say("delete", tostring(memc:delete("n")))
local r, e = memc:delete("n") say("delete-again", tostring(r), e)
local multi = memc:get({"k", "k2", "missing"}) say("multi", multi.k[1], multi.k2[1], tostring(multi.missing))
say("version", tostring(memc:version() ~= nil))
local st = memc:stats() say("stats", tostring(#st > 10))
say("keepalive", tostring(memc:set_keepalive(10000, 10)))
assert(memc:connect("127.0.0.1", 11212))
say("reused", tostring(memc:get_reused_times()))
say("closed", tostring(memc:close()))
`
	want := strings.Join([]string{
		"get v 7", "add nil NOT_STORED", "add2 1", "replace 1", "append 1", "prepend 1",
		"gets 0w1 true", "cas 1", "cas-stale nil EXISTS", "incr 15", "decr 0", "touch 1",
		"delete 1", "delete-again nil NOT_FOUND", "multi new y nil", "version true",
		"stats true", "keepalive 1", "reused 1", "closed 1",
	}, "\n") + "\n"
	if got := runLua(t, pkg, methods); got != want {
		t.Fatalf("lua-resty-memcached methods:\ngot:\n%s\nwant:\n%s", got, want)
	}
}

// TestOpenRestyStyleScript serves examples/openresty/simple_memcached.lua,
// written in the usual OpenResty stream style, and checks it byte for byte.
func TestOpenRestyStyleScript(t *testing.T) {
	p := startStreamlua(t, "--dict", "memcached=8m", "--package-path", "../examples/openresty/?.lua;;", "--handler", "simple_memcached")
	got := roundTrip(t, p.Addr, "set dog 5 900 2\r\n32\r\nget dog cat\r\nset bad 0 0 1\r\nxyz\r\nbogus\r\n", 300*time.Millisecond)
	want := "STORED\r\nVALUE dog 5 2\r\n32\r\nEND\r\nCLIENT_ERROR bad data chunk\r\nERROR\r\nERROR\r\n"
	if got != want {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}

// TestInitWorkerTimer starts a repeating timer from --init-worker, after
// --init has seeded a dict.
func TestInitWorkerTimer(t *testing.T) {
	p := startStreamlua(t, "--dict", "state=1m", "--init", filepath.Join("testdata", "lua", "init.lua"),
		"--init-worker", filepath.Join("testdata", "lua", "init_worker.lua"),
		"--content", filepath.Join("testdata", "lua", "report_ticks.lua"))
	c := dialLine(t, p.Addr)
	var last string
	waitFor(t, "timer ticks", func() bool {
		got, err := c.ask("ticks?")
		if err != nil {
			t.Fatal(err)
		}
		last = got
		f := strings.Fields(got)
		if len(f) != 3 || f[0] != "init_worker" || f[2] != "init" {
			t.Fatalf("reply %q", got)
		}
		n, _ := strconv.Atoi(f[1])
		return n >= 3
	})
	_ = fmt.Sprint(last)
}

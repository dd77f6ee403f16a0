package tests

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
)

// Real clients against streamlua's bundled memcached server: libmemcached's
// conformance tool, gomemcache, pymemcache and nginx's memcached module.

func TestMemcachedMemccapable(t *testing.T) {
	tool := needTool(t, "memccapable")
	sl := startStreamlua(t)
	host, port, _ := net.SplitHostPort(sl.Addr)
	out, err := exec.Command(tool, "-a", "-h", host, "-p", port).CombinedOutput()
	if err != nil {
		t.Fatalf("memccapable: %v\n%s\nserver log:\n%s", err, out, sl.Logs())
	}
	text := string(out)
	if strings.Contains(text, "[FAIL]") || !strings.Contains(text, "All tests passed") {
		t.Fatalf("memccapable reported failures:\n%s", text)
	}
	if n := strings.Count(text, "[pass]"); n < 20 {
		t.Fatalf("memccapable ran only %d tests:\n%s", n, text)
	}
}

func TestMemcachedGomemcache(t *testing.T) {
	sl := startStreamlua(t)
	mc := memcache.New(sl.Addr)
	mc.Timeout = 5 * time.Second
	mc.MaxIdleConns = 64
	defer mc.Close()

	value := func(key string) string {
		it, err := mc.Get(key)
		if err != nil {
			return "error: " + err.Error()
		}
		return string(it.Value)
	}
	steps := []struct {
		name string
		do   func() error
		key  string // when set, the value expected under key afterwards
		want string
	}{
		{"set", func() error { return mc.Set(&memcache.Item{Key: "a", Value: []byte("1"), Flags: 7}) }, "a", "1"},
		{"add existing", func() error {
			return wantErr(mc.Add(&memcache.Item{Key: "a", Value: []byte("x")}), memcache.ErrNotStored)
		}, "a", "1"},
		{"add new", func() error { return mc.Add(&memcache.Item{Key: "b", Value: []byte("2")}) }, "b", "2"},
		{"replace", func() error { return mc.Replace(&memcache.Item{Key: "b", Value: []byte("3")}) }, "b", "3"},
		{"replace missing", func() error {
			return wantErr(mc.Replace(&memcache.Item{Key: "zz", Value: []byte("x")}), memcache.ErrNotStored)
		}, "zz", "error: memcache: cache miss"},
		{"append", func() error { return mc.Append(&memcache.Item{Key: "a", Value: []byte("9")}) }, "a", "19"},
		{"prepend", func() error { return mc.Prepend(&memcache.Item{Key: "a", Value: []byte("0")}) }, "a", "019"},
		{"binary value", func() error { return mc.Set(&memcache.Item{Key: "bin", Value: []byte("x\r\nEND\r\n\x00y")}) }, "bin", "x\r\nEND\r\n\x00y"},
		{"cas", func() error {
			it, err := mc.Get("a")
			if err != nil {
				return err
			}
			it.Value = []byte("swapped")
			if err := mc.CompareAndSwap(it); err != nil {
				return err
			}
			it.Value = []byte("stale")
			return wantErr(mc.CompareAndSwap(it), memcache.ErrCASConflict)
		}, "a", "swapped"},
		{"incr decr", func() error {
			if err := mc.Set(&memcache.Item{Key: "n", Value: []byte("40")}); err != nil {
				return err
			}
			if v, err := mc.Increment("n", 2); err != nil || v != 42 {
				return fmt.Errorf("incr: %d %v", v, err)
			}
			if v, err := mc.Decrement("n", 100); err != nil || v != 0 {
				return fmt.Errorf("decr: %d %v", v, err)
			}
			_, err := mc.Increment("missing", 1)
			return wantErr(err, memcache.ErrCacheMiss)
		}, "n", "0 "},
		{"touch", func() error { return mc.Touch("a", 100) }, "a", "swapped"},
		{"get and touch", func() error {
			it, err := mc.GetAndTouch("a", 100)
			if err != nil || string(it.Value) != "swapped" {
				return fmt.Errorf("gat: %v %v", it, err)
			}
			return nil
		}, "a", "swapped"},
		{"get multi", func() error {
			m, err := mc.GetMulti([]string{"a", "b", "nope"})
			if err != nil {
				return err
			}
			if len(m) != 2 || string(m["b"].Value) != "3" || m["a"].Flags != 7 {
				return fmt.Errorf("getmulti: %v", m)
			}
			return nil
		}, "b", "3"},
		{"delete", func() error {
			if err := mc.Delete("b"); err != nil {
				return err
			}
			return wantErr(mc.Delete("b"), memcache.ErrCacheMiss)
		}, "b", "error: memcache: cache miss"},
		{"ping", func() error { return mc.Ping() }, "", ""},
		{"flush all", func() error { return mc.FlushAll() }, "a", "error: memcache: cache miss"},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if err := s.do(); err != nil {
				t.Fatal(err)
			}
			if s.key != "" {
				if got := value(s.key); got != s.want {
					t.Fatalf("%s = %q, want %q", s.key, got, s.want)
				}
			}
		})
	}

	t.Run("50 goroutines", func(t *testing.T) {
		if err := mc.Set(&memcache.Item{Key: "shared", Value: []byte("0")}); err != nil {
			t.Fatal(err)
		}
		const workers, rounds = 50, 40
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for r := range rounds {
					key := fmt.Sprintf("w%d:%d", w, r%5)
					val := []byte(fmt.Sprintf("%d\r\n%d\x00%s", w, r, strings.Repeat("z", r*50)))
					if err := mc.Set(&memcache.Item{Key: key, Value: val, Flags: uint32(w)}); err != nil {
						errs <- err
						return
					}
					it, err := mc.Get(key)
					if err != nil || !bytes.Equal(it.Value, val) || it.Flags != uint32(w) {
						errs <- fmt.Errorf("worker %d: get %s = %v, %v", w, key, it, err)
						return
					}
					if _, err := mc.Increment("shared", 1); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if got := value("shared"); got != fmt.Sprint(workers*rounds) {
			t.Fatalf("shared counter = %q, want %d", got, workers*rounds)
		}
	})
}

func wantErr(got, want error) error {
	if !errors.Is(got, want) {
		return fmt.Errorf("got error %v, want %v", got, want)
	}
	return nil
}

// pythonWithPymemcache finds a Python that can import pymemcache: Debian's
// python3-pymemcache lives in /usr/bin/python3's dist-packages, which a
// python3 earlier in PATH (pyenv, a venv) may not see.
func pythonWithPymemcache(t *testing.T) string {
	t.Helper()
	candidates := []string{"/usr/bin/python3"}
	if p, err := exec.LookPath("python3"); err == nil {
		candidates = append(candidates, p)
	}
	for _, p := range candidates {
		if exec.Command(p, "-c", "import pymemcache").Run() == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no python3 with pymemcache; .ci/run must install python3-pymemcache")
	}
	t.Skip("no python3 with pymemcache (set CI=1 to make this a failure)")
	return ""
}

func TestMemcachedPymemcache(t *testing.T) {
	py := pythonWithPymemcache(t)
	sl := startStreamlua(t)
	host, port, _ := net.SplitHostPort(sl.Addr)
	out, err := exec.Command(py, "python/pymemcache_check.py", host, port).CombinedOutput()
	text := string(out)
	if err != nil || !strings.Contains(text, "0 failure(s)") {
		t.Fatalf("pymemcache_check.py: %v\n%s\nserver log:\n%s", err, text, sl.Logs())
	}
	if n := strings.Count(text, "\nok "); n < 40 {
		t.Fatalf("only %d checks ran:\n%s", n, text)
	}
}

func TestMemcachedNginx(t *testing.T) {
	nginx := needTool(t, "nginx")
	sl := startStreamlua(t)
	prefix := t.TempDir()
	for _, d := range []string{"logs", "tmp"} {
		if err := os.MkdirAll(filepath.Join(prefix, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	port := freePort(t)
	conf := fmt.Sprintf(`daemon off;
master_process off;
worker_processes 1;
error_log stderr info;
pid %[1]s/nginx.pid;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path %[1]s/tmp/body;
    proxy_temp_path %[1]s/tmp/proxy;
    fastcgi_temp_path %[1]s/tmp/fastcgi;
    uwsgi_temp_path %[1]s/tmp/uwsgi;
    scgi_temp_path %[1]s/tmp/scgi;
    server {
        listen 127.0.0.1:%[2]d;
        location / {
            set $memcached_key "$uri";
            memcached_pass %[3]s;
            default_type text/plain;
        }
    }
}
`, prefix, port, sl.Addr)
	confPath := filepath.Join(prefix, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	ng := startProc(t, fmt.Sprintf("127.0.0.1:%d", port), nginx, "-p", prefix+"/", "-c", confPath, "-e", "stderr")

	body := "hello from streamlua\r\nwith a second line\x00"
	if got := roundTrip(t, sl.Addr, fmt.Sprintf("set /page 0 0 %d\r\n%s\r\n", len(body), body), 200*time.Millisecond); got != "STORED\r\n" {
		t.Fatalf("set: %q", got)
	}
	client := &http.Client{Timeout: 5 * time.Second}
	cases := []struct {
		name   string
		path   string
		status int
		body   string
	}{
		{"hit", "/page", http.StatusOK, body},
		{"miss", "/missing", http.StatusNotFound, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, c.path))
			if err != nil {
				t.Fatalf("%v\nnginx log:\n%s", err, ng.Logs())
			}
			defer resp.Body.Close()
			got, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d\nnginx log:\n%s", resp.StatusCode, c.status, ng.Logs())
			}
			if c.status == http.StatusOK && string(got) != c.body {
				t.Fatalf("body %q, want %q", got, c.body)
			}
		})
	}
}

// TestMemcachedExtension runs the example in examples/memcached: a user
// module that adds "keys" and caps set's TTL, loaded with --package-path
// and --handler, without touching the bundled scripts.
func TestMemcachedExtension(t *testing.T) {
	sl := startStreamlua(t, "--package-path", "../examples/memcached/?.lua;;",
		"--handler", "mymemcached", "--dict", "memcached=64m", "--set", "mymemcached.max_ttl=100")
	cases := []struct {
		name, req, want string
	}{
		{"never capped", "set k1 0 0 1\r\nx\r\nmg k1 t\r\n", "STORED\r\nHD t100\r\n"},
		{"short kept", "set k2 0 5 1\r\nx\r\nmg k2 t\r\n", "STORED\r\nHD t5\r\n"},
		{"long capped", "set k3 0 99999 1\r\nx\r\nmg k3 t\r\n", "STORED\r\nHD t100\r\n"},
		{"noreply capped", "set k4 0 0 1 noreply\r\nx\r\nmg k4 t\r\n", "HD t100\r\n"},
		{"bad exptime untouched", "set k5 0 abc 1\r\nx\r\n", "CLIENT_ERROR bad command line format\r\nERROR\r\n"},
		{"add not capped", "add k6 0 0 1\r\nx\r\nmg k6 t\r\n", "STORED\r\nHD t-1\r\n"},
		{"keys prefix", "keys k\r\n", ""},
		{"keys none", "keys zzz\r\n", "END\r\n"},
		{"keys too many args", "keys a b\r\n", "ERROR\r\n"},
		{"builtin still there", "get k1\r\n", "VALUE k1 0 1\r\nx\r\nEND\r\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := roundTrip(t, sl.Addr, c.req, 200*time.Millisecond)
			if c.name == "keys prefix" {
				lines := strings.Split(strings.TrimSuffix(got, "END\r\n"), "\r\n")
				seen := map[string]bool{}
				for _, l := range lines {
					if l != "" {
						seen[l] = true
					}
				}
				for _, k := range []string{"KEY k1", "KEY k2", "KEY k3", "KEY k4", "KEY k6"} {
					if !seen[k] {
						t.Fatalf("keys reply %q lacks %q", got, k)
					}
				}
				if len(seen) != 5 || !strings.HasSuffix(got, "END\r\n") {
					t.Fatalf("keys reply %q", got)
				}
				return
			}
			if got != c.want {
				t.Fatalf("got %q, want %q\nlog:\n%s", got, c.want, sl.Logs())
			}
		})
	}
}

// TestMemcachedWrappedGet checks that a module's own get handler runs for
// single-key gets too: the serve loop runs the bundled get of one key
// inline, and must notice that the command table holds something else.
func TestMemcachedWrappedGet(t *testing.T) {
	sl := startStreamlua(t, "--package-path", "testdata/memcached/?.lua;;", "--handler", "wrapped_get", "--dict", "memcached=1m")
	got := roundTrip(t, sl.Addr, "set a 0 0 1\r\nx\r\nget a\r\nget b\r\nget a b\r\n", 2*time.Second)
	want := "STORED\r\nCALLS 1\r\nVALUE a 0 1\r\nx\r\nEND\r\nCALLS 2\r\nEND\r\nCALLS 3\r\nVALUE a 0 1\r\nx\r\nEND\r\n"
	if got != want {
		t.Fatalf("got %q, want %q\nlog:\n%s", got, want, sl.Logs())
	}
	// Swapping the handler in the middle of a connection takes effect on
	// its next line, both ways. The count is the Lua state's own, and
	// this connection may get a fresh state (the first one's may not be
	// back in the pool yet), so it starts from whatever the first reply
	// says.
	got = roundTrip(t, sl.Addr, "get a\r\nplain\r\nget a\r\nwrap\r\nget a\r\n", 2*time.Second)
	var n int
	fmt.Sscanf(got, "CALLS %d\r\n", &n)
	want = fmt.Sprintf("CALLS %d\r\nVALUE a 0 1\r\nx\r\nEND\r\nOK\r\nVALUE a 0 1\r\nx\r\nEND\r\nOK\r\nCALLS %d\r\nVALUE a 0 1\r\nx\r\nEND\r\n", n, n+1)
	if n < 1 || got != want {
		t.Fatalf("swapping get mid-connection: got %q, want %q", got, want)
	}
}

// TestMemcachedLuaError checks that a failing command answers SERVER_ERROR,
// closes the connection, logs file:line, and leaves the server serving.
func TestMemcachedLuaError(t *testing.T) {
	sl := startStreamlua(t, "--package-path", "testdata/memcached/?.lua;;", "--handler", "failing_memcached", "--dict", "memcached=64m")
	got := roundTrip(t, sl.Addr, "set a 0 0 1\r\nx\r\nboom\r\nget a\r\n", 2*time.Second)
	if want := "STORED\r\nSERVER_ERROR internal error in boom\r\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if got := roundTrip(t, sl.Addr, "get a\r\n", 200*time.Millisecond); got != "VALUE a 0 1\r\nx\r\nEND\r\n" {
		t.Fatalf("after the error: %q", got)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(sl.Logs(), "failing_memcached.lua:") {
		if time.Now().After(deadline) {
			t.Fatalf("log lacks the error's file:line:\n%s", sl.Logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(sl.Logs(), "deliberate failure") {
		t.Fatalf("log lacks the error message:\n%s", sl.Logs())
	}
}

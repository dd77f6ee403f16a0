package tests

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/streamlua/streamlua/luaenv"
	"github.com/streamlua/streamlua/scripts"
	"github.com/streamlua/streamlua/shdict"
)

// The reliability tests need to look inside the server (goroutines, heap,
// the dictionary's counters), so most of them run the bundled memcached
// script in an in-process host; those about flags, signals and restarts
// run the real binary. Helpers here are prefixed rel to stay clear of the
// other test files of the package.

// relHostOptions configure an in-process host. Zero values pick the
// defaults of `streamlua serve`.
type relHostOptions struct {
	dictSize    int64         // "memcached" dictionary (64 MiB)
	maxConns    int           // per-listener cap (1024)
	readTimeout time.Duration // socket default (60s)
	sendTimeout time.Duration // socket default (60s)
	execTimeout time.Duration // Lua budget (off)
	maxReceive  int           // largest single receive (64 MiB)
	maxIdle     int           // pooled idle Lua states (1024)
	settings    map[string]string
	entry       luaenv.Entry // default: the bundled memcached server
	packagePath string
}

// relHost is a running in-process host.
type relHost struct {
	srv  *luaenv.Server
	env  *luaenv.Env
	dict *shdict.Dict
	addr string
	logs *lockedBuffer
}

func startRelHost(t testing.TB, o relHostOptions) *relHost {
	t.Helper()
	if o.dictSize == 0 {
		o.dictSize = 64 << 20
	}
	if o.entry == (luaenv.Entry{}) {
		o.entry = luaenv.Entry{Module: "resty.memcached.server"}
	}
	d, err := shdict.New("memcached", o.dictSize, shdict.Options{})
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	env, err := luaenv.New(luaenv.Config{
		PackagePath:   o.packagePath,
		Bundled:       scripts.FS,
		Dicts:         []*shdict.Dict{d},
		Logger:        slog.New(slog.NewTextHandler(logs, nil)),
		Socket:        luaenv.SocketConfig{ReadTimeout: o.readTimeout, SendTimeout: o.sendTimeout, MaxReceive: o.maxReceive},
		ExecTimeout:   o.execTimeout,
		MaxIdleStates: o.maxIdle,
		Info:          &luaenv.Info{Version: "test", MaxItemSize: 1 << 20, MaxConns: o.maxConns, Settings: o.settings},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Prepare(o.entry); err != nil {
		t.Fatal(err)
	}
	srv := &luaenv.Server{Env: env, Addr: "127.0.0.1:0", Entry: o.entry, MaxConns: o.maxConns}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	go srv.Serve()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		env.Stop(ctx)
	})
	return &relHost{srv: srv, env: env, dict: d, addr: srv.ListenAddr().String(), logs: logs}
}

// waitIdle waits until the host has no open connection.
func (h *relHost) waitIdle(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for h.srv.Active() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections still open", h.srv.Active())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// relAsk sends req on c and reads until a line equal to last arrives.
func relAsk(c net.Conn, r *bufio.Reader, req, last string) (string, error) {
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte(req)); err != nil {
		return "", err
	}
	var b strings.Builder
	for {
		line, err := r.ReadString('\n')
		b.WriteString(line)
		if err != nil {
			return b.String(), err
		}
		if line == last || strings.HasSuffix(last, "*") && strings.HasPrefix(line, strings.TrimSuffix(last, "*")) {
			return b.String(), nil
		}
	}
}

// relVersion checks that a fresh connection to addr answers version.
func relVersion(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	got, err := relAsk(c, bufio.NewReader(c), "version\r\n", "VERSION *")
	if err != nil {
		return fmt.Errorf("version: %q: %v", got, err)
	}
	return nil
}

// relGoroutines waits (bounded) for the goroutine count to come down to
// at most limit and returns the last count seen. Exited connections take
// a moment to unwind, so one sample would be flaky.
func relGoroutines(limit int) int {
	n := runtime.NumGoroutine()
	for i := 0; i < 400 && n > limit; i++ {
		time.Sleep(10 * time.Millisecond)
		n = runtime.NumGoroutine()
	}
	return n
}

// relHeap is the live heap after a full collection.
func relHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

package tests

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamlua/streamlua/luaenv"
	"github.com/streamlua/streamlua/scripts"
	"github.com/streamlua/streamlua/shdict"
)

// A Lua suite file is a content handler plus, in its leading comment lines,
// the client side of the conversation:
//
//	--! send "get k\r\n"      write bytes (Go-quoted string)
//	--! expect "VALUE ...\n"  read exactly these bytes
//	--! sleep 50ms            pause before the next step
//	--! closewrite            half-close the client's write side
//	--! eof                   expect the server to close the connection
//	--! timeout 100ms         read timeout configured for the server socket
//
// The handler asserts with the helpers in tests/lua/lib/t.lua and reports
// "ok" (or whatever the steps expect); a Lua error fails the case and the
// server's log is printed.
type step struct {
	op  string
	arg string
}

func parseSteps(t *testing.T, path string) (steps []step, readTimeout time.Duration) {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "--!") {
			continue
		}
		op, arg, _ := strings.Cut(strings.TrimSpace(strings.TrimPrefix(line, "--!")), " ")
		arg = strings.TrimSpace(arg)
		switch op {
		case "send", "expect":
			s, err := strconv.Unquote(arg)
			if err != nil {
				t.Fatalf("%s: bad %s string %s: %v", path, op, arg, err)
			}
			arg = s
		case "timeout":
			d, err := time.ParseDuration(arg)
			if err != nil {
				t.Fatalf("%s: bad timeout %q", path, arg)
			}
			readTimeout = d
			continue
		case "sleep", "closewrite", "eof":
		default:
			t.Fatalf("%s: unknown step %q", path, op)
		}
		steps = append(steps, step{op, arg})
	}
	return steps, readTimeout
}

// lockedBuffer collects server logs from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startLuaServer runs an in-process host on a loopback port.
func startLuaServer(t *testing.T, entry luaenv.Entry, readTimeout time.Duration, logs io.Writer) (*luaenv.Server, string) {
	t.Helper()
	d, err := shdict.New("dogs", 1<<20, shdict.Options{})
	if err != nil {
		t.Fatal(err)
	}
	d2, err := shdict.New("memcached", 4<<20, shdict.Options{})
	if err != nil {
		t.Fatal(err)
	}
	env, err := luaenv.New(luaenv.Config{
		PackagePath: "lua/lib/?.lua;;",
		Bundled:     scripts.FS,
		Dicts:       []*shdict.Dict{d, d2},
		Logger:      slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Socket:      luaenv.SocketConfig{ReadTimeout: readTimeout},
		Info:        &luaenv.Info{Version: "test", MaxItemSize: 1 << 20},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Prepare(entry); err != nil {
		t.Fatal(err)
	}
	srv := &luaenv.Server{Env: env, Addr: "127.0.0.1:0", Entry: entry}
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
	return srv, srv.ListenAddr().String()
}

func TestLuaSuite(t *testing.T) {
	files, err := filepath.Glob("lua/*.lua")
	if err != nil || len(files) == 0 {
		t.Fatalf("no Lua suite files found: %v", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".lua")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			steps, rt := parseSteps(t, f)
			if len(steps) == 0 {
				t.Fatalf("%s has no --! steps", f)
			}
			logs := &lockedBuffer{}
			_, addr := startLuaServer(t, luaenv.Entry{File: f}, rt, logs)
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			for i, s := range steps {
				if err := runStep(c, s); err != nil {
					t.Fatalf("step %d (%s %q): %v\nserver log:\n%s", i+1, s.op, s.arg, err, logs.String())
				}
			}
		})
	}
}

func runStep(c net.Conn, s step) error {
	switch s.op {
	case "send":
		_, err := c.Write([]byte(s.arg))
		return err
	case "sleep":
		d, err := time.ParseDuration(s.arg)
		if err != nil {
			return err
		}
		time.Sleep(d)
	case "closewrite":
		return c.(*net.TCPConn).CloseWrite()
	case "expect":
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		got := make([]byte, len(s.arg))
		n, err := io.ReadFull(c, got)
		if err != nil || string(got) != s.arg {
			return &mismatch{want: s.arg, got: string(got[:n]), err: err}
		}
	case "eof":
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		rest, err := io.ReadAll(c)
		if err != nil || len(rest) != 0 {
			return &mismatch{want: "<EOF>", got: string(rest), err: err}
		}
	}
	return nil
}

type mismatch struct {
	want, got string
	err       error
}

func (m *mismatch) Error() string {
	s := "want " + strconv.Quote(m.want) + ", got " + strconv.Quote(m.got)
	if m.err != nil {
		s += " (" + m.err.Error() + ")"
	}
	return s
}

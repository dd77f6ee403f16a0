package luaenv

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/streamlua/streamlua/shdict"
)

// The host's hot path measured without the memcached script: a Lua handler
// that reads a command line, looks a key up in a shared dict and answers,
// driven over loopback with 16 requests in flight. It shows what the host
// costs per request (socket, tokenising, dict binding, send, flush).
var benchHandlers = map[string]string{
	// receive_command splits the line in Go.
	"receive_command": `
local sock = ngx.req.socket(true)
local dict = ngx.shared.d
local get, send, recv = dict.get, sock.send, sock.receive_command
local tok = {}
while true do
    local n = recv(sock, tok)
    if not n then return end
    local v = get(dict, tok[2])
    if v then
        send(sock, "VALUE ", tok[2], " 0 ", #v, "\r\n", v, "\r\nEND\r\n")
    else
        send(sock, "END\r\n")
    end
end`,
	// receive("*l") plus string.find/sub, the plain OpenResty way.
	"receive_line": `
local sock = ngx.req.socket(true)
local dict = ngx.shared.d
local get, send, recv = dict.get, sock.send, sock.receive
local find, sub = string.find, string.sub
while true do
    local line = recv(sock)
    if not line then return end
    local sp = find(line, " ", 1, true)
    local key = sub(line, sp + 1)
    local v = get(dict, key)
    if v then
        send(sock, "VALUE ", key, " 0 ", #v, "\r\n", v, "\r\nEND\r\n")
    else
        send(sock, "END\r\n")
    end
end`,
}

func BenchmarkHostGet(b *testing.B) {
	for name, src := range benchHandlers {
		b.Run(name, func(b *testing.B) {
			dir := b.TempDir()
			file := filepath.Join(dir, "h.lua")
			os.WriteFile(file, []byte(src), 0o644)
			d, _ := shdict.New("d", 8<<20, shdict.Options{})
			for i := 0; i < 1000; i++ {
				d.Set(fmt.Sprintf("key:%d", i), shdict.String("0123456789abcdef0123456789abcdef"), 0, 0)
			}
			env, err := New(Config{Dicts: []*shdict.Dict{d}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				b.Fatal(err)
			}
			srv := &Server{Env: env, Addr: "127.0.0.1:0", Entry: Entry{File: file}}
			if err := srv.Listen(); err != nil {
				b.Fatal(err)
			}
			go srv.Serve()
			defer srv.Shutdown(context.Background())
			c, err := net.Dial("tcp", srv.ListenAddr().String())
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			const depth = 16
			var req bytes.Buffer
			for i := 0; i < depth; i++ {
				fmt.Fprintf(&req, "get key:%d\r\n", i*37%1000)
			}
			r := bufio.NewReaderSize(c, 64<<10)
			b.ResetTimer()
			for done := 0; done < b.N; done += depth {
				c.SetDeadline(time.Now().Add(10 * time.Second))
				if _, err := c.Write(req.Bytes()); err != nil {
					b.Fatal(err)
				}
				for i := 0; i < depth; {
					line, err := r.ReadSlice('\n')
					if err != nil {
						b.Fatal(err)
					}
					if bytes.Equal(line, []byte("END\r\n")) {
						i++
					}
				}
			}
		})
	}
}

func BenchmarkSplitWords(b *testing.B) {
	v := newBenchVM(b)
	t := v.L.NewTable()
	line := []byte("set key:12345 0 900 32 noreply")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		v.splitWords(t, line)
	}
}

func newBenchVM(b *testing.B) *vm {
	env, err := New(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	return env.get()
}

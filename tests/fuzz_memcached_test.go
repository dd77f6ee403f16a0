package tests

import (
	"encoding/binary"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Protocol fuzzing of a live server: each input is written to a fresh
// connection of an in-process host running the bundled memcached script,
// the write side is closed, and every reply is drained. After each input
// the server must have closed the connection, logged no error (a Lua
// error or a recovered panic means a command path the script does not
// guard), leaked no goroutine, and must still answer version.
//
// `go test` runs the seeds in testdata/fuzz (and the f.Add ones) as
// ordinary tests; to search for new inputs run, for example,
//
//	go test ./tests -run '^$' -fuzz FuzzMemcachedText -fuzztime 10m
//	go test ./tests -run '^$' -fuzz FuzzMemcachedBinary -fuzztime 10m

// relFuzzSeeds are text-protocol streams covering every command family,
// malformed lines and blocks, and pipelining.
var relFuzzSeeds = []string{
	"set a 0 0 1\r\nx\r\nget a\r\n",
	"set a 5 100 3 noreply\r\nabc\r\ngets a b c\r\ngat 10 a\r\ngats 0 a\r\n",
	"add n 0 0 1\r\n1\r\nincr n 18446744073709551615\r\ndecr n 99\r\nincr n x\r\n",
	"append a 0 0 2\r\nzz\r\nprepend a 0 0 2\r\nyy\r\nreplace a 0 0 0\r\n\r\n",
	"cas a 0 0 1 1\r\nq\r\ncas a 0 0 1 notanumber\r\nq\r\n",
	"touch a 10\r\ndelete a\r\ndelete a noreply\r\ndelete a 0\r\n",
	"mg a v f t c k s\r\nms a 2 T10 F3\r\nhi\r\nmd a q\r\nma n N0 J5 D3\r\nmn\r\nme a\r\n",
	"ms a S2 I\r\nhi\r\nmg a O123456789012345678901234567890123 k b\r\n",
	"mg v N30 v t h\r\nmg v R10 T5 t u\r\nmd v I T30 q\r\nms v 1 I C1\r\nx\r\nmg v\r\nme v\r\nma w N0 J5 t T9 q\r\n",
	"stats\r\nstats settings\r\nstats items\r\nstats slabs\r\nstats sizes\r\nstats reset\r\nstats nonsense\r\n",
	"flush_all 0\r\nflush_all noreply\r\nverbosity 1\r\nversion\r\nshutdown\r\nquit\r\nversion\r\n",
	"set a 0 0 5\r\nabc\r\n",                    // short block
	"set a 0 0 -1\r\nset a 0 0 99999999999\r\n", // bad lengths
	"set a 0 0 2000000\r\n" + strings.Repeat("v", 3000),
	"get " + strings.Repeat("k", 300) + "\r\n",
	"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
	"\r\n\r\n \r\n\x00\x00set\x00 a\r\n",
	strings.Repeat("get a\r\n", 200),
	strings.Repeat("x", 2100),
	"incr\r\ndecr a\r\ntouch\r\ncas\r\nmg\r\nms a\r\nma\r\n",
}

// relBinaryRequest builds a memcached binary-protocol request header (and
// body): the protocol the script does not speak, which it must refuse
// without falling over.
func relBinaryRequest(opcode byte, key, extras, value string) []byte {
	b := make([]byte, 24, 24+len(extras)+len(key)+len(value))
	b[0] = 0x80
	b[1] = opcode
	binary.BigEndian.PutUint16(b[2:], uint16(len(key)))
	b[4] = byte(len(extras))
	binary.BigEndian.PutUint32(b[8:], uint32(len(extras)+len(key)+len(value)))
	b = append(b, extras...)
	b = append(b, key...)
	return append(b, value...)
}

// relFuzzTarget is the per-input check shared by both targets.
type relFuzzTarget struct {
	h    *relHost
	base int // goroutines with the host idle
}

func newRelFuzzTarget(f *testing.F) *relFuzzTarget {
	h := startRelHost(f, relHostOptions{dictSize: 4 << 20})
	for i := 0; i < 4; i++ {
		if err := relVersion(h.addr); err != nil {
			f.Fatal(err)
		}
	}
	h.waitIdle(f)
	base := runtime.NumGoroutine()
	for i := 0; i < 20; i++ {
		time.Sleep(5 * time.Millisecond)
		base = min(base, runtime.NumGoroutine())
	}
	return &relFuzzTarget{h: h, base: base}
}

func (ft *relFuzzTarget) run(t *testing.T, data []byte) {
	c, err := net.Dial("tcp", ft.h.addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(20 * time.Second))
	// Write and read at once: the server may stop reading (it closes on
	// some inputs) or answer more than socket buffers hold.
	go func() {
		c.Write(data)
		c.(*net.TCPConn).CloseWrite()
	}()
	_, err = io.Copy(io.Discard, c)
	c.Close()
	if err != nil && !strings.Contains(err.Error(), "reset by peer") {
		t.Fatalf("server did not finish the connection: %v", err)
	}
	ft.h.waitIdle(t)
	if logs := ft.h.logs.String(); strings.Contains(logs, "level=ERROR") {
		t.Fatalf("the server logged an error for input %q:\n%s", data, logs)
	}
	if err := relVersion(ft.h.addr); err != nil {
		t.Fatalf("server stopped answering after input %q: %v", data, err)
	}
	ft.h.waitIdle(t)
	if g := relGoroutines(ft.base + 3); g > ft.base+3 {
		buf := make([]byte, 1<<20)
		n := runtime.Stack(buf, true)
		t.Fatalf("goroutine leak after input %q: %d, baseline %d\n%s", data, g, ft.base, buf[:n])
	}
}

func FuzzMemcachedText(f *testing.F) {
	for _, s := range relFuzzSeeds {
		f.Add([]byte(s))
	}
	ft := newRelFuzzTarget(f)
	f.Fuzz(ft.run)
}

func FuzzMemcachedBinary(f *testing.F) {
	extras := string([]byte{0, 0, 0, 5, 0, 0, 0, 0}) // flags, exptime
	for _, b := range [][]byte{
		relBinaryRequest(0x00, "a", "", ""),                                                // get
		relBinaryRequest(0x01, "a", extras, "value"),                                       // set
		relBinaryRequest(0x0a, "", "", ""),                                                 // noop
		relBinaryRequest(0x05, "n", string(make([]byte, 20)), ""),                          // incr
		append(relBinaryRequest(0x0c, "a", "", ""), relBinaryRequest(0x07, "", "", "")...), // getk, quit
		relBinaryRequest(0x01, "a", extras, "")[:30],                                       // cut short
		{0x80},
	} {
		f.Add(b)
	}
	ft := newRelFuzzTarget(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		// Keep every input binary-looking; mutations of the rest are free.
		if len(data) == 0 || data[0] != 0x80 {
			data = append([]byte{0x80}, data...)
		}
		ft.run(t, data)
	})
}

package tests

import (
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkIdleConnections measures the real binary's resident memory with
// 10,000 idle clients connected to the bundled memcached (each holding a
// pooled LState, its buffers and its goroutine): the performance target is
// at most 600 MiB in total. Run it with
//
//	go test ./tests -run '^$' -bench IdleConnections -benchtime 1x
//
// It needs an open-files limit above 10,000 for this process.
func BenchmarkIdleConnections(b *testing.B) {
	const n = 10000
	p := startStreamlua(b, "--max-conns", "20000", "--log-level", "warn")
	before := rssMiB(b, p.Cmd.Process.Pid)
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp", p.Addr)
		if err != nil {
			b.Fatalf("connection %d: %v", i, err)
		}
		conns = append(conns, c)
	}
	// Every handler is waiting in receive once a version round trip works
	// on the last connection.
	last := conns[len(conns)-1]
	last.SetDeadline(time.Now().Add(30 * time.Second))
	last.Write([]byte("version\r\n"))
	buf := make([]byte, 64)
	if _, err := last.Read(buf); err != nil {
		b.Fatal(err)
	}
	time.Sleep(time.Second)
	after := rssMiB(b, p.Cmd.Process.Pid)
	b.ReportMetric(after, "MiB-rss-10k-idle")
	b.ReportMetric((after-before)*1024/n, "KiB-per-conn")
}

func rssMiB(b *testing.B, pid int) float64 {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	b.Fatal("no VmRSS")
	return 0
}

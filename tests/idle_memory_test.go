package tests

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkIdleConnections measures the real binary's resident memory with
// 10,000 idle clients connected to the bundled memcached, each having
// made one request: the performance target is at most 600 MiB in total.
// An idle connection gives its Lua state and buffers back after
// memcached.idle_release (0.1 s), keeping only its goroutine and socket;
// the benchmark checks that every one of them is parked. Run it with
//
//	go test ./tests -run '^$' -bench IdleConnections -benchtime 1x
//
// It needs an open-files limit above 10,000 for this process.
func BenchmarkIdleConnections(b *testing.B) {
	const n = 10000
	metricsAddr := fmt.Sprintf("127.0.0.1:%d", freePort(b))
	p := startStreamlua(b, "--max-conns", "20000", "--log-level", "warn", "--metrics-listen", metricsAddr)
	before := rssMiB(b, p.Cmd.Process.Pid)
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	buf := make([]byte, 64)
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp", p.Addr)
		if err != nil {
			b.Fatalf("connection %d: %v", i, err)
		}
		conns = append(conns, c)
		// Each connection has been used, as a pooled client's are: it has
		// run a request through the memcached modules before going idle.
		c.SetDeadline(time.Now().Add(30 * time.Second))
		if _, err := c.Write([]byte("version\r\n")); err != nil {
			b.Fatal(err)
		}
		if _, err := c.Read(buf); err != nil {
			b.Fatalf("connection %d: %v", i, err)
		}
	}
	time.Sleep(time.Second)
	after := rssMiB(b, p.Cmd.Process.Pid)
	m := scrapeMetrics(b, metricsAddr)
	parked, _ := m.find("streamlua_connections_parked")
	live, _ := m.find("streamlua_lua_states_live")
	if parked < n {
		b.Errorf("%v of %d idle connections parked (%v states live): idle release is not working", parked, n, live)
	}
	b.ReportMetric(parked, "parked")
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

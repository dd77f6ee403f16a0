package tests

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// BenchmarkTextGetSet drives the real binaries over loopback with the
// memcached text protocol: a 9:1 mix of get and set over 1,000 keys with
// 32-byte values, from 8 connections, either one request at a time
// (pipeline 1) or in pipelined batches of 16. It runs the same load
// against memcached (-t 1) and against streamlua (GOMAXPROCS=1), and
// reports, besides ns/op, the server process's CPU time per operation
// (user+system, from /proc): the figure to compare, since on a small
// machine the load generator itself bounds ops/s at pipeline 1.
//
//	go test ./tests -run '^$' -bench TextGetSet -benchtime 200000x
func BenchmarkTextGetSet(b *testing.B) {
	for _, server := range []string{"memcached", "streamlua"} {
		for _, depth := range []int{1, 16} {
			b.Run(fmt.Sprintf("%s/pipeline=%d", server, depth), func(b *testing.B) {
				var p *Proc
				if server == "memcached" {
					p = startMemcached(b)
				} else {
					if g := os.Getenv("BENCH_GOMAXPROCS"); g != "" {
						b.Setenv("GOMAXPROCS", g)
					} else {
						b.Setenv("GOMAXPROCS", "1")
					}
					p = startStreamlua(b, "--log-level", "warn")
				}
				benchGetSet(b, p, depth)
			})
		}
	}
}

const (
	benchConns = 8
	benchKeys  = 1000
)

func benchGetSet(b *testing.B, p *Proc, depth int) {
	value := strings.Repeat("v", 32)
	preload(b, p.Addr, value)
	conns := make([]net.Conn, benchConns)
	for i := range conns {
		c, err := net.Dial("tcp", p.Addr)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		conns[i] = c
	}
	cpu0 := procCPU(b, p.Cmd.Process.Pid)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, benchConns)
	for i, c := range conns {
		n := b.N / benchConns
		if i < b.N%benchConns {
			n++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := driveConn(c, n, depth, value, uint64(i)); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	cpu := procCPU(b, p.Cmd.Process.Pid) - cpu0
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "server-cpu-µs/op")
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "ops/s")
}

func preload(b *testing.B, addr, value string) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	var req bytes.Buffer
	for k := range benchKeys {
		fmt.Fprintf(&req, "set key:%d 0 0 %d noreply\r\n%s\r\n", k, len(value), value)
	}
	req.WriteString("mn\r\n")
	if _, err := c.Write(req.Bytes()); err != nil {
		b.Fatal(err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || line != "MN\r\n" {
		b.Fatalf("preload: %q %v", line, err)
	}
}

// driveConn sends n requests in batches of depth and checks every reply.
func driveConn(c net.Conn, n, depth int, value string, seed uint64) error {
	rng := rand.New(rand.NewPCG(seed, 99))
	r := bufio.NewReaderSize(c, 64<<10)
	var req bytes.Buffer
	kinds := make([]bool, 0, depth)
	for n > 0 {
		batch := min(depth, n)
		n -= batch
		req.Reset()
		kinds = kinds[:0]
		for range batch {
			k := rng.IntN(benchKeys)
			isSet := rng.IntN(10) == 0
			kinds = append(kinds, isSet)
			if isSet {
				fmt.Fprintf(&req, "set key:%d 0 0 %d\r\n%s\r\n", k, len(value), value)
			} else {
				fmt.Fprintf(&req, "get key:%d\r\n", k)
			}
		}
		if _, err := c.Write(req.Bytes()); err != nil {
			return err
		}
		for _, isSet := range kinds {
			if err := readReply(r, isSet); err != nil {
				return err
			}
		}
	}
	return nil
}

func readReply(r *bufio.Reader, isSet bool) error {
	line, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	if isSet {
		if line != "STORED\r\n" {
			return fmt.Errorf("set: %q", line)
		}
		return nil
	}
	for line != "END\r\n" {
		f := strings.Fields(line)
		if len(f) < 4 || f[0] != "VALUE" {
			return fmt.Errorf("get: %q", line)
		}
		size, err := strconv.Atoi(f[3])
		if err != nil {
			return err
		}
		if _, err := io.CopyN(io.Discard, r, int64(size)+2); err != nil {
			return err
		}
		if line, err = r.ReadString('\n'); err != nil {
			return err
		}
	}
	return nil
}

// procCPU is a process's user+system CPU time so far.
func procCPU(b *testing.B, pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Skipf("no /proc: %v", err)
	}
	// Fields after the ")" that ends the command name; utime and stime are
	// the 14th and 15th fields of the whole line.
	rest := string(data[bytes.LastIndexByte(data, ')')+2:])
	f := strings.Fields(rest)
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticks
}

package loadgen

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// startMemcached starts the real memcached (-t 1, UDP off) on a free
// loopback port and returns its address and process. Without the binary
// the test is skipped on a developer machine and fails under CI.
func startMemcached(t *testing.T) (string, *os.Process) {
	t.Helper()
	bin, err := exec.LookPath("memcached")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("memcached is not installed; CI must install it")
		}
		t.Skip("memcached is not installed (set CI=1 to make this a failure)")
	}
	for attempt := 0; attempt < 5; attempt++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		args := []string{"-l", "127.0.0.1", "-p", strconv.Itoa(port), "-U", "0", "-t", "1"}
		if os.Geteuid() == 0 {
			args = append(args, "-u", "root")
		}
		cmd := exec.Command(bin, args...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		// Wait (bounded) until it accepts, or until it exits because
		// someone took the port in between.
		for i := 0; i < 200; i++ {
			select {
			case <-exited:
				i = 200
				continue
			default:
			}
			if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
				c.Close()
				t.Cleanup(func() {
					_ = cmd.Process.Kill()
					<-exited
				})
				return addr, cmd.Process
			}
			time.Sleep(10 * time.Millisecond)
		}
		_ = cmd.Process.Kill()
		<-exited
	}
	t.Fatal("memcached did not start")
	return "", nil
}

// TestAgainstMemcached runs the generator for a short, bounded time against
// the real server in each mode: every reply must be valid and every GET
// after the prefill must hit with the exact value.
func TestAgainstMemcached(t *testing.T) {
	addr, proc := startMemcached(t)
	for _, tt := range []struct {
		name      string
		proto     Protocol
		pipeline  int
		valueSize int
		requests  int64
	}{
		{name: "text p1", proto: Text, pipeline: 1, valueSize: 32},
		{name: "text p16", proto: Text, pipeline: 16, valueSize: 32},
		{name: "text 4 KiB values", proto: Text, pipeline: 4, valueSize: 4096},
		{name: "binary p1", proto: Binary, pipeline: 1, valueSize: 32},
		{name: "binary p16", proto: Binary, pipeline: 16, valueSize: 32},
		{name: "binary 4 KiB values", proto: Binary, pipeline: 4, valueSize: 4096},
		{name: "text request count", proto: Text, pipeline: 8, valueSize: 100, requests: 5000},
		{name: "binary request count", proto: Binary, pipeline: 8, valueSize: 100, requests: 5000},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Addr = addr
			cfg.Protocol = tt.proto
			cfg.Conns = 4
			cfg.Pipeline = tt.pipeline
			cfg.Keys = 1000
			cfg.KeyPrefix = "lg:" + tt.proto.String() + ":"
			cfg.ValueSize = tt.valueSize
			cfg.Duration = 300 * time.Millisecond
			cfg.Requests = tt.requests
			if tt.requests > 0 {
				cfg.Duration = 0
			}
			cfg.ServerPID = proc.Pid
			res, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if res.Ops == 0 || res.Errors != 0 || res.FirstError != "" {
				t.Fatalf("ops %d errors %d (%s)", res.Ops, res.Errors, res.FirstError)
			}
			if tt.requests > 0 && res.Ops != tt.requests {
				t.Fatalf("ops %d, want exactly %d", res.Ops, tt.requests)
			}
			if res.Gets == 0 || res.Sets == 0 || res.Hits != res.Gets || res.Misses != 0 {
				t.Fatalf("gets %d hits %d misses %d sets %d: every get should hit after the prefill", res.Gets, res.Hits, res.Misses, res.Sets)
			}
			if res.Latency.P50 <= 0 || res.Latency.P50 > res.Latency.P99 || res.Latency.P99 > res.Latency.Max {
				t.Fatalf("latency summary %+v", res.Latency)
			}
		})
	}
	t.Run("misses without prefill", func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.Addr = addr
		cfg.Conns, cfg.Pipeline = 2, 4
		cfg.KeyPrefix = "lg:never-stored:"
		cfg.Ratio = Ratio{Get: 1, Set: 0}
		cfg.Prefill = false
		cfg.Duration, cfg.Requests = 0, 400
		res, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if res.Misses != 400 || res.Hits != 0 || res.Errors != 0 {
			t.Fatalf("misses %d hits %d errors %d, want 400 0 0", res.Misses, res.Hits, res.Errors)
		}
	})
}

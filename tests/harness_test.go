// Package tests holds streamlua's end-to-end tests: they build the real
// binary, start it on loopback ports, and drive it with real clients and
// tools, often side by side with the real memcached as the reference.
package tests

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// streamluaBinary builds cmd/streamlua once per test run, or returns
// $STREAMLUA_BIN.
func streamluaBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		// STREAMLUA_BIN tests a binary built elsewhere (another build mode,
		// a release artifact) instead of building one.
		if p := os.Getenv("STREAMLUA_BIN"); p != "" {
			binPath = p
			return
		}
		dir, err := os.MkdirTemp("", "streamlua-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "streamlua")
		cmd := exec.Command("go", "build", "-o", binPath, "../cmd/streamlua")
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// needTool returns the path of an external tool. Without it the test is
// skipped on a developer machine and fails under CI, where .ci/run must
// have installed it.
func needTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/usr/local/sbin", "/sbin"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return filepath.Join(dir, name)
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is not installed; .ci/run must install it", name)
	}
	t.Skipf("%s is not installed (set CI=1 to make this a failure)", name)
	return ""
}

// freePort finds a loopback port that is free right now.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Proc is a server process started by a test.
type Proc struct {
	Addr    string
	Cmd     *exec.Cmd
	logs    *syncBuffer
	exited  chan struct{}
	waitErr error
}

// Wait waits for the process to exit (it is reaped by the harness; never
// call Cmd.Wait) and returns its exit error.
func (p *Proc) Wait(timeout time.Duration) (error, bool) {
	select {
	case <-p.exited:
		return p.waitErr, true
	case <-time.After(timeout):
		return nil, false
	}
}

// Logs returns what the process has written to stderr and stdout so far.
func (p *Proc) Logs() string { return p.logs.String() }

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startProc starts a server and waits until addr accepts connections.
func startProc(t testing.TB, addr string, name string, args ...string) *Proc {
	t.Helper()
	cmd := exec.Command(name, args...)
	logs := &syncBuffer{}
	cmd.Stdout = logs
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	exited := make(chan struct{})
	p := &Proc{Addr: addr, Cmd: cmd, logs: logs, exited: exited}
	go func() {
		p.waitErr = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		select {
		case <-exited:
			return
		default:
		}
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return p
		}
		select {
		case <-exited:
			t.Fatalf("%s exited early: %s", name, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not listen on %s: %s", name, addr, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startStreamlua runs `streamlua serve --listen 127.0.0.1:PORT` plus args.
// It returns once the server logs "serving": serve binds its listeners
// before it sets the memory limit and GC pacing, loads the snapshot and
// subscribes to signals (connections wait in the backlog meanwhile), so
// the port answering does not yet mean those are done and logged. With a
// log level above info that line is not written, and the port suffices.
func startStreamlua(t testing.TB, args ...string) *Proc {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	p := startProc(t, addr, streamluaBinary(t), append([]string{"serve", "--listen", addr}, args...)...)
	for i, a := range args {
		if a == "--log-level" && i+1 < len(args) && args[i+1] != "info" && args[i+1] != "debug" {
			return p
		}
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		logs := p.Logs()
		if strings.Contains(logs, "msg=serving listen=") || strings.Contains(logs, `"msg":"serving","listen"`) {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("streamlua did not log \"serving\": %s", logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// startMemcached runs the real memcached (the reference) on a free port.
func startMemcached(t testing.TB, args ...string) *Proc {
	t.Helper()
	bin := needTool(t, "memcached")
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	base := []string{"-l", "127.0.0.1", "-p", fmt.Sprint(port), "-U", "0", "-t", "1"}
	if os.Geteuid() == 0 {
		base = append(base, "-u", "root")
	}
	return startProc(t, addr, bin, append(base, args...)...)
}

// roundTrip sends raw bytes on a fresh connection and reads replies until
// the server has been quiet for quiet, or closes.
func roundTrip(t testing.TB, addr string, req string, quiet time.Duration) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	r := bufio.NewReader(c)
	buf := make([]byte, 64<<10)
	for {
		c.SetReadDeadline(time.Now().Add(quiet))
		n, err := r.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			return out.String()
		}
	}
}

// checkBattery fails a differential test whose battery is smaller than the
// issue asks for or names two cases alike (a duplicate name would hide one
// case's result behind the other's).
func checkBattery(t *testing.T, names []string, min int) {
	t.Helper()
	if len(names) < min {
		t.Fatalf("battery has %d sequences, want at least %d", len(names), min)
	}
	seen := make(map[string]bool, len(names))
	for _, n := range names {
		if seen[n] {
			t.Fatalf("duplicate case name %q", n)
		}
		seen[n] = true
	}
}

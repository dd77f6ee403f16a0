package tests

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/streamlua/streamlua/luaenv"
)

// Limits: the listen default, command-line lengths, receive caps, idle and
// slow clients, the Lua budget, the memory limit and TLS.

func TestRelDefaultListenIsLoopback(t *testing.T) {
	out, _, code := runCLI(t, "serve", "--help")
	if code != 0 {
		t.Fatalf("serve --help: exit %d", code)
	}
	if !regexp.MustCompile(`--listen string .*\(default "127\.0\.0\.1:11211"\)`).MatchString(out) {
		t.Fatalf("--listen does not default to loopback:\n%s", out)
	}
	// And in fact: with no --listen, a non-loopback address of this host
	// is not served. Needs the default port free and such an address.
	var outside net.IP
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			outside = n.IP
			break
		}
	}
	if outside == nil {
		t.Skip("no non-loopback IPv4 address to probe")
	}
	l, err := net.Listen("tcp", "127.0.0.1:11211")
	if err != nil {
		t.Skip("127.0.0.1:11211 is in use")
	}
	l.Close()
	startProc(t, "127.0.0.1:11211", streamluaBinary(t), "serve", "--dict", "memcached=1m")
	c, err := net.DialTimeout("tcp", net.JoinHostPort(outside.String(), "11211"), 2*time.Second)
	if err == nil {
		c.Close()
		t.Fatalf("the default listener answers on %s", outside)
	}
}

func TestRelCommandLineLimits(t *testing.T) {
	h := startRelHost(t, relHostOptions{settings: map[string]string{"memcached.max_line": "65536"}})
	keys := strings.TrimSpace(strings.Repeat("k123456789 ", 500)) // 5.5 KB of keys
	cases := []struct {
		name, req, want string
		closed          bool
	}{
		{"2 KiB without a newline closes", strings.Repeat("x", 3000), "", true},
		{"a long set line closes", "set " + strings.Repeat("k", 2100), "", true},
		{"long multi-get is allowed", "get " + keys + "\r\n", "END\r\n", false},
		{"multi-get over max_line closes", "get " + strings.Repeat(keys+" ", 13), "", true},
		{"key over 250 bytes", "get " + strings.Repeat("k", 251) + "\r\n", "CLIENT_ERROR bad command line format\r\n", false},
		{"data block over the item size", "set big 0 0 2000000\r\n" + strings.Repeat("v", 2000000) + "\r\nversion\r\n", "SERVER_ERROR object too large for cache\r\nVERSION 1.6.18+streamlua\r\n", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", h.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(20 * time.Second))
			werr := make(chan error, 1)
			go func() {
				_, err := io.WriteString(conn, c.req)
				werr <- err
			}()
			r := bufio.NewReader(conn)
			got := make([]byte, len(c.want))
			if _, err := io.ReadFull(r, got); err != nil || string(got) != c.want {
				t.Fatalf("got %q (%v), want %q", got, err, c.want)
			}
			if c.closed {
				if b, err := r.ReadByte(); err == nil {
					t.Fatalf("connection still open: read %q", b)
				}
			} else if <-werr == nil {
				if got, err := relAsk(conn, r, "version\r\n", "VERSION *"); err != nil {
					t.Fatalf("connection unusable afterwards: %q %v", got, err)
				}
			}
		})
	}
}

// TestRelReceiveCaps shows that a script cannot be made to buffer more
// than the host's caps, whatever it asks for or the client sends.
func TestRelReceiveCaps(t *testing.T) {
	const maxReceive = 1 << 20
	h := startRelHost(t, relHostOptions{
		maxReceive: maxReceive,
		entry:      luaenv.Entry{File: filepath.Join("testdata", "reliability", "receive_caps.lua")},
	})
	flood := strings.Repeat("z", 2*maxReceive)
	cases := []struct {
		name, req, want string
	}{
		{"size over the cap fails at once", "size 1e12\r\n", "err no memory\r\n"},
		{"size under the cap works", "size 10\r\n0123456789", "ok 10\r\n"},
		{"*a stops at the cap", "all\r\n" + flood, "err no memory\r\n"},
		{"receiveuntil stops at the cap", "until END\r\n" + flood, "err no memory\r\n"},
		{"*l stops at --max-line", "line\r\n" + flood, "err line too long\r\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", h.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(20 * time.Second))
			go io.WriteString(conn, c.req)
			got, _ := bufio.NewReader(conn).ReadString('\n')
			if got != c.want {
				t.Fatalf("got %q, want %q", got, c.want)
			}
		})
	}
}

// relDrip writes s one byte at a time, every gap, until the server closes
// the connection or s runs out; it reports whether the server closed.
func relDrip(c net.Conn, s string, gap time.Duration) bool {
	for i := 0; i < len(s); i++ {
		if _, err := c.Write([]byte{s[i]}); err != nil {
			return true
		}
		c.SetReadDeadline(time.Now().Add(gap))
		if _, err := c.Read(make([]byte, 1)); err != nil && !os.IsTimeout(err) {
			return true
		}
	}
	return false
}

// TestRelIdleTimeout: with memcached.idle_timeout set, a silent client is
// closed after the timeout and not before, a client that keeps sending
// commands is never closed, and a slowloris client (a byte at a time,
// never completing a command) is closed too. Without the setting nothing
// is closed (TestMemcachedIdleClient shows both basic cases).
func TestRelIdleTimeout(t *testing.T) {
	const idle = time.Second
	h := startRelHost(t, relHostOptions{settings: map[string]string{"memcached.idle_timeout": "1"}})
	cases := []struct {
		name string
		run  func(t *testing.T, c net.Conn)
	}{
		{"silent client: closed, not before the timeout", func(t *testing.T, c net.Conn) {
			start := time.Now()
			c.SetReadDeadline(time.Now().Add(20 * time.Second))
			if _, err := c.Read(make([]byte, 1)); err != io.EOF {
				t.Fatalf("read %v, want EOF", err)
			}
			if e := time.Since(start); e < idle {
				t.Fatalf("closed after %v, before the idle timeout of %v", e, idle)
			}
		}},
		{"active client: kept past the timeout", func(t *testing.T, c net.Conn) {
			r := bufio.NewReader(c)
			for end := time.Now().Add(3 * idle); time.Now().Before(end); {
				if got, err := relAsk(c, r, "version\r\n", "VERSION *"); err != nil {
					t.Fatalf("closed while active: %q %v", got, err)
				}
				time.Sleep(idle / 10)
			}
		}},
		{"slowloris in a data block: closed", func(t *testing.T, c net.Conn) {
			io.WriteString(c, "set k 0 0 100\r\n")
			if !relDrip(c, strings.Repeat("x", 100), idle/5) {
				t.Fatal("a data block sent a byte at a time was never cut off")
			}
		}},
		{"slowloris in a command line: closed", func(t *testing.T, c net.Conn) {
			if !relDrip(c, "get "+strings.Repeat("k", 40), idle/5) {
				t.Fatal("a command line sent a byte at a time was never cut off (see RELIABILITY.md: the script must time idle_timeout from the last command)")
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			conn, err := net.Dial("tcp", h.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			c.run(t, conn)
		})
	}
}

func TestRelLuaExecTimeout(t *testing.T) {
	cases := []struct {
		name    string
		args    []string
		ask     func(c *lineConn) (string, error)
		spin    string
		wantLog string
	}{
		{"content handler", []string{"--dict", "x=1m", "--content", filepath.Join("testdata", "reliability", "spin.lua")},
			func(c *lineConn) (string, error) { return c.ask("hello") }, "spin",
			filepath.Join("testdata", "reliability", "spin.lua") + ":12: lua exec timeout"},
		{"memcached command under pcall", []string{"--dict", "memcached=8m", "--package-path", filepath.Join("testdata", "reliability", "?.lua") + ";;", "--handler", "spin_memcached"},
			func(c *lineConn) (string, error) { return c.ask("version") }, "spin",
			"lua exec timeout of 200ms exceeded"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := startStreamlua(t, append(tc.args, "--lua-exec-timeout", "200ms")...)
			before := dialLine(t, p.Addr)
			if _, err := tc.ask(before); err != nil {
				t.Fatal(err)
			}
			spinner := dialLine(t, p.Addr)
			if _, err := tc.ask(spinner); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(spinner.c, "%s\r\n", tc.spin)
			spinner.c.SetReadDeadline(time.Now().Add(20 * time.Second))
			rest, _ := io.ReadAll(spinner.r)
			if strings.Contains(string(rest), "VERSION") || strings.Contains(string(rest), "echo") {
				t.Fatalf("spinning connection answered %q", rest)
			}
			waitFor(t, "the timeout in the log", func() bool { return strings.Contains(p.Logs(), tc.wantLog) })
			if _, err := tc.ask(before); err != nil {
				t.Fatalf("a connection opened before the spin: %v\n%s", err, p.Logs())
			}
			if _, err := tc.ask(dialLine(t, p.Addr)); err != nil {
				t.Fatalf("a new connection: %v", err)
			}
		})
	}
	t.Run("waiting is not charged", func(t *testing.T) {
		p := startStreamlua(t, "--dict", "x=1m", "--content", filepath.Join("testdata", "reliability", "spin.lua"), "--lua-exec-timeout", "200ms")
		dialLine(t, p.Addr).mustAsk("sleep", "slept")
	})
}

func TestRelMemoryLimit(t *testing.T) {
	logged := regexp.MustCompile(`msg="memory limit" limit=(\S+) source=("[^"]*"|\S+)`)
	cases := []struct {
		name   string
		env    []string
		args   []string
		limit  string
		source string
	}{
		{"derived from the dictionaries", nil, []string{"--dict", "a=100m", "--dict", "b=28m"}, strconv.Itoa((128<<20)*3/2 + 256<<20), `"dictionary caps x 1.5 + 256m"`},
		{"flag", nil, []string{"--dict", "a=1m", "--memory-limit", "1g"}, strconv.Itoa(1 << 30), "--memory-limit"},
		{"flag off", nil, []string{"--dict", "a=1m", "--memory-limit", "off"}, "off", "--memory-limit"},
		{"GOMEMLIMIT kept", []string{"GOMEMLIMIT=300MiB"}, []string{"--dict", "a=1m"}, strconv.Itoa(300 << 20), "GOMEMLIMIT"},
		{"flag beats GOMEMLIMIT", []string{"GOMEMLIMIT=300MiB"}, []string{"--dict", "a=1m", "--memory-limit", "512m"}, strconv.Itoa(512 << 20), "--memory-limit"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			setEnvs(t, c.env)
			p := startStreamlua(t, c.args...)
			m := logged.FindStringSubmatch(p.Logs())
			if m == nil || m[1] != c.limit || m[2] != c.source {
				t.Fatalf("want limit=%s source=%s in the log:\n%s", c.limit, c.source, p.Logs())
			}
		})
	}
	mustRefuseSize(t, "--memory-limit")
}

// TestRelGCFloor checks where the GC pacer's floor comes from, and that
// the running server's GOGC (read back through the Go collector's gauge)
// is raised above the default only when pacing is on.
func TestRelGCFloor(t *testing.T) {
	logged := regexp.MustCompile(`msg="gc pacing" floor=(\S+) source=("[^"]*"|\S+)`)
	cases := []struct {
		name   string
		env    []string
		args   []string
		floor  string
		source string
		gogc   func(float64) bool
	}{
		{"the dictionary caps", nil, []string{"--dict", "a=100m", "--dict", "b=28m"}, strconv.Itoa(128 << 20), `"dictionary caps"`, func(v float64) bool { return v > 100 }},
		{"GOGC wins over the default", []string{"GOGC=200"}, []string{"--dict", "a=1m"}, "off", "GOGC", func(v float64) bool { return v == 200 }},
		{"flag", []string{"GOGC=200"}, []string{"--dict", "a=1m", "--gc-floor", "64m"}, strconv.Itoa(64 << 20), "--gc-floor", func(v float64) bool { return v > 200 }},
		{"flag off", nil, []string{"--dict", "a=100m", "--gc-floor", "off"}, "off", "--gc-floor", func(v float64) bool { return v == 100 }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			setEnvs(t, c.env)
			metricsAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
			p := startStreamlua(t, append(c.args, "--metrics-listen", metricsAddr)...)
			m := logged.FindStringSubmatch(p.Logs())
			if m == nil || m[1] != c.floor || m[2] != c.source {
				t.Fatalf("want floor=%s source=%s in the log:\n%s", c.floor, c.source, p.Logs())
			}
			v, ok := scrapeMetrics(t, metricsAddr).find("go_gc_gogc_percent")
			if !ok || !c.gogc(v) {
				t.Fatalf("go_gc_gogc_percent = %v (found %v)", v, ok)
			}
		})
	}
	mustRefuseSize(t, "--gc-floor")
}

// setEnvs sets KEY=VALUE pairs for the test (and the servers it starts).
func setEnvs(t *testing.T, kvs []string) {
	for _, kv := range kvs {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
}

// mustRefuseSize checks that serve exits non-zero, naming flag, when flag
// is given something that is not a size.
func mustRefuseSize(t *testing.T, flag string) {
	t.Helper()
	_, stderr, code := runCLI(t, "serve", "--listen", "127.0.0.1:0", flag, "lots")
	if code == 0 || !strings.Contains(stderr, flag) {
		t.Fatalf("bad %s: exit %d, %q", flag, code, stderr)
	}
}

// relSelfSigned writes a fresh self-signed certificate for 127.0.0.1 and
// its key, and returns their paths and a pool trusting the certificate.
func relSelfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "streamlua test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
	return certFile, keyFile, pool
}

func TestRelTLS(t *testing.T) {
	certFile, keyFile, pool := relSelfSigned(t)
	p := startStreamlua(t, "--dict", "memcached=8m", "--tls-cert", certFile, "--tls-key", keyFile)
	t.Run("tls client", func(t *testing.T) {
		c, err := tls.Dial("tcp", p.Addr, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
		if err != nil {
			t.Fatalf("handshake: %v\n%s", err, p.Logs())
		}
		defer c.Close()
		r := bufio.NewReader(c)
		got, err := relAsk(c, r, "set k 3 0 5\r\nhello\r\nget k\r\n", "END\r\n")
		if err != nil || got != "STORED\r\nVALUE k 3 5\r\nhello\r\nEND\r\n" {
			t.Fatalf("over TLS: %q %v", got, err)
		}
		// Idle past memcached.idle_release (0.1 s): a TLS connection gives
		// its state back too (waiting in a read, not on the descriptor,
		// since TLS may hold decrypted bytes), and serves on.
		time.Sleep(300 * time.Millisecond)
		got, err = relAsk(c, r, "get k\r\n", "END\r\n")
		if err != nil || got != "VALUE k 3 5\r\nhello\r\nEND\r\n" {
			t.Fatalf("over TLS after an idle period: %q %v", got, err)
		}
	})
	t.Run("untrusted certificate refused by the client", func(t *testing.T) {
		c, err := tls.Dial("tcp", p.Addr, &tls.Config{ServerName: "127.0.0.1"})
		if err == nil {
			c.Close()
			t.Fatal("handshake with an untrusted certificate succeeded")
		}
	})
	t.Run("plaintext client gets nothing", func(t *testing.T) {
		got := roundTrip(t, p.Addr, "version\r\n", 2*time.Second)
		if strings.Contains(got, "VERSION") {
			t.Fatalf("a plaintext client was served: %q", got)
		}
	})
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"cert without key", []string{"--tls-cert", certFile}, "must be given together"},
		{"key without cert", []string{"--tls-key", keyFile}, "must be given together"},
		{"unreadable files", []string{"--tls-cert", certFile + ".none", "--tls-key", keyFile}, "tls:"},
		{"key that is not a key", []string{"--tls-cert", certFile, "--tls-key", certFile}, "tls:"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, stderr, code := runCLI(t, append([]string{"serve", "--listen", "127.0.0.1:0"}, c.args...)...)
			if code == 0 || !strings.Contains(stderr, c.want) {
				t.Fatalf("exit %d, stderr %q; want an error containing %q", code, stderr, c.want)
			}
		})
	}
}

// TestRelModuleLoadFailures: a handler module with a syntax error stops
// serve at start with file:line and a non-zero exit; one whose body raises
// at load time fails only the connections that load it, each logged with
// the real error, and serving resumes once it loads.
// (TestScriptErrorIsolated, TestMemcachedLuaError and
// TestReloadWhileConnected cover errors in running handlers and in
// reloads.)
func TestRelModuleLoadFailures(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "broken.lua"), []byte("local _M = {}\nlocal x = = 1\nreturn _M\n"), 0o644)
	_, stderr, code := runCLI(t, "serve", "--listen", "127.0.0.1:0", "--package-path", filepath.Join(dir, "?.lua")+";;", "--handler", "broken")
	if code == 0 || !strings.Contains(stderr, filepath.Join(dir, "broken.lua")+":2:") {
		t.Fatalf("syntax error at start: exit %d, stderr %q", code, stderr)
	}

	p := startStreamlua(t, "--dict", "state=1m", "--package-path", filepath.Join("testdata", "reliability", "?.lua")+";;", "--handler", "failing_module")
	// The readiness probe of startStreamlua already made one attempt.
	loaded := false
	for i := 0; i < 5 && !loaded; i++ {
		switch got := roundTrip(t, p.Addr, "", 2*time.Second); got {
		case "loaded\r\n":
			loaded = true
		case "":
		default:
			t.Fatalf("unexpected reply %q", got)
		}
	}
	if !loaded {
		t.Fatalf("the module never loaded:\n%s", p.Logs())
	}
	for i := 1; i <= 3; i++ {
		want := fmt.Sprintf("failing_module.lua:7: module refuses to load, attempt %d", i)
		waitFor(t, want, func() bool { return strings.Contains(p.Logs(), want) })
	}
	if strings.Contains(p.Logs(), "loop or previous error") {
		t.Fatalf("a pooled state reported a stale require error:\n%s", p.Logs())
	}
}

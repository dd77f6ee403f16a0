package tests

import (
	"bytes"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runCLI runs the real binary and returns stdout, stderr and exit code.
func runCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(streamluaBinary(t), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

func TestCLIErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	bad := filepath.Join(t.TempDir(), "bad.lua")
	os.WriteFile(bad, []byte("local x = \nlocal y = 1\nif then end\n"), 0o644)
	cases := []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"unknown flag", []string{"serve", "--nope"}, "unknown flag: --nope"},
		{"unknown command", []string{"frobnicate"}, "unknown command"},
		{"bad dict size", []string{"serve", "--dict", "x=12q"}, `invalid size "12q"`},
		{"bad dict syntax", []string{"serve", "--dict", "x"}, "want NAME=SIZE"},
		{"dict too small", []string{"serve", "--dict", "x=1k"}, "dict x"},
		{"port in use", []string{"serve", "--listen", busy.Addr().String()}, "address already in use"},
		{"missing content file", []string{"serve", "--listen", "127.0.0.1:0", "--content", "/nonexistent/x.lua"}, "no such file"},
		{"missing handler module", []string{"serve", "--listen", "127.0.0.1:0", "--handler", "no.such.module"}, "module not found"},
		{"syntax error in content", []string{"serve", "--listen", "127.0.0.1:0", "--content", bad}, bad + ":2:"},
		{"handler and content", []string{"serve", "--handler", "a", "--content", "b"}, "mutually exclusive"},
		{"bad log level", []string{"serve", "--log-level", "loud"}, "invalid --log-level"},
		{"missing config", []string{"serve", "--config", "/nonexistent.json"}, "no such file"},
		{"run without code", []string{"run"}, "needs a FILE or -e CODE"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, stderr, code := runCLI(t, c.args...)
			if code == 0 {
				t.Fatalf("exit code 0, want non-zero; stderr: %s", stderr)
			}
			if !strings.Contains(stderr, c.want) {
				t.Fatalf("stderr %q does not contain %q", stderr, c.want)
			}
			if lines := strings.Count(strings.TrimSpace(stderr), "\n") + 1; lines != 1 {
				t.Fatalf("want one line on stderr, got %d: %q", lines, stderr)
			}
		})
	}
}

func TestCLIHelpAndVersion(t *testing.T) {
	out, _, code := runCLI(t, "version")
	if code != 0 || !strings.HasPrefix(out, "streamlua ") {
		t.Fatalf("version: code %d, out %q", code, out)
	}
	for _, cmd := range [][]string{{"--help"}, {"serve", "--help"}, {"check", "--help"}, {"run", "--help"}, {"version", "--help"}, {"bench", "--help"}} {
		out, _, code := runCLI(t, cmd...)
		if code != 0 || !strings.Contains(out, "Usage:") {
			t.Fatalf("%v: code %d, out %q", cmd, code, out)
		}
	}
}

func TestCLICheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.lua")
	bad := filepath.Join(dir, "bad.lua")
	os.WriteFile(good, []byte("return 1\n"), 0o644)
	os.WriteFile(bad, []byte("local a = 1\n\nlocal b = = 2\n"), 0o644)
	out, _, code := runCLI(t, "check", good)
	if code != 0 || !strings.Contains(out, "ok:") {
		t.Fatalf("check good: code %d out %q", code, out)
	}
	out, _, code = runCLI(t, "check", good, bad)
	if code != 1 {
		t.Fatalf("check bad: code %d, want 1", code)
	}
	if !strings.HasPrefix(out, bad+":3: ") {
		t.Fatalf("check bad: want %q first, got %q", bad+":3: ", out)
	}
	// A broken module in the package path is found too.
	lib := filepath.Join(dir, "lib")
	os.MkdirAll(filepath.Join(lib, "my"), 0o755)
	os.WriteFile(filepath.Join(lib, "my", "mod.lua"), []byte("return {\n"), 0o644)
	out, _, code = runCLI(t, "check", "--package-path", lib+"/?.lua;;", "--handler", "resty.memcached.server")
	if code != 1 || !strings.Contains(out, filepath.Join(lib, "my", "mod.lua")+":") {
		t.Fatalf("check path: code %d out %q", code, out)
	}
	// The bundled scripts compile.
	out, _, code = runCLI(t, "check", "--handler", "resty.memcached.server")
	if code != 0 {
		t.Fatalf("bundled scripts: code %d out %q", code, out)
	}
}

func TestCLIRun(t *testing.T) {
	out, _, code := runCLI(t, "run", "--dict", "d=1m", "-e", `ngx.shared.d:set("k", 41); ngx.say("v: ", ngx.shared.d:incr("k", 1))`)
	if code != 0 || out != "v: 42\n" {
		t.Fatalf("run: code %d out %q", code, out)
	}
	sandbox := `ngx.say(type(io), " ", type(os), " ", type(dofile), " ", type(loadfile), " ", type(debug))`
	if out, _, code := runCLI(t, "run", "-e", sandbox); code != 0 || out != "nil nil nil nil nil\n" {
		t.Fatalf("default sandbox: code %d out %q", code, out)
	}
	if out, _, code := runCLI(t, "run", "--unsafe-libs", "-e", sandbox); code != 0 || out != "table table function function table\n" {
		t.Fatalf("--unsafe-libs: code %d out %q", code, out)
	}
	_, stderr, code := runCLI(t, "run", "-e", "local x = nil\nx.y = 1")
	if code == 0 || !strings.Contains(stderr, "(command line):2:") {
		t.Fatalf("run error: code %d stderr %q", code, stderr)
	}
}

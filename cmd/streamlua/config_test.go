package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	cases := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"64m", 64 << 20, true}, {"64M", 64 << 20, true}, {"12k", 12 << 10, true},
		{"1g", 1 << 30, true}, {"100", 100, true}, {"0", 0, true},
		{"12q", 0, false}, {"", 0, false}, {"m", 0, false}, {"-1k", 0, false},
		{"1.5m", 0, false}, {"99999999999999999g", 0, false},
	}
	for _, c := range cases {
		got, err := parseSize(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d, ok=%v", c.in, got, err, c.want, c.ok)
		}
	}
}

func TestParseDict(t *testing.T) {
	if name, size, err := parseDict("memcached=64m"); err != nil || name != "memcached" || size != 64<<20 {
		t.Fatalf("got %q %d %v", name, size, err)
	}
	for _, bad := range []string{"x", "=1m", "x=12q", "x="} {
		if _, _, err := parseDict(bad); err == nil {
			t.Errorf("parseDict(%q) accepted", bad)
		}
	}
}

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o644)
		return p
	}
	cases := []struct {
		name, body, wantErr string
	}{
		{"valid", `{"dicts":{"a":"1m"},"servers":[{"listen":"127.0.0.1:1","handler":"m"}],"read_timeout":"5s"}`, ""},
		{"operations keys", `{"snapshot":"s.snap","memory_limit":"512m","tls_cert":"c.pem","tls_key":"k.pem","metrics_listen":"127.0.0.1:9100","init_worker":"w.lua"}`, ""},
		{"syntax error names the line", "{\n\"dicts\": {,}\n}", ":2:"},
		{"unknown field", `{"nope": 1}`, "unknown field"},
		{"server without listen", `{"servers":[{"handler":"m"}]}`, "no listen address"},
		{"server with both entries", `{"servers":[{"listen":"x:1","handler":"m","content":"f"}]}`, "exactly one"},
		{"bad duration", `{"read_timeout":"soon"}`, "bad duration"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := loadConfig(write(strings.ReplaceAll(c.name, " ", "_")+".json", c.body))
			if c.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, c.wantErr)
			}
		})
	}
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"64m", "1k", "12q", "", "9g", "-5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseSize(s)
		if err == nil && n < 0 {
			t.Fatalf("%q parsed to a negative size %d", s, n)
		}
	})
}

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// fileConfig is the --config file: JSON, because it needs no dependency,
// has no indentation traps, and is what Go servers such as Caddy accept
// natively. See examples/streamlua.json.
type fileConfig struct {
	PackagePath    string            `json:"package_path"`
	Dicts          map[string]string `json:"dicts"`
	Init           string            `json:"init"`
	InitWorker     string            `json:"init_worker"`
	Servers        []serverConfig    `json:"servers"`
	MaxConns       int               `json:"max_conns"`
	ReadTimeout    duration          `json:"read_timeout"`
	SendTimeout    duration          `json:"send_timeout"`
	MaxLine        string            `json:"max_line"`
	MaxItemSize    string            `json:"max_item_size"`
	LuaExecTimeout duration          `json:"lua_exec_timeout"`
	UnsafeLibs     bool              `json:"unsafe_libs"`
	Snapshot       string            `json:"snapshot"`
	MemoryLimit    string            `json:"memory_limit"`
	GCFloor        string            `json:"gc_floor"`
	TLSCert        string            `json:"tls_cert"`
	TLSKey         string            `json:"tls_key"`
	MetricsListen  string            `json:"metrics_listen"`
	Watch          bool              `json:"watch"`
	Grace          duration          `json:"grace"`
	LogLevel       string            `json:"log_level"`
	LogFormat      string            `json:"log_format"`
	Settings       map[string]string `json:"settings"`
}

// serverConfig is one listener, like a stream server {} block.
type serverConfig struct {
	Listen  string `json:"listen"`
	Handler string `json:"handler"`
	Content string `json:"content"`
}

// duration reads "60s"-style strings or plain numbers of seconds.
type duration time.Duration

func (d *duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("bad duration %q", s)
		}
		*d = duration(v)
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("bad duration %s", b)
	}
	*d = duration(f * float64(time.Second))
	return nil
}

func loadConfig(path string) (*fileConfig, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	var c fileConfig
	if err := dec.Decode(&c); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line := 1 + strings.Count(string(b[:se.Offset]), "\n")
			return nil, fmt.Errorf("%s:%d: %v", path, line, err)
		}
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	for i, s := range c.Servers {
		if s.Listen == "" {
			return nil, fmt.Errorf("%s: servers[%d] has no listen address", path, i)
		}
		if (s.Handler == "") == (s.Content == "") {
			return nil, fmt.Errorf("%s: servers[%d] needs exactly one of handler or content", path, i)
		}
	}
	return &c, nil
}

// parseSizeOrOff reads a size flag that also takes "off" (or 0): off is
// reported as 0, and an error names the flag.
func parseSizeOrOff(flag, value string) (int64, error) {
	if v := strings.TrimSpace(value); v == "off" || v == "0" {
		return 0, nil
	}
	n, err := parseSize(value)
	if err != nil {
		return 0, fmt.Errorf("%s: %v (or \"off\")", flag, err)
	}
	return n, nil
}

// parseSize reads sizes as nginx does: a number with an optional k, m or g
// suffix (either case).
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	mult := int64(1)
	switch t[len(t)-1] {
	case 'k', 'K':
		mult = 1 << 10
	case 'm', 'M':
		mult = 1 << 20
	case 'g', 'G':
		mult = 1 << 30
	}
	if mult != 1 {
		t = t[:len(t)-1]
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("invalid size %q (use a number with an optional k, m or g suffix)", s)
	}
	return n * mult, nil
}

// parseDict reads NAME=SIZE.
func parseDict(s string) (string, int64, error) {
	name, size, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return "", 0, fmt.Errorf("invalid --dict %q (want NAME=SIZE, e.g. memcached=64m)", s)
	}
	n, err := parseSize(size)
	if err != nil {
		return "", 0, fmt.Errorf("invalid --dict %q: %v", s, err)
	}
	return name, n, nil
}

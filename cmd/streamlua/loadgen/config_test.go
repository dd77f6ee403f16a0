package loadgen

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseRatio(t *testing.T) {
	tests := []struct {
		in      string
		want    Ratio
		wantErr bool
	}{
		{in: "9:1", want: Ratio{9, 1}},
		{in: "1:0", want: Ratio{1, 0}},
		{in: "0:1", want: Ratio{0, 1}},
		{in: " 3 : 2 ", want: Ratio{3, 2}},
		{in: "0:0", wantErr: true},
		{in: "9", wantErr: true},
		{in: "a:1", wantErr: true},
		{in: "-1:2", wantErr: true},
		{in: "1048576:1", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseRatio(tt.in)
			if tt.wantErr {
				if !errors.Is(err, ErrConfig) {
					t.Fatalf("err %v, want ErrConfig", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %v %v, want %v", got, err, tt.want)
			}
			if back, _ := ParseRatio(got.String()); back != got {
				t.Fatalf("String %q does not round-trip", got.String())
			}
		})
	}
}

func TestParseProtocol(t *testing.T) {
	tests := []struct {
		in      string
		want    Protocol
		wantErr bool
	}{
		{in: "text", want: Text},
		{in: "ASCII", want: Text},
		{in: "binary", want: Binary},
		{in: "bin", want: Binary},
		{in: "meta", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseProtocol(tt.in)
			if tt.wantErr != errors.Is(err, ErrConfig) || (!tt.wantErr && got != tt.want) {
				t.Fatalf("got %v %v, want %v (error %v)", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		change  func(*Config)
		wantErr string // "" = valid
	}{
		{"defaults", func(c *Config) {}, ""},
		{"requests only", func(c *Config) { c.Duration, c.Requests = 0, 10 }, ""},
		{"unbounded", func(c *Config) { c.Duration, c.Requests = 0, 0 }, "never end"},
		{"no address", func(c *Config) { c.Addr = "" }, "address"},
		{"bad protocol", func(c *Config) { c.Protocol = 7 }, "protocol"},
		{"no connections", func(c *Config) { c.Conns = 0 }, "connections"},
		{"pipeline 0", func(c *Config) { c.Pipeline = 0 }, "pipeline"},
		{"pipeline too deep", func(c *Config) { c.Pipeline = maxPipeline + 1 }, "pipeline"},
		{"no keys", func(c *Config) { c.Keys = 0 }, "keys"},
		{"negative value size", func(c *Config) { c.ValueSize = -1 }, "value size"},
		{"value too large", func(c *Config) { c.ValueSize = maxValueSize + 1 }, "value size"},
		{"too much buffered", func(c *Config) { c.Conns, c.Pipeline, c.ValueSize = 1000, 1000, 1<<20 }, "buffer"},
		{"negative duration", func(c *Config) { c.Duration = -time.Second }, "duration"},
		{"no timeout", func(c *Config) { c.Timeout = 0 }, "timeout"},
		{"bad ratio", func(c *Config) { c.Ratio = Ratio{} }, "ratio"},
		{"key too long", func(c *Config) { c.KeyPrefix = strings.Repeat("k", 247) }, "bytes long"},
		{"longest key", func(c *Config) { c.KeyPrefix = strings.Repeat("k", 246) }, ""},
		{"space in prefix", func(c *Config) { c.KeyPrefix = "a b" }, "space"},
		{"control byte in prefix", func(c *Config) { c.KeyPrefix = "a\x7f" }, "space"},
		{"negative pid", func(c *Config) { c.ServerPID = -1 }, "pid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.change(&c)
			err := c.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err %v, want ErrConfig mentioning %q", err, tt.wantErr)
			}
		})
	}
}

func TestShare(t *testing.T) {
	tests := []struct {
		name  string
		total int64
		conns int
		want  []int64
	}{
		{"unbounded", 0, 3, []int64{-1, -1, -1}},
		{"even", 9, 3, []int64{3, 3, 3}},
		{"remainder to the first", 11, 3, []int64{4, 4, 3}},
		{"fewer requests than connections", 2, 4, []int64{1, 1, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sum int64
			for i, want := range tt.want {
				if got := share(tt.total, tt.conns, i); got != want {
					t.Fatalf("share(%d, %d, %d) = %d, want %d", tt.total, tt.conns, i, got, want)
				}
				sum += want
			}
			if tt.total > 0 && sum != tt.total {
				t.Fatalf("shares add up to %d, want %d", sum, tt.total)
			}
		})
	}
}

func TestParseProcStat(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    time.Duration
		wantErr bool
	}{
		{
			name: "memcached",
			in:   "1234 (memcached) S 1 1234 1234 0 -1 4194560 220 0 0 0 150 75 0 0 20 0 10 0 100 0 0",
			want: 2250 * time.Millisecond,
		},
		{
			name: "name with spaces and parens",
			in:   "99 (a) b (c) R 1 2 3 4 5 6 7 8 9 10 3 4 0 0",
			want: 70 * time.Millisecond,
		},
		{name: "truncated", in: "1 (x) S 1 2 3", wantErr: true},
		{name: "no name", in: "garbage", wantErr: true},
		{name: "not a number", in: "1 (x) S 1 1 1 0 -1 0 0 0 0 0 x 1 0 0", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseProcStat(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("got %v %v, want %v (error %v)", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

package loadgen

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestResultPercentiles checks that the summary reports the HDR
// histogram's percentiles, in milliseconds, at its resolution.
func TestResultPercentiles(t *testing.T) {
	tests := []struct {
		name   string
		record func(record func(us int64))
		want   Latency // ms; compared with a relative tolerance of 0.2 %
	}{
		{
			name: "uniform 1..1000 µs",
			record: func(rec func(int64)) {
				for us := int64(1); us <= 1000; us++ {
					rec(us)
				}
			},
			want: Latency{Mean: 0.5005, P50: 0.5, P90: 0.9, P99: 0.99, P999: 0.999, Max: 1},
		},
		{
			name: "tail of 1 % at 250 ms",
			record: func(rec func(int64)) {
				for i := 0; i < 990; i++ {
					rec(100)
				}
				for i := 0; i < 10; i++ {
					rec(250_000)
				}
			},
			want: Latency{Mean: 2.599, P50: 0.1, P90: 0.1, P99: 0.1, P999: 250, Max: 250},
		},
		{
			name:   "nothing recorded",
			record: func(rec func(int64)) {},
			want:   Latency{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Result{Seconds: 1, hist: newHistogram()}
			tt.record(func(us int64) { _ = r.hist.RecordValue(us) })
			r.fill(&counters{})
			got := r.Latency
			pairs := [][3]any{
				{"mean", got.Mean, tt.want.Mean}, {"p50", got.P50, tt.want.P50}, {"p90", got.P90, tt.want.P90},
				{"p99", got.P99, tt.want.P99}, {"p99.9", got.P999, tt.want.P999}, {"max", got.Max, tt.want.Max},
			}
			for _, p := range pairs {
				g, w := p[1].(float64), p[2].(float64)
				if d := g - w; d > w*0.002+1e-9 || -d > w*0.002+1e-9 {
					t.Errorf("%s = %v ms, want %v", p[0], g, w)
				}
			}
			if tt.want.P50 > 0 {
				if d := r.Percentile(50); d < time.Duration(tt.want.P50*0.998*1e6) || d > time.Duration(tt.want.P50*1.002*1e6) {
					t.Errorf("Percentile(50) = %v, want about %v ms", d, tt.want.P50)
				}
			}
		})
	}
}

func TestResultTotals(t *testing.T) {
	c := counters{gets: 90, sets: 10, hits: 80, misses: 5, errorReplies: 2, badReplies: 1, mismatches: 3, lost: 4}
	r := &Result{Seconds: 2}
	r.fill(&c)
	if r.Ops != 100 || r.OpsPerSec != 50 || r.Errors != 10 || r.Hits != 80 || r.Misses != 5 {
		t.Fatalf("ops %d ops/s %v errors %d hits %d misses %d; want 100 50 10 80 5", r.Ops, r.OpsPerSec, r.Errors, r.Hits, r.Misses)
	}
}

func TestResultOutput(t *testing.T) {
	r := &Result{
		Addr: "127.0.0.1:1", Protocol: "text", Conns: 50, Pipeline: 16, Ratio: "9:1", Keys: 10000, ValueSize: 32,
		Seconds: 2, hist: newHistogram(), ServerCPUPerOp: 1.5, ServerCPUPercent: 80, FirstError: "boom",
	}
	_ = r.hist.RecordValue(1500)
	r.fill(&counters{gets: 1234567, sets: 10, hits: 1234567})
	tests := []struct {
		name  string
		write func(*bytes.Buffer) error
		want  []string
	}{
		{"table", func(b *bytes.Buffer) error { return r.WriteTable(b) }, []string{
			"1,234,577 (617,289 ops/s)", "50 connections × 16 in flight", "get:set 9:1",
			"p50 1.500", "server cpu   80% of a core, 1.50 µs/op", "first error  boom", "hits (100.0%)",
		}},
		{"json", func(b *bytes.Buffer) error { return r.WriteJSON(b) }, []string{
			`"ops": 1234577`, `"p50": 1.5`, `"server_cpu_us_per_op": 1.5`, `"first_error": "boom"`, `"latency_ms"`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := tt.write(&b); err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, b.String())
				}
			}
		})
	}
	t.Run("json round trip", func(t *testing.T) {
		var b bytes.Buffer
		if err := r.WriteJSON(&b); err != nil {
			t.Fatal(err)
		}
		var back Result
		if err := json.Unmarshal(b.Bytes(), &back); err != nil {
			t.Fatal(err)
		}
		if back.Ops != r.Ops || back.Latency != r.Latency || back.ServerCPUPerOp != r.ServerCPUPerOp {
			t.Fatalf("round trip changed the figures: %+v", back)
		}
	})
}

func TestGroup(t *testing.T) {
	for _, tt := range []struct {
		in   int64
		want string
	}{
		{0, "0"}, {999, "999"}, {1000, "1,000"}, {1234567, "1,234,567"}, {-1234, "-1,234"},
	} {
		t.Run(tt.want, func(t *testing.T) {
			if got := group(tt.in); got != tt.want {
				t.Fatalf("group(%d) = %q", tt.in, got)
			}
		})
	}
}

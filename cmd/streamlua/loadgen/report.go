package loadgen

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Result holds the figures of one run's measured phase (the prefill is not
// counted). Its JSON form is what `streamlua bench --json` prints and what
// tests/bench/compare.sh reads, so field names are part of the interface.
type Result struct {
	// Addr, Protocol, Conns, Pipeline, Ratio, Keys and ValueSize echo the
	// workload, so a saved result describes itself.
	Addr      string `json:"addr"`
	Protocol  string `json:"protocol"`
	Conns     int    `json:"conns"`
	Pipeline  int    `json:"pipeline"`
	Ratio     string `json:"ratio"`
	Keys      int    `json:"keys"`
	ValueSize int    `json:"value_size"`

	// Seconds is the measured phase's length, drain included.
	Seconds float64 `json:"seconds"`
	// Ops counts requests that got a reply (of any kind); OpsPerSec is Ops
	// over Seconds.
	Ops       int64   `json:"ops"`
	OpsPerSec float64 `json:"ops_per_sec"`
	// Gets and Sets split Ops by request; Hits and Misses split the GETs
	// answered with a value (the right one, with Verify) or END.
	Gets   int64 `json:"gets"`
	Sets   int64 `json:"sets"`
	Hits   int64 `json:"hits"`
	Misses int64 `json:"misses"`

	// Errors is ErrorReplies + BadReplies + Mismatches + Lost: anything
	// that makes the run's figures suspect.
	Errors int64 `json:"errors"`
	// ErrorReplies are error answers the protocol allows (SERVER_ERROR,
	// NOT_STORED, a binary error status, ...).
	ErrorReplies int64 `json:"error_replies"`
	// BadReplies are replies the protocol does not allow; each one ends its
	// connection.
	BadReplies int64 `json:"bad_replies"`
	// Mismatches are GET hits whose value differs from the one stored
	// (only with Verify).
	Mismatches int64 `json:"mismatches"`
	// Lost are requests still outstanding when their connection failed or
	// the run's deadline passed.
	Lost int64 `json:"lost"`
	// FirstError describes the first error seen, for diagnosis.
	FirstError string `json:"first_error,omitempty"`

	// Latency summarises the HDR histogram, in milliseconds.
	Latency Latency `json:"latency_ms"`

	// ClientCPUPercent is the generator's own CPU use over the measured
	// phase (100 = one core); near 100 on a pinned core means the figures
	// are client-bound.
	ClientCPUPercent float64 `json:"client_cpu_percent"`
	// ClientCPUPerOp is the generator's CPU time per op, in microseconds.
	ClientCPUPerOp float64 `json:"client_cpu_us_per_op"`
	// ServerCPUPercent and ServerCPUPerOp are the same for the process
	// named by Config.ServerPID (0 when not sampled).
	ServerCPUPercent float64 `json:"server_cpu_percent,omitempty"`
	ServerCPUPerOp   float64 `json:"server_cpu_us_per_op,omitempty"`

	hist *hdrhistogram.Histogram
}

// Latency is a summary of request latencies in milliseconds, each value at
// the histogram's resolution (3 significant digits).
type Latency struct {
	// Mean is the average; P50 to P999 are the 50th, 90th, 99th and 99.9th
	// percentiles; Max is the slowest request.
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99_9"`
	Max  float64 `json:"max"`
}

// fill derives the totals, rates and latency summary from the counters and
// the merged histogram.
func (r *Result) fill(c *counters) {
	r.Gets, r.Sets = c.gets, c.sets
	r.Hits, r.Misses = c.hits, c.misses
	r.Ops = c.gets + c.sets
	r.ErrorReplies, r.BadReplies, r.Mismatches, r.Lost = c.errorReplies, c.badReplies, c.mismatches, c.lost
	r.Errors = c.errorReplies + c.badReplies + c.mismatches + c.lost
	if r.Seconds > 0 {
		r.OpsPerSec = float64(r.Ops) / r.Seconds
	}
	if r.hist == nil {
		return
	}
	ms := func(us int64) float64 { return float64(us) / 1000 }
	r.Latency = Latency{
		Mean: r.hist.Mean() / 1000,
		P50:  ms(r.hist.ValueAtQuantile(50)),
		P90:  ms(r.hist.ValueAtQuantile(90)),
		P99:  ms(r.hist.ValueAtQuantile(99)),
		P999: ms(r.hist.ValueAtQuantile(99.9)),
		Max:  ms(r.hist.Max()),
	}
	if r.hist.TotalCount() == 0 {
		r.Latency.Max = 0
	}
}

// Histogram returns the merged latency histogram (microseconds), for
// percentiles the summary does not carry. It is nil for a Result that did
// not come from Run.
func (r *Result) Histogram() *hdrhistogram.Histogram { return r.hist }

// Percentile returns the latency below which the given percentage of
// requests completed (0 when nothing was recorded).
func (r *Result) Percentile(p float64) time.Duration {
	if r.hist == nil {
		return 0
	}
	return time.Duration(r.hist.ValueAtQuantile(p)) * time.Microsecond
}

// WriteJSON writes the Result as one indented JSON object.
func (r *Result) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteTable writes the Result for a human: the workload, then one figure
// per line.
func (r *Result) WriteTable(w io.Writer) error {
	pct := func(n int64) string {
		if r.Gets == 0 {
			return "-"
		}
		return strconv.FormatFloat(100*float64(n)/float64(r.Gets), 'f', 1, 64) + "%"
	}
	lines := []string{
		fmt.Sprintf("server       %s (%s protocol)", r.Addr, r.Protocol),
		fmt.Sprintf("workload     %d connections × %d in flight, get:set %s, %d keys, %d-byte values",
			r.Conns, r.Pipeline, r.Ratio, r.Keys, r.ValueSize),
		fmt.Sprintf("duration     %.2f s", r.Seconds),
		fmt.Sprintf("ops          %s (%s ops/s)", group(r.Ops), group(int64(r.OpsPerSec+0.5))),
		fmt.Sprintf("gets         %s: %s hits (%s), %s misses (%s)", group(r.Gets), group(r.Hits), pct(r.Hits), group(r.Misses), pct(r.Misses)),
		fmt.Sprintf("sets         %s", group(r.Sets)),
		fmt.Sprintf("errors       %d (error replies %d, bad replies %d, wrong values %d, lost %d)",
			r.Errors, r.ErrorReplies, r.BadReplies, r.Mismatches, r.Lost),
	}
	if r.FirstError != "" {
		lines = append(lines, "first error  "+r.FirstError)
	}
	l := r.Latency
	lines = append(lines,
		fmt.Sprintf("latency ms   mean %.3f  p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f", l.Mean, l.P50, l.P90, l.P99, l.P999, l.Max),
		fmt.Sprintf("client cpu   %.0f%% of a core, %.2f µs/op", r.ClientCPUPercent, r.ClientCPUPerOp),
	)
	if r.ServerCPUPerOp > 0 {
		lines = append(lines, fmt.Sprintf("server cpu   %.0f%% of a core, %.2f µs/op", r.ServerCPUPercent, r.ServerCPUPerOp))
	}
	for _, s := range lines {
		if _, err := io.WriteString(w, s+"\n"); err != nil {
			return err
		}
	}
	return nil
}

// group formats n with thousands separators.
func group(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	out := make([]byte, 0, len(s)+len(s)/3+1)
	if neg {
		out = append(out, '-')
	}
	for i := 0; i < len(s); i++ {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

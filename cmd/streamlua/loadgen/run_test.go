package loadgen

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// memDialer hands out memConns and keeps them for inspection.
type memDialer struct {
	mu    sync.Mutex
	proto Protocol
	size  int
	setup func(i int, m *memConn)
	conns []*memConn
}

func (d *memDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	m := newMemConn(d.proto, d.size)
	if d.setup != nil {
		d.setup(len(d.conns), m)
	}
	d.conns = append(d.conns, m)
	return m, nil
}

func (d *memDialer) totals() (gets, sets int) {
	for _, m := range d.conns {
		gets += m.gets
		sets += m.sets
	}
	return gets, sets
}

func memConfig(d *memDialer, conns, pipeline int) Config {
	cfg := DefaultConfig()
	cfg.Protocol = d.proto
	cfg.ValueSize = d.size
	cfg.Conns = conns
	cfg.Pipeline = pipeline
	cfg.Keys = 500
	cfg.Duration = 0
	cfg.Requests = 3000
	cfg.Dial = d.dial
	return cfg
}

func TestRunInMemory(t *testing.T) {
	for _, tt := range []struct {
		name     string
		proto    Protocol
		conns    int
		pipeline int
		prefill  bool
	}{
		{"text p1 prefilled", Text, 3, 1, true},
		{"text p16 prefilled", Text, 5, 16, true},
		{"binary p8 prefilled", Binary, 4, 8, true},
		{"text without prefill", Text, 2, 4, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := &memDialer{proto: tt.proto, size: 32}
			cfg := memConfig(d, tt.conns, tt.pipeline)
			cfg.Prefill = tt.prefill
			res, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if res.Ops != cfg.Requests || res.Gets+res.Sets != res.Ops {
				t.Fatalf("ops %d (gets %d sets %d), want exactly %d", res.Ops, res.Gets, res.Sets, cfg.Requests)
			}
			// Each connection runs its own 9:1 cycle from its own offset, so
			// the totals may be off by at most one cycle per connection.
			if want := cfg.Requests / 10; res.Sets < want-int64(tt.conns) || res.Sets > want+int64(tt.conns) {
				t.Errorf("%d sets, want %d ± %d", res.Sets, want, tt.conns)
			}
			if res.Errors != 0 || res.Hits != res.Gets || res.FirstError != "" {
				t.Errorf("errors %d, hits %d of %d gets, first error %q", res.Errors, res.Hits, res.Gets, res.FirstError)
			}
			gets, sets := d.totals()
			wantSets := int(res.Sets)
			if tt.prefill {
				wantSets += cfg.Keys
			}
			if gets != int(res.Gets) || sets != wantSets {
				t.Errorf("servers saw %d gets and %d sets, want %d and %d (prefill included)", gets, sets, res.Gets, wantSets)
			}
			if n := res.Histogram().TotalCount(); n != res.Ops {
				t.Errorf("histogram holds %d latencies for %d ops", n, res.Ops)
			}
			if res.Latency.P50 > res.Latency.P99 || res.Latency.P99 > res.Latency.Max {
				t.Errorf("percentiles out of order: %+v", res.Latency)
			}
			if res.OpsPerSec <= 0 || res.Seconds <= 0 {
				t.Errorf("rate %v over %v s", res.OpsPerSec, res.Seconds)
			}
		})
	}
}

func TestRunDurationBound(t *testing.T) {
	d := &memDialer{proto: Text, size: 8}
	cfg := memConfig(d, 2, 4)
	cfg.Requests = 0
	cfg.Duration = 30 * time.Millisecond
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Ops == 0 || res.Errors != 0 {
		t.Fatalf("ops %d errors %d", res.Ops, res.Errors)
	}
	if res.Seconds < cfg.Duration.Seconds() {
		t.Fatalf("measured %v s, shorter than the %v duration", res.Seconds, cfg.Duration)
	}
}

func TestRunMisbehavingServer(t *testing.T) {
	for _, tt := range []struct {
		name     string
		setup    func(i int, m *memConn)
		prefill  bool
		wantErr  error
		wantBad  int64
		wantLost int64
		wantText string
	}{
		{
			name:    "garbage on one connection",
			setup:   func(i int, m *memConn) { m.garbageAt = map[bool]int{true: 10}[i == 1] },
			wantBad: 1,
			// Requests 9-12 are in flight when reply 10 is garbage: 9 was
			// answered, 10 is the bad reply, 11 and 12 are lost.
			wantLost: 2,
			wantText: "violates the protocol",
		},
		{
			name:     "one connection closed",
			setup:    func(i int, m *memConn) { m.closeAt = map[bool]int{true: 6}[i == 0] },
			wantLost: 4,
			wantText: io.EOF.Error(),
		},
		{
			name:    "prefill answered with garbage",
			setup:   func(i int, m *memConn) { m.garbageAt = 1 },
			prefill: true,
			wantErr: ErrPrefill,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := &memDialer{proto: Text, size: 16, setup: tt.setup}
			cfg := memConfig(d, 3, 4)
			cfg.Prefill = tt.prefill
			res, err := Run(context.Background(), cfg)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || res != nil {
					t.Fatalf("Run = %v, %v; want nil and %v", res, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.BadReplies != tt.wantBad || res.Lost != tt.wantLost || res.Errors != tt.wantBad+tt.wantLost {
				t.Fatalf("bad %d lost %d errors %d, want %d %d", res.BadReplies, res.Lost, res.Errors, tt.wantBad, tt.wantLost)
			}
			if !strings.Contains(res.FirstError, tt.wantText) {
				t.Fatalf("first error %q, want it to mention %q", res.FirstError, tt.wantText)
			}
			if res.Ops == 0 {
				t.Fatal("the healthy connections should have completed requests")
			}
		})
	}
}

func TestRunDialFailure(t *testing.T) {
	n := 0
	cfg := DefaultConfig()
	cfg.Conns = 3
	cfg.Duration = time.Second
	cfg.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if n++; n == 2 {
			return nil, errors.New("refused")
		}
		return newMemConn(Text, 32), nil
	}
	res, err := Run(context.Background(), cfg)
	if !errors.Is(err, ErrDial) || res != nil || !strings.Contains(err.Error(), "connection 2 of 3") {
		t.Fatalf("Run = %v, %v; want ErrDial naming connection 2", res, err)
	}
}

func TestRunBadConfig(t *testing.T) {
	for _, tt := range []struct {
		name   string
		change func(*Config)
	}{
		{"unbounded", func(c *Config) { c.Duration = 0 }},
		{"server pid that does not exist", func(c *Config) { c.ServerPID = 1 << 30 }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tt.change(&cfg)
			cfg.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
				t.Fatal("dialed despite a bad config")
				return nil, nil
			}
			if _, err := Run(context.Background(), cfg); !errors.Is(err, ErrConfig) {
				t.Fatalf("err %v, want ErrConfig", err)
			}
		})
	}
}

// pipeDialer hands out net.Pipe ends whose server side reads everything
// and never answers: a hung server.
type pipeDialer struct {
	mu      sync.Mutex
	servers []net.Conn
	onDial  func(n int)
}

func (d *pipeDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, s := net.Pipe()
	d.mu.Lock()
	d.servers = append(d.servers, s)
	n := len(d.servers)
	d.mu.Unlock()
	go func() { _, _ = io.Copy(io.Discard, s) }()
	if d.onDial != nil {
		d.onDial(n)
	}
	return c, nil
}

func (d *pipeDialer) close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, s := range d.servers {
		s.Close()
	}
}

// TestRunHungServer checks that the Timeout ends a run against a server
// that never answers, counting every outstanding request as lost.
func TestRunHungServer(t *testing.T) {
	d := &pipeDialer{}
	defer d.close()
	cfg := DefaultConfig()
	cfg.Conns, cfg.Pipeline = 2, 3
	cfg.Duration, cfg.Requests = 0, 100
	cfg.Prefill = false
	cfg.Timeout = 50 * time.Millisecond
	cfg.Dial = d.dial
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Ops != 0 || res.Lost != 6 || res.Errors != 6 {
		t.Fatalf("ops %d lost %d errors %d, want 0 6 6", res.Ops, res.Lost, res.Errors)
	}
	if !strings.Contains(res.FirstError, "timeout") {
		t.Fatalf("first error %q, want a timeout", res.FirstError)
	}
}

// TestRunCancel checks that cancelling the context ends a run that would
// otherwise wait for its (long) timeout, and returns the partial result.
func TestRunCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d := &pipeDialer{}
	defer d.close()
	cfg := DefaultConfig()
	cfg.Conns, cfg.Pipeline = 3, 2
	cfg.Prefill = false
	cfg.Duration = time.Hour
	cfg.Timeout = time.Hour
	d.onDial = func(n int) {
		if n == cfg.Conns {
			cancel()
		}
	}
	cfg.Dial = d.dial
	res, err := Run(ctx, cfg)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if res == nil || res.Ops != 0 || res.Lost != 6 {
		t.Fatalf("result %+v, want a partial result with 6 lost", res)
	}
}

func TestProcCPU(t *testing.T) {
	a, err := procCPU(os.Getpid())
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	// Burn a little CPU so the second sample has something to count.
	x := 0
	for i := 0; i < 1e6; i++ {
		x += i ^ x
	}
	b, err := procCPU(os.Getpid())
	if err != nil || b < a || x == 1 {
		t.Fatalf("second sample %v (err %v) below first %v", b, err, a)
	}
	if _, err := procCPU(1 << 30); err == nil {
		t.Fatal("sampled a process that does not exist")
	}
}

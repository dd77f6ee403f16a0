package loadgen

import (
	"errors"
	"io"
	"testing"
	"time"
)

func testConfig(proto Protocol, pipeline, valueSize int) Config {
	cfg := DefaultConfig()
	cfg.Protocol = proto
	cfg.Conns = 1
	cfg.Pipeline = pipeline
	cfg.Keys = 100
	cfg.ValueSize = valueSize
	cfg.Duration = 0
	cfg.Requests = 1000
	return cfg
}

func newTestWorker(cfg *Config, conn *memConn) *worker {
	return newWorker(0, cfg, conn, time.Now(), makeValue(cfg.ValueSize))
}

func TestWindow(t *testing.T) {
	tests := []struct {
		name  string
		depth int
		// ops: positive pushes that many, negative pops that many
		ops      []int
		wantN    int
		wantRoom int
		wantHead uint32 // key of the oldest slot, when wantN > 0
		refused  int    // pushes refused because the window was full
	}{
		{name: "empty", depth: 4, ops: nil, wantN: 0, wantRoom: 4},
		{name: "fill", depth: 4, ops: []int{4}, wantN: 4, wantRoom: 0, wantHead: 0},
		{name: "overfill refused", depth: 4, ops: []int{6}, wantN: 4, wantRoom: 0, wantHead: 0, refused: 2},
		{name: "fifo order", depth: 4, ops: []int{3, -2}, wantN: 1, wantRoom: 3, wantHead: 2},
		{name: "wraps around", depth: 3, ops: []int{3, -2, 2, -2}, wantN: 1, wantRoom: 2, wantHead: 4},
		{name: "pop on empty is a no-op", depth: 2, ops: []int{-3, 1}, wantN: 1, wantRoom: 1, wantHead: 0},
		{name: "depth one slides", depth: 1, ops: []int{1, -1, 1, -1, 1}, wantN: 1, wantRoom: 0, wantHead: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWindow(tt.depth)
			next, refused := uint32(0), 0
			for _, k := range tt.ops {
				for ; k > 0; k-- {
					if w.push(slot{key: next}) {
						next++
					} else {
						refused++
					}
				}
				for ; k < 0; k++ {
					w.pop()
				}
			}
			if w.n != tt.wantN || w.room() != tt.wantRoom || refused != tt.refused {
				t.Fatalf("n=%d room=%d refused=%d, want %d %d %d", w.n, w.room(), refused, tt.wantN, tt.wantRoom, tt.refused)
			}
			s, ok := w.oldest()
			if ok != (tt.wantN > 0) {
				t.Fatalf("oldest ok=%v with n=%d", ok, w.n)
			}
			if ok && s.key != tt.wantHead {
				t.Fatalf("oldest key %d, want %d", s.key, tt.wantHead)
			}
		})
	}
}

// TestPumpSlidingWindow checks the pipelining accounting against a server
// that answers one request only while depth requests are unanswered. A
// client that sends more than depth is caught by maxOutstanding; one that
// waits for a whole batch before sending again (not a sliding window) or
// sends fewer than depth gets errWouldBlock.
func TestPumpSlidingWindow(t *testing.T) {
	for _, tt := range []struct {
		name     string
		proto    Protocol
		depth    int
		requests int64
	}{
		{"text depth 1", Text, 1, 50},
		{"text depth 4", Text, 4, 203},
		{"text depth 16", Text, 16, 500},
		{"binary depth 16", Binary, 16, 500},
		{"budget below depth", Text, 16, 5},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(tt.proto, tt.depth, 32)
			conn := newMemConn(tt.proto, 32)
			conn.hold = min(tt.depth, int(tt.requests))
			conn.lastAt = int(tt.requests)
			w := newTestWorker(&cfg, conn)
			if err := w.pump(phase{depth: tt.depth, budget: tt.requests}); err != nil {
				t.Fatalf("pump: %v", err)
			}
			if conn.maxOutstanding != conn.hold {
				t.Errorf("max outstanding %d, want exactly %d", conn.maxOutstanding, conn.hold)
			}
			if got := w.c.gets + w.c.sets; got != tt.requests || conn.received != int(tt.requests) {
				t.Errorf("answered %d, server saw %d, want %d", got, conn.received, tt.requests)
			}
			if w.win.n != 0 {
				t.Errorf("%d still outstanding after pump", w.win.n)
			}
			if n := w.hist.TotalCount(); n != tt.requests {
				t.Errorf("histogram holds %d latencies, want %d", n, tt.requests)
			}
		})
	}
}

// TestPumpSplitReads feeds replies a few bytes at a time, and values larger
// than the initial read buffer, through the real read loop.
func TestPumpSplitReads(t *testing.T) {
	for _, tt := range []struct {
		name      string
		proto     Protocol
		valueSize int
		maxRead   int
		pipeline  int
	}{
		{"text 1 byte reads", Text, 32, 1, 4},
		{"text 3 byte reads", Text, 32, 3, 16},
		{"text 7 byte reads empty values", Text, 0, 7, 8},
		{"text value larger than the buffer", Text, 40000, 4093, 3},
		{"binary 1 byte reads", Binary, 32, 1, 4},
		{"binary 5 byte reads", Binary, 32, 5, 16},
		{"binary value larger than the buffer", Binary, 70000, 8191, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(tt.proto, tt.pipeline, tt.valueSize)
			conn := newMemConn(tt.proto, tt.valueSize)
			conn.maxRead = tt.maxRead
			w := newTestWorker(&cfg, conn)
			const n = 300
			if err := w.pump(phase{depth: tt.pipeline, budget: n}); err != nil {
				t.Fatalf("pump: %v", err)
			}
			c := w.c
			if c.gets+c.sets != n || c.hits != c.gets || c.misses != 0 || c.mismatches != 0 || c.badReplies != 0 {
				t.Fatalf("counters %+v, want %d ops, all gets hits, no errors", c, n)
			}
		})
	}
}

// TestPumpSteadyStateAllocs pins the promise that the request loop does not
// allocate once buffers have grown to the workload.
func TestPumpSteadyStateAllocs(t *testing.T) {
	for _, proto := range []Protocol{Text, Binary} {
		t.Run(proto.String(), func(t *testing.T) {
			cfg := testConfig(proto, 16, 32)
			conn := newMemConn(proto, 32)
			w := newTestWorker(&cfg, conn)
			if err := w.pump(phase{depth: 16, budget: 1000}); err != nil { // warm up
				t.Fatal(err)
			}
			allocs := testing.AllocsPerRun(20, func() {
				if err := w.pump(phase{depth: 16, budget: 500}); err != nil {
					t.Fatal(err)
				}
			})
			if allocs != 0 {
				t.Fatalf("%.1f allocations per 500 requests, want 0", allocs)
			}
		})
	}
}

func TestPumpPrefill(t *testing.T) {
	for _, tt := range []struct {
		name     string
		conns    int
		id       int
		keys     int
		wantKeys int64
	}{
		{"one connection stores all", 1, 0, 100, 100},
		{"share of connection 0 of 3", 3, 0, 100, 34},
		{"share of connection 2 of 3", 3, 2, 100, 33},
		{"more connections than keys", 8, 5, 3, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(Text, 1, 32)
			cfg.Conns, cfg.Keys = tt.conns, tt.keys
			conn := newMemConn(Text, 32)
			w := newWorker(tt.id, &cfg, conn, time.Now(), makeValue(32))
			if err := w.pump(phase{prefill: true, depth: prefillDepth(32), budget: -1}); err != nil {
				t.Fatal(err)
			}
			if w.c.prefilled != tt.wantKeys || conn.sets != int(tt.wantKeys) || conn.gets != 0 {
				t.Fatalf("prefilled %d (server saw %d sets, %d gets), want %d sets only", w.c.prefilled, conn.sets, conn.gets, tt.wantKeys)
			}
			if w.hist.TotalCount() != 0 || w.c.sets != 0 {
				t.Fatal("prefill was counted as measured load")
			}
		})
	}
}

func TestPumpMisbehavingServer(t *testing.T) {
	for _, tt := range []struct {
		name      string
		proto     Protocol
		setup     func(*memConn)
		wantErr   error
		wantBad   int64
		wantMatch int64 // mismatches
	}{
		{"text garbage reply", Text, func(m *memConn) { m.garbageAt = 5 }, ErrProtocol, 1, 0},
		{"binary bad magic", Binary, func(m *memConn) { m.garbageAt = 5 }, ErrProtocol, 1, 0},
		{"connection closed", Text, func(m *memConn) { m.closeAt = 7 }, io.EOF, 0, 0},
		{"wrong value", Text, func(m *memConn) { m.value = []byte("not what was stored, same len!!!") }, nil, 0, -1},
		{"stray reply after the last", Text, func(m *memConn) { m.extraAt = 40 }, ErrProtocol, 1, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(tt.proto, 4, 32)
			conn := newMemConn(tt.proto, 32)
			tt.setup(conn)
			w := newTestWorker(&cfg, conn)
			err := w.pump(phase{depth: 4, budget: 40})
			if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("pump error %v, want %v", err, tt.wantErr)
			}
			if w.c.badReplies != tt.wantBad {
				t.Errorf("bad replies %d, want %d", w.c.badReplies, tt.wantBad)
			}
			if tt.wantMatch < 0 && (w.c.mismatches == 0 || w.c.mismatches != w.c.gets || w.c.hits != 0) {
				t.Errorf("mismatches %d of %d gets, hits %d: want every get flagged", w.c.mismatches, w.c.gets, w.c.hits)
			}
			if tt.wantMatch < 0 && !errors.Is(w.err, ErrMismatch) {
				t.Errorf("first error %v, want ErrMismatch", w.err)
			}
		})
	}
}

// TestRatioSelection checks that the GET:SET cycle issues exactly the
// configured mix, whatever position a connection starts at.
func TestRatioSelection(t *testing.T) {
	for _, tt := range []struct {
		name     string
		ratio    Ratio
		id       int
		requests int
		gets     int
		sets     int
	}{
		{"9:1 whole cycles", Ratio{9, 1}, 0, 1000, 900, 100},
		{"9:1 from another offset", Ratio{9, 1}, 7, 1000, 900, 100},
		{"1:1", Ratio{1, 1}, 0, 10, 5, 5},
		{"gets only", Ratio{1, 0}, 3, 50, 50, 0},
		{"sets only", Ratio{0, 1}, 3, 50, 0, 50},
		{"partial cycle starts with sets", Ratio{3, 2}, 0, 3, 1, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(Text, 1, 8)
			cfg.Ratio = tt.ratio
			cfg.Conns = tt.id + 1
			w := newWorker(tt.id, &cfg, newMemConn(Text, 8), time.Now(), makeValue(8))
			gets, sets := 0, 0
			p := phase{depth: 1, budget: -1}
			for i := 0; i < tt.requests; i++ {
				o, k, ok := w.next(&p)
				if !ok || int(k) >= cfg.Keys {
					t.Fatalf("next = %v %d %v", o, k, ok)
				}
				if o == opSet {
					sets++
				} else {
					gets++
				}
			}
			if gets != tt.gets || sets != tt.sets {
				t.Fatalf("%d gets, %d sets, want %d and %d", gets, sets, tt.gets, tt.sets)
			}
		})
	}
}

// BenchmarkPump measures the generator's own cost per request against the
// in-memory server (which costs about as much again).
func BenchmarkPump(b *testing.B) {
	for _, tt := range []struct {
		name     string
		proto    Protocol
		pipeline int
	}{
		{"text/p1", Text, 1}, {"text/p16", Text, 16}, {"binary/p16", Binary, 16},
	} {
		b.Run(tt.name, func(b *testing.B) {
			cfg := testConfig(tt.proto, tt.pipeline, 32)
			w := newTestWorker(&cfg, newMemConn(tt.proto, 32))
			b.ReportAllocs()
			b.ResetTimer()
			if err := w.pump(phase{depth: tt.pipeline, budget: int64(b.N)}); err != nil {
				b.Fatal(err)
			}
		})
	}
}

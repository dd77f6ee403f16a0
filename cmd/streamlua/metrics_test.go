package main

import (
	"maps"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestCommandCounts(t *testing.T) {
	cases := []struct {
		name                string
		snap                map[string]int64
		total, hits, misses map[string]int64
	}{
		{
			name:  "empty",
			snap:  map[string]int64{},
			total: map[string]int64{}, hits: map[string]int64{}, misses: map[string]int64{},
		},
		{
			name:  "counted commands",
			snap:  map[string]int64{"cmd_set": 7, "cmd_flush": 1, "cmd_": 3},
			total: map[string]int64{"set": 7, "flush": 1},
			hits:  map[string]int64{}, misses: map[string]int64{},
		},
		{
			// memcached reports cmd_get as get_hits + get_misses; the
			// bundled script counts only the outcomes.
			name:   "commands derived from their outcomes",
			snap:   map[string]int64{"get_hits": 5, "get_misses": 2, "cas_hits": 1, "cas_misses": 1, "cas_badval": 3},
			total:  map[string]int64{"get": 7, "cas": 5},
			hits:   map[string]int64{"get": 5, "cas": 1},
			misses: map[string]int64{"get": 2, "cas": 1},
		},
		{
			name:   "a cmd_ counter wins over the sum",
			snap:   map[string]int64{"cmd_touch": 10, "touch_hits": 4, "touch_misses": 1},
			total:  map[string]int64{"touch": 10},
			hits:   map[string]int64{"touch": 4},
			misses: map[string]int64{"touch": 1},
		},
		{
			name:  "other counters are left alone",
			snap:  map[string]int64{"bytes_read": 99, "ratelimit_allowed": 3, "_hits": 2},
			total: map[string]int64{}, hits: map[string]int64{}, misses: map[string]int64{},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := commandCounts(tc.snap)
			for _, c := range []struct {
				what      string
				got, want map[string]int64
			}{{"total", got.total, tc.total}, {"hits", got.hits, tc.hits}, {"misses", got.misses, tc.misses}} {
				if !maps.Equal(c.got, c.want) {
					t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
				}
			}
		})
	}
}

func TestObserverSet(t *testing.T) {
	m := newMetrics("127.0.0.1:0")
	if err := m.reg.Register(m.requests.vec); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		server string
		d      time.Duration
	}{
		{"first server", "127.0.0.1:11211", 3 * time.Millisecond},
		{"same server again", "127.0.0.1:11211", 5 * time.Millisecond},
		{"second server", "127.0.0.1:7000", time.Millisecond},
		{"not UTF-8 is dropped", "\xff", time.Millisecond},
	}
	hook := m.requestHook()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { hook(tc.server, tc.d) })
	}
	fams, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]uint64{}
	sums := map[string]float64{}
	for _, f := range fams {
		for _, mt := range f.GetMetric() {
			server := mt.GetLabel()[0].GetValue()
			got[server] = mt.GetHistogram().GetSampleCount()
			sums[server] = mt.GetHistogram().GetSampleSum()
		}
	}
	want := map[string]uint64{"127.0.0.1:11211": 2, "127.0.0.1:7000": 1}
	if !maps.Equal(got, want) {
		t.Fatalf("sample counts %v, want %v", got, want)
	}
	if s := sums["127.0.0.1:11211"]; s < 0.0079 || s > 0.0081 {
		t.Errorf("sum for 127.0.0.1:11211 = %v, want 0.008", s)
	}
}

func TestMetricsOff(t *testing.T) {
	m := newMetrics("")
	if m != nil {
		t.Fatal("newMetrics(\"\") is not nil")
	}
	if m.requestHook() != nil || m.connectionHook() != nil {
		t.Error("hooks are set with metrics off; the host would pay for clock reads")
	}
	if err := m.start(nil, nil, nil, nil); err != nil {
		t.Errorf("start with metrics off: %v", err)
	}
	m.stop()
}

// BenchmarkObserveRequest measures what --metrics-listen adds per request
// besides the host's clock reads: the lookup of the server's histogram and
// the observation.
func BenchmarkObserveRequest(b *testing.B) {
	vec := func() *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "x", Buckets: requestBuckets()}, []string{"server"})
	}
	b.Run("observerSet", func(b *testing.B) {
		hook := newObserverSet(vec()).observe
		b.ReportAllocs()
		for b.Loop() {
			hook("127.0.0.1:11211", 20*time.Microsecond)
		}
	})
	b.Run("WithLabelValues", func(b *testing.B) {
		v := vec()
		b.ReportAllocs()
		for b.Loop() {
			v.WithLabelValues("127.0.0.1:11211").Observe((20 * time.Microsecond).Seconds())
		}
	})
	b.Run("observerSet parallel", func(b *testing.B) {
		hook := newObserverSet(vec()).observe
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				hook("127.0.0.1:11211", 20*time.Microsecond)
			}
		})
	})
}

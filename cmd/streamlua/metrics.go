package main

// Prometheus metrics for `serve --metrics-listen ADDR`.
//
// Almost everything here is pulled at scrape time: the host already keeps
// the figures (luaenv.Info's connection counts, the process-wide counters
// the memcached script adds to, each shdict.Dict's Stats, the Env's Lua
// error and reload counts), so a collector reads them when Prometheus
// asks and the request path pays nothing. The two latency histograms are
// the exception: they are fed by luaenv.Config's ObserveRequest and
// ObserveConnection hooks, which are installed only when metrics are on,
// because each costs two clock reads per request or connection.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/streamlua/streamlua/luaenv"
	"github.com/streamlua/streamlua/shdict"
)

// metricsPath is where the exposition is served.
const metricsPath = "/metrics"

// requestBuckets spans 10µs to about 2.6s by fours: a handler's work
// between two receives is normally microseconds, and the upper buckets
// catch scripts that block on cosockets or sleep.
func requestBuckets() []float64 { return prometheus.ExponentialBuckets(10e-6, 4, 10) }

// connectionBuckets spans a millisecond (connect, one request, close) to
// several hours (pooled client connections).
func connectionBuckets() []float64 {
	return []float64{.001, .01, .1, 1, 10, 60, 300, 1800, 3600, 4 * 3600}
}

// metrics owns the registry, the latency histograms and the HTTP server of
// --metrics-listen. A nil *metrics means metrics are off; every method
// accepts it so that runServe needs no branches.
type metrics struct {
	addr     string
	reg      *prometheus.Registry
	requests *observerSet
	conns    *observerSet
	srv      *http.Server
	done     chan struct{}
}

// newMetrics prepares metrics for addr, or returns nil when addr is empty.
// Nothing listens until start.
func newMetrics(addr string) *metrics {
	if addr == "" {
		return nil
	}
	return &metrics{
		addr: addr,
		reg:  prometheus.NewRegistry(),
		requests: newObserverSet(prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "streamlua",
			Name:      "request_duration_seconds",
			Help:      "Time a handler spent on one read's worth of input: from a receive that returned data to its next receive, so waiting for the client is left out (a script that reads pipelined requests in one chunk, as the memcached script does, is timed per chunk).",
			Buckets:   requestBuckets(),
		}, []string{"server"})),
		conns: newObserverSet(prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "streamlua",
			Name:      "connection_duration_seconds",
			Help:      "Lifetime of client connections, from accept to close.",
			Buckets:   connectionBuckets(),
		}, []string{"server"})),
	}
}

// requestHook is the luaenv.Config.ObserveRequest callback, nil when
// metrics are off (so that the host skips the clock reads).
func (m *metrics) requestHook() func(string, time.Duration) {
	if m == nil {
		return nil
	}
	return m.requests.observe
}

// connectionHook is the luaenv.Config.ObserveConnection callback, nil when
// metrics are off.
func (m *metrics) connectionHook() func(string, time.Duration) {
	if m == nil {
		return nil
	}
	return m.conns.observe
}

// start registers the collectors and starts serving. The address is bound
// before start returns, so a port in use stops the server at startup like
// a --listen conflict does.
func (m *metrics) start(env *luaenv.Env, info *luaenv.Info, dicts []*shdict.Dict, log *slog.Logger) error {
	if m == nil {
		return nil
	}
	for _, c := range []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests.vec,
		m.conns.vec,
		newHostCollector(env, info, dicts),
	} {
		if err := m.reg.Register(c); err != nil {
			return fmt.Errorf("--metrics-listen: %v", err)
		}
	}
	ln, err := net.Listen("tcp", m.addr)
	if err != nil {
		return fmt.Errorf("--metrics-listen: %v", err)
	}
	mux := http.NewServeMux()
	mux.Handle(metricsPath, promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:            slogPrintln{log},
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
	}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintf(w, "streamlua metrics are at %s\n", metricsPath)
	})
	m.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	m.done = make(chan struct{})
	go func() {
		defer close(m.done)
		if err := m.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server failed", "listen", m.addr, "error", err.Error())
		}
	}()
	log.Info("serving metrics", "listen", ln.Addr().String(), "path", metricsPath)
	return nil
}

// stop closes the metrics listener. It runs after the stream servers have
// shut down, so a last scrape can still see the connections drain.
func (m *metrics) stop() {
	if m == nil || m.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := m.srv.Shutdown(ctx); err != nil {
		m.srv.Close()
	}
	<-m.done
}

// slogPrintln lets promhttp report collection errors through our logger.
type slogPrintln struct{ log *slog.Logger }

// Println logs one promhttp error.
func (s slogPrintln) Println(v ...any) {
	s.log.Error("metrics: " + strings.TrimSuffix(fmt.Sprintln(v...), "\n"))
}

// observerSet resolves a histogram's per-server child once and then serves
// lookups from an immutable map behind an atomic pointer: the request path
// does one map read, with no lock and no allocation, instead of the
// HistogramVec's label hashing under its mutex.
type observerSet struct {
	vec *prometheus.HistogramVec
	mu  sync.Mutex // serialises additions to m
	m   atomic.Pointer[map[string]prometheus.Observer]
}

func newObserverSet(vec *prometheus.HistogramVec) *observerSet {
	s := &observerSet{vec: vec}
	empty := map[string]prometheus.Observer{}
	s.m.Store(&empty)
	return s
}

// observe records d for server.
func (s *observerSet) observe(server string, d time.Duration) {
	if o, ok := (*s.m.Load())[server]; ok {
		o.Observe(d.Seconds())
		return
	}
	if o := s.add(server); o != nil {
		o.Observe(d.Seconds())
	}
}

// add creates the child for server and publishes a copy of the map with
// it. Servers are few and fixed at startup, so copying is rare.
func (s *observerSet) add(server string) prometheus.Observer {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := *s.m.Load()
	if o, ok := cur[server]; ok {
		return o
	}
	o, err := s.vec.GetMetricWithLabelValues(server)
	if err != nil {
		return nil // not valid UTF-8: nothing sensible to record under
	}
	next := make(map[string]prometheus.Observer, len(cur)+1)
	for k, v := range cur {
		next[k] = v
	}
	next[server] = o
	s.m.Store(&next)
	return o
}

// hostCollector turns the host's own figures into metrics at scrape time.
type hostCollector struct {
	env   *luaenv.Env
	info  *luaenv.Info
	dicts []*shdict.Dict

	buildInfo, connsCurrent, connsTotal, connsRejected *prometheus.Desc
	commands, hits, misses, counter                    *prometheus.Desc
	dictItems, dictBytes, dictCapacity                 *prometheus.Desc
	dictEvictions, dictExpired                         *prometheus.Desc
	luaErrors, reloads                                 *prometheus.Desc
	connsParked, statesLive                            *prometheus.Desc
}

func newHostCollector(env *luaenv.Env, info *luaenv.Info, dicts []*shdict.Dict) *hostCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("streamlua_"+name, help, labels, nil)
	}
	return &hostCollector{
		env: env, info: info, dicts: dicts,
		buildInfo:     d("build_info", "Always 1; the labels say which streamlua and Go built this process.", "version", "goversion"),
		connsCurrent:  d("connections_current", "Open client connections, all listeners together."),
		connsTotal:    d("connections_total", "Client connections accepted since start."),
		connsRejected: d("connections_rejected_total", "Client connections refused because a listener was at --max-conns."),
		commands:      d("commands_total", "Commands served, by name, from the scripts' cmd_NAME counters or, where a script counts only outcomes, NAME_hits + NAME_misses (+ NAME_badval).", "command"),
		hits:          d("command_hits_total", "Commands that found their key, from the scripts' NAME_hits counters.", "command"),
		misses:        d("command_misses_total", "Commands that did not find their key, from the scripts' NAME_misses counters.", "command"),
		counter:       d("lua_counter", "Every process-wide counter scripts keep with require(\"streamlua\").counter(NAME), as it stands (scripts may reset or set them, as memcached's stats reset does).", "name"),
		dictItems:     d("dict_items", "Items in the shared dictionary, including expired ones not yet reclaimed.", "dict"),
		dictBytes:     d("dict_bytes", "Bytes the shared dictionary's items account for.", "dict"),
		dictCapacity:  d("dict_capacity_bytes", "The shared dictionary's size limit (--dict NAME=SIZE).", "dict"),
		dictEvictions: d("dict_evictions_total", "Live items removed to make room for new ones.", "dict"),
		dictExpired:   d("dict_expired_total", "Expired items reclaimed.", "dict"),
		luaErrors:     d("lua_errors_total", "Lua errors that ended a handler, timer or light thread, by the script file the error names (\"\" when it names none).", "script"),
		reloads:       d("reloads_total", "Script reloads (SIGHUP, --watch) by result.", "result"),
		connsParked:   d("connections_parked", "Open connections waiting for input without a Lua state: their handler went idle and returned ngx.AGAIN (sock:setidle)."),
		statesLive:    d("lua_states_live", "Lua states running a connection's handler now."),
	}
}

// Describe sends every descriptor the collector can produce.
func (c *hostCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.buildInfo, c.connsCurrent, c.connsTotal, c.connsRejected,
		c.commands, c.hits, c.misses, c.counter,
		c.dictItems, c.dictBytes, c.dictCapacity, c.dictEvictions, c.dictExpired,
		c.luaErrors, c.reloads, c.connsParked, c.statesLive,
	} {
		ch <- d
	}
}

// Collect reads the host's figures. Label values that Prometheus rejects
// (a counter name that is not UTF-8, say) are skipped rather than allowed
// to fail the whole scrape.
func (c *hostCollector) Collect(ch chan<- prometheus.Metric) {
	emit := func(d *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) {
		if m, err := prometheus.NewConstMetric(d, t, v, labels...); err == nil {
			ch <- m
		}
	}
	emit(c.buildInfo, prometheus.GaugeValue, 1, c.info.Version, runtime.Version())
	emit(c.connsCurrent, prometheus.GaugeValue, float64(c.info.CurrConnections()))
	emit(c.connsTotal, prometheus.CounterValue, float64(c.info.TotalConnections()))
	emit(c.connsRejected, prometheus.CounterValue, float64(c.info.RejectedConnections()))
	emit(c.connsParked, prometheus.GaugeValue, float64(c.env.Parked()))
	emit(c.statesLive, prometheus.GaugeValue, float64(c.env.LiveStates()))

	snap := c.env.Counters().Snapshot()
	cmds := commandCounts(snap)
	// The registry sorts what it gathers, so map order does not matter.
	for name, v := range cmds.total {
		emit(c.commands, prometheus.CounterValue, float64(v), name)
	}
	for name, v := range cmds.hits {
		emit(c.hits, prometheus.CounterValue, float64(v), name)
	}
	for name, v := range cmds.misses {
		emit(c.misses, prometheus.CounterValue, float64(v), name)
	}
	for name, v := range snap {
		emit(c.counter, prometheus.GaugeValue, float64(v), name)
	}

	for _, d := range c.dicts {
		st := d.Stats()
		emit(c.dictItems, prometheus.GaugeValue, float64(st.Items), d.Name())
		emit(c.dictBytes, prometheus.GaugeValue, float64(st.Bytes), d.Name())
		emit(c.dictCapacity, prometheus.GaugeValue, float64(st.Capacity), d.Name())
		emit(c.dictEvictions, prometheus.CounterValue, float64(st.Evictions), d.Name())
		emit(c.dictExpired, prometheus.CounterValue, float64(st.Expired), d.Name())
	}

	errs := c.env.LuaErrorsByScript()
	for script, n := range errs {
		emit(c.luaErrors, prometheus.CounterValue, float64(n), script)
	}
	ok, failed := c.env.Reloads()
	emit(c.reloads, prometheus.CounterValue, float64(ok), "success")
	emit(c.reloads, prometheus.CounterValue, float64(failed), "failure")
}

// commandStats is what commandCounts derives from the scripts' counters.
type commandStats struct {
	total, hits, misses map[string]int64
}

// commandCounts reads memcached's naming convention out of the counters:
// cmd_NAME counts commands, NAME_hits and NAME_misses (and cas_badval)
// count outcomes. memcached itself reports cmd_get and cmd_touch as sums
// of their outcomes, and the bundled script does not count them apart, so
// a command without its own cmd_NAME counter is the sum of its outcomes.
func commandCounts(snap map[string]int64) commandStats {
	s := commandStats{total: map[string]int64{}, hits: map[string]int64{}, misses: map[string]int64{}}
	outcomes := map[string]int64{}
	for name, v := range snap {
		switch {
		case strings.HasPrefix(name, "cmd_"):
			if cmd := name[len("cmd_"):]; cmd != "" {
				s.total[cmd] = v
			}
		case strings.HasSuffix(name, "_hits"):
			if cmd := strings.TrimSuffix(name, "_hits"); cmd != "" {
				s.hits[cmd] = v
				outcomes[cmd] += v
			}
		case strings.HasSuffix(name, "_misses"):
			if cmd := strings.TrimSuffix(name, "_misses"); cmd != "" {
				s.misses[cmd] = v
				outcomes[cmd] += v
			}
		case strings.HasSuffix(name, "_badval"):
			if cmd := strings.TrimSuffix(name, "_badval"); cmd != "" {
				outcomes[cmd] += v
			}
		}
	}
	for cmd, v := range outcomes {
		if _, counted := s.total[cmd]; !counted {
			s.total[cmd] = v
		}
	}
	return s
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/streamlua/streamlua/luaenv"
	"github.com/streamlua/streamlua/scripts"
	"github.com/streamlua/streamlua/shdict"
)

// exitError carries a specific exit status out of a command.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }
func (e *exitError) ExitCode() int { return e.code }

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "streamlua",
		Short:         "A TCP server that runs OpenResty-style stream Lua handlers",
		Long:          "streamlua accepts TCP connections and runs a Lua handler for each one, with OpenResty's\nngx API and shared dictionaries. Its bundled script is a memcached-compatible server.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &exitError{code: 2, msg: err.Error() + " (see '" + c.CommandPath() + " --help')"}
	})
	root.AddCommand(newServeCmd(), newCheckCmd(), newRunCmd(), newVersionCmd())
	root.AddCommand(newBenchCmd())
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the streamlua version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintf(cmd.OutOrStdout(), "streamlua %s (%s, gopher-lua v1.1.2)\n", version, runtime.Version())
			return nil
		},
	}
}

// serveOptions are serve's flags; a --config file fills whatever a flag
// did not set explicitly.
type serveOptions struct {
	config      string
	listen      string
	dicts       []string
	packagePath string
	handler     string
	content     string
	init        string
	initWorker  string
	maxConns    int
	readTimeout time.Duration
	sendTimeout time.Duration
	maxLine     string
	maxItemSize string
	execTimeout time.Duration
	unsafeLibs  bool
	watch       bool
	grace       time.Duration
	logLevel    string
	logFormat   string
	settings    []string
	// Reliability: see snapshot.go.
	snapshot    string
	memoryLimit string
	gcFloor     string
	tlsCert     string
	tlsKey      string
	metrics     string
}

const defaultHandler = "resty.memcached.server"

func newServeCmd() *cobra.Command {
	o := &serveOptions{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve TCP connections with a Lua handler (default: the bundled memcached)",
		Long: `Serve TCP connections, running a Lua handler for each one.

With no flags this starts the bundled memcached server on 127.0.0.1:11211 with a
64 MiB shared dictionary named "memcached". SIGHUP (or --watch) recompiles the
scripts without dropping connections; SIGINT/SIGTERM stop gracefully.`,
		Example: `  streamlua serve
  streamlua serve --listen 127.0.0.1:11212 --dict memcached=100m --package-path 'lib/?.lua;;' --handler resty.memcached.server
  streamlua serve --listen 127.0.0.1:7000 --content examples/echo.lua
  streamlua serve --config examples/streamlua.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runServe(cmd, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.config, "config", "", "JSON config file declaring servers and dictionaries (flags override it)")
	f.StringVar(&o.listen, "listen", "127.0.0.1:11211", "address to listen on (binding beyond loopback must be explicit)")
	f.StringArrayVar(&o.dicts, "dict", nil, "shared dictionary NAME=SIZE (k/m/g suffixes); repeatable (default, when none is given: memcached=64m)")
	f.StringVar(&o.packagePath, "package-path", "", "lua_package_path; ';;' splices in the bundled scripts")
	f.StringVar(&o.handler, "handler", "", "module whose run() handles each connection (default "+defaultHandler+")")
	f.StringVar(&o.content, "content", "", "Lua file run for each connection (like content_by_lua_file)")
	f.StringVar(&o.init, "init", "", "Lua file run once at start with the dictionaries available (like init_by_lua_file)")
	f.StringVar(&o.initWorker, "init-worker", "", "Lua file run once after init, e.g. to start timers (like init_worker_by_lua_file)")
	f.IntVar(&o.maxConns, "max-conns", 1024, "maximum concurrent connections per listener")
	f.DurationVar(&o.readTimeout, "read-timeout", 60*time.Second, "default socket read (idle) timeout")
	f.DurationVar(&o.sendTimeout, "send-timeout", 60*time.Second, "default socket send timeout")
	f.StringVar(&o.maxLine, "max-line", "1m", "longest line receive('*l') accepts")
	f.StringVar(&o.maxItemSize, "max-item-size", "1m", "largest item the memcached script stores")
	f.DurationVar(&o.execTimeout, "lua-exec-timeout", 0, "per-request Lua budget between socket reads (0 = off; costs CPU)")
	f.BoolVar(&o.unsafeLibs, "unsafe-libs", false, "open the io, os and debug libraries to scripts")
	f.BoolVar(&o.watch, "watch", false, "poll script files and reload when they change")
	f.DurationVar(&o.grace, "grace", 10*time.Second, "how long shutdown waits for handlers to finish")
	f.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	f.StringVar(&o.logFormat, "log-format", "text", "text or json")
	f.StringArrayVar(&o.settings, "set", nil, "handler setting KEY=VALUE, visible to scripts; repeatable")
	f.StringVar(&o.snapshot, "snapshot", "", "save the dictionaries to FILE at shutdown and on SIGUSR1; load it at start")
	f.StringVar(&o.memoryLimit, "memory-limit", "", "Go soft memory limit SIZE, or off (default: GOMEMLIMIT, else dictionary caps x 1.5 + 256m)")
	f.StringVar(&o.gcFloor, "gc-floor", "", "heap SIZE the garbage collector lets garbage grow to while live data is small, or off (default: off when GOGC is set, else the dictionary caps)")
	f.StringVar(&o.tlsCert, "tls-cert", "", "serve TLS with this PEM certificate (needs --tls-key)")
	f.StringVar(&o.tlsKey, "tls-key", "", "PEM private key for --tls-cert")
	f.StringVar(&o.metrics, "metrics-listen", "", "serve Prometheus metrics on ADDR at /metrics (off by default)")
	return cmd
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("invalid --log-level %q (want debug, info, warn or error)", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("invalid --log-format %q (want text or json)", format)
}

// serverSpec is one listener to start.
type serverSpec struct {
	addr  string
	entry luaenv.Entry
}

// plan is the resolved serve configuration.
type plan struct {
	dicts      map[string]int64
	order      []string
	servers    []serverSpec
	init       string
	initWorker string
	settings   map[string]string
}

func resolve(cmd *cobra.Command, o *serveOptions) (*plan, error) {
	changed := cmd.Flags().Changed
	p := &plan{dicts: map[string]int64{}, settings: map[string]string{}}
	addDict := func(name string, size int64) {
		if _, ok := p.dicts[name]; !ok {
			p.order = append(p.order, name)
		}
		p.dicts[name] = size
	}
	var fc *fileConfig
	if o.config != "" {
		var err error
		if fc, err = loadConfig(o.config); err != nil {
			return nil, err
		}
		names := make([]string, 0, len(fc.Dicts))
		for n := range fc.Dicts {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			size, err := parseSize(fc.Dicts[n])
			if err != nil {
				return nil, fmt.Errorf("%s: dict %q: %v", o.config, n, err)
			}
			addDict(n, size)
		}
		if !changed("package-path") {
			o.packagePath = fc.PackagePath
		}
		if !changed("init") {
			o.init = fc.Init
		}
		if !changed("init-worker") {
			o.initWorker = fc.InitWorker
		}
		if !changed("max-conns") && fc.MaxConns > 0 {
			o.maxConns = fc.MaxConns
		}
		if !changed("read-timeout") && fc.ReadTimeout > 0 {
			o.readTimeout = time.Duration(fc.ReadTimeout)
		}
		if !changed("send-timeout") && fc.SendTimeout > 0 {
			o.sendTimeout = time.Duration(fc.SendTimeout)
		}
		if !changed("max-line") && fc.MaxLine != "" {
			o.maxLine = fc.MaxLine
		}
		if !changed("max-item-size") && fc.MaxItemSize != "" {
			o.maxItemSize = fc.MaxItemSize
		}
		if !changed("lua-exec-timeout") && fc.LuaExecTimeout > 0 {
			o.execTimeout = time.Duration(fc.LuaExecTimeout)
		}
		if !changed("unsafe-libs") {
			o.unsafeLibs = fc.UnsafeLibs
		}
		if !changed("watch") {
			o.watch = fc.Watch
		}
		if !changed("grace") && fc.Grace > 0 {
			o.grace = time.Duration(fc.Grace)
		}
		for _, f := range []struct {
			flag string
			dst  *string
			val  string
		}{
			{"snapshot", &o.snapshot, fc.Snapshot},
			{"memory-limit", &o.memoryLimit, fc.MemoryLimit},
			{"gc-floor", &o.gcFloor, fc.GCFloor},
			{"tls-cert", &o.tlsCert, fc.TLSCert},
			{"tls-key", &o.tlsKey, fc.TLSKey},
			{"metrics-listen", &o.metrics, fc.MetricsListen},
			{"log-level", &o.logLevel, fc.LogLevel},
			{"log-format", &o.logFormat, fc.LogFormat},
		} {
			if !changed(f.flag) && f.val != "" {
				*f.dst = f.val
			}
		}
		for k, v := range fc.Settings {
			p.settings[k] = v
		}
	}
	for _, d := range o.dicts {
		name, size, err := parseDict(d)
		if err != nil {
			return nil, err
		}
		addDict(name, size)
	}
	for _, s := range o.settings {
		k, v, ok := strings.Cut(s, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("invalid --set %q (want KEY=VALUE)", s)
		}
		p.settings[k] = v
	}
	if o.handler != "" && o.content != "" {
		return nil, errors.New("--handler and --content are mutually exclusive")
	}
	flagServer := changed("listen") || o.handler != "" || o.content != ""
	if fc != nil && len(fc.Servers) > 0 && !flagServer {
		for _, s := range fc.Servers {
			p.servers = append(p.servers, serverSpec{addr: s.Listen, entry: luaenv.Entry{Module: s.Handler, File: s.Content}})
		}
	} else {
		en := luaenv.Entry{Module: o.handler, File: o.content}
		if en.Module == "" && en.File == "" {
			en.Module = defaultHandler
		}
		p.servers = append(p.servers, serverSpec{addr: o.listen, entry: en})
	}
	if len(p.dicts) == 0 {
		// memcached's -m default; handlers built on the bundled server (a
		// user module wrapping it) need it as much as the default does.
		addDict("memcached", 64<<20)
	}
	p.init = o.init
	p.initWorker = o.initWorker
	return p, nil
}

func runServe(cmd *cobra.Command, o *serveOptions) error {
	p, err := resolve(cmd, o)
	if err != nil {
		return err
	}
	log, err := newLogger(cmd.ErrOrStderr(), o.logLevel, o.logFormat)
	if err != nil {
		return err
	}
	startProfiling(log)
	// SIGUSR1 is caught from here on, before any port opens: its default
	// action kills the process, and a client (or a test) may send it as
	// soon as the port answers. openSnapshot handles what arrives.
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	defer signal.Stop(usr1)
	maxLine, err := parseSize(o.maxLine)
	if err != nil {
		return fmt.Errorf("--max-line: %v", err)
	}
	maxItem, err := parseSize(o.maxItemSize)
	if err != nil {
		return fmt.Errorf("--max-item-size: %v", err)
	}
	var dicts []*shdict.Dict
	for _, name := range p.order {
		d, err := shdict.New(name, p.dicts[name], shdict.Options{})
		if err != nil {
			return fmt.Errorf("dict %s: %v", name, err)
		}
		dicts = append(dicts, d)
	}
	tlsConfig, err := loadTLS(o.tlsCert, o.tlsKey)
	if err != nil {
		return err
	}
	info := &luaenv.Info{
		Version:     version,
		PID:         os.Getpid(),
		StartTime:   time.Now().Unix(),
		MaxConns:    o.maxConns,
		MaxItemSize: int(maxItem),
		Threads:     runtime.GOMAXPROCS(0),
		Settings:    p.settings,
	}
	mx := newMetrics(o.metrics)
	env, err := luaenv.New(luaenv.Config{
		PackagePath: o.packagePath,
		Bundled:     scripts.FS,
		Dicts:       dicts,
		Logger:      log,
		UnsafeLibs:  o.unsafeLibs,
		Socket: luaenv.SocketConfig{
			ReadTimeout: o.readTimeout,
			SendTimeout: o.sendTimeout,
			MaxLine:     int(maxLine),
		},
		ExecTimeout:       o.execTimeout,
		MaxIdleStates:     o.maxConns,
		Info:              info,
		ObserveRequest:    mx.requestHook(),
		ObserveConnection: mx.connectionHook(),
	})
	if err != nil {
		return err
	}
	entries := make([]luaenv.Entry, 0, len(p.servers))
	for _, s := range p.servers {
		if err := env.Prepare(s.entry); err != nil {
			return err
		}
		entries = append(entries, s.entry)
	}
	if err := mx.start(env, info, dicts, log); err != nil {
		return err
	}
	defer mx.stop()
	servers := make([]*luaenv.Server, len(p.servers))
	for i, spec := range p.servers {
		s := &luaenv.Server{Env: env, Addr: spec.addr, Entry: spec.entry, MaxConns: o.maxConns, TLS: tlsConfig}
		servers[i] = s
		if err := s.Listen(); err != nil {
			for _, prev := range servers[:i] {
				prev.Shutdown(context.Background())
			}
			return err
		}
	}
	// After the listeners are bound, so that a failed start prints only
	// its error; before anything is served or init runs.
	if err := applyMemoryLimit(cmd, o.memoryLimit, p.dicts, log); err != nil {
		return err
	}
	floor, floorSource, err := gcFloor(cmd, o.gcFloor, p.dicts)
	if err != nil {
		return err
	}
	pacer := startGCPacer(floor, floorSource, log)
	defer pacer.close()
	snap, err := openSnapshot(o.snapshot, dicts, usr1, log)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if p.init != "" {
		if err := env.RunInit(ctx, p.init, "init"); err != nil {
			return fmt.Errorf("init %s: %v", p.init, err)
		}
	}
	if p.initWorker != "" {
		if err := env.RunInit(ctx, p.initWorker, "init_worker"); err != nil {
			return fmt.Errorf("init-worker %s: %v", p.initWorker, err)
		}
	}
	errc := make(chan error, len(servers))
	for _, s := range servers {
		log.Info("serving", "listen", s.ListenAddr().String(), "handler", s.Entry.String())
		go func(s *luaenv.Server) { errc <- s.Serve() }(s)
	}
	reload := func(why string) {
		if err := env.Reload(entries...); err != nil {
			log.Error("reload failed; old code keeps serving", "trigger", why, "error", err.Error())
			return
		}
		log.Info("reloaded scripts", "trigger", why)
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	var tick <-chan time.Time
	if o.watch {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		tick = t.C
	}
	var serveErr error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-hup:
			reload("SIGHUP")
		case <-tick:
			if env.Scripts().Changed() {
				reload("watch")
			}
		case serveErr = <-errc:
			break loop
		}
	}
	log.Info("shutting down", "grace", o.grace)
	sctx, cancel := context.WithTimeout(context.Background(), o.grace)
	defer cancel()
	for _, s := range servers {
		s.Shutdown(sctx)
	}
	if err := snap.close(); err != nil && serveErr == nil {
		serveErr = err
	}
	// Pending timers now run with premature = true, as at nginx exit.
	env.Stop(sctx)
	return serveErr
}

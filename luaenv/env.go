package luaenv

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/streamlua/streamlua/luaenv/ngxre"
	"github.com/streamlua/streamlua/shdict"
)

// Config is everything an Env needs to build Lua states. The zero value of
// each limit selects the OpenResty default named beside it.
type Config struct {
	// PackagePath is lua_package_path; ";;" splices in the bundled scripts.
	PackagePath string
	// Bundled is the embedded script tree served for the default path.
	Bundled fs.FS
	// Dicts are the shared dictionaries, visible as ngx.shared.NAME.
	Dicts []*shdict.Dict
	// Logger receives ngx.log output and host diagnostics.
	Logger *slog.Logger
	// UnsafeLibs opens io and os (and dofile/loadfile) for scripts that need
	// them; the default sandbox leaves them out.
	UnsafeLibs bool
	// Socket holds the defaults of every socket (lua_socket_* directives).
	Socket SocketConfig
	// RegexCacheSize bounds the compiled ngx.re pattern cache (1024).
	RegexCacheSize int
	// ExecTimeout is the per-request Lua budget: the time a handler may run
	// between two socket reads before it is stopped (0 = no budget).
	ExecTimeout time.Duration
	// MaxIdleStates bounds how many idle LStates the pool keeps (1024).
	MaxIdleStates int
	// Info is exposed read-only to Lua as require("streamlua").info.
	Info *Info
	// ObserveRequest, when set, receives the time a handler spent between
	// a receive that returned data and its next receive: the processing
	// time of one request, without the time spent waiting for it. Leave
	// it nil when nobody reads it: it costs two clock reads per request.
	ObserveRequest func(server string, d time.Duration)
	// ObserveConnection, when set, receives each connection's lifetime.
	ObserveConnection func(server string, d time.Duration)
}

// SocketConfig holds socket defaults and the host's safety caps.
type SocketConfig struct {
	ReadTimeout    time.Duration // lua_socket_read_timeout (60s)
	SendTimeout    time.Duration // lua_socket_send_timeout (60s)
	ConnectTimeout time.Duration // lua_socket_connect_timeout (60s)
	// KeepaliveTimeout is lua_socket_keepalive_timeout (60s): how long an
	// idle pooled cosocket connection is kept.
	KeepaliveTimeout time.Duration
	BufferSize       int // initial read buffer (16 KiB: memcached reads 16 KiB at a time, and its line rules depend on what one read brings)
	MaxLine          int // longest line receive("*l") returns (1 MiB)
	MaxReceive       int // largest single receive (64 MiB)
}

func (c *SocketConfig) fill() {
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = 60 * time.Second
	}
	if c.SendTimeout <= 0 {
		c.SendTimeout = 60 * time.Second
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = 60 * time.Second
	}
	if c.KeepaliveTimeout <= 0 {
		c.KeepaliveTimeout = 60 * time.Second
	}
	if c.BufferSize <= 0 {
		c.BufferSize = 16 << 10
	}
	if c.MaxLine <= 0 {
		c.MaxLine = 1 << 20
	}
	if c.MaxReceive <= 0 {
		c.MaxReceive = 64 << 20
	}
}

// Env is the Lua world of one streamlua process: the current generation of
// compiled scripts, the shared dictionaries, the regex cache and the pool of
// LStates. It is safe for concurrent use; each LState it hands out is used
// by one goroutine at a time.
type Env struct {
	cfg   Config
	log   *slog.Logger
	dicts map[string]*shdict.Dict
	names []string // dict names in declaration order
	re    *ngxre.Cache

	gen     atomic.Pointer[Scripts]
	reloads atomic.Uint64
	reloadF atomic.Uint64

	parked atomic.Int64 // connections waiting with no state (idle.go)
	live   atomic.Int64 // states handling a connection's entry

	mu      sync.Mutex
	idle    []*vm
	idleLow int  // fewest idle states since the last trim (trimPool)
	trimmer bool // a trimPool is scheduled
	nextID  int
	serial  atomic.Uint64 // connection serial numbers (ngx.var.connection)
	started time.Time

	luaErrors   atomic.Uint64
	errMu       sync.Mutex
	errByScript map[string]uint64
	counters    Counters
	pools       pools

	timersOnce sync.Once
	timers     *timers

	starting    atomic.Int64 // light threads that have not yet waited
	startingVMs sync.Map     // *lua.LState → *vm for those threads
}

// New builds an Env. It does not compile anything yet: entry points are
// compiled by Prepare, everything else on first require.
func New(cfg Config) (*Env, error) {
	cfg.Socket.fill()
	if cfg.RegexCacheSize <= 0 {
		cfg.RegexCacheSize = 1024
	}
	if cfg.MaxIdleStates <= 0 {
		cfg.MaxIdleStates = 1024
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if cfg.Info == nil {
		cfg.Info = &Info{}
	}
	if cfg.Info.conns == nil {
		cfg.Info.conns = &connCounts{}
	}
	e := &Env{
		cfg:     cfg,
		log:     cfg.Logger,
		dicts:   make(map[string]*shdict.Dict, len(cfg.Dicts)),
		re:      ngxre.NewCache(cfg.RegexCacheSize),
		started: time.Now(),
	}
	for _, d := range cfg.Dicts {
		if _, dup := e.dicts[d.Name()]; dup {
			return nil, fmt.Errorf("luaenv: shared dict %q is already defined", d.Name())
		}
		e.dicts[d.Name()] = d
		e.names = append(e.names, d.Name())
	}
	e.gen.Store(NewScripts(cfg.PackagePath, cfg.Bundled))
	return e, nil
}

// Parked reports the connections waiting for input with no Lua state
// (their entry returned ngx.AGAIN).
func (e *Env) Parked() int64 { return e.parked.Load() }

// LiveStates reports the Lua states running a connection's entry now.
func (e *Env) LiveStates() int64 { return e.live.Load() }

// Logger returns the Env's logger.
func (e *Env) Logger() *slog.Logger { return e.log }

// Dict returns a shared dictionary by name.
func (e *Env) Dict(name string) *shdict.Dict { return e.dicts[name] }

// Scripts returns the current generation of compiled code.
func (e *Env) Scripts() *Scripts { return e.gen.Load() }

// Reloads returns how many reloads succeeded and failed.
func (e *Env) Reloads() (ok, failed uint64) { return e.reloads.Load(), e.reloadF.Load() }

// LuaErrors counts handler errors since start.
func (e *Env) LuaErrors() uint64 { return e.luaErrors.Load() }

// LuaErrorsByScript counts Lua errors by the script file named at the start
// of the error message ("file:line: …"); errors without one count under "".
func (e *Env) LuaErrorsByScript() map[string]uint64 {
	e.errMu.Lock()
	defer e.errMu.Unlock()
	out := make(map[string]uint64, len(e.errByScript))
	for k, v := range e.errByScript {
		out[k] = v
	}
	return out
}

// countError records one Lua error for LuaErrors and LuaErrorsByScript.
func (e *Env) countError(msg string) {
	e.luaErrors.Add(1)
	file := ""
	if i := strings.Index(msg, ":"); i > 0 {
		if j := strings.Index(msg[i+1:], ":"); j > 0 {
			if _, err := strconv.Atoi(msg[i+1 : i+1+j]); err == nil {
				file = msg[:i]
			}
		}
	}
	e.errMu.Lock()
	if e.errByScript == nil {
		e.errByScript = make(map[string]uint64)
	}
	e.errByScript[file]++
	e.errMu.Unlock()
}

// Entry names the Lua code run for each connection: a module whose run()
// is called (like content_by_lua_block { require(M).run() }), or a file run
// as a chunk (like content_by_lua_file).
type Entry struct {
	Module string
	File   string
}

func (en Entry) String() string {
	if en.Module != "" {
		return en.Module
	}
	return en.File
}

// Prepare compiles an entry point in the current generation so that a
// broken handler is reported at startup, not at the first connection.
func (e *Env) Prepare(en Entry) error {
	return prepare(e.gen.Load(), en)
}

func prepare(s *Scripts, en Entry) error {
	switch {
	case en.Module != "":
		_, _, err := s.Find(s.Path(), en.Module)
		if err != nil {
			// One line for the CLI; Lua's require keeps the multi-line form.
			return fmt.Errorf("handler %s: %s", en.Module, strings.ReplaceAll(err.Error(), "\n\t", "; "))
		}
	case en.File != "":
		if _, err := s.File(en.File); err != nil {
			var se *SyntaxError
			if errors.As(err, &se) {
				return err
			}
			return fmt.Errorf("content file: %w", err)
		}
	default:
		return errors.New("luaenv: entry names neither a module nor a file")
	}
	return nil
}

// Reload compiles a new generation: every file the current one has
// compiled plus the given entries. If anything fails to compile the current
// generation stays and the error says file:line. Open connections keep the
// generation they started with; dictionaries are untouched.
func (e *Env) Reload(entries ...Entry) error {
	old := e.gen.Load()
	next := NewScripts(e.cfg.PackagePath, e.cfg.Bundled)
	for _, f := range old.Files() {
		if _, err := next.File(f); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // a module that was removed fails only where required
			}
			e.reloadF.Add(1)
			return err
		}
	}
	for _, en := range entries {
		if err := prepare(next, en); err != nil {
			e.reloadF.Add(1)
			return err
		}
	}
	e.gen.Store(next)
	e.reloads.Add(1)
	e.mu.Lock()
	for _, v := range e.idle {
		v.L.Close()
	}
	e.idle = nil
	e.mu.Unlock()
	return nil
}

// get takes an idle LState of the current generation or builds one.
func (e *Env) get() *vm {
	gen := e.gen.Load()
	e.mu.Lock()
	for len(e.idle) > 0 {
		v := e.idle[len(e.idle)-1]
		e.idle = e.idle[:len(e.idle)-1]
		e.idleLow = min(e.idleLow, len(e.idle))
		if v.gen == gen {
			e.mu.Unlock()
			return v
		}
		v.L.Close()
	}
	id := e.nextID
	e.nextID++
	e.mu.Unlock()
	return newVM(e, gen, id)
}

// put resets an LState and keeps it for the next connection, unless it
// belongs to an older generation or the pool is full.
func (e *Env) put(v *vm) {
	v.reset()
	e.mu.Lock()
	if v.gen == e.gen.Load() && len(e.idle) < e.cfg.MaxIdleStates && !v.broken {
		e.idle = append(e.idle, v)
		if !e.trimmer && len(e.idle) > poolFloor {
			e.trimmer = true
			e.idleLow = len(e.idle)
			time.AfterFunc(poolTrimEvery, e.trimPool)
		}
		e.mu.Unlock()
		return
	}
	e.mu.Unlock()
	v.L.Close()
}

const (
	// poolTrimEvery is how often the pool gives back states nobody took.
	poolTrimEvery = 10 * time.Second
	// poolFloor is how many idle states trimming always leaves.
	poolFloor = 16
)

// trimPool closes half of the idle states that stayed unused for a whole
// period (the fewest the pool held since the last trim), oldest first: a
// burst of connections leaves hundreds of states behind, each a few
// hundred KiB, which should not stay for the process's life, while a
// steady load keeps what it uses.
func (e *Env) trimPool() {
	e.mu.Lock()
	n := min(e.idleLow/2, len(e.idle)-poolFloor)
	var drop []*vm
	if n > 0 {
		drop = make([]*vm, n)
		copy(drop, e.idle[:n])
		e.idle = append(e.idle[:0], e.idle[n:]...)
		clear(e.idle[len(e.idle) : len(e.idle)+n])
	}
	e.idleLow = len(e.idle)
	e.trimmer = len(e.idle) > poolFloor
	if e.trimmer {
		time.AfterFunc(poolTrimEvery, e.trimPool)
	}
	e.mu.Unlock()
	for _, v := range drop {
		v.L.Close()
	}
}

// RunInit runs a file once with the dictionaries available and no socket.
// phase is "init" (init_by_lua_file) or "init_worker"
// (init_worker_by_lua_file, the usual place to start ngx.timer.every).
// Upstream, init code runs before the workers fork and they inherit its
// module state; here its modules stay loaded only in the state it ran on,
// so share data through ngx.shared.
func (e *Env) RunInit(ctx context.Context, file, phase string) error {
	v := e.get()
	defer e.put(v)
	proto, err := v.gen.File(file)
	if err != nil {
		return err
	}
	v.phase = phase
	_, err = v.call(ctx, v.L.NewFunctionFromProto(proto))
	return err
}

// Run runs Lua code once outside any connection (streamlua run): out
// receives ngx.say/ngx.print. It returns the script's error, if any.
func (e *Env) Run(ctx context.Context, proto *lua.FunctionProto, args []string, out *os.File) error {
	v := e.get()
	defer e.put(v)
	v.phase = "timer"
	v.stdout = out
	fn := v.L.NewFunctionFromProto(proto)
	argt := v.L.NewTable()
	for i, a := range args {
		argt.RawSetInt(i+1, lua.LString(a))
	}
	v.L.SetGlobal("arg", argt)
	_, err := v.call(ctx, fn)
	return err
}

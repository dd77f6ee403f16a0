package luaenv

import (
	"crypto/tls"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// Client cosockets: ngx.socket.tcp() objects. They reuse Socket's buffered
// reading and coalesced writing; what they add is connecting, closing and a
// keepalive pool shared by every state of the process (OpenResty's pools
// are per worker; ours are per process, which only makes reuse likelier).

// clientSocket is the Lua-facing state of one ngx.socket.tcp() object.
type clientSocket struct {
	*Socket
	env     *Env
	poolKey string
	reused  int
}

// connPool is one keepalive pool (one host:port, socket path or "pool"
// option).
type connPool struct {
	mu   sync.Mutex
	idle []*pooledConn
}

type pooledConn struct {
	conn   net.Conn
	reused int
	timer  *time.Timer
}

// pools holds every keepalive pool of the process.
type pools struct {
	mu sync.Mutex
	m  map[string]*connPool
}

func (p *pools) get(key string) *connPool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = make(map[string]*connPool)
	}
	cp := p.m[key]
	if cp == nil {
		cp = &connPool{}
		p.m[key] = cp
	}
	return cp
}

// take returns a live idle connection, discarding ones the peer closed.
func (cp *connPool) take() *pooledConn {
	for {
		cp.mu.Lock()
		n := len(cp.idle)
		if n == 0 {
			cp.mu.Unlock()
			return nil
		}
		pc := cp.idle[n-1]
		cp.idle = cp.idle[:n-1]
		cp.mu.Unlock()
		if pc.timer != nil && !pc.timer.Stop() {
			continue // its idle timeout already closed it
		}
		if alive(pc.conn) {
			return pc
		}
		pc.conn.Close()
	}
}

// alive peeks at an idle connection without blocking: unread bytes or EOF
// mean it cannot be reused.
func alive(c net.Conn) bool {
	c.SetReadDeadline(time.Now())
	var b [1]byte
	_, err := c.Read(b[:])
	c.SetReadDeadline(time.Time{})
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (cp *connPool) put(pc *pooledConn, size int, timeout time.Duration) {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	if len(cp.idle) >= size {
		// Full: the oldest idle connection makes room, as nginx does.
		old := cp.idle[0]
		cp.idle = cp.idle[1:]
		if old.timer == nil || old.timer.Stop() {
			old.conn.Close()
		}
	}
	if timeout > 0 {
		pc.timer = time.AfterFunc(timeout, func() {
			cp.mu.Lock()
			for i, x := range cp.idle {
				if x == pc {
					cp.idle = append(cp.idle[:i], cp.idle[i+1:]...)
					break
				}
			}
			cp.mu.Unlock()
			pc.conn.Close()
		})
	}
	cp.idle = append(cp.idle, pc)
}

func (v *vm) newClientSocket() *clientSocket {
	s := &Socket{
		cfg:            &v.env.cfg.Socket,
		vm:             v,
		readTimeout:    v.env.cfg.Socket.ReadTimeout,
		sendTimeout:    v.env.cfg.Socket.SendTimeout,
		connectTimeout: v.env.cfg.Socket.ConnectTimeout,
	}
	s.markClosed()
	if v.conn != nil {
		s.done = v.conn.sock.done
	}
	return &clientSocket{Socket: s, env: v.env}
}

// markClosed puts a socket in the state of a never-connected or closed
// cosocket: every operation answers "closed".
func (s *Socket) markClosed() {
	s.setConn(nil)
	s.readClosed, s.eofReported, s.writeClosed = true, true, true
	s.rpos, s.rend = 0, 0
	s.wbuf = s.wbuf[:0]
}

func (s *Socket) attach(c net.Conn) {
	s.setConn(c)
	s.rdl, s.wdl = 0, 0
	s.readClosed, s.eofReported, s.writeClosed, s.shutdown = false, false, false, false
	s.closedReads = 0
	s.rpos, s.rend = 0, 0
	if s.rbuf == nil {
		s.rbuf = make([]byte, 4<<10)
	}
}

func (v *vm) ngxSocketTCP(L *lua.LState) int {
	cs := v.newClientSocket()
	ud := L.NewUserData()
	ud.Value = cs
	ud.Metatable = v.cosockMT
	v.trackCosocket(cs)
	L.Push(ud)
	return 1
}

// trackCosocket remembers sockets the handler opened so that they are
// closed when it ends, as OpenResty closes a request's cosockets.
func (v *vm) trackCosocket(cs *clientSocket) {
	if len(v.cosockets) >= 64 {
		live := v.cosockets[:0]
		for _, c := range v.cosockets {
			if c.conn != nil {
				live = append(live, c)
			}
		}
		v.cosockets = live
	}
	v.cosockets = append(v.cosockets, cs)
}

func (v *vm) closeCosockets() {
	for _, c := range v.cosockets {
		if c.conn != nil {
			c.conn.Close()
			c.markClosed()
		}
	}
	v.cosockets = v.cosockets[:0]
}

// pushClosed answers an operation on a cosocket that is not connected.
func pushClosed(L *lua.LState) int {
	L.Push(lua.LNil)
	L.Push(lua.LString("closed"))
	return 2
}

func checkClient(L *lua.LState) *clientSocket {
	if ud, ok := L.Get(1).(*lua.LUserData); ok {
		if s, ok := ud.Value.(*clientSocket); ok {
			return s
		}
	}
	L.ArgError(1, "cosocket expected")
	return nil
}

func cosockConnect(L *lua.LState) int {
	cs := checkClient(L)
	if cs.conn != nil {
		cs.conn.Close()
		cs.markClosed()
	}
	var network, addr, key string
	host := L.CheckString(2)
	optIdx := 3
	if path, ok := strings.CutPrefix(host, "unix:"); ok {
		network, addr, key = "unix", path, host
	} else {
		var port float64
		switch p := L.Get(3).(type) {
		case lua.LNumber:
			port = float64(p)
		case lua.LString:
			f, ok := parseNumber(string(p))
			if !ok {
				L.ArgError(3, "number expected, got string")
			}
			port = f
		default:
			L.ArgError(3, "number expected, got "+p.Type().String())
		}
		if port < 0 || port > 65535 {
			L.Push(lua.LNil)
			L.Push(lua.LString("bad port number: " + strconv.Itoa(int(port))))
			return 2
		}
		network = "tcp"
		addr = net.JoinHostPort(host, strconv.Itoa(int(port)))
		key = addr
		optIdx = 4
	}
	if opts, ok := L.Get(optIdx).(*lua.LTable); ok {
		switch p := opts.RawGetString("pool").(type) {
		case lua.LString:
			key = string(p)
		case lua.LNumber:
			key = strconv.FormatFloat(float64(p), 'f', -1, 64)
		}
	}
	cs.poolKey = key
	if pc := cs.env.pools.get(key).take(); pc != nil {
		cs.attach(pc.conn)
		cs.reused = pc.reused + 1
		L.Push(lua.LNumber(1))
		return 1
	}
	if b := cs.vm.budget; b != nil {
		b.pause()
		defer b.resume()
	}
	cs.vm.env.blockingFrom(L)
	d := net.Dialer{Timeout: cs.connectTimeout}
	c, err := d.Dial(network, addr)
	if err != nil {
		L.Push(lua.LNil)
		L.Push(lua.LString(dialErrText(err, host)))
		return 2
	}
	cs.attach(c)
	cs.reused = 0
	L.Push(lua.LNumber(1))
	return 1
}

func dialErrText(err error, host string) string {
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return host + " could not be resolved (" + dnsErr.Err + ")"
	}
	return errText(err, nil)
}

func cosockClose(L *lua.LState) int {
	cs := checkClient(L)
	if cs.conn == nil {
		return pushClosed(L)
	}
	cs.Flush()
	cs.conn.Close()
	cs.markClosed()
	L.Push(lua.LNumber(1))
	return 1
}

func cosockSetKeepalive(L *lua.LState) int {
	cs := checkClient(L)
	if cs.conn == nil {
		return pushClosed(L)
	}
	timeout := cs.env.cfg.Socket.KeepaliveTimeout
	if L.Get(2) != lua.LNil {
		ms := L.CheckNumber(2)
		if ms < 0 {
			L.RaiseError("bad timeout value")
		}
		timeout = time.Duration(int64(ms)) * time.Millisecond // 0 = keep forever
	}
	size := 30
	if L.Get(3) != lua.LNil {
		size = int(L.CheckNumber(3))
		if size <= 0 {
			L.RaiseError("bad \"pool_size\" option value: %d", size)
		}
	}
	if cs.rend > cs.rpos {
		L.Push(lua.LNil)
		L.Push(lua.LString("unread data in buffer"))
		return 2
	}
	if e := cs.Flush(); e != "" || cs.readClosed || cs.writeClosed || cs.shutdown {
		cs.conn.Close()
		cs.markClosed()
		L.Push(lua.LNil)
		L.Push(lua.LString("invalid connection"))
		return 2
	}
	c := cs.conn
	if !alive(c) {
		c.Close()
		cs.markClosed()
		L.Push(lua.LNil)
		L.Push(lua.LString("connection in dubious state"))
		return 2
	}
	cs.env.pools.get(cs.poolKey).put(&pooledConn{conn: c, reused: cs.reused}, size, timeout)
	cs.markClosed()
	L.Push(lua.LNumber(1))
	return 1
}

func cosockGetReusedTimes(L *lua.LState) int {
	cs := checkClient(L)
	if cs.conn == nil {
		return pushClosed(L)
	}
	L.Push(lua.LNumber(cs.reused))
	return 1
}

// cosockSSLHandshake upgrades the connection to TLS:
// sslhandshake(reused_session?, server_name?, ssl_verify?).
func cosockSSLHandshake(L *lua.LState) int {
	cs := checkClient(L)
	if cs.conn == nil {
		return pushClosed(L)
	}
	cfg := &tls.Config{ServerName: L.OptString(3, ""), InsecureSkipVerify: !L.ToBool(4)}
	if cfg.ServerName == "" {
		cfg.InsecureSkipVerify = true
	}
	tc := tls.Client(cs.conn, cfg)
	tc.SetDeadline(time.Now().Add(cs.connectTimeout))
	if err := tc.Handshake(); err != nil {
		cs.conn.Close()
		cs.markClosed()
		L.Push(lua.LNil)
		L.Push(lua.LString("handshake failed: " + err.Error()))
		return 2
	}
	tc.SetDeadline(time.Time{})
	cs.setConn(tc)
	cs.rdl, cs.wdl = 0, 0
	if L.Get(2) == lua.LFalse {
		L.Push(lua.LTrue)
		return 1
	}
	ud := L.NewUserData()
	ud.Value = tc.ConnectionState()
	L.Push(ud)
	return 1
}

func cosockSetOption(L *lua.LState) int {
	checkClient(L)
	L.Push(lua.LTrue)
	return 1
}

func (v *vm) ngxSocketConnect(L *lua.LState) int {
	cs := v.newClientSocket()
	ud := L.NewUserData()
	ud.Value = cs
	ud.Metatable = v.cosockMT
	v.trackCosocket(cs)
	top := L.GetTop()
	args := make([]lua.LValue, 0, top+1)
	args = append(args, ud)
	for i := 1; i <= top; i++ {
		args = append(args, L.Get(i))
	}
	L.SetTop(0)
	for _, a := range args {
		L.Push(a)
	}
	if n := cosockConnect(L); n == 2 {
		return 2
	}
	L.Push(ud)
	return 1
}

// installCosockets adds ngx.socket.{tcp,stream,connect}.
func (v *vm) installCosockets() {
	L := v.L
	methods := L.CreateTable(0, len(socketMethods)+6)
	for name, f := range socketMethods {
		if name == "peek" {
			continue
		}
		methods.RawSetString(name, L.NewFunction(f))
	}
	for name, f := range map[string]lua.LGFunction{
		"connect":        cosockConnect,
		"close":          cosockClose,
		"setkeepalive":   cosockSetKeepalive,
		"getreusedtimes": cosockGetReusedTimes,
		"sslhandshake":   cosockSSLHandshake,
		"setoption":      cosockSetOption,
	} {
		methods.RawSetString(name, L.NewFunction(f))
	}
	v.cosockMT = L.CreateTable(0, 4)
	v.cosockMT.RawSetString("__index", methods)
	sock := L.CreateTable(0, 4)
	sock.RawSetString("tcp", L.NewFunction(v.ngxSocketTCP))
	sock.RawSetString("stream", L.NewFunction(v.ngxSocketTCP))
	sock.RawSetString("connect", L.NewFunction(v.ngxSocketConnect))
	v.ngx.RawSetString("socket", sock)
}

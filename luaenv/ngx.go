package luaenv

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"hash/crc32"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/streamlua/streamlua/luaenv/ljcompat"
	"github.com/streamlua/streamlua/luaenv/ngxre"
)

// Log levels as ngx.log numbers them.
const (
	logStderr = iota
	logEmerg
	logAlert
	logCrit
	logErr
	logWarn
	logNotice
	logInfo
	logDebug
)

var levelNames = [...]string{"STDERR", "EMERG", "ALERT", "CRIT", "ERR", "WARN", "NOTICE", "INFO", "DEBUG"}

// installNgx builds the ngx table for one state. The functions are closures
// over the vm so that they reach the connection currently being served
// without a registry lookup.
func (v *vm) installNgx() {
	L := v.L
	ngx := L.CreateTable(0, 64)
	v.ngx = ngx
	L.SetGlobal("ngx", ngx)

	for name, val := range map[string]int{"OK": 0, "ERROR": -1, "AGAIN": ngxAgain, "DONE": -4, "DECLINED": -5} {
		ngx.RawSetString(name, lua.LNumber(val))
	}
	for i, n := range levelNames {
		ngx.RawSetString(n, lua.LNumber(i))
	}

	v.null = L.NewUserData()
	nullMT := L.CreateTable(0, 4)
	nullMT.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString("userdata: NULL"))
		return 1
	}))
	L.SetMetatable(v.null, nullMT)
	ngx.RawSetString("null", v.null)
	v.exit = L.NewUserData()

	fns := map[string]lua.LGFunction{
		"log":           v.ngxLog,
		"say":           func(L *lua.LState) int { return v.ngxOutput(L, true) },
		"print":         func(L *lua.LState) int { return v.ngxOutput(L, false) },
		"flush":         v.ngxFlush,
		"eof":           v.ngxEOF,
		"exit":          v.ngxExit,
		"sleep":         v.ngxSleep,
		"now":           ngxNow,
		"time":          ngxTime,
		"update_time":   func(L *lua.LState) int { return 0 },
		"today":         func(L *lua.LState) int { L.Push(lua.LString(time.Now().Format("2006-01-02"))); return 1 },
		"localtime":     func(L *lua.LState) int { L.Push(lua.LString(time.Now().Format("2006-01-02 15:04:05"))); return 1 },
		"utctime":       func(L *lua.LState) int { L.Push(lua.LString(time.Now().UTC().Format("2006-01-02 15:04:05"))); return 1 },
		"get_phase":     func(L *lua.LState) int { L.Push(lua.LString(v.phase)); return 1 },
		"encode_base64": ngxEncodeBase64,
		"decode_base64": ngxDecodeBase64,
		"md5":           ngxMD5,
		"md5_bin":       ngxMD5Bin,
		"sha1_bin":      ngxSHA1Bin,
		"hmac_sha1":     ngxHMACSHA1,
		"crc32_short":   ngxCRC32,
		"crc32_long":    ngxCRC32,
		"escape_uri":    ngxEscapeURI,
		"unescape_uri":  ngxUnescapeURI,
		"quote_sql_str": ngxQuoteSQL,
	}
	for n, f := range fns {
		ngx.RawSetString(n, L.NewFunction(f))
	}

	req := L.CreateTable(0, 4)
	req.RawSetString("socket", L.NewFunction(v.ngxReqSocket))
	ngx.RawSetString("req", req)

	// ngx.var: read-only view of the connection's variables.
	vars := L.CreateTable(0, 0)
	varMT := L.CreateTable(0, 4)
	varMT.RawSetString("__index", L.NewFunction(v.ngxVarIndex))
	varMT.RawSetString("__newindex", L.NewFunction(func(L *lua.LState) int {
		L.RaiseError("variable \"%s\" not found for writing", L.ToString(2))
		return 0
	}))
	L.SetMetatable(vars, varMT)
	ngx.RawSetString("var", vars)

	worker := L.CreateTable(0, 4)
	worker.RawSetString("id", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LNumber(v.id % v.env.cfg.MaxIdleStates))
		return 1
	}))
	worker.RawSetString("count", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LNumber(v.env.cfg.MaxIdleStates))
		return 1
	}))
	worker.RawSetString("pid", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LNumber(os.Getpid()))
		return 1
	}))
	worker.RawSetString("exiting", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LBool(v.exiting()))
		return 1
	}))
	ngx.RawSetString("worker", worker)

	cfg := L.CreateTable(0, 6)
	cfg.RawSetString("subsystem", lua.LString("stream"))
	cfg.RawSetString("debug", lua.LFalse)
	cfg.RawSetString("nginx_version", lua.LNumber(1029002))
	cfg.RawSetString("ngx_lua_version", lua.LNumber(17))
	cfg.RawSetString("prefix", L.NewFunction(func(L *lua.LState) int {
		wd, _ := os.Getwd()
		L.Push(lua.LString(strings.TrimSuffix(wd, "/") + "/"))
		return 1
	}))
	cfg.RawSetString("nginx_configure", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString(""))
		return 1
	}))
	ngx.RawSetString("config", cfg)

	re := L.CreateTable(0, 8)
	ngxre.Open(L, re, v.env.re)
	ngx.RawSetString("re", re)
	L.PreloadModule("ngx.re", ngxre.Loader(v.env.re))

	ngx.RawSetString("shared", v.sharedTable())

	v.installCosockets()
	v.installTimers()
	v.installSemaphore()
	v.installThreads()

	v.sockMT = L.CreateTable(0, 4)
	v.sockMT.RawSetString("__index", L.SetFuncs(L.CreateTable(0, len(socketMethods)), socketMethods))

	// print is ngx.log(ngx.NOTICE, ...), as in OpenResty.
	L.SetGlobal("print", L.NewFunction(func(L *lua.LState) int {
		v.logAt(L, logNotice, 1)
		return 0
	}))
}

func (v *vm) exiting() bool {
	if v.env.exiting() {
		return true
	}
	if v.conn == nil {
		return false
	}
	select {
	case <-v.conn.sock.done:
		return true
	default:
		return false
	}
}

func (v *vm) ngxReqSocket(L *lua.LState) int {
	if L.GetTop() > 1 {
		L.RaiseError("expecting zero arguments, but got %d", L.GetTop())
	}
	c := v.conn
	if c == nil {
		L.RaiseError("API disabled in the context of %s", v.phase)
	}
	if c.taken {
		L.Push(lua.LNil)
		L.Push(lua.LString("duplicate call"))
		return 2
	}
	c.taken = true
	if c.ud == nil {
		c.ud = L.NewUserData()
		c.ud.Value = c.sock
		c.ud.Metatable = v.sockMT
	}
	L.Push(c.ud)
	return 1
}

// appendOutput renders ngx.say/ngx.print/ngx.log arguments: unlike send,
// nil, booleans and ngx.null are allowed inside tables.
func (v *vm) appendOutput(L *lua.LState, b []byte, val lua.LValue, depth int) []byte {
	switch x := val.(type) {
	case lua.LString:
		return append(b, x...)
	case lua.LNumber:
		return ljcompat.AppendNumber(b, float64(x))
	case *lua.LNilType:
		return append(b, "nil"...)
	case lua.LBool:
		if x {
			return append(b, "true"...)
		}
		return append(b, "false"...)
	case *lua.LUserData:
		if x == v.null {
			return append(b, "null"...)
		}
	case *lua.LTable:
		if depth > 64 {
			L.RaiseError("table nested too deeply")
		}
		n := x.Len()
		for i := 1; i <= n; i++ {
			b = v.appendOutput(L, b, x.RawGetInt(i), depth+1)
		}
		return b
	}
	L.RaiseError("string, number, boolean, nil, ngx.null, or array table expected, but got %s", val.Type().String())
	return b
}

func (v *vm) ngxOutput(L *lua.LState, newline bool) int {
	if v.conn != nil {
		s := v.conn.sock
		if s.writeClosed || s.shutdown {
			L.Push(lua.LNil)
			L.Push(lua.LString("seen eof"))
			return 2
		}
		s.wmu.Lock()
		defer s.wmu.Unlock()
		s.wbuf = v.appendArgs(L, s.wbuf, newline)
		if len(s.wbuf) >= flushAt {
			s.flushLocked()
		}
	} else {
		b := v.appendArgs(L, nil, newline)
		if v.stdout != nil {
			v.stdout.Write(b)
		} else {
			v.env.log.Info(string(b), "source", "ngx.say")
		}
	}
	L.Push(lua.LNumber(1))
	return 1
}

func (v *vm) appendArgs(L *lua.LState, b []byte, newline bool) []byte {
	for i := 1; i <= L.GetTop(); i++ {
		b = v.appendOutput(L, b, L.Get(i), 0)
	}
	if newline {
		b = append(b, '\n')
	}
	return b
}

func (v *vm) ngxFlush(L *lua.LState) int {
	if v.conn != nil {
		if e := v.conn.sock.Flush(); e != "" {
			L.Push(lua.LNil)
			L.Push(lua.LString(e))
			return 2
		}
	}
	L.Push(lua.LNumber(1))
	return 1
}

func (v *vm) ngxEOF(L *lua.LState) int {
	if v.conn != nil {
		s := v.conn.sock
		s.Flush()
		if !s.shutdown {
			s.shutdown = true
			if cw, ok := s.conn.(interface{ CloseWrite() error }); ok {
				cw.CloseWrite()
			}
		}
	}
	L.Push(lua.LNumber(1))
	return 1
}

func (v *vm) ngxExit(L *lua.LState) int {
	L.CheckNumber(1)
	L.Error(v.exit, 0)
	return 0
}

func (v *vm) ngxSleep(L *lua.LState) int {
	if L.GetTop() != 1 {
		L.RaiseError("attempt to pass %d arguments, but accepted 1", L.GetTop())
	}
	sec := float64(L.CheckNumber(1))
	if sec < 0 {
		L.RaiseError("invalid sleep duration \"%d\"", int64(sec*1000))
	}
	var done <-chan struct{}
	if v.conn != nil {
		v.conn.sock.Flush()
		done = v.conn.sock.done
	}
	if v.budget != nil {
		v.budget.pause()
		defer v.budget.resume()
	}
	v.willBlock()
	d := time.Duration(sec * float64(time.Second)).Truncate(time.Millisecond)
	if d <= 0 {
		return 0
	}
	t := time.NewTimer(d)
	defer t.Stop()
	var ctxDone <-chan struct{}
	if c := L.Context(); c != nil {
		ctxDone = c.Done()
	}
	select {
	case <-t.C:
	case <-done:
	case <-ctxDone:
	}
	return 0
}

func ngxNow(L *lua.LState) int {
	L.Push(lua.LNumber(float64(time.Now().UnixMilli()) / 1000))
	return 1
}

func ngxTime(L *lua.LState) int {
	L.Push(lua.LNumber(time.Now().Unix()))
	return 1
}

func (v *vm) ngxLog(L *lua.LState) int {
	lv := L.CheckInt(1)
	if lv < 0 || lv > logDebug {
		L.RaiseError("bad log level: %d", lv)
	}
	v.logAt(L, lv, 2)
	return 0
}

// logAt writes ngx.log output through slog with the caller's file:line.
func (v *vm) logAt(L *lua.LState, level, first int) {
	var b []byte
	for i := first; i <= L.GetTop(); i++ {
		val := L.Get(i)
		if t, ok := val.(*lua.LTable); ok {
			if mt, ok := L.GetMetaField(t, "__tostring").(*lua.LFunction); ok {
				L.Push(mt)
				L.Push(t)
				L.Call(1, 1)
				val = L.Get(-1)
				L.Pop(1)
			} else {
				L.RaiseError("expected table to have __tostring metamethod")
			}
		}
		b = v.appendOutput(L, b, val, 0)
	}
	if len(b) > 2048 {
		b = b[:2048]
	}
	sl := slog.LevelInfo
	switch {
	case level <= logErr:
		sl = slog.LevelError
	case level == logWarn:
		sl = slog.LevelWarn
	case level == logDebug:
		sl = slog.LevelDebug
	}
	log := v.env.log
	if !log.Enabled(context.Background(), sl) {
		return
	}
	attrs := []any{"level", levelNames[level], "src", strings.TrimSuffix(L.Where(1), ":")}
	if v.conn != nil {
		attrs = append(attrs, "client", v.conn.sock.conn.RemoteAddr().String())
	}
	log.Log(context.Background(), sl, string(b), attrs...)
}

func (v *vm) ngxVarIndex(L *lua.LState) int {
	key, ok := L.Get(2).(lua.LString)
	if !ok {
		if _, isNum := L.Get(2).(lua.LNumber); isNum {
			L.Push(lua.LNil)
			return 1
		}
		L.RaiseError("bad variable name")
	}
	name := strings.ToLower(string(key))
	c := v.conn
	switch name {
	case "pid":
		L.Push(lua.LString(strconv.Itoa(os.Getpid())))
		return 1
	case "nginx_version":
		L.Push(lua.LString("1.29.2"))
		return 1
	case "hostname":
		h, _ := os.Hostname()
		L.Push(lua.LString(h))
		return 1
	case "msec":
		L.Push(lua.LString(strconv.FormatFloat(float64(time.Now().UnixMilli())/1000, 'f', 3, 64)))
		return 1
	case "time_local":
		L.Push(lua.LString(time.Now().Format("02/Jan/2006:15:04:05 -0700")))
		return 1
	case "time_iso8601":
		L.Push(lua.LString(time.Now().Format(time.RFC3339)))
		return 1
	}
	if c == nil {
		L.Push(lua.LNil)
		return 1
	}
	s := c.sock
	var val string
	switch name {
	case "remote_addr", "remote_port", "binary_remote_addr":
		host, port := splitAddr(s.conn.RemoteAddr())
		switch name {
		case "remote_addr":
			val = host
		case "remote_port":
			val = port
		default:
			ip := net.ParseIP(host)
			if ip4 := ip.To4(); ip4 != nil {
				ip = ip4
			}
			val = string(ip)
		}
	case "server_addr", "server_port":
		host, port := splitAddr(s.conn.LocalAddr())
		if name == "server_addr" {
			val = host
		} else {
			val = port
		}
	case "connection":
		val = strconv.FormatUint(c.serial, 10)
	case "bytes_received":
		val = strconv.FormatInt(s.received, 10)
	case "bytes_sent":
		val = strconv.FormatInt(s.sent+int64(len(s.wbuf)), 10)
	case "protocol":
		val = "TCP"
	case "session_time":
		val = strconv.FormatFloat(time.Since(c.start).Seconds(), 'f', 3, 64)
	case "status":
		val = "200"
	default:
		L.Push(lua.LNil)
		return 1
	}
	L.Push(lua.LString(val))
	return 1
}

func splitAddr(a net.Addr) (string, string) {
	if a == nil {
		return "", ""
	}
	h, p, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String(), ""
	}
	return h, p
}

// Encoding and hashing --------------------------------------------------------

func strArg(L *lua.LState, i int) string {
	switch x := L.Get(i).(type) {
	case *lua.LNilType:
		return ""
	case lua.LNumber:
		return ljcompat.FormatNumber(float64(x))
	case lua.LString:
		return string(x)
	}
	return L.CheckString(i)
}

func ngxEncodeBase64(L *lua.LState) int {
	s := strArg(L, 1)
	if L.ToBool(2) {
		L.Push(lua.LString(base64.RawStdEncoding.EncodeToString([]byte(s))))
	} else {
		L.Push(lua.LString(base64.StdEncoding.EncodeToString([]byte(s))))
	}
	return 1
}

func ngxDecodeBase64(L *lua.LState) int {
	s, ok := L.Get(1).(lua.LString)
	if !ok {
		if n, isNum := L.Get(1).(lua.LNumber); isNum {
			s = lua.LString(ljcompat.FormatNumber(float64(n)))
		} else {
			L.RaiseError("string argument only")
		}
	}
	str := string(s)
	enc := base64.StdEncoding
	if len(str)%4 != 0 {
		enc = base64.RawStdEncoding
		str = strings.TrimRight(str, "=")
	}
	b, err := enc.DecodeString(str)
	if err != nil {
		L.Push(lua.LNil)
		return 1
	}
	L.Push(lua.LString(b))
	return 1
}

func ngxMD5(L *lua.LState) int {
	sum := md5.Sum([]byte(strArg(L, 1)))
	L.Push(lua.LString(hex.EncodeToString(sum[:])))
	return 1
}

func ngxMD5Bin(L *lua.LState) int {
	sum := md5.Sum([]byte(strArg(L, 1)))
	L.Push(lua.LString(sum[:]))
	return 1
}

func ngxSHA1Bin(L *lua.LState) int {
	sum := sha1.Sum([]byte(strArg(L, 1)))
	L.Push(lua.LString(sum[:]))
	return 1
}

func ngxHMACSHA1(L *lua.LState) int {
	m := hmac.New(sha1.New, []byte(strArg(L, 1)))
	m.Write([]byte(strArg(L, 2)))
	L.Push(lua.LString(m.Sum(nil)))
	return 1
}

func ngxCRC32(L *lua.LState) int {
	L.Push(lua.LNumber(crc32.ChecksumIEEE([]byte(strArg(L, 1)))))
	return 1
}

// uriSafe marks the bytes escape_uri leaves alone in its default mode.
var uriSafe = func() (t [256]bool) {
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
		t[c+'a'-'A'] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "-._~!'()*" {
		t[c] = true
	}
	return
}()

// uriComponentSafe adds the characters a full URI (type 0) keeps.
var uriComponentSafe = func() (t [256]bool) {
	t = uriSafe
	for _, c := range "#$&+,/:;=?@[]" {
		t[c] = true
	}
	return
}()

func ngxEscapeURI(L *lua.LState) int {
	s := strArg(L, 1)
	tbl := &uriSafe
	if L.GetTop() >= 2 && L.CheckInt(2) == 0 {
		tbl = &uriComponentSafe
	}
	const hexd = "0123456789ABCDEF"
	var b []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if tbl[c] {
			if b != nil {
				b = append(b, c)
			}
			continue
		}
		if b == nil {
			b = append(make([]byte, 0, len(s)+16), s[:i]...)
		}
		b = append(b, '%', hexd[c>>4], hexd[c&15])
	}
	if b == nil {
		L.Push(lua.LString(s))
	} else {
		L.Push(lua.LString(b))
	}
	return 1
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// ngxUnescapeURI follows nginx's decoder, including its treatment of bad
// escapes: "%" + non-hex drops the "%", "%X" + non-hex drops all three, and
// a truncated escape at the end is dropped.
func ngxUnescapeURI(L *lua.LState) int {
	s := strArg(L, 1)
	if !strings.ContainsAny(s, "%+") {
		L.Push(lua.LString(s))
		return 1
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '+':
			b = append(b, ' ')
		case '%':
			if i+1 >= len(s) {
				i = len(s)
				continue
			}
			h, ok := unhex(s[i+1])
			if !ok {
				i++
				b = append(b, s[i])
				continue
			}
			if i+2 >= len(s) {
				i = len(s)
				continue
			}
			l, ok := unhex(s[i+2])
			if !ok {
				i += 2
				continue
			}
			b = append(b, h<<4|l)
			i += 2
		default:
			b = append(b, c)
		}
	}
	L.Push(lua.LString(b))
	return 1
}

func ngxQuoteSQL(L *lua.LState) int {
	s := strArg(L, 1)
	var b strings.Builder
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case 0:
			b.WriteString(`\0`)
		case '\b':
			b.WriteString(`\b`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case 26:
			b.WriteString(`\Z`)
		case '\\', '\'', '"':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	L.Push(lua.LString(b.String()))
	return 1
}

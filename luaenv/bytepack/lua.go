package bytepack

import (
	"math"

	lua "github.com/yuin/gopher-lua"

	"github.com/streamlua/streamlua/luaenv/luabox"
	"github.com/streamlua/streamlua/luaenv/luanum"
)

// Loader opens the module for require "streamlua.pack"; register it with
// L.PreloadModule. Each Lua state gets its own function table, built once,
// when the module is first required.
//
// Besides the functions, the table holds ERR_SHORT and ERR_MAGIC, the
// error strings of input too short and of a wrong request magic, so that
// scripts compare with them rather than with copies of the text.
func Loader(L *lua.LState) int {
	t := L.SetFuncs(L.CreateTable(0, len(functions)+2), functions)
	t.RawSetString("ERR_SHORT", lua.LString(ErrShort.Error()))
	t.RawSetString("ERR_MAGIC", lua.LString(ErrMagic.Error()))
	L.Push(t)
	return 1
}

var functions = map[string]lua.LGFunction{
	"header":          luaHeader,
	"request":         luaRequest,
	"build_header":    luaBuildHeader,
	"response":        luaResponse,
	"value_response":  luaValueResponse,
	"u8":              packer(1),
	"u16":             packer(2),
	"u32":             packer(4),
	"u64":             luaU64,
	"read_u8":         reader(1),
	"read_u16":        reader(2),
	"read_u32":        reader(4),
	"read_u64":        luaReadU64,
	"read_u64_halves": luaReadU64Halves,
}

// digits holds the decimal strings "0" to "9", boxed once, for read_u64's
// most common results (a zero initial value, a delta of 1).
var digits = func() (t [10]lua.LValue) {
	for i := range t {
		t[i] = lua.LString(FormatDecimal(uint64(i)))
	}
	return t
}()

func pushUint(L *lua.LState, v uint64) {
	// Header fields (opcode, extras and key lengths, small body lengths, a
	// zero cas) are nearly always small: luanum has them boxed.
	L.Push(luanum.Uint(v))
}

// push64 pushes a 64-bit value as a number when that is exact, else as its
// decimal text.
func push64(L *lua.LState, v uint64) {
	if v <= MaxExact {
		pushUint(L, v)
		return
	}
	L.Push(lua.LString(FormatDecimal(v)))
}

func pushShort(L *lua.LState) int {
	L.Push(lua.LNil)
	L.Push(lua.LString(ErrShort.Error()))
	return 2
}

// uintArg reads argument i as an integer in 0..max. Numeric strings are
// coerced as Lua's arithmetic would; fractions and values out of range are
// argument errors.
func uintArg(L *lua.LState, i int, max uint64) uint64 {
	if n, ok := L.Get(i).(lua.LNumber); ok {
		// The common case, checked without the coercion path.
		if f := float64(n); f >= 0 && f <= float64(max) {
			if u := uint64(f); float64(u) == f {
				return u
			}
		}
	}
	f := float64(L.CheckNumber(i))
	if f < 0 || f != math.Trunc(f) || f > float64(max) {
		L.ArgError(i, "integer out of range")
	}
	return uint64(f)
}

// u64Arg reads a 64-bit argument: a number (integral, below 2^64) or a
// decimal string, which is the only exact form above 2^53.
func u64Arg(L *lua.LState, i int) uint64 {
	switch x := L.Get(i).(type) {
	case lua.LNumber:
		f := float64(x)
		if f < 0 || f != math.Trunc(f) || f >= 1<<64 {
			L.ArgError(i, "integer out of range")
		}
		return uint64(f)
	case lua.LString:
		v, err := ParseDecimal(string(x))
		if err != nil {
			L.ArgError(i, err.Error())
		}
		return v
	}
	L.TypeError(i, lua.LTNumber)
	return 0
}

// posArg reads the optional 1-based position argument (default 1) and
// returns it as a 0-based offset.
func posArg(L *lua.LState, i int) int {
	if L.Get(i) == lua.LNil {
		return 0
	}
	p := L.CheckInt(i)
	if p < 1 {
		L.ArgError(i, "position must be at least 1")
	}
	return p - 1
}

// luaHeader implements
//
//	magic, opcode, keylen, extlen, datatype, status, bodylen, opaque, cas = header(s [, pos])
//
// reading the 24-byte header that starts at pos (default 1). status is
// the vbucket field of a request. cas is a number, or a decimal string
// above 2^53. Input too short gives nil, "bytepack: input too short".
func luaHeader(L *lua.LState) int {
	s := L.CheckString(1)
	off := posArg(L, 2)
	if off > len(s) {
		return pushShort(L)
	}
	h, err := parseHeader(s[off:])
	if err != nil {
		return pushShort(L)
	}
	pushUint(L, uint64(h.Magic))
	pushUint(L, uint64(h.Opcode))
	pushUint(L, uint64(h.KeyLen))
	pushUint(L, uint64(h.ExtLen))
	pushUint(L, uint64(h.DataType))
	pushUint(L, uint64(h.Status))
	pushUint(L, uint64(h.BodyLen))
	pushUint(L, uint64(h.Opaque))
	push64(L, h.CAS)
	return 9
}

// luaRequest implements
//
//	opcode, keylen, extlen, bodylen, opaque, cas, ek, next = request(s [, pos])
//
// the request path's header parse: the fields a server uses, plus ek, the
// extras and key that follow the header (the bytes a memcached server reads
// before it looks at a request), as one string, and next, the position
// after them; or ek = nil, next = nil when s ends before they do. Fewer than 24 bytes at pos give nil, "bytepack: input too
// short", so a server loop needs no length check of its own; a header
// whose magic is not 0x80 gives nil, "bytepack: not a binary protocol
// request". cas is as in header.
func luaRequest(L *lua.LState) int {
	s := L.CheckString(1)
	off := posArg(L, 2)
	if off > len(s) {
		return pushShort(L)
	}
	h, err := parseHeader(s[off:])
	if err != nil {
		return pushShort(L)
	}
	if h.Magic != RequestMagic {
		L.Push(lua.LNil)
		L.Push(lua.LString(ErrMagic.Error()))
		return 2
	}
	pushUint(L, uint64(h.Opcode))
	pushUint(L, uint64(h.KeyLen))
	pushUint(L, uint64(h.ExtLen))
	pushUint(L, uint64(h.BodyLen))
	pushUint(L, uint64(h.Opaque))
	push64(L, h.CAS)
	start := off + HeaderLen
	if end := start + int(h.ExtLen) + int(h.KeyLen); end <= len(s) {
		L.Push(lua.LString(s[start:end]))
		pushUint(L, uint64(end+1))
	} else {
		L.Push(lua.LNil)
		L.Push(lua.LNil)
	}
	return 8
}

// luaBuildHeader implements
//
//	s = build_header(magic, opcode, keylen, extlen, datatype, status, bodylen, opaque, cas)
//
// the inverse of header, for requests and responses alike.
func luaBuildHeader(L *lua.LState) int {
	h := Header{
		Magic:    uint8(uintArg(L, 1, math.MaxUint8)),
		Opcode:   uint8(uintArg(L, 2, math.MaxUint8)),
		KeyLen:   uint16(uintArg(L, 3, math.MaxUint16)),
		ExtLen:   uint8(uintArg(L, 4, math.MaxUint8)),
		DataType: uint8(uintArg(L, 5, math.MaxUint8)),
		Status:   uint16(uintArg(L, 6, math.MaxUint16)),
		BodyLen:  uint32(uintArg(L, 7, math.MaxUint32)),
		Opaque:   uint32(uintArg(L, 8, math.MaxUint32)),
		CAS:      u64Arg(L, 9),
	}
	var buf [HeaderLen]byte
	L.Push(lua.LString(h.Append(buf[:0])))
	return 1
}

// luaResponse implements
//
//	s = response(opcode, status, opaque, cas, keylen, extlen, bodylen [, word])
//
// the response header a server sends (magic 0x81, data type 0), in the
// order a handler knows its fields. When word is given its 4-byte form
// follows the header (memcached's flags extras), so a GET hit needs one
// call for both.
func luaResponse(L *lua.LState) int {
	h := Header{
		Magic:   ResponseMagic,
		Opcode:  uint8(uintArg(L, 1, math.MaxUint8)),
		Status:  uint16(uintArg(L, 2, math.MaxUint16)),
		Opaque:  uint32(uintArg(L, 3, math.MaxUint32)),
		CAS:     u64Arg(L, 4),
		KeyLen:  uint16(uintArg(L, 5, math.MaxUint16)),
		ExtLen:  uint8(uintArg(L, 6, math.MaxUint8)),
		BodyLen: uint32(uintArg(L, 7, math.MaxUint32)),
	}
	var buf [HeaderLen + 4]byte
	b := h.Append(buf[:0])
	if L.Get(8) != lua.LNil {
		b, _ = AppendUint(b, uintArg(L, 8, math.MaxUint32), 4)
	}
	L.Push(lua.LString(b))
	return 1
}

// luaValueResponse implements
//
//	s = value_response(opcode, opaque, cas, flags, key, value)
//
// the header of a successful response that carries a value: status 0, the
// 32-bit flags as its 4 bytes of extras (included in s), key (nil or "" for
// none) and value counted in the lengths but not copied: the caller sends
// them after s. This is a memcached GET or GAT hit in one call, with the
// lengths taken from the strings themselves.
func luaValueResponse(L *lua.LState) int {
	var klen int
	switch k := L.Get(5).(type) {
	case lua.LString:
		klen = len(k)
	case *lua.LNilType:
	default:
		L.TypeError(5, lua.LTString)
	}
	vlen := len(L.CheckString(6))
	if klen > math.MaxUint16 || 4+klen+vlen > math.MaxUint32 {
		L.ArgError(6, "value too long for a binary protocol packet")
	}
	h := Header{
		Magic:   ResponseMagic,
		Opcode:  uint8(uintArg(L, 1, math.MaxUint8)),
		Opaque:  uint32(uintArg(L, 2, math.MaxUint32)),
		CAS:     u64Arg(L, 3),
		KeyLen:  uint16(klen),
		ExtLen:  4,
		BodyLen: uint32(4 + klen + vlen),
	}
	var buf [HeaderLen + 4]byte
	b, _ := AppendUint(h.Append(buf[:0]), uintArg(L, 4, math.MaxUint32), 4)
	L.Push(lua.LString(b))
	return 1
}

// packer returns u8/u16/u32: s = uN(n), the big-endian bytes of n.
func packer(size int) lua.LGFunction {
	max := uint64(1)<<(8*size) - 1
	return func(L *lua.LState) int {
		var buf [4]byte
		b, _ := AppendUint(buf[:0], uintArg(L, 1, max), size)
		L.Push(lua.LString(b))
		return 1
	}
}

// luaU64 implements s = u64(v) and s = u64(hi, lo): the 8 big-endian bytes
// of v (a number up to 2^53, or a decimal string) or of hi * 2^32 + lo.
func luaU64(L *lua.LState) int {
	var v uint64
	if L.GetTop() >= 2 && L.Get(2) != lua.LNil {
		v = uintArg(L, 1, math.MaxUint32)<<32 | uintArg(L, 2, math.MaxUint32)
	} else {
		v = u64Arg(L, 1)
	}
	var buf [8]byte
	b, _ := AppendUint(buf[:0], v, 8)
	L.Push(lua.LString(b))
	return 1
}

// reader returns read_u8/read_u16/read_u32:
//
//	v1, ..., vn = read_uN(s [, pos [, n]])
//
// the n (default 1, at most 16) consecutive big-endian integers at pos, so
// a fixed extras block (memcached's flags and exptime) is read in one call;
// or nil, "bytepack: input too short".
func reader(size int) lua.LGFunction {
	return func(L *lua.LState) int {
		s := L.CheckString(1)
		off := posArg(L, 2)
		n := 1
		if L.Get(3) != lua.LNil {
			n = L.CheckInt(3)
			if n < 1 || n > 16 {
				L.ArgError(3, "count must be 1 to 16")
			}
		}
		if off > len(s) || len(s)-off < n*size {
			return pushShort(L)
		}
		for i := 0; i < n; i++ {
			v, _ := uintAt(s, off+i*size, size)
			pushUint(L, v)
		}
		return n
	}
}

func read64(L *lua.LState) (uint64, bool) {
	s := L.CheckString(1)
	off := posArg(L, 2)
	if off > len(s) {
		return 0, false
	}
	v, err := uintAt(s, off, 8)
	return v, err == nil
}

// luaReadU64 implements v = read_u64(s [, pos]): the value as a decimal
// string, whatever its size, so that no value is rounded and the result
// has one type (the dictionary's memcached methods take it as is).
func luaReadU64(L *lua.LState) int {
	v, ok := read64(L)
	if !ok {
		return pushShort(L)
	}
	if v < 10 {
		L.Push(digits[v])
		return 1
	}
	L.Push(lua.LString(FormatDecimal(v)))
	return 1
}

// luaReadU64Halves implements hi, lo = read_u64_halves(s [, pos]): the
// value's upper and lower 32 bits, each exact as a number.
func luaReadU64Halves(L *lua.LState) int {
	v, ok := read64(L)
	if !ok {
		return pushShort(L)
	}
	pushUint(L, v>>32)
	pushUint(L, v&0xffffffff)
	return 2
}

// PushRequest pushes what request returns for a whole request head b
// (the header, extras and key, as the host's sock:receive_binary takes
// them off the connection): opcode, keylen, extlen, bodylen, opaque, cas,
// and the extras and key as one string. It returns the number of values
// pushed (7). b must hold HeaderLen + extlen + keylen bytes. The string
// comes from strs, the caller's per-state boxer.
func PushRequest(L *lua.LState, strs *luabox.Boxer, b []byte) int {
	h, _ := parseHeader(b)
	pushUint(L, uint64(h.Opcode))
	pushUint(L, uint64(h.KeyLen))
	pushUint(L, uint64(h.ExtLen))
	pushUint(L, uint64(h.BodyLen))
	pushUint(L, uint64(h.Opaque))
	push64(L, h.CAS)
	L.Push(strs.Bytes(b[HeaderLen:]))
	return 7
}

// AppendResponse appends to dst a whole response whose fields are the Lua
// arguments from index i on:
//
//	opcode, status, opaque, cas, flags, key, value
//
// where flags (nil for none) becomes 4 bytes of extras and key and value
// are strings or nil. It is the body of the host's sock:send_response,
// which writes a reply straight into the connection's output buffer
// instead of building a header string to send.
func AppendResponse(L *lua.LState, dst []byte, i int) []byte {
	var ext, key, value string
	var flags uint64
	if L.Get(i+4) != lua.LNil {
		flags = uintArg(L, i+4, math.MaxUint32)
		ext = "...."
	}
	if k := L.Get(i + 5); k != lua.LNil {
		key = L.CheckString(i + 5)
	}
	if v := L.Get(i + 6); v != lua.LNil {
		value = L.CheckString(i + 6)
	}
	if len(key) > math.MaxUint16 || len(ext)+len(key)+len(value) > math.MaxUint32 {
		L.ArgError(i+6, "value too long for a binary protocol packet")
	}
	h := Header{
		Magic:   ResponseMagic,
		Opcode:  uint8(uintArg(L, i, math.MaxUint8)),
		Status:  uint16(uintArg(L, i+1, math.MaxUint16)),
		Opaque:  uint32(uintArg(L, i+2, math.MaxUint32)),
		CAS:     u64Arg(L, i+3),
		KeyLen:  uint16(len(key)),
		ExtLen:  uint8(len(ext)),
		BodyLen: uint32(len(ext) + len(key) + len(value)),
	}
	dst = h.Append(dst)
	if ext != "" {
		dst, _ = AppendUint(dst, flags, 4)
	}
	dst = append(dst, key...)
	return append(dst, value...)
}

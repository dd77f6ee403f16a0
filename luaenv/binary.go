package luaenv

import (
	lua "github.com/yuin/gopher-lua"

	"github.com/streamlua/streamlua/luaenv/bytepack"
)

// Extensions for memcached's binary protocol (streamlua's own). Like
// receive_command for line protocols, they move framing out of Lua: the
// script no longer keeps its own copy of the input in a Lua string, cuts
// headers out of it and builds reply headers as strings, which made a
// binary request cost more than a text one.

// sockReceiveBinary implements
//
//	op, keylen, extlen, bodylen, opaque, cas, ek = sock:receive_binary()
//
// It takes the next request's 24-byte header and its extras and key (ek,
// one string) off the connection, leaving the value (bodylen - extlen -
// keylen bytes) for the caller to receive or skip: memcached reads exactly
// this much before it judges a request. The numbers are as
// streamlua.pack's request returns them (cas as a decimal string above
// 2^53). When the first byte is not a request's magic (0x80) it returns
// nil, "bad magic" and consumes nothing. A timeout returns nil, "timeout"
// and keeps what has arrived buffered, so calling again resumes; with
// nothing buffered it may return nil, "idle" (sock:setidle); EOF returns
// nil, "closed", <partial request>.
func sockReceiveBinary(L *lua.LState) int {
	s := checkSocket(L)
	if !s.startRead(L) {
		return 2
	}
	defer s.endRead()
	if s.readClosed && s.eofReported {
		return s.closedResult(L)
	}
	if s.rpos == s.rend && !s.readClosed {
		if e := s.fillIdle(L, s.deadline(), len(s.rbuf)); e != "" {
			return s.failKeeping(L, e)
		}
	}
	if e := s.ensure(L, bytepack.HeaderLen); e != "" {
		return s.failKeeping(L, e)
	}
	b := s.buffered()
	if b[0] != bytepack.RequestMagic {
		L.Push(lua.LNil)
		L.Push(lua.LString("bad magic"))
		return 2
	}
	need := bytepack.HeaderLen + int(b[4]) + (int(b[2])<<8 | int(b[3]))
	if e := s.ensure(L, need); e != "" {
		return s.failKeeping(L, e)
	}
	head := s.rbuf[s.rpos : s.rpos+need]
	s.rpos += need
	s.tick()
	return bytepack.PushRequest(L, &s.vm.strs, head)
}

// sockSendResponse implements
//
//	sock:send_response(opcode, status, opaque, cas, flags, key, value)
//
// a binary protocol response (magic 0x81) appended straight to the output
// buffer: flags (nil for none) as 4 bytes of extras, then key and value
// (strings or nil), with the lengths taken from them. It returns what send
// returns.
func sockSendResponse(L *lua.LState) int {
	s := checkSocket(L)
	if s.writeClosed || s.shutdown {
		L.Push(lua.LNil)
		L.Push(lua.LString("closed"))
		return 2
	}
	return s.output(L, func(b []byte) []byte { return bytepack.AppendResponse(L, b, 2) })
}

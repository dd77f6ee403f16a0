package luaenv

import (
	"bytes"

	lua "github.com/yuin/gopher-lua"

	"github.com/streamlua/streamlua/luaenv/luanum"
)

// Extensions for line protocols (streamlua's own, not OpenResty's). A
// memcached-style server spends most of its Lua time finding the end of
// the command line and splitting it into words; these do that in Go and
// leave every decision to the script.

// sockReceiveCommand implements n, err, info = sock:receive_command(t, max).
//
// It reads the next line (up to "\n", dropping one "\r" before it and
// anything from a NUL byte on, as memcached does), splits it on runs of
// spaces into t[1..n], sets t[n+1] = nil and returns n (0 for a blank
// line). max bounds the buffered bytes without a newline (default: the
// socket's line limit); past it the call returns nil, "line too long",
// <first word of the pending input (at most 16 bytes)>, <number of spaces
// before it> and consumes nothing, so the script can allow some commands
// longer lines by calling again with a larger max.
// A timeout returns nil, "timeout" and keeps the partial line buffered
// (nil, "idle" when sock:setidle's time passes with nothing buffered);
// EOF returns nil, "closed", <partial line>.
func sockReceiveCommand(L *lua.LState) int {
	s := checkSocket(L)
	t := L.CheckTable(2)
	max := s.cfg.MaxLine
	if L.GetTop() >= 3 {
		max = L.CheckInt(3)
		if max < 1 {
			L.ArgError(3, "bad max argument")
		}
	}
	if !s.startRead(L) {
		return 2
	}
	defer s.endRead()
	if s.readClosed && s.eofReported {
		return s.closedResult(L)
	}
	scan := 0
	var dl mono
	for {
		buf := s.buffered()
		if i := bytes.IndexByte(buf[scan:], '\n'); i >= 0 {
			i += scan
			line := buf[:i]
			s.rpos += i + 1
			if n := len(line); n > 0 && line[n-1] == '\r' {
				line = line[:n-1]
			}
			if z := bytes.IndexByte(line, 0); z >= 0 {
				line = line[:z]
			}
			n := s.vm.splitWords(t, line)
			s.tick()
			L.Push(luanum.Int(n))
			return 1
		}
		scan = len(buf)
		if len(buf) > max {
			lead := 0
			for lead < len(buf) && buf[lead] == ' ' {
				lead++
			}
			w := buf[lead:]
			if sp := bytes.IndexByte(w, ' '); sp >= 0 {
				w = w[:sp]
			}
			if len(w) > 16 {
				w = w[:16]
			}
			L.Push(lua.LNil)
			L.Push(lua.LString("line too long"))
			L.Push(lua.LString(w))
			L.Push(lua.LNumber(lead))
			return 4
		}
		if s.readClosed {
			return s.failRead(L, "closed", s.takeAll())
		}
		if dl == 0 {
			dl = s.deadline()
		}
		if e := s.fillIdle(L, dl, max+1); e != "" {
			if e == "too large" {
				continue
			}
			return s.failKeeping(L, e)
		}
	}
}

// wordCacheMax bounds a state's cache of boxed words.
const wordCacheMax = 1024

// word returns the Lua string for a token. Command names and short
// numbers (flags, exptimes, sizes) recur on nearly every line, so they are
// kept boxed per state; other words (keys) are copied and boxed from the
// state's pages (luabox).
func (v *vm) word(b []byte, first bool) lua.LValue {
	if first || isShortNumber(b) {
		// A few words make up nearly every line (get, set, 0, 32), so a
		// small direct-mapped cache in front of the map saves hashing.
		r := &v.recent[recentSlot(b)]
		if r.s == string(b) && r.v != nil {
			return r.v
		}
		if w, ok := v.words[string(b)]; ok {
			r.s, r.v = w.String(), w
			return w
		}
		w := lua.LValue(lua.LString(b))
		if len(v.words) < wordCacheMax {
			if v.words == nil {
				v.words = make(map[string]lua.LValue)
			}
			v.words[string(b)] = w
		}
		return w
	}
	return v.strs.Bytes(b)
}

// recentWord is an entry of a state's small cache of command words.
type recentWord struct {
	s string
	v lua.LValue
}

// recentSlot picks a word's entry in vm.recent from its length and its
// first and last bytes, which tell the usual command words apart.
func recentSlot(b []byte) int {
	if len(b) == 0 {
		return 0
	}
	return (int(b[0])*31 + int(b[len(b)-1])*7 + len(b)) & (len(vm{}.recent) - 1)
}

func isShortNumber(b []byte) bool {
	if len(b) > 6 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// splitWords stores the space-separated words of line in t[1..n] and
// clears the entries after them that a longer previous line left.
func (v *vm) splitWords(t *lua.LTable, line []byte) int {
	n := 0
	for i := 0; i < len(line); {
		for i < len(line) && line[i] == ' ' {
			i++
		}
		if i == len(line) {
			break
		}
		j := i
		for j < len(line) && line[j] != ' ' {
			j++
		}
		n++
		t.RawSetInt(n, v.word(line[i:j], n == 1))
		i = j
	}
	for k := n + 1; t.RawGetInt(k) != lua.LNil; k++ {
		t.RawSetInt(k, lua.LNil)
	}
	return n
}

// sockReceiveBlock implements data, err = sock:receive_block(n): it reads
// a data block of n bytes and the "\r\n" after it, and returns the n
// bytes; if the two bytes after the data are not "\r\n" it returns nil,
// "bad data chunk" (all n+2 bytes consumed). A timeout returns nil,
// "timeout" and, for blocks that fit the connection's buffer (64 KiB or
// more), consumes nothing, so the script may simply call again; larger
// blocks are read straight into the result and a timeout loses them.
func sockReceiveBlock(L *lua.LState) int {
	s := checkSocket(L)
	n := L.CheckInt(2)
	if n < 0 {
		L.ArgError(2, "bad size argument")
	}
	if !s.startRead(L) {
		return 2
	}
	defer s.endRead()
	if s.readClosed && s.eofReported {
		return s.closedResult(L)
	}
	need := n + 2
	if need > max(len(s.rbuf), 64<<10) {
		if top := s.receiveSize(L, need); top != 1 {
			return top
		}
		data := string(L.Get(-1).(lua.LString))
		L.Pop(1)
		return pushBlock(L, data[:n], data[n:])
	}
	if e := s.ensure(L, need); e != "" {
		return s.failKeeping(L, e)
	}
	b := s.rbuf[s.rpos : s.rpos+need]
	s.rpos += need
	if b[n] != '\r' || b[n+1] != '\n' {
		L.Push(lua.LNil)
		L.Push(lua.LString("bad data chunk"))
		return 2
	}
	L.Push(s.vm.strs.Bytes(b[:n]))
	return 1
}

func pushBlock(L *lua.LState, data, term string) int {
	if term != "\r\n" {
		L.Push(lua.LNil)
		L.Push(lua.LString("bad data chunk"))
		return 2
	}
	L.Push(lua.LString(data))
	return 1
}

package bytepack

import (
	"bytes"
	"strconv"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

// FuzzParseHeader: any input parses or is reported short, and a parsed
// header writes back to the bytes it came from.
func FuzzParseHeader(f *testing.F) {
	f.Add([]byte{})
	f.Add(make([]byte, 23))
	f.Add(Header{Magic: RequestMagic, KeyLen: 3, BodyLen: 3, Opaque: 9}.Append(nil))
	f.Add(bytes.Repeat([]byte{0xff}, 30))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseHeader(b)
		if len(b) < HeaderLen {
			if err != ErrShort {
				t.Fatalf("%d bytes: err %v, want ErrShort", len(b), err)
			}
			return
		}
		if err != nil {
			t.Fatalf("ParseHeader: %v", err)
		}
		if back := h.Append(nil); !bytes.Equal(back, b[:HeaderLen]) {
			t.Fatalf("round trip % x != % x", back, b[:HeaderLen])
		}
	})
}

// FuzzParseDecimal agrees with strconv.ParseUint on digit strings and
// refuses everything else.
func FuzzParseDecimal(f *testing.F) {
	for _, s := range []string{"0", "18446744073709551615", "18446744073709551616", "", "+1", "007", "1e3", " 1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseDecimal(s)
		digits := s != ""
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				digits = false
			}
		}
		if !digits {
			if err != ErrSyntax {
				t.Fatalf("ParseDecimal(%q) = %d, %v; want ErrSyntax", s, got, err)
			}
			return
		}
		want, werr := strconv.ParseUint(s, 10, 64)
		switch {
		case werr != nil && err != ErrRange:
			t.Fatalf("ParseDecimal(%q) = %d, %v; strconv says %v", s, got, err, werr)
		case werr == nil && (err != nil || got != want):
			t.Fatalf("ParseDecimal(%q) = %d, %v; want %d", s, got, err, want)
		}
	})
}

// FuzzLuaRequest drives the module's request and header parsers from Lua
// with arbitrary input and positions: they never raise for data, and agree
// with ParseHeader.
func FuzzLuaRequest(f *testing.F) {
	f.Add([]byte{}, 1)
	f.Add(append(Header{Magic: RequestMagic, KeyLen: 3, ExtLen: 4, BodyLen: 7}.Append(nil), "1234key"...), 1)
	f.Add(append([]byte("xx"), Header{Magic: RequestMagic, KeyLen: 300}.Append(nil)...), 3)
	f.Add(bytes.Repeat([]byte{0x80}, 40), 17)
	L := lua.NewState()
	defer L.Close()
	L.PreloadModule("streamlua.pack", Loader)
	if err := L.DoString(`local pack = require "streamlua.pack"
		function check(s, pos)
			local r = { pack.request(s, pos) }
			local h = { pack.header(s, pos) }
			local u = { pack.read_u64(s, pos), pack.read_u32(s, pos, 2) }
			return r, h, u
		end`); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte, pos int) {
		if pos < 1 || pos > 1<<20 {
			return
		}
		if err := L.CallByParam(lua.P{Fn: L.GetGlobal("check"), NRet: 2, Protect: true}, lua.LString(b), lua.LNumber(pos)); err != nil {
			t.Fatalf("request(%q, %d) raised: %v", b, pos, err)
		}
		r := L.Get(-2).(*lua.LTable)
		L.Pop(2)
		off := pos - 1
		var h Header
		var err error
		if off <= len(b) {
			h, err = ParseHeader(b[off:])
		} else {
			err = ErrShort
		}
		switch {
		case err != nil:
			if r.RawGetInt(1) != lua.LNil || r.RawGetInt(2).String() != ErrShort.Error() {
				t.Fatalf("short input: request returned %v, %v", r.RawGetInt(1), r.RawGetInt(2))
			}
		case h.Magic != RequestMagic:
			if r.RawGetInt(1) != lua.LNil || r.RawGetInt(2).String() != ErrMagic.Error() {
				t.Fatalf("magic %#x: request returned %v, %v", h.Magic, r.RawGetInt(1), r.RawGetInt(2))
			}
		default:
			if r.RawGetInt(1) != lua.LNumber(h.Opcode) || r.RawGetInt(4) != lua.LNumber(h.BodyLen) || r.RawGetInt(5) != lua.LNumber(h.Opaque) {
				t.Fatalf("request fields differ from %+v", h)
			}
			end := off + HeaderLen + int(h.ExtLen) + int(h.KeyLen)
			ek := r.RawGetInt(7)
			if end <= len(b) {
				if ek != lua.LString(b[off+HeaderLen:end]) || r.RawGetInt(8) != lua.LNumber(end+1) {
					t.Fatalf("ek %q next %v, want %q %d", ek, r.RawGetInt(8), b[off+HeaderLen:end], end+1)
				}
			} else if ek != lua.LNil {
				t.Fatalf("ek %q past the end of the input", ek)
			}
		}
	})
}

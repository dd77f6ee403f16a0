package bytepack

import (
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

// newState is a plain gopher-lua state with the module preloaded, as
// luaenv registers it.
func newState(t testing.TB) *lua.LState {
	t.Helper()
	L := lua.NewState()
	t.Cleanup(L.Close)
	L.PreloadModule("streamlua.pack", Loader)
	return L
}

// eval runs chunk (with pack and hex(s) in scope) and returns its results
// rendered by tostring and joined with spaces; a Lua error is returned as
// "error: <message>".
func eval(t testing.TB, L *lua.LState, chunk string) string {
	t.Helper()
	prelude := `local pack = require "streamlua.pack"
local function hex(s) return (string.gsub(s, ".", function(c) return string.format("%02x", string.byte(c)) end)) end
`
	fn, err := L.LoadString(prelude + chunk)
	if err != nil {
		t.Fatalf("compile %q: %v", chunk, err)
	}
	top := L.GetTop()
	L.Push(fn)
	if err := L.PCall(0, lua.MultRet, nil); err != nil {
		msg := err.Error()
		if i := strings.Index(msg, "\n"); i >= 0 {
			msg = msg[:i]
		}
		return "error: " + msg
	}
	var out []string
	for i := top + 1; i <= L.GetTop(); i++ {
		out = append(out, L.Get(i).String())
	}
	L.SetTop(top)
	return strings.Join(out, " ")
}

func TestLuaModule(t *testing.T) {
	L := newState(t)
	// A GET request for "key" with opaque 7 and cas 0, then one byte more.
	const getReq = `local req = pack.build_header(0x80, 0, 3, 0, 0, 0, 3, 7, 0) .. "key" .. "x"
`
	tests := []struct {
		name  string
		chunk string
		want  string
	}{
		{"build_header bytes", `return hex(pack.build_header(0x80, 1, 2, 8, 0, 0, 10, 258, 0))`,
			"80010002080000000000000a000001020000000000000000"},
		{"header round trip", `return pack.header(pack.build_header(0x81, 0x0c, 5, 4, 1, 2, 300, 4294967295, 123456))`,
			"129 12 5 4 1 2 300 4294967295 123456"},
		{"header at a position", `return pack.header("ab" .. pack.build_header(0x80, 9, 0, 0, 0, 0, 0, 1, 0), 3)`,
			"128 9 0 0 0 0 0 1 0"},
		{"header short", `return pack.header(string.rep("x", 23))`, "nil bytepack: input too short"},
		{"header position past the end", `return pack.header(string.rep("x", 30), 40)`, "nil bytepack: input too short"},
		{"cas above 2^53 is a decimal string", `return select(9, pack.header(pack.build_header(0x80, 0, 0, 0, 0, 0, 0, 0, "18446744073709551615")))`,
			"18446744073709551615"},
		{"cas of 2^53 is a number", `local c = select(9, pack.header(pack.build_header(0x80, 0, 0, 0, 0, 0, 0, 0, 9007199254740992))) return type(c), c`,
			"number 9007199254740992"},
		{"request with its key", getReq + `return pack.request(req)`, "0 3 0 3 7 0 key 28"},
		{"request key not yet there", `return pack.request(pack.build_header(0x80, 0, 3, 0, 0, 0, 3, 7, 0) .. "ke")`, "0 3 0 3 7 0 nil nil"},
		{"request extras and key", `return pack.request(pack.build_header(0x80, 0x1c, 1, 4, 0, 0, 5, 9, 0) .. "\0\0\0\100k")`,
			"28 1 4 5 9 0 \x00\x00\x00dk 30"},
		{"request second of two", getReq + `local r2 = req .. pack.build_header(0x80, 0x0a, 0, 0, 0, 0, 0, 8, 0)
			return pack.request(r2, 29)`, "10 0 0 0 8 0  53"},
		{"request bad magic", `return pack.request(pack.build_header(0x81, 0, 0, 0, 0, 0, 0, 0, 0))`, "nil bytepack: not a binary protocol request"},
		{"request short", `return pack.request("\128\0\0")`, "nil bytepack: input too short"},
		{"response", `return hex(pack.response(0x01, 0x0002, 7, 3, 0, 0, 20))`,
			"810100000000000200000014000000070000000000000003"},
		{"response with flags", `return hex(pack.response(0x00, 0, 1, 0, 0, 4, 9, 0xdeadbeef))`,
			"810000000400000000000009000000010000000000000000deadbeef"},
		{"value_response", `return hex(pack.value_response(0x0c, 5, 99, 7, "key", "value"))`,
			"810c0003040000000000000c00000005000000000000006300000007"},
		{"value_response without key", `return hex(pack.value_response(0x00, 5, 0, 0, nil, "v"))`,
			"810000000400000000000005000000050000000000000000" + "00000000"},
		{"u8 u16 u32", `return hex(pack.u8(255) .. pack.u16(258) .. pack.u32(4294967295))`, "ff0102ffffffff"},
		{"u64 from a number", `return hex(pack.u64(258))`, "0000000000000102"},
		{"u64 from a decimal", `return hex(pack.u64("18446744073709551615"))`, "ffffffffffffffff"},
		{"u64 from halves", `return hex(pack.u64(1, 2))`, "0000000100000002"},
		{"read_u8 u16 u32", `local s = "\1\2\3\4\5\6\7\8" return pack.read_u8(s, 2), pack.read_u16(s, 1), pack.read_u32(s, 5)`,
			"2 258 84281096"},
		{"read_u32 several", `return pack.read_u32("\0\0\0\1\0\0\0\2\0\0\0\3", 1, 3)`, "1 2 3"},
		{"read_u32 too many", `return pack.read_u32("\0\0\0\1\0\0\0\2", 1, 3)`, "nil bytepack: input too short"},
		{"read_u64 is decimal", `local v = pack.read_u64(pack.u64("9007199254740993")) return type(v), v`, "string 9007199254740993"},
		{"read_u64 small is decimal", `local v = pack.read_u64(pack.u64(5)) return type(v), v`, "string 5"},
		{"read_u64_halves", `return pack.read_u64_halves(pack.u64("18446744073709551615"))`, "4294967295 4294967295"},
		{"read past the end", `return pack.read_u16("\1", 1)`, "nil bytepack: input too short"},
		{"read at the end", `return pack.read_u8("\1", 2)`, "nil bytepack: input too short"},
		{"u8 out of range raises", `return pack.u8(256)`, "error: <string>:3: bad argument #1 to u8 (integer out of range)"},
		{"fraction raises", `return pack.u32(1.5)`, "error: <string>:3: bad argument #1 to u32 (integer out of range)"},
		{"negative raises", `return pack.u16(-1)`, "error: <string>:3: bad argument #1 to u16 (integer out of range)"},
		{"u64 bad decimal raises", `return pack.u64("12a")`, "error: <string>:3: bad argument #1 to u64 (bytepack: not an unsigned decimal integer)"},
		{"u64 of 2^64 raises", `return pack.u64("18446744073709551616")`, "error: <string>:3: bad argument #1 to u64 (bytepack: value out of range)"},
		{"position 0 raises", `return pack.read_u8("abc", 0)`, "error: <string>:3: bad argument #2 to read_u8 (position must be at least 1)"},
		{"numeric strings are coerced", `return hex(pack.u16("513"))`, "0201"},
		{"error strings", `return pack.ERR_SHORT, pack.ERR_MAGIC`, "bytepack: input too short bytepack: not a binary protocol request"},
		{"non-string header raises", `return pack.header({})`, "error: <string>:3: bad argument #1 to header (string expected, got table)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := eval(t, L, tt.chunk); got != tt.want {
				t.Fatalf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func BenchmarkLuaRequest(b *testing.B) {
	benchLua(b, `local req = pack.build_header(0x80, 0, 8, 0, 0, 0, 8, 12345, 0) .. "key:1234"
local request = pack.request
for i = 1, N do local op, klen, elen, blen, opaque, cas, ek, next = request(req, 1) end`)
}

func BenchmarkLuaValueResponse(b *testing.B) {
	benchLua(b, `local v = string.rep("v", 32)
local value_response = pack.value_response
for i = 1, N do local h = value_response(0, 12345, 777, 0, nil, v) end`)
}

func benchLua(b *testing.B, loop string) {
	L := newState(b)
	L.SetGlobal("N", lua.LNumber(b.N))
	fn, err := L.LoadString(`local pack = require "streamlua.pack"` + "\n" + loop)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	L.Push(fn)
	if err := L.PCall(0, 0, nil); err != nil {
		b.Fatal(err)
	}
}

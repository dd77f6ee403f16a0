package ljcompat

import (
	"os/exec"
	"strings"
	"testing"
)

// luaCase is one Lua snippet (a chunk body ending in return) and the line
// eval renders for it. Cases marked openresty use functions that only
// OpenResty's LuaJIT has, so the differential test does not send them to a
// stock luajit. Error results start with "error:"; the differential test
// compares only that prefix, since gopher-lua words its messages
// differently.
type luaCase struct {
	name      string
	code      string
	want      string
	openresty bool
}

var luaCases = []luaCase{
	// tostring and number formatting
	{name: "tostring/thirds", code: `return tostring(1/3), 1/3`, want: "0.33333333333333\t0.33333333333333"},
	{name: "tostring/1e15", code: `return tostring(1e15), tostring(1e14), tostring(99999999999999)`, want: "1e+15\t1e+14\t99999999999999"},
	{name: "tostring/2^53", code: `return tostring(2^53), tostring(2^63), tostring(-2^63)`, want: "9.007199254741e+15\t9.2233720368548e+18\t-9.2233720368548e+18"},
	{name: "tostring/sums", code: `return 0.1 + 0.2, 56 + 150 * 2.1`, want: "0.3\t371"},
	{name: "tostring/ties round up", code: `return 123456789012345, 100000000000005, 2^-21, -1234567890123.5`, want: "1.2345678901235e+14\t1.0000000000001e+14\t4.7683715820313e-07\t-1234567890123.5"},
	{name: "tostring/specials", code: `return 1/0, -1/0, 0/0, -(0/0), -0.0`, want: "inf\t-inf\tnan\tnan\t-0"},
	{name: "tostring/zero", code: `return 0, tostring(0)`, want: "0\t0"},
	{name: "tostring/small", code: `return 1e-4, 1e-5, -1e-5, 2^-1074, 1e100`, want: "0.0001\t1e-05\t-1e-05\t4.9406564584125e-324\t1e+100"},
	{name: "tostring/other types", code: `return tostring(nil), tostring(true), tostring(false), tostring("s")`, want: "nil\ttrue\tfalse\ts"},
	{name: "tostring/table address", code: `return (tostring({}):match("^table: 0x%x+$")) ~= nil, (tostring(print):match("^function: ")) ~= nil`, want: "true\ttrue"},
	{name: "tostring/__tostring", code: `return tostring(setmetatable({}, {__tostring = function() return "obj" end}))`, want: "obj"},
	{name: "tostring/__tostring non-string", code: `return type(tostring(setmetatable({}, {__tostring = function() return 42 end})))`, want: "number"},
	{name: "tostring/no argument", code: `return tostring()`, want: "error: bad argument #1 to tostring (value expected)"},

	// tonumber
	{name: "tonumber/exponent", code: `return tonumber("1e3"), tonumber("1E+3"), tonumber("2.5e-3")`, want: "1000\t1000\t0.0025"},
	{name: "tonumber/hex", code: `return tonumber("0x10"), tonumber("0XfF"), tonumber("-0x10"), tonumber("0x1p4"), tonumber("0x.8")`, want: "16\t255\t-16\t16\t0.5"},
	{name: "tonumber/spaces", code: `return tonumber("  12  "), tonumber("\t\n\v\f\r7\r\n"), tonumber("1 2")`, want: "12\t7\tnil"},
	{name: "tonumber/big", code: `return tonumber("18446744073709551615"), tonumber("9223372036854775808") == 2^63`, want: "1.844674407371e+19\ttrue"},
	{name: "tonumber/rejects", code: `return tonumber(""), tonumber("1e"), tonumber("."), tonumber("0x"), tonumber("1_000"), tonumber("1LL"), tonumber("abc")`, want: "nil\tnil\tnil\tnil\tnil\tnil\tnil"},
	{name: "tonumber/specials", code: `return tonumber("inf"), tonumber("-Infinity"), tonumber("nan"), tonumber("0b101"), tonumber("5."), tonumber(".5")`, want: "inf\t-inf\tnan\t5\t5\t0.5"},
	{name: "tonumber/non-strings", code: `return tonumber(nil), tonumber(true), tonumber({}), tonumber(12)`, want: "nil\tnil\tnil\t12"},
	{name: "tonumber/base", code: `return tonumber("ff", 16), tonumber("0x10", 16), tonumber("z", 36), tonumber("777", 8), tonumber("8", 8), tonumber("  -101  ", 2)`, want: "255\t16\t35\t511\tnil\t-5"},
	{name: "tonumber/base 10 is scan", code: `return tonumber("1e1", 10), tonumber(10, 16), tonumber("1e1", 16)`, want: "10\t16\t481"},
	{name: "tonumber/base overflow", code: `return tonumber("ffffffffffffffffffff", 16), tonumber("- 1", 10), tonumber("- 1", 16)`, want: "1.844674407371e+19\tnil\tnil"},
	{name: "tonumber/base out of range", code: `return tonumber("1", 37)`, want: "error: bad argument #2 to tonumber (base out of range)"},
	{name: "tonumber/no argument", code: `return tonumber()`, want: "error: bad argument #1 to tonumber (value expected)"},

	// bit
	{name: "bit/signed results", code: `return bit.band(0xffffffff, 0xffffffff), bit.bor(0x80000000), bit.tobit(0xffffffff)`, want: "-1\t-2147483648\t-1"},
	{name: "bit/tobit modulo", code: `return bit.tobit(2^32 + 5), bit.tobit(-1), bit.tobit(2^31), bit.tobit(-2^31 - 1), bit.tobit(2^52), bit.tobit(1/0)`, want: "5\t-1\t-2147483648\t2147483647\t0\t0"},
	{name: "bit/tobit rounding", code: `return bit.tobit(1.5), bit.tobit(2.5), bit.tobit(-1.5), bit.tobit(0.49), bit.tobit(2^32 + 5.5)`, want: "2\t2\t-2\t0\t6"},
	{name: "bit/strings", code: `return bit.tobit("0x10"), bit.band("255", 0x0f), bit.bor(" 1 ", "2")`, want: "16\t15\t3"},
	{name: "bit/tohex", code: `return bit.tohex(255), bit.tohex(255, 2), bit.tohex(255, -4), bit.tohex(-1), bit.tohex(0x1234, 2)`, want: "000000ff\tff\t00FF\tffffffff\t34"},
	{name: "bit/tohex wide", code: `return bit.tohex(-1, 16), bit.tohex(1, 0), bit.tohex(-1, -20), #bit.tohex(1, 254)`, want: "00000000ffffffff\t\t000000000000FFFFFFFF\t254"},
	// OpenResty's LuaJIT caps n at 254; older LuaJIT 2.1 wraps it modulo 256.
	{name: "bit/tohex cap", code: `return #bit.tohex(1, 255), #bit.tohex(1, 300), #bit.tohex(1, -300)`, want: "254\t254\t254", openresty: true},
	{name: "bit/logic", code: `return bit.bnot(0), bit.bnot(-1), bit.bxor(5, 3, 1), bit.bor(1, 2, 4), bit.band(7, 14, 12)`, want: "-1\t0\t7\t7\t4"},
	{name: "bit/shifts", code: `return bit.lshift(1, 31), bit.lshift(1, 32), bit.lshift(1, 33), bit.rshift(-256, 4), bit.arshift(-256, 4), bit.rshift(1, -1)`, want: "-2147483648\t1\t2\t268435440\t-16\t0"},
	{name: "bit/rotate and swap", code: `return bit.rol(0x12345678, 4), bit.ror(0x12345678, 4), bit.rol(1, 32), bit.bswap(0x12345678), bit.bswap(-1)`, want: "591751041\t-2128394905\t1\t2018915346\t-1"},
	{name: "bit/require", code: `return require("bit") == bit, package.loaded.bit == bit`, want: "true\ttrue"},
	{name: "bit/no argument", code: `return bit.band()`, want: "error: bad argument #1 to band (number expected, got no value)"},
	{name: "bit/bad argument", code: `return bit.bor(1, {})`, want: "error: bad argument #2 to bor (number expected, got table)"},
	{name: "bit/non-numeric string", code: `return bit.tobit("x")`, want: "error: bad argument #1 to tobit (number expected, got string)"},

	// table extensions
	{name: "table/new", code: `local t = table.new(4, 2); t[1] = "a"; t.x = 1; return type(t), #t, t.x, require("table.new") == table.new`, want: "table\t1\t1\ttrue", openresty: true},
	{name: "table/new strings", code: `return #table.new("3", "0"), next(table.new(-1, -1))`, want: "0\tnil", openresty: true},
	{name: "table/new overflow", code: `return table.new(2^28, 0)`, want: "error: table overflow"},
	{name: "table/new missing", code: `return table.new(1)`, want: "error: bad argument #2 to new (number expected, got no value)"},
	{name: "table/clear", code: `local t = {1, 2, 3, a = 1, [2.5] = 2}; local mt = {}; setmetatable(t, mt); table.clear(t); return #t, next(t), getmetatable(t) == mt`, want: "0\tnil\ttrue", openresty: true},
	{name: "table/clear then reuse", code: `local t = {1, 2, x = 1}; table.clear(t); t[1] = "a"; t.y = 2; local n = 0; for k in pairs(t) do n = n + 1 end; return #t, t.x, t.y, n`, want: "1\tnil\t2\t2", openresty: true},
	{name: "table/clear require", code: `local clear = require "table.clear"; local t = {1}; clear(t); return #t, clear == table.clear`, want: "0\ttrue"},
	{name: "table/nkeys", code: `return table.nkeys({}), table.nkeys({1, 2, nil, 4, a = 1, [0] = 0})`, want: "0\t5", openresty: true},
	{name: "table/isempty", code: `local t = {a = 1}; t.a = nil; return table.isempty({}), table.isempty({nil}), table.isempty({false}), table.isempty(t)`, want: "true\ttrue\tfalse\ttrue", openresty: true},
	{name: "table/isarray", code: `return table.isarray({}), table.isarray({1, 2}), table.isarray({1, nil, 3}), table.isarray({[0] = 1, [-5] = 2}), table.isarray({a = 1}), table.isarray({[1.5] = 1})`, want: "true\ttrue\ttrue\ttrue\tfalse\tfalse", openresty: true},
	{name: "table/clone", code: `local mt = {}; local t = setmetatable({1, 2, a = {}, [true] = 3}, mt); local c = table.clone(t); c[1] = 9; return c ~= t, c[1], t[1], c[2], c.a == t.a, c[true], getmetatable(c)`, want: "true\t9\t1\t2\ttrue\t3\tnil", openresty: true},
	{name: "table/clone order", code: `local t = {}; for i = 1, 20 do t["k" .. i] = i end; local c = table.clone(t); local a, b = {}, {}; for k in pairs(t) do a[#a + 1] = k end; for k in pairs(c) do b[#b + 1] = k end; return table.concat(a, ",") == table.concat(b, ",")`, want: "true", openresty: true},
	{name: "table/require extensions", code: `return require("table.nkeys") == table.nkeys, require("table.isempty") == table.isempty, require("table.isarray") == table.isarray, require("table.clone") == table.clone`, want: "true\ttrue\ttrue\ttrue", openresty: true},

	// table library differences
	{name: "table/concat numbers", code: `return table.concat({1, 2.5, "x", 1e15, 0.1 + 0.2}, ",")`, want: "1,2.5,x,1e+15,0.3"},
	{name: "table/concat ranges", code: `return table.concat({1, 2, 3}, "-", "2", "3"), table.concat({1, 2, 3}, ", ", 3, 1), table.concat({}, "x"), table.concat({"a"}, 1)`, want: "2-3\t\t\ta"},
	{name: "table/concat invalid", code: `return table.concat({1, {}, 3})`, want: "error: invalid value (table) at index 2 in table for 'concat'"},
	{name: "table/concat past end", code: `return table.concat({1, 2}, ",", 1, 3)`, want: "error: invalid value (nil) at index 3 in table for 'concat'"},
	{name: "table/remove", code: `local t = {1, 2, 3}; return table.remove(t, "1"), table.remove(t), #t, t[1]`, want: "1\t3\t1\t2"},
	{name: "table/remove out of range", code: `local t = {1, 2, 3}; return select("#", table.remove(t, 0)), select("#", table.remove(t, 4)), select("#", table.remove({})), #t`, want: "0\t0\t0\t3"},
	{name: "table/insert", code: `local t = {1, 3}; table.insert(t, "2", 2); table.insert(t, "4"); return table.concat(t, ","), type(t[4])`, want: "1,2,3,4\tstring"},

	// string coercion
	{name: "string/sub", code: `return string.sub("hello", "2", "4"), ("hello"):sub("3"), string.sub(12345, 2, 3)`, want: "ell\tllo\t23"},
	{name: "string/rep", code: `return string.rep("ab", "3"), string.rep("ab", 3, ","), string.rep("x", 0), string.rep("x", -1, ","), string.rep("", 5, "-"), string.rep(5, 2)`, want: "ababab\tab,ab,ab\t\t\t----\t55"},
	{name: "string/byte and char", code: `return string.byte("ABC", "2"), string.byte("ABC", "1", "2"), string.char("72", 105)`, want: "66\t65\tHi"},
	{name: "string/byte range", code: `return string.byte("ABC", "1", "2")`, want: "65\t66"},
	{name: "string/find init", code: `return string.find("abcabc", "c", "4"), string.find("a.b", ".", "1", true), string.match("abcabc", "b", "3")`, want: "6\t2\tb"},
	{name: "string/find plain", code: `return string.find("a.b", ".", "1", true)`, want: "2\t2"},
	{name: "string/gsub", code: `return string.gsub("aaa", "a", "b", "2"), string.gsub("a1", "%d", 2.5)`, want: "bba\ta2.5\t1"},
	{name: "string/gsub count", code: `return string.gsub("aaa", "a", "b", "2")`, want: "bba\t2"},
	{name: "string/number subjects", code: `return string.len(0.1 + 0.2), string.upper(1e15), string.reverse(12)`, want: "3\t1E+15\t21"},
	{name: "string/bad integer", code: `return string.sub("abc", "x")`, want: "error: bad argument #2 to sub (number expected, got string)"},

	// string.format
	{name: "format/numbers", code: `return string.format("%d %5.2f %-5d| %x %X %o", "42", 3.14159, 7, 255, -1, 8)`, want: "42  3.14 7    | ff FFFFFFFFFFFFFFFF 10"},
	{name: "format/floats", code: `return string.format("%e %g %g %g %g %.3g", 12345.678, 0.0001, 1e-5, 100000, 1e20, 2.5e-5)`, want: "1.234568e+04 0.0001 1e-05 100000 1e+20 2.5e-05"},
	{name: "format/ties", code: `return string.format("%.0f %.1f %.0f %.2f %.0e", 0.5, 0.25, 2.5, 1.005, 25)`, want: "1 0.3 3 1.00 3e+01"},
	{name: "format/s", code: `return string.format("%s %s %s %s|%5s|%-5s|%.1s", 1e15, 0.1 + 0.2, nil, true, "ab", "ab", "ab")`, want: "1e+15 0.3 nil true|   ab|ab   |a"},
	{name: "format/s __tostring", code: `return string.format("<%s>", setmetatable({}, {__tostring = function() return "T" end}))`, want: "<T>"},
	{name: "format/flags", code: `return string.format("%+d % d %05d %.3d %#x %#o %#g %+.2e", 5, 5, -5, 7, 255, 8, 1, 12345)`, want: "+5  5 -0005 007 0xff 010 1.00000 +1.23e+04"},
	{name: "format/c", code: `return string.format("%c%c|%3c|%-3c|", 72, "105", 65, 66), #string.format("%c", 200)`, want: "Hi|  A|B  |\t1"},
	{name: "format/q", code: `return string.format("%q", "a\nb\0c\r1\"\\")`, want: "\"a\\\nb\\0c\\0131\\\"\\\\\""},
	{name: "format/a", code: `return string.format("%a %A %.2a %a", 1, 255.5, 1/3, 0)`, want: "0x1p+0 0X1.FFP+7 0x1.55p-2 0x0p+0"},
	{name: "format/specials", code: `return string.format("%5.1f|%-8.3e|%08.3f|%F|% f", -0.0, 1/0, -1/0, 0/0, 1/0)`, want: " -0.0|inf     |    -inf|NAN| inf"},
	{name: "format/large integers", code: `return string.format("%d %d %u %x", 2^53, -2^63, -1, 2^64)`, want: "9007199254740992 -9223372036854775808 18446744073709551615 0"},
	{name: "format/percent", code: `return string.format("100%% %s", "done")`, want: "100% done"},
	{name: "format/missing argument", code: `return string.format("%d %d", 1)`, want: "error: bad argument #3 to format (value expected)"},
	{name: "format/invalid option", code: `return string.format("%y", 1)`, want: "error: invalid option '%y' to 'format'"},
	{name: "format/width too long", code: `return string.format("%123d", 1)`, want: "error: invalid option '%123' to 'format'"},
	{name: "format/number expected", code: `return string.format("%d", "x")`, want: "error: bad argument #2 to format (number expected, got string)"},

	// math and base coercion
	{name: "math/strings", code: `return math.floor("3.7"), math.max("10", 2), math.min(" 0x10 ", 20), math.ldexp(1, "4"), math.floor("017")`, want: "3\t10\t16\t16\t17"},
	{name: "math/random ranges", code: `local a, b, c = math.random(1), math.random(3, 3), math.random(); return a, b, c >= 0 and c < 1, math.random(0) == 1`, want: "1\t3\ttrue\ttrue"},
	{name: "base/select and unpack", code: `return select("2", "a", "b", "c"), unpack({1, 2, 3}, "2", "3")`, want: "b\t2\t3"},
	{name: "base/select count", code: `return select("#", 1, nil, 3)`, want: "3"},

	// jit
	{name: "jit/fields", code: `return jit.os, jit.arch, type(jit.version), require("jit") == jit, type(jit.on), type(jit.opt.start)`, want: "Linux\tx64\tstring\ttrue\tfunction\tfunction"},
}

func TestLuaCases(t *testing.T) {
	L := newState(t)
	for _, c := range luaCases {
		t.Run(c.name, func(t *testing.T) {
			got := eval(t, L, c.code)
			if strings.HasPrefix(c.want, "error: ") {
				// Strip the "<string>:N: " position gopher-lua prepends.
				if i := strings.Index(got, ": "); strings.HasPrefix(got, "error: ") && i >= 0 {
					rest := got[len("error: "):]
					if j := strings.Index(rest, ": "); j >= 0 && strings.HasPrefix(rest, "<string>:") {
						got = "error: " + rest[j+2:]
					}
				}
			}
			if got != c.want {
				t.Errorf("%s\n got %q\nwant %q", c.code, got, c.want)
			}
		})
	}
}

// TestLuaCasesAgainstLuaJIT runs the portable cases under a real luajit and
// checks that the expectations above are LuaJIT's behaviour.
func TestLuaCasesAgainstLuaJIT(t *testing.T) {
	bin := luajitPath(t)
	for _, c := range luaCases {
		if c.openresty {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			script := "io.write((function() " + strings.Replace(driver, "%s", c.code, 1) + " end)())"
			out, err := exec.Command(bin, "-e", script).Output()
			if err != nil {
				t.Fatalf("luajit: %v", err)
			}
			got := string(out)
			if strings.HasPrefix(c.want, "error: ") {
				if !strings.HasPrefix(got, "error: ") {
					t.Errorf("LuaJIT did not fail: %q", got)
				}
				return
			}
			if got != c.want {
				t.Errorf("%s\nLuaJIT %q\n  want %q", c.code, got, c.want)
			}
		})
	}
}

-- LuaJIT features OpenResty code relies on: bit, table.new/clear, number
-- formatting, numeric-string coercion in the string library.
--! expect "ok\n"
local t = require "t"
local sock = assert(ngx.req.socket(true))
local bit = require "bit"
t.eq(bit.band(0xffffffff, 0xffffffff), -1, "signed results")
t.eq(bit.lshift(1, 31), -2147483648, "lshift")
t.eq(bit.tohex(255), "000000ff", "tohex")
local new_tab = require "table.new"
local clear_tab = require "table.clear"
local tab = new_tab(4, 0)
tab[1] = 1 tab.x = 2
clear_tab(tab)
t.eq(next(tab), nil, "cleared in place")
t.eq(tostring(1/3), "0.33333333333333", "%.14g")
t.eq(tostring(1e15), "1e+15", "1e15")
t.eq(tostring(0.1 + 0.2), "0.3", "0.1+0.2")
t.eq(tonumber("1e3"), 1000, "tonumber exponent")
t.eq(string.sub("abcdef", 1, "3"), "abc", "string index as numeric string")
t.eq("\x41\x42", "AB", "LuaJIT \\x escapes")
t.eq(#"\x80\x00", 2, "binary \\x escapes")
t.eq("a\z
      b", "ab", "\\z skips white space")
t.done(sock)

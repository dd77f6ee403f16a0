-- resty.memcached.proto: the wire-level rules of memcached's text protocol
-- that every command shares, kept apart from the commands themselves.
--
-- memcached 1.6 parses numbers with C's strtoul/strtol/strtoull on a 64-bit
-- build and then truncates them (flags to 32 bits unsigned, exptime and
-- lengths to 32 bits signed). Clients never send such numbers on purpose,
-- but a compatible server must answer them the same way, so the parsers
-- here reproduce those rules exactly: optional leading white space, an
-- optional sign, at least one digit, then the end of the token or a white
-- space byte. Lua numbers are doubles, so 64-bit values are handled as
-- decimal strings and reduced modulo 2^32 digit by digit.
--
-- Every parser has a fast path for the plain decimals real clients send
-- ("0", "3600", "1024"): one tonumber plus two byte probes, no pattern
-- matching (gopher-lua compiles patterns anew on every call).

local byte, sub, find = string.byte, string.sub, string.find
local tonumber, floor = tonumber, math.floor
local concat = table.concat
local unpack = unpack or table.unpack

local _M = {}

-- KEY_MAX is the longest key memcached accepts, in bytes.
_M.KEY_MAX = 250
-- REALTIME_MAXDELTA is memcached's 30-day boundary: larger exptimes are
-- absolute Unix times.
_M.REALTIME_MAXDELTA = 2592000

local TWO32 = 4294967296
local INT32_MAX = 2147483647
local U64_MAX = "18446744073709551615"
local TWO64 = "18446744073709551616"
local I64_MAX = "9223372036854775807"
local TWO63 = "9223372036854775808"

-- C's isspace in the "C" locale.
local SPACE = { [32] = true, [9] = true, [10] = true, [11] = true, [12] = true, [13] = true }

-- plain returns n when t is a canonical decimal below 10^9 (no sign, no
-- leading zero, no white space), else nil. tonumber alone would accept
-- "1e2", "0x10" or " 5"; the checks below rule those out: a first byte of
-- 1..9 excludes signs, spaces, hex and fractions-only forms, the length must
-- match the digit count of n, and the last byte must be n's last digit
-- (an exponent form of the same length would end in its exponent, never in
-- the zero that such a value ends with).
local function plain(t)
    local n = tonumber(t)
    if not n or n < 0 or n >= 1e9 or n % 1 ~= 0 then
        return nil
    end
    local len = #t
    if len == 1 then
        return n
    end
    local d
    if n < 100 then d = n < 10 and 1 or 2
    elseif n < 10000 then d = n < 1000 and 3 or 4
    elseif n < 1000000 then d = n < 100000 and 5 or 6
    else d = n < 10000000 and 7 or (n < 100000000 and 8 or 9)
    end
    if len ~= d then
        return nil
    end
    local first = byte(t, 1)
    if first < 49 or first > 57 then
        return nil
    end
    -- Two bytes cannot hold an exponent form of a two-digit number.
    if len > 2 and byte(t, len) ~= 48 + n % 10 then
        return nil
    end
    return n
end
_M.plain = plain

-- NUM_MAX bounds NUM: a client choosing its numbers could otherwise grow it
-- without limit.
local NUM_MAX = 256

-- NUM maps tokens to plain(token), caching the plain ones: NUM[t] is the
-- number or nil. A client sends the same few sizes and exptimes over and
-- over, and one table lookup costs a tenth of plain in gopher-lua, where
-- every VM instruction and call counts on the hot path. When full it is
-- emptied, so the numbers in use come back on their next appearance.
local NUM, nums = {}, 0
setmetatable(NUM, {
    __index = function(t, k)
        if type(k) ~= "string" then
            return nil
        end
        local n = plain(k)
        if n then
            if nums >= NUM_MAX then
                for key in pairs(t) do
                    t[key] = nil
                end
                nums = 0
            end
            rawset(t, k, n)
            nums = nums + 1
        end
        return n
    end,
})
_M.NUM = NUM

-- scan finds the number strtol would read in t: it returns whether a minus
-- sign was seen and the digit string without leading zeros, or nil when
-- there are no digits or the number is followed by something other than
-- white space.
local function scan(t)
    local i = 1
    local b = byte(t, i)
    while b and SPACE[b] do
        i = i + 1
        b = byte(t, i)
    end
    local neg = false
    if b == 45 then
        neg = true
        i = i + 1
        b = byte(t, i)
    elseif b == 43 then
        i = i + 1
        b = byte(t, i)
    end
    local ds = i
    while b and b >= 48 and b <= 57 do
        i = i + 1
        b = byte(t, i)
    end
    if i == ds or (b and not SPACE[b]) then
        return nil
    end
    local de = i - 1
    while ds < de and byte(t, ds) == 48 do
        ds = ds + 1
    end
    return neg, sub(t, ds, de)
end

-- cmp compares two digit strings without leading zeros.
local function cmp(a, b)
    if #a ~= #b then
        return #a < #b and -1 or 1
    end
    if a == b then
        return 0
    end
    return a < b and -1 or 1
end

-- mod32 is the digit string s modulo 2^32, exact in doubles.
local function mod32(s)
    local m = 0
    for i = 1, #s do
        m = (m * 10 + byte(s, i) - 48) % TWO32
    end
    return m
end

-- subdec is a - b for digit strings with a >= b.
local function subdec(a, b)
    local out, borrow = {}, 0
    local j = #b
    for i = #a, 1, -1 do
        local d = byte(a, i) - 48 - borrow - (j >= 1 and byte(b, j) - 48 or 0)
        j = j - 1
        if d < 0 then
            d = d + 10
            borrow = 1
        else
            borrow = 0
        end
        out[i] = d
    end
    local s = concat(out)
    local k = 1
    while k < #s and byte(s, k) == 48 do
        k = k + 1
    end
    return sub(s, k)
end

-- unsigned64 applies strtoull's range and sign rules to a scanned number
-- and returns its value as a digit string, or nil. A minus sign negates
-- modulo 2^64, and is refused when the result would be negative as a
-- signed 64-bit number (memcached's check looks for '-' anywhere in t).
local function unsigned64(t, neg, s)
    if cmp(s, U64_MAX) > 0 then
        return nil
    end
    if neg and s ~= "0" then
        if cmp(s, TWO63) <= 0 then
            return nil
        end
        return subdec(TWO64, s)
    end
    if cmp(s, TWO63) >= 0 and find(t, "-", 1, true) then
        return nil
    end
    return s
end

-- parse_u32 reads flags as memcached does (strtoul, then the low 32 bits):
-- a number in 0..2^32-1, or nil when memcached would refuse the token.
function _M.parse_u32(t)
    local n = NUM[t]
    if n then
        return n
    end
    local neg, s = scan(t)
    if not s then
        return nil
    end
    local u = unsigned64(t, neg, s)
    if not u then
        return nil
    end
    return mod32(u)
end

-- parse_i32 reads exptimes and lengths as memcached does (strtol on 64
-- bits, then the low 32 bits as a signed number), or nil.
function _M.parse_i32(t)
    local n = NUM[t]
    if n then
        return n
    end
    local neg, s = scan(t)
    if not s then
        return nil
    end
    if cmp(s, neg and TWO63 or I64_MAX) > 0 then
        return nil
    end
    local m = mod32(s)
    if neg then
        m = (TWO32 - m) % TWO32
    end
    if m > INT32_MAX then
        m = m - TWO32
    end
    return m
end

-- parse_u64 reads a cas unique or an incr/decr delta as memcached does
-- (strtoull) and returns it as a canonical decimal string, or nil.
function _M.parse_u64(t)
    if NUM[t] then
        return t
    end
    local neg, s = scan(t)
    if not s then
        return nil
    end
    return unsigned64(t, neg, s)
end

-- ttl converts a memcached exptime (already truncated to 32 bits) into the
-- relative seconds the shared dictionary's memcached methods take: 0 is
-- "never", a negative number "expired at once". Values above 30 days are
-- absolute Unix times (now is the current one); a time at or before now
-- is already expired.
function _M.ttl(exptime, now)
    if exptime == 0 then
        return 0
    end
    if exptime < 0 then
        return -1
    end
    if exptime > 2592000 then
        local rel = exptime - now
        if rel <= 0 then
            return -1
        end
        return rel
    end
    return exptime
end

-- item_size is memcached's accounted size of an item (the figure its
-- item_size_max is compared with, and the size "me" reports): the item
-- header (48 bytes), the cas (8), the key and a NUL, the value and its
-- CRLF, and 4 bytes of flags unless they are 0. With it the largest value
-- accepted here equals memcached's for the same limit and key.
function _M.item_size(nkey, flags, vlen)
    return 48 + 8 + nkey + 1 + vlen + 2 + (flags ~= 0 and 4 or 0)
end

-- B64 maps the bytes of the base64 alphabet (and '=') to their values.
local B64 = {}
do
    local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    for i = 1, #alphabet do
        B64[byte(alphabet, i)] = i - 1
    end
    B64[61] = 0
end

-- b64decode decodes a meta command's base64 key (the b flag) exactly as
-- memcached does: bytes outside the alphabet are skipped, the rest must
-- come in groups of four, and decoding stops after the first padded
-- group. It returns nil where memcached reports a decoding error.
function _M.b64decode(s)
    local bytes = { byte(s, 1, -1) }
    local count = 0
    for i = 1, #bytes do
        if B64[bytes[i]] then
            count = count + 1
        end
    end
    if count == 0 or count % 4 ~= 0 then
        return nil
    end
    local out, n = {}, 0
    local b1, b2, b3 = 0, 0, 0
    local c, pad = 0, 0
    for i = 1, #bytes do
        local b = bytes[i]
        local d = B64[b]
        if d then
            if b == 61 then
                pad = pad + 1
            end
            c = c + 1
            if c == 1 then
                b1 = d
            elseif c == 2 then
                b2 = d
            elseif c == 3 then
                b3 = d
            else
                local x = b1 * 262144 + b2 * 4096 + b3 * 64 + d
                out[n + 1] = floor(x / 65536)
                out[n + 2] = floor(x / 256) % 256
                out[n + 3] = x % 256
                n = n + 3
                c = 0
                if pad > 0 then
                    if pad > 2 then
                        return nil
                    end
                    n = n - pad
                    break
                end
            end
        end
    end
    if n <= 0 then
        return nil
    end
    return string.char(unpack(out, 1, n))
end

-- dict_methods returns the method table shared by every ngx.shared
-- dictionary, so that commands can call methods as plain functions
-- (get(dict, key)) instead of looking them up through the metatable on
-- every request.
function _M.dict_methods()
    for _, d in pairs(ngx.shared) do
        local mt = getmetatable(d)
        if mt and type(mt.__index) == "table" then
            return mt.__index
        end
    end
    error("resty.memcached: no shared dictionary is configured"
        .. " (start streamlua with --dict memcached=64m)", 2)
end

-- peek returns value, flags and cas of key's live entry (nil on a miss)
-- without changing it: no LRU bump, no "fetched" mark. memcached's own
-- lookups for a reply (a cas to compare or return, me's debug line) leave
-- the item alone, and mg h and me fetch= would show the difference.
function _M.peek(d, key)
    local v, f, cas = d:fetch(key, "", nil, nil, nil, true)
    return v, f, cas
end

-- slab_class is the memcached slab class id an item of the given accounted
-- size would use with the default growth factor (1.25), minimum chunk
-- (48 bytes of data) and a 1 MiB item limit: "me" and the stats commands
-- report it.
do
    local sizes = {}
    local size = 96
    local chunk_max = 524288
    while #sizes < 62 and size < chunk_max / 1.25 do
        if size % 8 ~= 0 then
            size = size + 8 - size % 8
        end
        sizes[#sizes + 1] = size
        size = floor(size * 1.25)
    end
    sizes[#sizes + 1] = chunk_max
    _M.SLAB_SIZES = sizes

    function _M.slab_class(total)
        for i = 1, #sizes do
            if total <= sizes[i] then
                return i
            end
        end
        return #sizes
    end
end

return _M

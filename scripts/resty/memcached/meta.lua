-- resty.memcached.meta: memcached 1.6's meta commands (mg, ms, md, ma, mn,
-- me), with the flags memcached 1.6.18 accepts.
--
-- A meta command is "<cmd> <key> [<datalen>] <flag>*", each flag a letter
-- with an optional token glued on (T30, Oabc). Flags are parsed in one
-- pass, as memcached's _meta_flag_preparse does (same error texts, same
-- precedence: a repeated or unknown flag stops at once, a bad token is
-- remembered and reported at the end); return flags are then written in
-- the order the client gave them.
--
-- The shared dictionary keeps value, flags, cas and expiry, nothing more,
-- so three groups of flags cannot be honoured and are refused with
-- "CLIENT_ERROR invalid flag" rather than silently ignored: mg N (vivify on
-- miss) and mg R (win a recache token), md I and ms I (invalidate, mark
-- stale). They all need per-item "stale" and "token sent" bits. mg h and l
-- (hit before, seconds since last access) are answered as h0 and l0, and
-- me reports la=0 fetch=no, because access history is not kept either.

local proto = require "resty.memcached.proto"
local conn = require "resty.memcached.conn"
local stats = require "resty.memcached.stats"
local text = require "resty.memcached.text"

local byte, sub = string.byte, string.sub
local ceil = math.ceil
local tonumber = tonumber
local parse_u32, parse_i32, parse_u64 = proto.parse_u32, proto.parse_i32, proto.parse_u64
local ttl_of = text.ttl_of
local too_large = text.too_large
local read_block, skip = conn.read_block, conn.skip
local decode_base64, encode_base64 = proto.b64decode, ngx.encode_base64

local KEY_MAX = proto.KEY_MAX
local CLOSE = text.CLOSE

local DM = proto.dict_methods()
local dgets, dgat, dstore = DM.gets, DM.gat, DM.store
local dincr = DM.incr_decimal
local dtouch, dttl, ddelete, dremove = DM.touch, DM.ttl, DM.delete, DM.remove

local C = stats.counters
local inc = stats.add

local ERROR = "ERROR\r\n"
local BADFMT = "CLIENT_ERROR bad command line format\r\n"
local BAD_TOKEN = "CLIENT_ERROR bad token in command line format"
local OPAQUE_LONG = "CLIENT_ERROR opaque token too long\r\n"

local _M = {}

-- Byte values of the flag letters.
local F_b, F_q, F_v, F_k, F_O = 98, 113, 118, 107, 79
local F_s, F_t, F_c, F_f, F_h, F_l = 115, 116, 99, 102, 104, 108
local F_N, F_T, F_R, F_F, F_C, F_M, F_J, F_D, F_I = 78, 84, 82, 70, 67, 77, 74, 68, 73

-- KNOWN holds the flags memcached 1.6.18 accepts that need no parsing
-- here (some are meaningful only to other meta commands and ignored).
local KNOWN = {
    [F_l] = true, [F_O] = true, [80] = true, [76] = true, [F_k] = true, [F_s] = true,
    [F_t] = true, [F_c] = true, [F_f] = true, [F_h] = true, [117] = true, [F_I] = true,
}

-- The flags each command refuses because the store cannot honour them.
local MG_REJECT = { [F_N] = true, [F_R] = true }
local MS_REJECT = { [F_I] = true }
local MD_REJECT = { [F_I] = true }

-- seen[byte] == gen marks a flag already seen in the current command, so
-- the table never needs clearing. preparse never yields, so one table per
-- Lua state is safe even where connections share a state (OpenResty).
local seen, gen = {}, 0

-- flagset returns the connection's table of parsed flags, reused from one
-- meta command to the next (per connection, because a handler may yield
-- in a socket call under OpenResty while another connection parses).
local function flagset(c)
    local of = c.of
    if not of then
        of = {}
        c.of = of
    end
    return of
end
_M.flagset = flagset

-- preparse parses tok[start..n] into of and returns nil, or the error
-- line (without CRLF) memcached would send.
local function preparse(of, tok, start, n, reject)
    gen = gen + 1
    of.key = tok[2]
    of.binary = false
    of.noreply = false
    of.value = false
    of.has_cas = false
    of.cas = nil
    of.mode = nil
    of.flags = 0
    of.ttl = nil
    of.vivify = nil
    of.initial = "0"
    of.delta = "1"
    of.want_t = false
    of.t_first = false
    local err, has_error = "CLIENT_ERROR bad command line format", false
    for i = start, n do
        local t = tok[i]
        local o = byte(t, 1)
        if o >= 127 or seen[o] == gen then
            return "CLIENT_ERROR duplicate flag"
        end
        seen[o] = gen
        if reject and reject[o] then
            return "CLIENT_ERROR invalid flag"
        end
        if o == F_q then
            of.noreply = true
        elseif o == F_v then
            of.value = true
        elseif o == F_t then
            of.want_t = true
            of.t_first = of.ttl == nil
        elseif o == F_T or o == F_N or o == F_R then
            local v = parse_i32(sub(t, 2))
            if not v then
                err, has_error = BAD_TOKEN, true
            elseif o == F_T then
                of.ttl = ttl_of(v)
            elseif o == F_N then
                of.vivify = ttl_of(v)
            end
        elseif o == F_b then
            local k = decode_base64(of.key)
            if k == nil then
                err, has_error = "CLIENT_ERROR error decoding key", true
            else
                of.key = k
            end
            of.binary = true
        elseif o == F_F then
            local v = parse_u32(sub(t, 2))
            if v then
                of.flags = v
            else
                has_error = true
            end
        elseif o == F_C then
            local v = parse_u64(sub(t, 2))
            if v then
                of.has_cas, of.cas = true, v
            else
                err, has_error = BAD_TOKEN, true
            end
        elseif o == F_M then
            if #t ~= 2 then
                err, has_error = "CLIENT_ERROR incorrect length for M token", true
            else
                of.mode = byte(t, 2)
            end
        elseif o == F_J then
            local v = parse_u64(sub(t, 2))
            if v then
                of.initial = v
            else
                err, has_error = "CLIENT_ERROR invalid numeric initial value", true
            end
        elseif o == F_D then
            local v = parse_u64(sub(t, 2))
            if v then
                of.delta = v
            else
                err, has_error = "CLIENT_ERROR invalid numeric delta value", true
            end
        elseif not KNOWN[o] then
            return "CLIENT_ERROR invalid flag"
        end
    end
    if has_error then
        return err
    end
end
_M.preparse = preparse

-- opaque_too_long reports an O token longer than memcached's 32 bytes.
local function opaque_too_long(tok, start, n)
    for i = start, n do
        local t = tok[i]
        if byte(t, 1) == F_O and #t > 32 then
            return true
        end
    end
    return false
end

-- send_key writes the " k<key>" return flag, base64 again for a binary key.
local function send_key(send, sock, key, binary)
    if binary then
        return send(sock, " k", encode_base64(key), " b")
    end
    return send(sock, " k", key)
end

-- send_ok writes the O and k return flags, all that misses and failures
-- echo.
local function send_ok(send, sock, tok, start, n, key, binary)
    for i = start, n do
        local t = tok[i]
        local o = byte(t, 1)
        if o == F_O then
            send(sock, " ", t)
        elseif o == F_k then
            send_key(send, sock, key, binary)
        end
    end
end

-- ttl_flag is the value of a "t" return flag: seconds left, -1 for never.
local function ttl_flag(t)
    if t == nil or t == 0 then
        return -1
    end
    return ceil(t)
end

-- cas_matches compares a client's cas (decimal string) with an item's.
local function cas_matches(want, have)
    return tonumber(want) == have
end

-- mg <key> <flags>*
function _M.mg(c, tok, n)
    local sock, send = c.sock, c.send
    if n < 2 then
        return send(sock, ERROR)
    end
    local key = tok[2]
    if #key > KEY_MAX then
        return send(sock, BADFMT)
    end
    if n >= 20 then
        return send(sock, "CLIENT_ERROR options flags are too long\r\n")
    end
    local of = flagset(c)
    local err = preparse(of, tok, 3, n, MG_REJECT)
    if err then
        return send(sock, err, "\r\n")
    end
    if opaque_too_long(tok, 3, n) then
        return send(sock, OPAQUE_LONG)
    end
    key = of.key
    local d = c.dict
    local touch = of.ttl
    local v, f, cas, before
    if touch then
        if of.want_t and of.t_first then
            before = dttl(d, key)
        end
        v, f, cas = dgat(d, key, touch, C.touch_hits, C.touch_misses)
    else
        v, f, cas = dgets(d, key, C.get_hits, C.get_misses)
    end
    if v == nil then
        if of.noreply then
            return
        end
        send(sock, "EN")
        send_ok(send, sock, tok, 3, n, key, of.binary)
        return send(sock, "\r\n")
    end
    local value = of.value
    if value then
        send(sock, "VA ", #v)
    else
        send(sock, "HD")
    end
    if n > 2 then
        local tv
        if of.want_t then
            if not touch then
                tv = ttl_flag(dttl(d, key))
            elseif of.t_first then
                tv = ttl_flag(before)
            else
                tv = ttl_flag(touch)
            end
        end
        for i = 3, n do
            local t = tok[i]
            local o = byte(t, 1)
            if o == F_s then
                send(sock, " s", #v)
            elseif o == F_t then
                send(sock, " t", tv)
            elseif o == F_c then
                send(sock, " c", cas)
            elseif o == F_f then
                send(sock, " f", f)
            elseif o == F_O then
                send(sock, " ", t)
            elseif o == F_k then
                send_key(send, sock, key, of.binary)
            elseif o == F_h then
                send(sock, " h0")
            elseif o == F_l then
                send(sock, " l0")
            end
        end
    end
    if value then
        return send(sock, "\r\n", v, "\r\n")
    end
    return send(sock, "\r\n")
end

-- MS_MODES maps ms's M token to a store mode.
local MS_MODES = {
    [83] = "set", [69] = "add", [65] = "append", [80] = "prepend", [82] = "replace",
}

-- MS_CODES maps a failed store's error to ms's status code, per mode.
local MS_CODES = {
    add = { exists = "NS" },
    replace = { ["not found"] = "NS" },
    cas = { exists = "EX", ["not found"] = "NF" },
    append = { ["not found"] = "NS", ["not a string"] = "NS", exists = "EX" },
    prepend = { ["not found"] = "NS", ["not a string"] = "NS", exists = "EX" },
    set = {},
}

-- ms <key> <datalen> <flags>* followed by the data block.
function _M.ms(c, tok, n)
    local sock, send = c.sock, c.send
    if n < 2 then
        return send(sock, ERROR)
    end
    local key = tok[2]
    if #key > KEY_MAX or n == 2 then
        return send(sock, BADFMT)
    end
    if n >= 20 then
        return send(sock, "CLIENT_ERROR options flags too long\r\n")
    end
    local vlen = parse_i32(tok[3])
    if not vlen or vlen < 0 or vlen > 2147483645 then
        return send(sock, BADFMT)
    end
    local of = flagset(c)
    local err = preparse(of, tok, 4, n, MS_REJECT)
    local mode
    if not err then
        local long = opaque_too_long(tok, 4, n)
        mode = of.mode == nil and "set" or MS_MODES[of.mode]
        if not mode then
            err = "CLIENT_ERROR invalid mode for ms M token"
        elseif long then
            err = "CLIENT_ERROR opaque token too long"
        end
    end
    local d = c.dict
    key = of.key
    if not err and too_large(#key, of.flags, vlen) then
        inc(C.store_too_large, 1)
        -- memcached drops the old value whatever the mode.
        ddelete(d, key)
        err = "SERVER_ERROR object too large for cache"
    end
    if err then
        send(sock, err, "\r\n")
        if not skip(c, vlen + 2) then
            return CLOSE
        end
        return
    end
    local has_cas, want = of.has_cas, of.cas
    if has_cas and (mode == "set" or mode == "replace") then
        mode = "cas"
    end
    local binary, noreply, flags, ttl = of.binary, of.noreply, of.flags, of.ttl or 0
    local data, ok = read_block(c, vlen)
    if data == nil then
        return CLOSE
    end
    inc(C.cmd_set, 1)
    if not ok then
        return send(sock, "CLIENT_ERROR bad data chunk\r\n")
    end
    local stored, serr
    if mode == "append" or mode == "prepend" then
        if has_cas and want ~= "0" then
            local v, _, cas = dgets(d, key)
            if v ~= nil and not cas_matches(want, cas) then
                stored, serr = false, "exists"
            end
        end
        if serr == nil then
            stored, serr = text.pend(d, mode, key, data)
        end
    else
        stored, serr = dstore(d, mode, key, data, ttl, flags, want)
    end
    local code
    if stored then
        inc(C.total_items, 1)
        if mode == "cas" then
            inc(C.cas_hits, 1)
        end
        if noreply then
            return
        end
        code = "HD"
    else
        if mode == "cas" then
            inc(serr == "exists" and C.cas_badval or C.cas_misses, 1)
        end
        code = MS_CODES[mode][serr]
        if not code then
            return send(sock, "SERVER_ERROR out of memory storing object\r\n")
        end
    end
    send(sock, code)
    for i = 4, n do
        local t = tok[i]
        local o = byte(t, 1)
        if o == F_O then
            send(sock, " ", t)
        elseif o == F_k then
            send_key(send, sock, key, binary)
        elseif o == F_c then
            local cas = 0
            if stored then
                local _
                _, _, cas = dgets(d, key)
            end
            send(sock, " c", cas or 0)
        end
    end
    return send(sock, "\r\n")
end

-- md <key> <flags>*
function _M.md(c, tok, n)
    local sock, send = c.sock, c.send
    if n < 2 then
        return send(sock, ERROR)
    end
    if #tok[2] > KEY_MAX then
        return send(sock, BADFMT)
    end
    if n >= 20 then
        return send(sock, "CLIENT_ERROR options flags too long\r\n")
    end
    local of = flagset(c)
    if preparse(of, tok, 3, n, MD_REJECT) then
        return send(sock, "CLIENT_ERROR invalid or duplicate flag\r\n")
    end
    if opaque_too_long(tok, 3, n) then
        return send(sock, OPAQUE_LONG)
    end
    local key, d = of.key, c.dict
    -- One atomic call decides: remove answers "not found" or, with a cas,
    -- "exists" when the item's cas differs.
    local ok, err
    if of.has_cas then
        local want = tonumber(of.cas)
        if want then
            ok, err = dremove(d, key, want)
        else
            ok, err = false, text.exists(d, key) and "exists" or "not found"
        end
    else
        ok, err = dremove(d, key)
    end
    local code
    if ok then
        inc(C.delete_hits, 1)
        if of.noreply then
            return
        end
        code = "HD"
    elseif err == "exists" then
        inc(C.delete_misses, 1)
        code = "EX"
    else
        inc(C.delete_misses, 1)
        code = "NF"
    end
    send(sock, code)
    send_ok(send, sock, tok, 3, n, key, of.binary)
    return send(sock, "\r\n")
end

-- ma <key> <flags>*: incr/decr with optional auto-create (N, J).
function _M.ma(c, tok, n)
    local sock, send = c.sock, c.send
    if n < 2 then
        return send(sock, ERROR)
    end
    if #tok[2] > KEY_MAX then
        return send(sock, BADFMT)
    end
    if n >= 20 then
        return send(sock, "CLIENT_ERROR options flags too long\r\n")
    end
    local of = flagset(c)
    if preparse(of, tok, 3, n, nil) then
        return send(sock, "CLIENT_ERROR invalid or duplicate flag\r\n")
    end
    local decr = false
    local m = of.mode
    if m == 68 or m == 45 then
        decr = true
    elseif m ~= nil and m ~= 73 and m ~= 43 then
        return send(sock, "CLIENT_ERROR invalid mode for ma M token\r\n")
    end
    if opaque_too_long(tok, 3, n) then
        return send(sock, OPAQUE_LONG)
    end
    local key, d, binary = of.key, c.dict, of.binary
    local v, err
    if of.has_cas and of.cas ~= "0" then
        local cur, _, cas = dgets(d, key)
        if cur == nil then
            err = "not found"
        elseif not cas_matches(of.cas, cas) then
            err = "exists"
        end
    end
    if err == nil then
        v, err = dincr(d, key, of.delta, decr)
    end
    local created = false
    if not v and err == "not found" and of.vivify then
        if dstore(d, "add", key, of.initial, of.vivify, 0) then
            v, created = of.initial, true
        else
            -- Someone created it meanwhile: count on theirs.
            v, err = dincr(d, key, of.delta, decr)
        end
    end
    if v then
        if not created then
            inc(decr and C.decr_hits or C.incr_hits, 1)
            if of.noreply then
                return
            end
        end
        if of.value then
            send(sock, "VA ", #v)
        else
            send(sock, "HD")
        end
        for i = 3, n do
            local t = tok[i]
            local o = byte(t, 1)
            if o == F_c then
                local _, _, cas = dgets(d, key)
                send(sock, " c", cas or 0)
            elseif o == F_t then
                send(sock, " t", ttl_flag(dttl(d, key)))
            elseif o == F_T then
                dtouch(d, key, of.ttl)
            elseif o == F_O then
                send(sock, " ", t)
            elseif o == F_k then
                send_key(send, sock, key, binary)
            end
        end
        if of.value then
            return send(sock, "\r\n", v, "\r\n")
        end
        return send(sock, "\r\n")
    end
    local code
    if err == "not found" then
        inc(decr and C.decr_misses or C.incr_misses, 1)
        code = "NF"
    elseif err == "exists" then
        code = "EX"
    elseif err == "no memory" then
        return send(sock, "SERVER_ERROR out of memory\r\n")
    else
        return send(sock, "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n")
    end
    send(sock, code)
    send_ok(send, sock, tok, 3, n, key, binary)
    return send(sock, "\r\n")
end

-- mn: a no-op that clients put at the end of a quiet batch.
function _M.mn(c)
    return c.send(c.sock, "MN\r\n")
end

-- me <key> [b]: memcached's item debug line.
function _M.me(c, tok, n)
    local sock, send = c.sock, c.send
    if n < 2 or #tok[2] > KEY_MAX then
        return send(sock, BADFMT)
    end
    local key = tok[2]
    local binary = n >= 3 and tok[3] == "b"
    if binary then
        key = decode_base64(key)
        if key == nil then
            return send(sock, BADFMT)
        end
    end
    local d = c.dict
    local v, f, cas = dgets(d, key)
    inc(C.cmd_meta, 1)
    if v == nil then
        return send(sock, "EN\r\n")
    end
    local t = dttl(d, key)
    local exp = -1
    if t ~= nil and t ~= 0 then
        -- memcached 1.6.18 prints now - exptime: minus the time left.
        exp = -ceil(t)
    end
    local size = proto.item_size(#key, f, #v)
    return send(sock, "ME ", binary and encode_base64(key) or key, " exp=", exp,
        " la=0 cas=", cas, " fetch=no cls=", proto.slab_class(size), " size=", size, "\r\n")
end

return _M

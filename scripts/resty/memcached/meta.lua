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
-- Stale-while-revalidate works as in memcached: the shared dictionary
-- keeps memcached's per-item bits (fetched, token sent, stale; see
-- dict:fetch, dict:invalidate and the "cas_stale" store), so mg N (vivify
-- on miss) and R (win a recache token) hand out W and report Z and X, md I
-- marks an item stale, ms I with C stores an older writer's value as a
-- stale one, and mg h and me fetch= report whether the item was read. The
-- time of the last access is not kept: mg l answers l0 and me la=0.

local proto = require "resty.memcached.proto"
local conn = require "resty.memcached.conn"
local stats = require "resty.memcached.stats"
local text = require "resty.memcached.text"

local byte, char, sub = string.byte, string.char, string.sub
local ceil = math.ceil
local parse_u32, parse_i32, parse_u64 = proto.parse_u32, proto.parse_i32, proto.parse_u64
local ttl_of = text.ttl_of
local too_large = text.too_large
local read_block, skip = conn.read_block, conn.skip
local decode_base64, encode_base64 = proto.b64decode, ngx.encode_base64

local KEY_MAX = proto.KEY_MAX
local CLOSE = text.CLOSE

local DM = proto.dict_methods()
local dstore, dfetch, dinvalidate = DM.store, DM.fetch, DM.invalidate
local dincr = DM.incr_decimal
local dttl, ddelete, dremove = DM.ttl, DM.delete, DM.remove
local peek = proto.peek

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
local F_u = 117

-- KNOWN holds the flags memcached 1.6.18 accepts that need no parsing
-- here (some are meaningful only to other meta commands and ignored).
local KNOWN = {
    [F_l] = true, [F_O] = true, [80] = true, [76] = true, [F_k] = true, [F_s] = true,
    [F_t] = true, [F_c] = true, [F_f] = true, [F_h] = true,
}

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
local function preparse(of, tok, start, n)
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
    of.recache = nil
    -- steps: the T, N and R flags in the client's order (dict:fetch).
    of.steps = ""
    of.no_update = false
    of.invalidate = false
    of.initial = "0"
    of.delta = "1"
    local err, has_error = "CLIENT_ERROR bad command line format", false
    for i = start, n do
        local t = tok[i]
        local o = byte(t, 1)
        if o >= 127 or seen[o] == gen then
            return "CLIENT_ERROR duplicate flag"
        end
        seen[o] = gen
        if o == F_q then
            of.noreply = true
        elseif o == F_v then
            of.value = true
        elseif o == F_T or o == F_N or o == F_R then
            local v = parse_i32(sub(t, 2))
            if not v then
                err, has_error = BAD_TOKEN, true
            elseif o == F_T then
                of.ttl = ttl_of(v)
            elseif o == F_N then
                of.vivify = ttl_of(v)
            else
                of.recache = ttl_of(v)
            end
            if v then
                of.steps = of.steps .. char(o)
            end
        elseif o == F_u then
            of.no_update = true
        elseif o == F_I then
            of.invalidate = true
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
    local err = preparse(of, tok, 3, n)
    if err then
        return send(sock, err, "\r\n")
    end
    if opaque_too_long(tok, 3, n) then
        return send(sock, OPAQUE_LONG)
    end
    key = of.key
    local touch = of.ttl
    local hits, misses = C.get_hits, C.get_misses
    if touch then
        hits, misses = C.touch_hits, C.touch_misses
    end
    -- One call reads the item and applies T, N and R in the client's
    -- order, so two clients racing for the recache token cannot both win.
    local v, f, cas, before, fetched, held, stale, won, created =
        dfetch(c.dict, key, of.steps, touch, of.vivify, of.recache, of.no_update, hits, misses)
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
        -- t reports the ttl as of its place among the flags: after a T or
        -- (on an item N created) an N before it, the ttl they set.
        local tv = ttl_flag(before)
        for i = 3, n do
            local t = tok[i]
            local o = byte(t, 1)
            if o == F_s then
                send(sock, " s", #v)
            elseif o == F_t then
                send(sock, " t", tv)
            elseif o == F_T then
                tv = ttl_flag(touch)
            elseif o == F_N then
                if created then
                    tv = ttl_flag(of.vivify)
                end
            elseif o == F_c then
                send(sock, " c", cas)
            elseif o == F_f then
                send(sock, " f", f)
            elseif o == F_O then
                send(sock, " ", t)
            elseif o == F_k then
                send_key(send, sock, key, of.binary)
            elseif o == F_h then
                send(sock, fetched and " h1" or " h0")
            elseif o == F_l then
                send(sock, " l0")
            end
        end
    end
    -- Z: another client holds the token; X: the value is stale; W: this
    -- client won the token and should rebuild the value.
    if held then
        send(sock, " Z")
    end
    if stale then
        send(sock, " X")
    end
    if won then
        send(sock, " W")
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
    local err = preparse(of, tok, 4, n)
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
    -- I with a cas: a value whose cas is older than the item's is still
    -- stored, as a stale one (the dictionary's "cas_stale").
    local store_cmd = mode
    if mode == "cas" and of.invalidate then
        store_cmd = "cas_stale"
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
    local stored, serr, _, new_cas
    if mode == "append" or mode == "prepend" then
        -- The cas (C0: none) is compared in the same step as the append.
        stored, serr, _, new_cas = text.pend(d, mode, key, data, has_cas and want or nil)
    else
        stored, serr, _, new_cas = dstore(d, store_cmd, key, data, ttl, flags, want)
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
            send(sock, " c", stored and new_cas or 0)
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
    if preparse(of, tok, 3, n) then
        return send(sock, "CLIENT_ERROR invalid or duplicate flag\r\n")
    end
    if opaque_too_long(tok, 3, n) then
        return send(sock, OPAQUE_LONG)
    end
    local key, d = of.key, c.dict
    -- One atomic call decides: remove answers "not found" or, with a cas,
    -- "exists" when the item's cas differs; invalidate (I) the same, but
    -- keeps the item as a stale value (with T, a new ttl).
    local ok, err
    if of.invalidate then
        ok, err = dinvalidate(d, key, of.has_cas and of.cas or nil, of.ttl)
    elseif of.has_cas then
        -- The cas as its decimal string: above 2^53 a Lua number is not exact.
        ok, err = dremove(d, key, of.cas)
    else
        ok, err = dremove(d, key)
    end
    local code
    if ok then
        if not of.invalidate then
            inc(C.delete_hits, 1)
        end
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

-- discard stands in for send where a reply is hidden but the command's
-- work still has to happen.
local function discard() end

-- set_ttl gives key a new ttl the way memcached's ma does: without an LRU
-- bump or a fetched mark (a touch would make both).
local function set_ttl(d, key, ttl)
    dfetch(d, key, "T", ttl, nil, nil, true)
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
    if preparse(of, tok, 3, n) then
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
    -- One locked step decides: the cas compare (C0: none) and the change,
    -- or the miss and, with N, the create (without a ttl: N sets it below,
    -- in flag order).
    local v, r2, r3 = dincr(d, key, of.delta, decr, of.has_cas and of.cas or nil,
        of.vivify and of.initial or nil, 0)
    local err, cas, created = nil, nil, false
    if v then
        cas, created = r2, r3
    else
        err = r2
    end
    if v then
        -- q hides the reply to an incr of an existing item, but its flags
        -- still apply (T sets the ttl).
        local out = send
        if not created then
            inc(decr and C.decr_hits or C.incr_hits, 1)
            if of.noreply then
                out = discard
            end
        end
        if of.value then
            out(sock, "VA ", #v)
        else
            out(sock, "HD")
        end
        -- As in memcached, the flags apply in order: t reports the ttl as
        -- of its place, and T (or, on an item just created, N) sets it.
        local tv = -1
        if not created then
            tv = ttl_flag(dttl(d, key))
        end
        for i = 3, n do
            local t = tok[i]
            local o = byte(t, 1)
            if o == F_c then
                out(sock, " c", cas)
            elseif o == F_t then
                out(sock, " t", tv)
            elseif o == F_T then
                set_ttl(d, key, of.ttl)
                tv = ttl_flag(of.ttl)
            elseif o == F_N then
                if created then
                    set_ttl(d, key, of.vivify)
                    tv = ttl_flag(of.vivify)
                end
            elseif o == F_O then
                out(sock, " ", t)
            elseif o == F_k then
                send_key(out, sock, key, binary)
            end
        end
        if of.value then
            return out(sock, "\r\n", v, "\r\n")
        end
        return out(sock, "\r\n")
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
    -- me looks without touching: no LRU bump, no fetched mark.
    local v, f, cas, t, fetched = dfetch(c.dict, key, "", nil, nil, nil, true)
    inc(C.cmd_meta, 1)
    if v == nil then
        return send(sock, "EN\r\n")
    end
    local exp = -1
    if t ~= 0 then
        -- memcached 1.6.18 prints now - exptime: minus the time left.
        exp = -ceil(t)
    end
    local size = proto.item_size(#key, f, #v)
    return send(sock, "ME ", binary and encode_base64(key) or key, " exp=", exp,
        " la=0 cas=", cas, " fetch=", fetched and "yes" or "no", " cls=", proto.slab_class(size),
        " size=", size, "\r\n")
end

return _M

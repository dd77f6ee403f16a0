-- resty.memcached.text: memcached's classic text commands (get, set, incr,
-- delete, flush_all, ...), one handler per command name.
--
-- Every handler has the signature handler(c, tok, n) described in
-- resty.memcached.server: c is the connection, tok[1..n] the command
-- line's tokens (tok[1] is the command name). Each one checks its token
-- count, key length and numbers in the order memcached 1.6.18 does, so
-- that the same bad input produces the same error, then makes one call
-- into the shared dictionary (atomic in Go) and sends its reply with a
-- single multi-argument send, which the host renders without building
-- intermediate Lua strings.

local proto = require "resty.memcached.proto"
local conn = require "resty.memcached.conn"
local stats = require "resty.memcached.stats"
local sl = require "streamlua"

local byte = string.byte
local parse_u32, parse_i32, parse_u64 = proto.parse_u32, proto.parse_i32, proto.parse_u64
local NUM = proto.NUM
local to_ttl = proto.ttl
local block_result, skip = conn.block_result, conn.skip
local ngx_time = ngx.time

local KEY_MAX = proto.KEY_MAX
local MAX_ITEM = sl.info.MaxItemSize
local STARTED = sl.info.StartTime

local DM = proto.dict_methods()
local dlookup, dgets, dgat, dstore = DM.lookup, DM.gets, DM.gat, DM.store
local dappend, dprepend, dincr = DM.append, DM.prepend, DM.incr_decimal
local dtouch, ddelete, dremove = DM.touch, DM.delete, DM.remove
local dflush, dflush_after = DM.flush_all, DM.flush_all_after
local peek = proto.peek

local C = stats.counters
local inc = stats.add
-- cmd_get and cmd_touch are not counted separately: every lookup is a hit
-- or a miss, so stats reports their sums.
local C_HIT, C_MISS = C.get_hits, C.get_misses
local C_SET, C_THIT, C_TMISS = C.cmd_set, C.touch_hits, C.touch_misses
local C_ITEMS = C.total_items

local ERROR = "ERROR\r\n"
local END = "END\r\n"
local BADFMT = "CLIENT_ERROR bad command line format\r\n"
local BAD_EXPTIME = "CLIENT_ERROR invalid exptime argument\r\n"
local BAD_CHUNK = "CLIENT_ERROR bad data chunk\r\n"
local TOO_LARGE = "SERVER_ERROR object too large for cache\r\n"
local NO_MEMORY = "SERVER_ERROR out of memory storing object\r\n"
local STORED = "STORED\r\n"
local NON_NUMERIC = "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n"

-- CLOSE is the value a handler returns to end the connection (after the
-- replies sent so far have been written). A table, so that no string or
-- number a handler happens to return can be mistaken for it.
local CLOSE = setmetatable({}, { __tostring = function() return "resty.memcached.CLOSE" end })

local _M = { CLOSE = CLOSE }

-- ttl_of converts a parsed exptime for the dictionary, asking for the
-- clock only when the exptime is an absolute time.
local function ttl_of(exptime)
    if exptime > 0 and exptime <= 2592000 then
        return exptime
    end
    return to_ttl(exptime, ngx_time())
end
_M.ttl_of = ttl_of

-- retrieve answers get/gets/gat/gats for the keys tok[first..n]. As in
-- memcached, a key over 250 bytes turns the whole reply into one
-- CLIENT_ERROR, but the keys before it are still looked up (and touched).
local function retrieve(c, tok, n, first, with_cas, ttl)
    local sock, send, d = c.sock, c.send, c.dict
    local bad
    for i = first, n do
        if #tok[i] > KEY_MAX then
            bad = i
            break
        end
    end
    local last = bad and bad - 1 or n
    local hit, miss = C_HIT, C_MISS
    if ttl then
        hit, miss = C_THIT, C_TMISS
    end
    for i = first, last do
        local key = tok[i]
        local v, f, cas
        if ttl then
            v, f, cas = dgat(d, key, ttl, hit, miss)
        else
            v, f, cas = dgets(d, key, hit, miss)
        end
        if v ~= nil and not bad then
            if with_cas then
                send(sock, "VALUE ", key, " ", f, " ", #v, " ", cas, "\r\n", v, "\r\n")
            else
                send(sock, "VALUE ", key, " ", f, " ", #v, "\r\n", v, "\r\n")
            end
        end
    end
    if bad then
        return send(sock, BADFMT)
    end
    return send(sock, END)
end

-- get is the hot path: one key, one dictionary call, one send.
function _M.get(c, tok, n)
    if n ~= 2 then
        if n < 2 then
            return c.send(c.sock, ERROR)
        end
        return retrieve(c, tok, n, 2, false)
    end
    local sock, send = c.sock, c.send
    local key = tok[2]
    if #key > KEY_MAX then
        return send(sock, BADFMT)
    end
    local v, f = dlookup(c.dict, key, C_HIT, C_MISS)
    if v == nil then
        return send(sock, END)
    end
    return send(sock, "VALUE ", key, " ", f, " ", #v, "\r\n", v, "\r\nEND\r\n")
end

-- bget is an ancient alias of get that memcached still accepts.
_M.bget = _M.get

function _M.gets(c, tok, n)
    if n < 2 then
        return c.send(c.sock, ERROR)
    end
    return retrieve(c, tok, n, 2, true)
end

local function gat(c, tok, n, with_cas)
    if n < 2 then
        return c.send(c.sock, ERROR)
    end
    local exptime = parse_i32(tok[2])
    if not exptime then
        return c.send(c.sock, BAD_EXPTIME)
    end
    return retrieve(c, tok, n, 3, with_cas, ttl_of(exptime))
end

function _M.gat(c, tok, n)
    return gat(c, tok, n, false)
end

function _M.gats(c, tok, n)
    return gat(c, tok, n, true)
end

-- too_large reports memcached's item size rule: the item's accounted size
-- (header, key, flags, value and its CRLF) must fit the item size limit.
local item_size = proto.item_size
local function too_large(nkey, flags, vlen)
    return item_size(nkey, flags, vlen) > MAX_ITEM
end
_M.too_large = too_large

-- pend appends or prepends data, refusing (as "not found", which both
-- protocols answer as not stored) when the grown item would exceed the
-- item size limit, as memcached does. Looking at the current value first
-- costs a copy of it; memcached copies the whole item on append too. With
-- a cas other than 0 the item must still have it when the data is added
-- ("exists"); on success the fourth value is the item's new cas.
local function pend(d, mode, key, data, cas)
    local cur, f = peek(d, key)
    if cur == nil then
        return false, "not found"
    end
    if too_large(#key, f, #cur + #data) then
        return false, "not found"
    end
    if mode == "append" then
        return dappend(d, key, data, cas)
    end
    return dprepend(d, key, data, cas)
end
_M.pend = pend

-- STORE_REPLY maps a failed store's error to memcached's reply, per mode.
local STORE_REPLY = {
    set = { ["no memory"] = NO_MEMORY },
    add = { exists = "NOT_STORED\r\n", ["no memory"] = NO_MEMORY },
    replace = { ["not found"] = "NOT_STORED\r\n", ["no memory"] = NO_MEMORY },
    cas = { exists = "EXISTS\r\n", ["not found"] = "NOT_FOUND\r\n", ["no memory"] = NO_MEMORY },
    append = { ["not found"] = "NOT_STORED\r\n", ["not a string"] = "NOT_STORED\r\n", ["no memory"] = NO_MEMORY },
}
STORE_REPLY.prepend = STORE_REPLY.append

-- SMALL_ITEM is a value length below which no key and flags can make an
-- item too large: item_size adds at most 313 bytes (header, cas, a
-- 250-byte key and its NUL, CRLF, flags) to the value.
local SMALL_ITEM = MAX_ITEM - 313

-- storage returns the handler of one of set, add, replace, append, prepend
-- and cas:
--   <cmd> <key> <flags> <exptime> <bytes> [<cas unique>] [noreply]
-- One closure per mode, so a set is one Lua call. The common line,
-- "<cmd> <key> 0 0 <bytes>", passes every check in one test; any other
-- takes the checks in memcached's order. A set that stores makes three
-- calls: receive_block, the store (which counts cmd_set and total_items)
-- and send.
local function storage(mode)
    local is_cas = mode == "cas"
    local pending = mode == "append" or mode == "prepend"
    local min_n, max_n = 5, 6
    if is_cas then
        min_n, max_n = 6, 7
    end
    -- The common line never applies to cas, whose unique comes sixth.
    local plain_n = is_cas and 0 or 5
    return function(c, tok, n)
        local sock, send = c.sock, c.send
        local key, flags, exptime, vlen, noreply, cas
        if n == plain_n then
            key, vlen = tok[2], NUM[tok[5]]
            if vlen and tok[3] == "0" and tok[4] == "0" and #key <= KEY_MAX then
                flags, exptime, noreply = 0, 0, false
            end
        end
        if not flags then
            if n ~= min_n and n ~= max_n then
                return send(sock, ERROR)
            end
            noreply = tok[n] == "noreply"
            key = tok[2]
            if #key > KEY_MAX then
                if noreply then return end
                return send(sock, BADFMT)
            end
            -- "0" is by far the most common flags and exptime: skip the parser.
            local t = tok[3]
            flags = t == "0" and 0 or parse_u32(t)
            t = tok[4]
            exptime = flags and (t == "0" and 0 or parse_i32(t))
            t = tok[5]
            vlen = exptime and (NUM[t] or parse_i32(t))
            if not vlen then
                if noreply then return end
                return send(sock, BADFMT)
            end
            if is_cas then
                cas = parse_u64(tok[6])
                if not cas then
                    if noreply then return end
                    return send(sock, BADFMT)
                end
            end
            if vlen < 0 or vlen > 2147483645 then
                if noreply then return end
                return send(sock, BADFMT)
            end
        end
        local d = c.dict
        if vlen > SMALL_ITEM and too_large(#key, flags, vlen) then
            inc(C.store_too_large, 1)
            if mode == "set" then
                -- memcached drops the old value rather than leave it stale.
                ddelete(d, key)
            end
            if not noreply then
                send(sock, TOO_LARGE)
            end
            if not skip(c, vlen + 2) then
                return CLOSE
            end
            return
        end
        local data, err = c.receive_block(sock, vlen)
        if not data then
            local ok
            data, ok = block_result(c, vlen, data, err)
            if data == nil then
                return CLOSE
            end
            if not ok then
                inc(C_SET, 1)
                if noreply then return end
                return send(sock, BAD_CHUNK)
            end
        end
        local stored
        if pending then
            inc(C_SET, 1)
            stored, err = pend(d, mode, key, data)
            if stored then
                inc(C_ITEMS, 1)
            end
        else
            local ttl = exptime
            if exptime < 0 or exptime > 2592000 then
                ttl = to_ttl(exptime, ngx_time())
            end
            stored, err = dstore(d, mode, key, data, ttl, flags, cas, C_SET, C_ITEMS)
        end
        if stored then
            if is_cas then
                inc(C.cas_hits, 1)
            end
            if noreply then return end
            return send(sock, STORED)
        end
        if is_cas then
            inc(err == "exists" and C.cas_badval or C.cas_misses, 1)
        end
        if noreply then return end
        return send(sock, STORE_REPLY[mode][err] or NO_MEMORY)
    end
end

_M.set = storage("set")
_M.add = storage("add")
_M.replace = storage("replace")
_M.append = storage("append")
_M.prepend = storage("prepend")
_M.cas = storage("cas")

-- arith implements incr and decr: <cmd> <key> <delta> [noreply]. The
-- dictionary does the uint64 arithmetic on the decimal text in Go.
local function arith(c, tok, n, decr)
    local sock, send = c.sock, c.send
    if n ~= 3 and n ~= 4 then
        return send(sock, ERROR)
    end
    local noreply = tok[n] == "noreply"
    local key = tok[2]
    if #key > KEY_MAX then
        if noreply then return end
        return send(sock, BADFMT)
    end
    local delta = parse_u64(tok[3])
    if not delta then
        if noreply then return end
        return send(sock, "CLIENT_ERROR invalid numeric delta argument\r\n")
    end
    local v, err = dincr(c.dict, key, delta, decr)
    if v then
        inc(decr and C.decr_hits or C.incr_hits, 1)
        if noreply then return end
        return send(sock, v, "\r\n")
    end
    local msg
    if err == "not found" then
        inc(decr and C.decr_misses or C.incr_misses, 1)
        msg = "NOT_FOUND\r\n"
    elseif err == "no memory" then
        msg = "SERVER_ERROR out of memory\r\n"
    else
        msg = NON_NUMERIC
    end
    if noreply then return end
    return send(sock, msg)
end

function _M.incr(c, tok, n) return arith(c, tok, n, false) end
function _M.decr(c, tok, n) return arith(c, tok, n, true) end

-- touch <key> <exptime> [noreply]
function _M.touch(c, tok, n)
    local sock, send = c.sock, c.send
    if n ~= 3 and n ~= 4 then
        return send(sock, ERROR)
    end
    local noreply = tok[n] == "noreply"
    local key = tok[2]
    if #key > KEY_MAX then
        if noreply then return end
        return send(sock, BADFMT)
    end
    local exptime = parse_i32(tok[3])
    if not exptime then
        if noreply then return end
        return send(sock, BAD_EXPTIME)
    end
    local ok = dtouch(c.dict, key, ttl_of(exptime))
    if ok then
        inc(C_THIT, 1)
        if noreply then return end
        return send(sock, "TOUCHED\r\n")
    end
    inc(C_TMISS, 1)
    if noreply then return end
    return send(sock, "NOT_FOUND\r\n")
end

-- delete <key> [0] [noreply]; a hold time other than 0 is refused, as
-- memcached has done since 1.4.
function _M.delete(c, tok, n)
    local sock, send = c.sock, c.send
    if n < 2 or n > 4 then
        return send(sock, ERROR)
    end
    local noreply = false
    if n > 2 then
        local hold_zero = tok[3] == "0"
        noreply = tok[n] == "noreply"
        if not ((n == 3 and (hold_zero or noreply)) or (n == 4 and hold_zero and noreply)) then
            if noreply then return end
            return send(sock, "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n")
        end
    end
    local key = tok[2]
    if #key > KEY_MAX then
        if noreply then return end
        return send(sock, BADFMT)
    end
    if dremove(c.dict, key) then
        inc(C.delete_hits, 1)
        if noreply then return end
        return send(sock, "DELETED\r\n")
    end
    inc(C.delete_misses, 1)
    if noreply then return end
    return send(sock, "NOT_FOUND\r\n")
end

-- flush_all [delay] [noreply]
function _M.flush_all(c, tok, n)
    local sock, send = c.sock, c.send
    if n > 3 then
        return send(sock, ERROR)
    end
    local noreply = n > 1 and tok[n] == "noreply"
    inc(C.cmd_flush, 1)
    local exptime = 0
    if n ~= (noreply and 2 or 1) then
        exptime = parse_i32(tok[2])
        if not exptime then
            if noreply then return end
            return send(sock, BAD_EXPTIME)
        end
    end
    local d = c.dict
    if exptime <= 0 then
        dflush(d)
    elseif exptime <= 2592000 then
        dflush_after(d, exptime)
    elseif exptime > STARTED then
        -- An absolute time: in the past flushes now, in the future later.
        -- (memcached ignores a time before its own start altogether.)
        local delay = exptime - ngx_time()
        if delay <= 0 then
            dflush(d)
        else
            dflush_after(d, delay)
        end
    end
    if noreply then return end
    return send(sock, "OK\r\n")
end

-- verbosity <level> [noreply]: accepted and remembered (stats settings
-- shows it); streamlua's logging is configured on its command line.
function _M.verbosity(c, tok, n)
    local sock, send = c.sock, c.send
    if n ~= 2 and n ~= 3 then
        return send(sock, ERROR)
    end
    local noreply = tok[n] == "noreply"
    local level = parse_u32(tok[2])
    if not level then
        if noreply then return end
        return send(sock, BADFMT)
    end
    C.verbosity:set(level > 2 and 2 or level)
    if noreply then return end
    return send(sock, "OK\r\n")
end

function _M.version(c)
    return c.send(c.sock, "VERSION ", stats.VERSION, "\r\n")
end

-- quit closes the connection once the replies before it are written.
function _M.quit()
    return CLOSE
end

-- shutdown is refused, as by a memcached started without -A.
function _M.shutdown(c)
    return c.send(c.sock, "ERROR: shutdown not enabled\r\n")
end

_M.stats = stats.command

-- ERROR_PREFIX holds the first bytes of memcached's command families: an
-- unknown command starting with one of them is answered ERROR without the
-- HTTP check below.
local ERROR_PREFIX = {
    [103] = true, [115] = true, [97] = true, [99] = true, [105] = true, [100] = true, [116] = true,
}

-- unknown answers a command no handler claims: ERROR, except that a line
-- whose last token starts with "HTTP/" (a web browser or proxy talking to
-- the wrong port) closes the connection silently, as memcached does.
function _M.unknown(c, tok, n)
    if n >= 1 and #tok[1] >= 2 then
        local name = tok[1]
        local first = byte(name, 1)
        if not ERROR_PREFIX[first] and not (first == 109 and #name == 2) then
            local last = tok[n < 23 and n or 23]
            if last:sub(1, 5) == "HTTP/" then
                return CLOSE
            end
        end
    end
    return c.send(c.sock, ERROR)
end

return _M

-- resty.memcached.binary: memcached's binary protocol (deprecated by
-- memcached since 1.6, still spoken by memjs, libmemcached's binary mode,
-- Java and .NET clients), served from the same shared dictionary and the
-- same statistics as the text protocol.
--
-- resty.memcached.server looks at the first byte of every connection, as
-- memcached's "-B auto" does: 0x80 hands the connection to serve() below,
-- anything else to the text and meta command loop.
--
-- How a request flows:
--
--  1. sock:receive_binary (a host extension, in Go) takes the next
--     request's 24-byte header and its extras and key off the connection
--     and returns the header's fields and the extras and key as one
--     string: exactly the bytes memcached reads before it looks at a
--     request, so that malformed requests consume what they consume there.
--  2. A well-formed storage request whose value could fit the item size
--     limit has its value read at once (the same input memcached goes on
--     to read), so its handler finds the value in hand.
--  3. The opcode picks a handler from HANDLERS (GET and its quiet and
--     keyed forms are served inline). Each validates the lengths the way
--     memcached 1.6.18 does (a violation answers "Invalid arguments" and
--     closes the connection), makes its dictionary calls, counts in
--     resty.memcached.stats's counters, and answers with
--     sock:send_response, which appends the whole packet to the output
--     buffer in Go: no header string per reply, no copy of the value.
--  4. Quiet opcodes (GETQ, SETQ, ...) send nothing on a miss or a success;
--     errors are always sent. Replies are written when the server runs out
--     of input, so a quiet batch closed by NOOP leaves in one write.
--
-- A handler returns CLOSE to end the connection, as the text handlers do,
-- or DISCARD, n to have the loop throw away the next n bytes of input
-- (memcached's "swallow").

local pack = require "streamlua.pack"
local sl = require "streamlua"
local proto = require "resty.memcached.proto"
local conn = require "resty.memcached.conn"
local stats = require "resty.memcached.stats"
local text = require "resty.memcached.text"

local sub, find, format = string.sub, string.find, string.format
local type, tostring, tonumber, pcall, setmetatable = type, tostring, tonumber, pcall, setmetatable
local response = pack.response
local read_u32, read_u64, u64 = pack.read_u32, pack.read_u64, pack.u64
local ngx = ngx
local ngx_time = ngx.time

local KEY_MAX = proto.KEY_MAX
local STARTED = sl.info.StartTime
local MAX_ITEM = sl.info.MaxItemSize
local CLOSE = text.CLOSE
local REALTIME_MAXDELTA = proto.REALTIME_MAXDELTA
-- ROOM and FLAGS_COST restate proto.item_size for the store path: an item
-- fits when keylen + valuelen (+ FLAGS_COST with non-zero flags) <= ROOM.
local ROOM = MAX_ITEM - proto.item_size(0, 0, 0)
local FLAGS_COST = proto.item_size(0, 1, 0) - proto.item_size(0, 0, 0)
-- DISCARD is what a handler returns, followed by a byte count, to have
-- that much input thrown away.
local DISCARD = setmetatable({}, { __tostring = function() return "resty.memcached.binary.DISCARD" end })
local too_large, pend, ttl_of = text.too_large, text.pend, text.ttl_of
local skip, recv = conn.skip, conn.recv

local DM = proto.dict_methods()
local dgets, dgat, dstore, ddelete = DM.gets, DM.gat, DM.store, DM.delete
local dincr, dremove, dflush, dflush_after = DM.incr_decimal, DM.remove, DM.flush_all, DM.flush_all_after
local peek = proto.peek

local C = stats.counters
local inc = stats.add
local C_HIT, C_MISS, C_THIT, C_TMISS = C.get_hits, C.get_misses, C.touch_hits, C.touch_misses
local C_SET, C_ITEMS = C.cmd_set, C.total_items

local _M = {}

-- OP (exported as OPCODES) names memcached's binary opcodes (protocol_binary.h).
local OP = {
    GET = 0x00, SET = 0x01, ADD = 0x02, REPLACE = 0x03, DELETE = 0x04,
    INCREMENT = 0x05, DECREMENT = 0x06, QUIT = 0x07, FLUSH = 0x08,
    GETQ = 0x09, NOOP = 0x0a, VERSION = 0x0b, GETK = 0x0c, GETKQ = 0x0d,
    APPEND = 0x0e, PREPEND = 0x0f, STAT = 0x10, SETQ = 0x11, ADDQ = 0x12,
    REPLACEQ = 0x13, DELETEQ = 0x14, INCREMENTQ = 0x15, DECREMENTQ = 0x16,
    QUITQ = 0x17, FLUSHQ = 0x18, APPENDQ = 0x19, PREPENDQ = 0x1a,
    VERBOSITY = 0x1b, TOUCH = 0x1c, GAT = 0x1d, GATQ = 0x1e,
    SASL_LIST_MECHS = 0x20, SASL_AUTH = 0x21, SASL_STEP = 0x22,
    GATK = 0x23, GATKQ = 0x24,
}
_M.OPCODES = OP

-- ST (exported as STATUS) names the response status codes this server sends.
local ST = {
    SUCCESS = 0x00, KEY_ENOENT = 0x01, KEY_EEXISTS = 0x02, E2BIG = 0x03,
    EINVAL = 0x04, NOT_STORED = 0x05, DELTA_BADVAL = 0x06,
    UNKNOWN_COMMAND = 0x81, ENOMEM = 0x82, EINTERNAL = 0x84,
}
_M.STATUS = ST

-- The texts memcached puts in the body of each error response.
local MESSAGE = {
    [ST.KEY_ENOENT] = "Not found",
    [ST.KEY_EEXISTS] = "Data exists for key.",
    [ST.E2BIG] = "Too large.",
    [ST.EINVAL] = "Invalid arguments",
    [ST.NOT_STORED] = "Not stored.",
    [ST.DELTA_BADVAL] = "Non-numeric server-side value for incr or decr",
    [ST.UNKNOWN_COMMAND] = "Unknown command",
    [ST.ENOMEM] = "Out of memory",
    [ST.EINTERNAL] = "Internal error",
}

-- QUIET holds the opcodes that stay silent on success (on a miss, for the
-- get family); their errors are sent all the same.
local QUIET = {}
for _, name in ipairs({ "GETQ", "GETKQ", "SETQ", "ADDQ", "REPLACEQ", "DELETEQ", "INCREMENTQ",
    "DECREMENTQ", "QUITQ", "FLUSHQ", "APPENDQ", "PREPENDQ", "GATQ", "GATKQ" }) do
    QUIET[OP[name]] = true
end

-- WITH_KEY holds the opcodes whose replies (hits and misses) carry the key.
local WITH_KEY = { [OP.GETK] = true, [OP.GETKQ] = true, [OP.GATK] = true, [OP.GATKQ] = true }

local INT32 = 2147483648
local TWO32 = 4294967296
-- memcached keeps a value length in a C int: a body of 2 GiB or more
-- makes it negative.
local function c_int(n)
    if n >= INT32 then
        return n - TWO32
    end
    return n
end

-- fail sends an error response: status, no extras, no key, the status's
-- text (or msg) as the body, and cas 0.
local function fail(c, op, opaque, status, msg)
    msg = msg or MESSAGE[status]
    return c.reply(c.sock, op, status, opaque, 0, nil, nil, msg)
end

-- invalid answers a request whose lengths do not fit its opcode the way
-- memcached does: "Invalid arguments", then the connection is closed.
local function invalid(c, op, opaque)
    fail(c, op, opaque, ST.EINVAL)
    return CLOSE
end

-- put stores value and returns true and the cas unique the item got, or
-- false, err; the store counts cmd_set and, when it stored, total_items.
-- An item stored already expired (a negative ttl) is gone at once, but
-- memcached still reports the cas it was stored with: so it is stored
-- alive and expired by the get-and-touch that reads that cas (a reader in
-- between may see it for that moment).
local function put(d, mode, key, value, ttl, flags, cas, want_cas)
    if want_cas and ttl < 0 then
        local ok, err = dstore(d, mode, key, value, 0, flags, cas, C_SET, C_ITEMS)
        if not ok then
            return ok, err
        end
        local _, _, new_cas = dgat(d, key, -1)
        return true, new_cas or 0
    end
    local ok, err, _, new_cas = dstore(d, mode, key, value, ttl, flags, cas, C_SET, C_ITEMS)
    if ok then
        return true, new_cas
    end
    return ok, err
end

-- not_found answers a get or gat family miss: nothing for the quiet
-- opcodes, the key for the K ones, a bare "Not found" for the rest.
local function not_found(c, op, opaque, key)
    if QUIET[op] then
        return
    end
    if WITH_KEY[op] then
        return c.reply(c.sock, op, ST.KEY_ENOENT, opaque, 0, nil, key)
    end
    return fail(c, op, opaque, ST.KEY_ENOENT)
end

-- get serves GET, GETQ, GETK and GETKQ: no extras, a key, nothing else.
local function get(c, op, klen, elen, blen, opaque, _, key)
    if elen ~= 0 or blen ~= klen or klen == 0 then
        return invalid(c, op, opaque)
    end
    local sock, reply = c.sock, c.reply
    local v, f, cas = dgets(c.dict, key, C_HIT, C_MISS)
    if v == nil then
        return not_found(c, op, opaque, key)
    end
    if WITH_KEY[op] then
        return reply(sock, op, 0, opaque, cas, f, key, v)
    end
    return reply(sock, op, 0, opaque, cas, f, nil, v)
end

-- touch serves TOUCH, GAT, GATQ, GATK and GATKQ: a 4-byte exptime, a key.
-- Like memcached it does not check the body length: bytes after the key
-- are read as the next request. TOUCH answers with the flags, no value.
local function touch(c, op, klen, elen, _, opaque, _, ek)
    if elen ~= 4 or klen == 0 then
        return invalid(c, op, opaque)
    end
    local sock, reply = c.sock, c.reply
    local key = sub(ek, 5)
    local v, f, cas = dgat(c.dict, key, ttl_of(read_u32(ek, 1)), C_THIT, C_TMISS)
    if v == nil then
        return not_found(c, op, opaque, key)
    end
    if op == OP.TOUCH then
        return reply(sock, op, 0, opaque, cas, f)
    end
    if WITH_KEY[op] then
        return reply(sock, op, 0, opaque, cas, f, key, v)
    end
    return reply(sock, op, 0, opaque, cas, f, nil, v)
end

-- too_big answers a value over the item size limit: "Too large.", and the
-- value is thrown away (what of it the loop has not taken already).
local function too_big(c, op, opaque, vlen, value)
    fail(c, op, opaque, ST.E2BIG)
    if vlen > 0 then
        return DISCARD, vlen - (value and #value or 0)
    end
end

local STORE_MODE = {
    [OP.SET] = "set", [OP.SETQ] = "set", [OP.ADD] = "add", [OP.ADDQ] = "add",
    [OP.REPLACE] = "replace", [OP.REPLACEQ] = "replace",
}

-- store serves SET, ADD, REPLACE and their quiet forms: 8 bytes of extras
-- (flags, exptime), a key, the value. A cas in the header turns any of
-- them into a compare-and-swap, as in memcached.
local function store(c, op, klen, elen, blen, opaque, cas, ek, value)
    if elen ~= 8 or klen == 0 or blen < klen + 8 then
        return invalid(c, op, opaque)
    end
    local flags, exptime = read_u32(ek, 1, 2)
    local vlen = blen - klen - 8
    if vlen >= INT32 then
        vlen = vlen - TWO32
    end
    local mode = STORE_MODE[op]
    local d = c.dict
    -- text.too_large, inline: the item's accounted size against the limit.
    if vlen < 0 or klen + vlen + (flags ~= 0 and FLAGS_COST or 0) > ROOM then
        if mode == "set" then
            -- memcached drops the old value rather than leave it stale.
            ddelete(d, sub(ek, 9))
        end
        return too_big(c, op, opaque, vlen, value)
    end
    if value == nil then
        -- The loop takes every value that fits the limit.
        error("binary: storage request without its value")
    end
    local key = sub(ek, 9)
    local ttl = exptime
    if exptime > REALTIME_MAXDELTA then
        ttl = ttl_of(exptime)
    end
    local quiet = QUIET[op]
    local stored, err
    if cas ~= 0 then
        stored, err = put(d, "cas", key, value, ttl, flags, cas, not quiet)
    else
        stored, err = put(d, mode, key, value, ttl, flags, nil, not quiet)
    end
    if stored then
        if cas ~= 0 then
            inc(C.cas_hits, 1)
        end
        if quiet then
            return
        end
        return c.reply(c.sock, op, 0, opaque, err)
    end
    if cas ~= 0 then
        inc(err == "exists" and C.cas_badval or C.cas_misses, 1)
    end
    if err == "exists" then
        return fail(c, op, opaque, ST.KEY_EEXISTS)
    elseif err == "not found" then
        return fail(c, op, opaque, ST.KEY_ENOENT)
    end
    if mode == "set" then
        ddelete(d, key)
    end
    return fail(c, op, opaque, ST.ENOMEM, "Out of memory allocating item")
end

local PEND_MODE = {
    [OP.APPEND] = "append", [OP.APPENDQ] = "append",
    [OP.PREPEND] = "prepend", [OP.PREPENDQ] = "prepend",
}

-- append serves APPEND, PREPEND and their quiet forms: no extras, a key,
-- the data. A cas in the header must match the item's.
local function append(c, op, klen, elen, blen, opaque, cas, key, data)
    if klen == 0 or elen ~= 0 then
        return invalid(c, op, opaque)
    end
    local vlen = c_int(blen - klen)
    if vlen < 0 or too_large(klen, 0, vlen) then
        return too_big(c, op, opaque, vlen, data)
    end
    if data == nil then
        error("binary: storage request without its value")
    end
    inc(C_SET, 1)
    -- The cas (0: none) is compared in the same step as the append.
    local ok, err, _, new_cas = pend(c.dict, PEND_MODE[op], key, data, cas ~= 0 and cas or nil)
    if ok then
        inc(C_ITEMS, 1)
        if QUIET[op] then
            return
        end
        return c.reply(c.sock, op, 0, opaque, new_cas)
    end
    if err == "exists" then
        return fail(c, op, opaque, ST.KEY_EEXISTS)
    end
    return fail(c, op, opaque, ST.NOT_STORED)
end

-- delete serves DELETE and DELETEQ: a key only; a cas must match.
local function delete(c, op, klen, elen, blen, opaque, cas, key)
    if klen == 0 or elen ~= 0 or blen ~= klen then
        return invalid(c, op, opaque)
    end
    local ok, err
    if cas ~= 0 then
        ok, err = dremove(c.dict, key, cas)
    else
        ok, err = dremove(c.dict, key)
    end
    if ok then
        inc(C.delete_hits, 1)
        if QUIET[op] then
            return
        end
        return c.reply(c.sock, op, 0, opaque, 0)
    end
    if err == "exists" then
        return fail(c, op, opaque, ST.KEY_EEXISTS)
    end
    inc(C.delete_misses, 1)
    return fail(c, op, opaque, ST.KEY_ENOENT)
end

local NO_CREATE = 0xffffffff

-- arith serves INCREMENT, DECREMENT and their quiet forms: 20 bytes of
-- extras (delta, initial value, exptime) and a key. A missing key is
-- created with the initial value unless the exptime is 0xffffffff. The
-- reply is the new value as 8 bytes.
local function arith(c, op, klen, elen, blen, opaque, cas, ek)
    if klen == 0 or elen ~= 20 or blen ~= klen + 20 then
        return invalid(c, op, opaque)
    end
    local decr = op == OP.DECREMENT or op == OP.DECREMENTQ
    local key = sub(ek, 21)
    local d = c.dict
    local exptime = read_u32(ek, 17)
    local initial
    if exptime ~= NO_CREATE then
        initial = read_u64(ek, 9)
    end
    -- One locked step decides: the cas compare (0: none; an empty value
    -- fails first, as in memcached) and the change, or the miss and the
    -- create.
    local nv, r2, created = dincr(d, key, read_u64(ek, 1), decr, cas ~= 0 and cas or nil,
        initial, initial and ttl_of(exptime) or 0)
    if nv then
        if created then
            inc(C_ITEMS, 1)
        else
            inc(decr and C.decr_hits or C.incr_hits, 1)
        end
        if QUIET[op] then
            return
        end
        return c.reply(c.sock, op, 0, opaque, r2, nil, nil, u64(nv))
    end
    if r2 == "not found" then
        inc(decr and C.decr_misses or C.incr_misses, 1)
        return fail(c, op, opaque, ST.KEY_ENOENT)
    elseif r2 == "exists" then
        return fail(c, op, opaque, ST.KEY_EEXISTS)
    elseif r2 == "no memory" then
        if initial and peek(d, key) == nil then
            return fail(c, op, opaque, ST.ENOMEM, "Out of memory allocating new item")
        end
        return fail(c, op, opaque, ST.ENOMEM, "Out of memory incrementing value")
    end
    return fail(c, op, opaque, ST.DELTA_BADVAL)
end

-- flush serves FLUSH and FLUSHQ: no key, optionally a 4-byte exptime
-- (a delay, or an absolute time past 30 days), as the text flush_all.
local function flush(c, op, klen, elen, blen, opaque, _, ek)
    if klen ~= 0 or blen ~= elen or (elen ~= 0 and elen ~= 4) then
        return invalid(c, op, opaque)
    end
    local exptime = elen == 4 and read_u32(ek, 1) or 0
    inc(C.cmd_flush, 1)
    local d = c.dict
    if exptime == 0 then
        dflush(d)
    elseif exptime <= proto.REALTIME_MAXDELTA then
        dflush_after(d, exptime)
    elseif exptime > STARTED then
        local delay = exptime - ngx_time()
        if delay <= 0 then
            dflush(d)
        else
            dflush_after(d, delay)
        end
    end
    -- (An absolute time before the server started flushes nothing, as in
    -- memcached.)
    if QUIET[op] then
        return
    end
    return c.reply(c.sock, op, 0, opaque, 0)
end

-- bare is the check of the opcodes that take no body at all.
local function bare(klen, elen, blen)
    return klen == 0 and elen == 0 and blen == 0
end

local function noop(c, op, klen, elen, blen, opaque)
    if not bare(klen, elen, blen) then
        return invalid(c, op, opaque)
    end
    return c.reply(c.sock, op, 0, opaque, 0)
end

local function version(c, op, klen, elen, blen, opaque)
    if not bare(klen, elen, blen) then
        return invalid(c, op, opaque)
    end
    local v = stats.VERSION
    return c.reply(c.sock, op, 0, opaque, 0, nil, nil, v)
end

-- quit answers QUIT (QUITQ silently) and closes once the replies before
-- it are written.
local function quit(c, op, klen, elen, blen, opaque)
    if not bare(klen, elen, blen) then
        return invalid(c, op, opaque)
    end
    if op == OP.QUIT then
        c.reply(c.sock, op, 0, opaque, 0)
    end
    return CLOSE
end

-- text_stats runs the text protocol's "stats [group]" and returns the
-- "STAT name value" lines it would have sent, as one string or a list.
local function text_stats(c, group)
    local out
    local capture = {
        sock = c.sock,
        send = function(_, s)
            out = s
        end,
        dict = c.dict,
    }
    stats.command(capture, { "stats", group }, group and 2 or 1)
    return out
end

-- stat_packets turns STAT lines into one response per statistic (key:
-- the name, value: the value) followed by the empty response that ends
-- the list, all appended to packets.
local function stat_packets(packets, lines, opaque)
    if type(lines) == "string" then
        lines = { lines }
    end
    local n = #packets
    for i = 1, #lines do
        local s = lines[i]
        local at = 1
        while true do
            local eol = find(s, "\r\n", at, true)
            if not eol then
                break
            end
            if sub(s, at, at + 4) == "STAT " then
                local sp = find(s, " ", at + 5, true)
                local name, value
                if sp and sp < eol then
                    name, value = sub(s, at + 5, sp - 1), sub(s, sp + 1, eol - 1)
                else
                    name, value = sub(s, at + 5, eol - 1), ""
                end
                packets[n + 1] = response(OP.STAT, 0, opaque, 0, #name, 0, #name + #value)
                packets[n + 2] = name
                packets[n + 3] = value
                n = n + 3
            end
            at = eol + 2
        end
    end
    packets[n + 1] = response(OP.STAT, 0, opaque, 0, 0, 0, 0)
    return packets
end

-- stat serves STAT: no extras, an optional group name as the key. As in
-- memcached, "reset", "settings" and "detail" match as prefixes, the other
-- groups exactly, and bytes after the key are read as the next request.
local function stat(c, op, klen, elen, _, opaque, _, group)
    if elen ~= 0 then
        return invalid(c, op, opaque)
    end
    local packets = {}
    if klen == 0 then
        stat_packets(packets, text_stats(c, nil), opaque)
    elseif sub(group, 1, 5) == "reset" then
        text_stats(c, "reset")
        stat_packets(packets, {}, opaque)
    elseif sub(group, 1, 8) == "settings" then
        stat_packets(packets, text_stats(c, "settings"), opaque)
    elseif sub(group, 1, 6) == "detail" then
        local what = sub(group, 7)
        if sub(what, 1, 5) == " dump" then
            -- No per-prefix detail is kept: the dump is empty.
            packets[1] = response(OP.STAT, 0, opaque, 0, 8, 0, 13)
            packets[2] = "detailed"
            packets[3] = "END\r\n"
            stat_packets(packets, {}, opaque)
        elseif sub(what, 1, 3) == " on" or sub(what, 1, 4) == " off" then
            stat_packets(packets, {}, opaque)
        else
            return fail(c, op, opaque, ST.KEY_ENOENT)
        end
    elseif group == "items" or group == "slabs" or group == "sizes" then
        stat_packets(packets, text_stats(c, group), opaque)
    else
        return fail(c, op, opaque, ST.KEY_ENOENT)
    end
    return c.send(c.sock, packets)
end

-- unknown answers an opcode nobody handles: "Unknown command", after
-- which memcached swallows bodylen more bytes (beyond the extras and key
-- it has already read; a memcached quirk kept for compatibility).
local function unknown(c, op, _, _, blen, opaque)
    fail(c, op, opaque, ST.UNKNOWN_COMMAND)
    return DISCARD, blen
end

-- SASL is not enabled (as in a memcached started without -S): the SASL
-- opcodes answer "Unknown command" once their lengths are checked.
local function sasl_list(c, op, klen, elen, blen, opaque)
    if not bare(klen, elen, blen) then
        return invalid(c, op, opaque)
    end
    return fail(c, op, opaque, ST.UNKNOWN_COMMAND)
end

local function sasl_auth(c, op, klen, elen, blen, opaque)
    if elen ~= 0 or klen == 0 then
        return invalid(c, op, opaque)
    end
    fail(c, op, opaque, ST.UNKNOWN_COMMAND)
    return DISCARD, blen - klen
end

-- HANDLERS maps an opcode to its handler, called as
-- handler(c, opcode, keylen, extlen, bodylen, opaque, cas, ek, value)
-- where ek is the request's extras and key, and value, for the storage
-- opcodes, the value when the loop has taken it (always, unless it cannot
-- fit the item size limit). VERBOSITY is absent: memcached 1.6.18 answers
-- it "Unknown command" too.
local HANDLERS = {
    [OP.GET] = get, [OP.GETQ] = get, [OP.GETK] = get, [OP.GETKQ] = get,
    [OP.SET] = store, [OP.SETQ] = store, [OP.ADD] = store, [OP.ADDQ] = store,
    [OP.REPLACE] = store, [OP.REPLACEQ] = store,
    [OP.APPEND] = append, [OP.APPENDQ] = append, [OP.PREPEND] = append, [OP.PREPENDQ] = append,
    [OP.DELETE] = delete, [OP.DELETEQ] = delete,
    [OP.INCREMENT] = arith, [OP.INCREMENTQ] = arith, [OP.DECREMENT] = arith, [OP.DECREMENTQ] = arith,
    [OP.TOUCH] = touch, [OP.GAT] = touch, [OP.GATQ] = touch, [OP.GATK] = touch, [OP.GATKQ] = touch,
    [OP.FLUSH] = flush, [OP.FLUSHQ] = flush,
    [OP.NOOP] = noop, [OP.VERSION] = version, [OP.QUIT] = quit, [OP.QUITQ] = quit,
    [OP.STAT] = stat,
    [OP.SASL_LIST_MECHS] = sasl_list, [OP.SASL_AUTH] = sasl_auth, [OP.SASL_STEP] = sasl_auth,
}

-- WHOLE_EXTLEN holds, for the storage opcodes, the extras length a well
-- formed request has: memcached reads such a request to its end whatever
-- happens next, so the loop may take its whole body at once.
local WHOLE_EXTLEN = {}
for op, _ in pairs(STORE_MODE) do
    WHOLE_EXTLEN[op] = 8
end
for op, _ in pairs(PEND_MODE) do
    WHOLE_EXTLEN[op] = 0
end

-- GET_FAMILY holds the opcodes the loop answers itself, without a
-- handler call, when their lengths are valid: they are most of the load.
local GET_FAMILY = { [OP.GET] = true, [OP.GETQ] = true, [OP.GETK] = true, [OP.GETKQ] = true }

-- serve runs the binary protocol on connection c (see resty.memcached.
-- server for its fields) until the client quits or goes away, or returns
-- ngx.AGAIN when it has gone idle (sock:setidle). A Lua error in a handler
-- is logged and answered with status 0x84 (internal error) before the
-- connection closes.
function _M.serve(c)
    local sock = c.sock
    local receive_binary, reply = sock.receive_binary, sock.send_response
    c.reply = reply
    -- The request being served, for the error reply. Upvalues of loop: a
    -- cheaper store per request than a table field.
    local cur_op, cur_opaque = 0, 0
    local again = false

    local function loop()
        local dict, idle_kick = c.dict, c.idle_kick
        -- What the loop reads per request, as locals: in gopher-lua a
        -- register costs nothing to read where an upvalue costs an
        -- instruction, and the common case is tested first ("if op" is one
        -- instruction, "if not op ... else" two).
        local get_family, with_key, key_max = GET_FAMILY, WITH_KEY, KEY_MAX
        local gets, hit, miss = dgets, C_HIT, C_MISS
        local sock, receive_binary, reply = sock, receive_binary, reply
        while true do
            local op, klen, elen, blen, opaque, cas, ek = receive_binary(sock)
            if op then
                cur_op, cur_opaque = op, opaque
                if get_family[op] and elen == 0 and blen == klen and klen > 0 and klen <= key_max then
                    -- The get handler's work, inline; ek is the key.
                    local v, f, vcas = gets(dict, ek, hit, miss)
                    if v then
                        if with_key[op] then
                            reply(sock, op, 0, opaque, vcas, f, ek, v)
                        else
                            reply(sock, op, 0, opaque, vcas, f, nil, v)
                        end
                    else
                        not_found(c, op, opaque, ek)
                    end
                else
                    local need = elen + klen
                    local value
                    if WHOLE_EXTLEN[op] == elen and klen > 0 and klen <= key_max
                        and blen >= need and blen - need <= MAX_ITEM then
                        -- A storage request that can fit the limit: its
                        -- value is read now, as memcached goes on to.
                        value = ""
                        if blen > need then
                            value = recv(c, blen - need)
                            if not value then
                                break
                            end
                        end
                    end
                    if klen > blen or need > blen then
                        fail(c, op, opaque, ST.UNKNOWN_COMMAND)
                        break
                    end
                    if klen > key_max then
                        fail(c, op, opaque, ST.EINVAL)
                        break
                    end
                    local r, n = (HANDLERS[op] or unknown)(c, op, klen, elen, blen, opaque, cas, ek, value)
                    if r == CLOSE then
                        break
                    elseif r == DISCARD then
                        -- n is a C int in memcached: nothing is discarded
                        -- when it is 2 GiB or more.
                        if n > 0 and n < INT32 and not skip(c, n) then
                            break
                        end
                    end
                end
            elseif klen == "idle" then
                -- klen holds the error. Nothing in hand and nothing
                -- coming: give the state back until the next request (see
                -- run in server).
                again = true
                break
            elseif klen ~= "timeout" or idle_kick then
                -- "bad magic" among others: memcached closes without a
                -- word.
                break
            end
        end
    end

    local ok, e = pcall(loop)
    if not ok then
        ngx.log(ngx.ERR, "resty.memcached: binary opcode 0x", format("%02x", cur_op), " failed: ", tostring(e))
        fail(c, cur_op, cur_opaque, ST.EINTERNAL)
    elseif again then
        return ngx.AGAIN
    end
end

return _M

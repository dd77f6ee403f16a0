-- resty.memcached.stats: memcached's statistics, kept in the host's
-- process-wide counters so that every connection (and every pooled Lua
-- state) adds to and reads the same figures.
--
-- Commands take a counter handle once, at module load, and call
-- handle:add(n) per request: one atomic add in Go. The stats command reads
-- them all with one counters() call and adds what the shared dictionary
-- and the host know (items, bytes, evictions, connections).

local sl = require "streamlua"
local proto = require "resty.memcached.proto"

local info = sl.info
local floor = math.floor
local ngx = ngx

local _M = {}

-- NAMES lists the counters this server keeps, in the order memcached
-- prints them.
local NAMES = {
    "cmd_get", "cmd_set", "cmd_flush", "cmd_touch", "cmd_meta",
    "get_hits", "get_misses",
    "delete_misses", "delete_hits", "incr_misses", "incr_hits",
    "decr_misses", "decr_hits", "cas_misses", "cas_hits", "cas_badval",
    "touch_hits", "touch_misses", "store_too_large", "store_no_memory",
    "auth_cmds", "auth_errors", "bytes_read", "bytes_written",
}
_M.NAMES = NAMES

-- DERIVED are reported but not counted: every get is a hit or a miss,
-- every touch (touch, gat, mg T) too, so one atomic add per lookup is
-- enough.
local DERIVED = {
    cmd_get = { "get_hits", "get_misses" },
    cmd_touch = { "touch_hits", "touch_misses" },
}

-- counters maps each counted name (plus total_items and verbosity) to its
-- handle.
local counters = {}
for _, name in ipairs(NAMES) do
    if not DERIVED[name] then
        counters[name] = sl.counter(name)
    end
end
counters.total_items = sl.counter("total_items")
-- verbosity is a setting, not a statistic, but it must be shared by every
-- connection the way memcached's global setting is.
counters.verbosity = sl.counter("verbosity")
_M.counters = counters

-- add is the counters' add method, for callers that want to skip the
-- metatable lookup on the request path: add(handle, n).
_M.add = counters.cmd_set.add

local function setting(name)
    local s = info.Settings
    if s == nil then
        return nil
    end
    local v = s[name]
    if v == nil or v == "" then
        return nil
    end
    return v
end
_M.setting = setting

-- VERSION is what "version" and "stats" report: the memcached release
-- whose behaviour this server follows, marked as streamlua's so that
-- nobody mistakes it for the real thing; --set memcached.version=X
-- replaces it.
_M.VERSION = setting("memcached.version") or "1.6.18+streamlua"

local function stat(out, name, value)
    out[#out + 1] = "STAT " .. name .. " " .. tostring(value) .. "\r\n"
end

local function fmt_int(n)
    return string.format("%d", n)
end

-- general builds the reply to a bare "stats".
local function general(dict)
    local now = ngx.time()
    local vals = sl.counters()
    local ds = dict:stats()
    local out = {}
    stat(out, "pid", fmt_int(info.PID))
    stat(out, "uptime", fmt_int(now - info.StartTime))
    stat(out, "time", fmt_int(now))
    stat(out, "version", _M.VERSION)
    stat(out, "pointer_size", "64")
    stat(out, "max_connections", fmt_int(info.MaxConns))
    stat(out, "curr_connections", fmt_int(info:CurrConnections()))
    stat(out, "total_connections", fmt_int(info:TotalConnections()))
    stat(out, "rejected_connections", fmt_int(info:RejectedConnections()))
    for i = 1, #NAMES do
        local name = NAMES[i]
        local sum = DERIVED[name]
        if sum then
            stat(out, name, fmt_int((vals[sum[1]] or 0) + (vals[sum[2]] or 0)))
        else
            stat(out, name, fmt_int(vals[name] or 0))
        end
    end
    stat(out, "limit_maxbytes", fmt_int(ds.capacity))
    stat(out, "accepting_conns", "1")
    stat(out, "threads", fmt_int(info.Threads))
    stat(out, "bytes", fmt_int(ds.bytes))
    stat(out, "curr_items", fmt_int(ds.items))
    stat(out, "total_items", fmt_int(vals.total_items or 0))
    stat(out, "evictions", fmt_int(ds.evictions))
    stat(out, "reclaimed", fmt_int(ds.expired))
    out[#out + 1] = "END\r\n"
    return out
end

local function yesno(b)
    return b and "yes" or "no"
end

-- settings builds "stats settings": the memcached settings that have a
-- meaning here.
local function settings(dict)
    local out = {}
    local vals = sl.counters()
    stat(out, "maxbytes", fmt_int(dict:capacity()))
    stat(out, "maxconns", fmt_int(info.MaxConns))
    stat(out, "tcpport", ngx.var.server_port or "0")
    stat(out, "udpport", "0")
    stat(out, "inter", ngx.var.server_addr or "NULL")
    stat(out, "verbosity", fmt_int(vals.verbosity or 0))
    stat(out, "oldest", "0")
    stat(out, "evictions", "on")
    stat(out, "domain_socket", "NULL")
    stat(out, "growth_factor", "1.25")
    stat(out, "chunk_size", "48")
    stat(out, "num_threads", fmt_int(info.Threads))
    stat(out, "detail_enabled", "no")
    stat(out, "cas_enabled", "yes")
    stat(out, "binding_protocol", "auto-negotiate") -- text and binary on one port, as -B auto
    stat(out, "auth_enabled_sasl", "no")
    stat(out, "auth_enabled_ascii", "no")
    stat(out, "item_size_max", fmt_int(info.MaxItemSize))
    stat(out, "maxconns_fast", "yes")
    stat(out, "slab_reassign", "no")
    stat(out, "slab_automove", "0")
    stat(out, "slab_chunk_max", fmt_int(floor(info.MaxItemSize / 2)))
    stat(out, "lru_crawler", "no")
    stat(out, "flush_enabled", yesno(true))
    stat(out, "dump_enabled", "no")
    stat(out, "lru_segmented", "no")
    stat(out, "idle_timeout", setting("memcached.idle_timeout") or "0")
    out[#out + 1] = "END\r\n"
    return out
end

-- items builds "stats items". The shared dictionary has one memory pool,
-- not slab classes, so everything is reported as class 1; an empty cache
-- prints only END, as memcached does.
local function items(dict)
    local out = {}
    local ds = dict:stats()
    if ds.items > 0 then
        local vals = sl.counters()
        stat(out, "items:1:number", fmt_int(ds.items))
        stat(out, "items:1:number_hot", "0")
        stat(out, "items:1:number_warm", "0")
        stat(out, "items:1:number_cold", fmt_int(ds.items))
        stat(out, "items:1:age_hot", "0")
        stat(out, "items:1:age_warm", "0")
        stat(out, "items:1:age", "0")
        stat(out, "items:1:mem_requested", fmt_int(ds.bytes))
        stat(out, "items:1:evicted", fmt_int(ds.evictions))
        stat(out, "items:1:evicted_nonzero", "0")
        stat(out, "items:1:evicted_time", "0")
        stat(out, "items:1:outofmemory", fmt_int(vals.store_no_memory or 0))
        stat(out, "items:1:tailrepairs", "0")
        stat(out, "items:1:reclaimed", fmt_int(ds.expired))
    end
    out[#out + 1] = "END\r\n"
    return out
end

-- slabs builds "stats slabs", again with the one pool as class 1.
local function slabs(dict)
    local out = {}
    local ds = dict:stats()
    local vals = sl.counters()
    local active = 0
    if ds.items > 0 then
        active = 1
        stat(out, "1:chunk_size", fmt_int(proto.SLAB_SIZES[#proto.SLAB_SIZES]))
        stat(out, "1:used_chunks", fmt_int(ds.items))
        stat(out, "1:get_hits", fmt_int(vals.get_hits or 0))
        stat(out, "1:cmd_set", fmt_int(vals.cmd_set or 0))
        stat(out, "1:delete_hits", fmt_int(vals.delete_hits or 0))
        stat(out, "1:incr_hits", fmt_int(vals.incr_hits or 0))
        stat(out, "1:decr_hits", fmt_int(vals.decr_hits or 0))
        stat(out, "1:cas_hits", fmt_int(vals.cas_hits or 0))
        stat(out, "1:cas_badval", fmt_int(vals.cas_badval or 0))
        stat(out, "1:touch_hits", fmt_int(vals.touch_hits or 0))
    end
    stat(out, "active_slabs", fmt_int(active))
    stat(out, "total_malloced", fmt_int(ds.bytes))
    out[#out + 1] = "END\r\n"
    return out
end

-- conns builds "stats conns" for the calling connection only: the host
-- does not list other connections to scripts.
local function conns()
    local out = {}
    local fd = ngx.var.connection or "0"
    local addr = ngx.var.remote_addr
    local port = ngx.var.remote_port
    if addr then
        stat(out, fd .. ":addr", "tcp:" .. addr .. ":" .. (port or "0"))
    end
    stat(out, fd .. ":state", "conn_parse_cmd")
    out[#out + 1] = "END\r\n"
    return out
end

local ERROR = "ERROR\r\n"

-- command is the "stats [group]" handler; see resty.memcached.server for
-- the handler convention.
function _M.command(c, tok, n)
    local sock, send = c.sock, c.send
    local out
    if n == 1 then
        out = general(c.dict)
    else
        local sub = tok[2]
        if sub == "reset" then
            -- verbosity is a setting, not a statistic: keep it.
            local verbosity = counters.verbosity:get()
            sl.reset_counters()
            counters.verbosity:set(verbosity)
            return send(sock, "RESET\r\n")
        elseif sub == "detail" then
            local what = n >= 3 and tok[3] or ""
            if what == "on" or what == "off" then
                return send(sock, "OK\r\n")
            elseif what == "dump" then
                return send(sock, "END\r\n")
            end
            return send(sock, "CLIENT_ERROR usage: stats detail on|off|dump\r\n")
        elseif sub == "settings" then
            out = settings(c.dict)
        elseif sub == "items" then
            out = items(c.dict)
        elseif sub == "slabs" then
            out = slabs(c.dict)
        elseif sub == "sizes" then
            return send(sock, "STAT sizes_status disabled\r\nEND\r\n")
        elseif sub == "conns" then
            out = conns()
        else
            return send(sock, ERROR)
        end
    end
    return send(sock, out)
end

return _M

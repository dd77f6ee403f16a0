-- resty.memcached.server: a memcached-compatible server for streamlua (and
-- OpenResty's stream subsystem), speaking memcached 1.6's text and meta
-- protocols over a shared dictionary, and its binary protocol when a
-- connection's first byte is 0x80 (resty.memcached.binary).
--
--     streamlua serve                       -- runs require(this).run()
--
-- How a connection flows:
--
--  1. run() takes the raw downstream socket and loops on
--     sock:receive_command, which takes the next line up to "\n" (dropping
--     one "\r" before it, cutting at a NUL, as memcached does) and splits
--     it on spaces into a reused token table, in Go.
--  2. The first token names the command; the server's command table maps
--     it to a handler(c, tok, n). Storage handlers then take their data
--     block from the same buffer and the socket (resty.memcached.conn).
--  3. Handlers make one call into the shared dictionary, which is atomic in
--     Go, and reply with sock:send; the host writes replies only when the
--     next read would block, so a pipelined batch leaves in one write.
--  4. A handler returns CLOSE to end the connection (quit, a client that
--     sent an HTTP request line, a failed read). A Lua error inside a
--     handler is logged with its file:line and the client gets a
--     SERVER_ERROR line before the connection closes.
--
-- Extending it without touching the bundled files: a user module makes
-- its own server with new(), registers or wraps commands, and exposes
-- run; see examples/memcached/README.md.

local proto = require "resty.memcached.proto"
local conn = require "resty.memcached.conn"
local stats = require "resty.memcached.stats"
local text = require "resty.memcached.text"
-- The meta and binary protocols are loaded on first use: a Lua state
-- serves one connection at a time, and most never speak either, so a
-- state need not carry their modules (about a quarter of its memory).
local meta, binary

local find, sub, byte = string.find, string.sub, string.byte
local setmetatable, pairs, pcall, tostring, type = setmetatable, pairs, pcall, tostring, type
local ngx = ngx

local CLOSE = text.CLOSE
local GET = text.get
local KEY_MAX = proto.KEY_MAX
local lookup = proto.dict_methods().lookup
local C_HIT, C_MISS = stats.counters.get_hits, stats.counters.get_misses
local END, BADFMT = "END\r\n", "CLIENT_ERROR bad command line format\r\n"
local AGAIN = ngx.AGAIN
local C_READ, C_WRITTEN = stats.counters.bytes_read, stats.counters.bytes_written

local _M = {
    _VERSION = "0.1.0",
    -- CLOSE is what a handler returns to close the connection.
    CLOSE = CLOSE,
    -- KEY_MAX is the longest key memcached accepts.
    KEY_MAX = proto.KEY_MAX,
    -- Helpers for handlers written outside this package.
    read_block = conn.read_block,
    skip = conn.skip,
    parse_u32 = proto.parse_u32,
    parse_i32 = proto.parse_i32,
    parse_u64 = proto.parse_u64,
    ttl_of = text.ttl_of,
}

-- BUILTIN is the command table every new server starts from.
local BUILTIN = {}
for _, name in ipairs({
    "get", "bget", "gets", "gat", "gats", "set", "add", "replace", "append",
    "prepend", "cas", "incr", "decr", "touch", "delete", "flush_all",
    "verbosity", "version", "quit", "shutdown", "stats",
}) do
    BUILTIN[name] = text[name]
end
-- Each meta command starts as a stub that loads resty.memcached.meta and
-- puts the real handler in its place, in BUILTIN and in the server that
-- ran it (a server whose table holds something else keeps it).
for _, name in ipairs({ "mg", "ms", "md", "ma", "mn", "me" }) do
    local stub
    stub = function(c, tok, n)
        meta = meta or require "resty.memcached.meta"
        local h = meta[name]
        if BUILTIN[name] == stub then
            BUILTIN[name] = h
        end
        local cmds = c.server and c.server.cmds
        if cmds and cmds[name] == stub then
            cmds[name] = h
        end
        return h(c, tok, n)
    end
    BUILTIN[name] = stub
end

-- builtin returns the bundled handler for a command name (or nil), so a
-- user module can wrap it.
function _M.builtin(name)
    return BUILTIN[name]
end

-- The largest unparsed line kept while waiting for its "\n". memcached
-- closes a connection after 2048 bytes without a newline unless the line
-- is a get/gets (long multi-gets); those it lets grow, and so do we, up to
-- this cap (memcached's only limit is memory).
local DEFAULT_MAX_LINE = 4 * 1024 * 1024

-- DEFAULT_IDLE_RELEASE is how long (seconds) a silent connection keeps its
-- Lua state: a busy client never waits that long between requests, and
-- the thousands of mostly idle connections of a client pool then cost a
-- few KiB each instead of a state each (streamlua's sock:setidle).
local DEFAULT_IDLE_RELEASE = 0.1

local Server = {}
Server.__index = Server

local function number_setting(name)
    local v = stats.setting(name)
    return v and tonumber(v) or nil
end

-- new makes a server with its own command table, so that a module adding
-- or replacing commands does not change the bundled server that other
-- handlers in the same Lua state may run. opts (all optional):
--   dict          shared dictionary name (default "memcached", or the
--                 memcached.dict setting)
--   idle_timeout  seconds of client silence before closing (default 0,
--                 never, as memcached; or the memcached.idle_timeout
--                 setting)
--   max_line      longest multi-get line accepted, in bytes
--   idle_release  seconds of client silence after which the connection
--                 gives its Lua state back until its next request
--                 (default 0.1, or the memcached.idle_release setting;
--                 0 keeps the state for the connection's life)
function _M.new(opts)
    opts = opts or {}
    local cmds = {}
    for k, v in pairs(BUILTIN) do
        cmds[k] = v
    end
    local self = {
        cmds = cmds,
        -- inline[1] is true while cmds.get is the bundled get, which the
        -- serve loop then runs inline for one key (register keeps it).
        inline = { true },
        unknown = text.unknown,
        dict_name = opts.dict or stats.setting("memcached.dict") or "memcached",
        idle_timeout = opts.idle_timeout or number_setting("memcached.idle_timeout") or 0,
        max_line = opts.max_line or number_setting("memcached.max_line") or DEFAULT_MAX_LINE,
        idle_release = opts.idle_release or number_setting("memcached.idle_release") or DEFAULT_IDLE_RELEASE,
    }
    return setmetatable(self, Server)
end

-- register adds or replaces the handler for a command name. A handler is
-- called as handler(c, tok, n) where
--   c      the connection: c.sock (the socket), c.send (its send method,
--          call as c.send(c.sock, ...)), c.dict (the shared dictionary),
--          c.server (this server); read data blocks with
--          server.read_block(c, len), discard them with server.skip(c, n)
--   tok    the line's tokens, tok[1] the command name; the table is reused
--          for the next line, so copy what you keep
--   n      the number of tokens
-- and returns nothing, or server.CLOSE to close the connection. Passing
-- nil as the handler removes the command. Change commands through
-- register only: the serve loop runs the bundled get inline while
-- register has left it in place.
function Server:register(name, handler)
    if type(name) ~= "string" or #name < 2 or find(name, " ", 1, true) then
        error("resty.memcached: bad command name " .. tostring(name), 2)
    end
    if handler ~= nil and type(handler) ~= "function" then
        error("resty.memcached: handler for " .. name .. " must be a function", 2)
    end
    self.cmds[name] = handler
    if name == "get" then
        self.inline[1] = handler == GET
    end
    return self
end

-- command returns the current handler for a name, typically to wrap it.
function Server:command(name)
    return self.cmds[name]
end

-- LINE_MAX is memcached's limit on buffered input without a newline: past
-- it the connection is closed, unless the pending line is a get/gets
-- (after at most 100 leading spaces), which may grow to max_line.
local LINE_MAX = 2048

-- serve is the command loop of one connection; it returns when the
-- connection should close, or true when it has been idle long enough to
-- give its state back (the host runs run() again on its next input).
local function serve(self, c)
    local sock, cmds, unknown, inline = c.sock, self.cmds, self.unknown, self.inline
    local receive_command, send = sock.receive_command, c.send
    local tok, dict = c.tok, c.dict
    local max_line, idle_kick = self.max_line, c.idle_kick
    -- Upvalues the loop reads per request, as locals: gopher-lua reads a
    -- register faster than an upvalue, and a register operand of a
    -- comparison costs no instruction at all.
    local lookup, hit, miss = lookup, C_HIT, C_MISS
    local line_max, key_max = LINE_MAX, KEY_MAX
    -- The hit reply's constant parts, as locals too: gopher-lua moves a run
    -- of registers into a call's arguments in one instruction, where each
    -- constant would take one of its own.
    local VALUE_, SP, CRLF, CRLF_END = "VALUE ", " ", "\r\n", "\r\nEND\r\n"
    -- The loop is written for gopher-lua's instruction count, which is
    -- most of a request's cost: the common case comes first in every
    -- test, and "if v" is one instruction where "if v == nil" is three.
    while true do
        local n, err, first, lead = receive_command(sock, tok, line_max)
        if n then
            if n == 2 and tok[1] == "get" and inline[1] then
                -- The bundled get of one key, inlined: in gopher-lua a call
                -- to a Lua function costs as much as the rest of a get.
                -- Comparing the name and a flag costs less than looking the
                -- handler up in cmds, a hash lookup.
                local key = tok[2]
                if #key <= key_max then
                    local v, f = lookup(dict, key, hit, miss)
                    if v then
                        send(sock, VALUE_, key, SP, f, SP, #v, CRLF, v, CRLF_END)
                    else
                        send(sock, END)
                    end
                else
                    send(sock, BADFMT)
                end
            elseif (cmds[tok[1]] or unknown)(c, tok, n) == CLOSE then -- tok[1] is nil when n is 0
                break
            end
        else
            if err == "line too long" and lead <= 100 and (first == "get" or first == "gets") then
                n, err = receive_command(sock, tok, max_line)
                if n and (cmds[tok[1]] or unknown)(c, tok, n) == CLOSE then
                    break
                end
            end
            if not n then
                if err == "idle" then
                    return true
                elseif err ~= "timeout" or idle_kick then
                    break
                end
            end
        end
    end
end

-- BINARY_MAGIC is the first byte of every binary protocol request.
local BINARY_MAGIC = "\128"

-- run serves the current downstream connection until the client quits or
-- goes away, in the binary protocol if its first byte is a binary
-- request's, else in the text and meta protocols. It returns ngx.AGAIN
-- when the connection has gone idle: the host then runs it again when the
-- next request arrives, on whichever state is free.
function Server:run()
    local sock, err = ngx.req.socket(true)
    if not sock then
        ngx.log(ngx.ERR, "resty.memcached: cannot get the client socket: ", err)
        return
    end
    local dict = ngx.shared[self.dict_name]
    if not dict then
        ngx.log(ngx.ERR, "resty.memcached: no shared dictionary named ", self.dict_name)
        sock:send("SERVER_ERROR no shared dictionary named ", self.dict_name, "\r\n")
        return
    end
    local idle = self.idle_timeout
    if idle > 0 then
        sock:settimeouts(0, 0, idle * 1000)
    end
    if self.idle_release > 0 and sock.setidle then
        sock:setidle(self.idle_release * 1000)
    end
    -- bytes_read and bytes_written: the host counts, no work per request.
    sock:count_received(C_READ)
    sock:count_sent(C_WRITTEN)
    local c = {
        sock = sock,
        send = sock.send,
        receive = sock.receive,
        receive_block = sock.receive_block,
        dict = dict,
        server = self,
        tok = {},
        idle_kick = idle > 0,
    }
    -- The first byte picks the protocol, as memcached's "-B auto" does:
    -- 0x80 (a binary request's magic) for the binary protocol, anything
    -- else for text and meta. Peeking consumes nothing.
    local first, perr = sock:peek(1)
    while not first and perr == "timeout" and not c.idle_kick do
        first, perr = sock:peek(1)
    end
    if not first then
        if perr == "idle" then
            return AGAIN
        end
        return
    end
    if first == BINARY_MAGIC then
        binary = binary or require "resty.memcached.binary"
        return binary.serve(c)
    end
    local ok, e = pcall(serve, self, c)
    if ok then
        if e then
            return AGAIN
        end
    else
        -- A bug in a handler (ours or a user's) must not look like a
        -- silent disconnect: tell the client, log where it happened. The
        -- token table still holds the line being handled.
        local name = c.tok[1] or "?"
        ngx.log(ngx.ERR, "resty.memcached: command \"", name, "\" failed: ", tostring(e))
        sock:send("SERVER_ERROR internal error in ", name, "\r\n")
    end
end

local default

-- run serves the current connection with the bundled command set; it is
-- what `streamlua serve` calls by default.
function _M.run()
    if not default then
        default = _M.new()
    end
    return default:run()
end

return _M

-- resty.memcached.conn: reading data blocks the way memcached does.
--
-- Command lines are read by the host (sock:receive_command, which applies
-- memcached's framing: a line ends at the first "\n", one "\r" before it
-- and anything from a NUL on are dropped, and the words are split in Go).
-- The storage commands then read their data block with read_block, or
-- discard it with skip, from the same socket buffer.


local _M = {}

-- CHUNK is how much skip reads per call when discarding a large block.
local CHUNK = 65536

-- recv reads exactly n bytes from the socket. A read timeout is not fatal
-- (memcached has no idle timeout unless asked): unless the connection has
-- an idle limit (c.idle_kick), partial data is kept and reading goes on.
local function recv(c, n)
    local sock, receive = c.sock, c.receive
    local data, err, partial = receive(sock, n)
    if data then
        return data
    end
    local parts, got = {}, 0
    while err == "timeout" and not c.idle_kick do
        if partial and #partial > 0 then
            parts[#parts + 1] = partial
            got = got + #partial
        end
        data, err, partial = receive(sock, n - got)
        if data then
            parts[#parts + 1] = data
            return table.concat(parts)
        end
    end
    return nil, err
end
_M.recv = recv

-- block_result finishes reading a data block of n bytes given what the
-- first sock:receive_block(n) returned (see read_block).
local function block_result(c, n, data, err)
    while true do
        if data then
            return data, true
        end
        if err == "bad data chunk" then
            return "", false
        end
        if err ~= "timeout" or c.idle_kick then
            return nil, err
        end
        data, err = c.receive_block(c.sock, n)
    end
end

-- read_block consumes a data block of n bytes plus its two-byte terminator
-- and returns the data and whether the terminator was "\r\n" (memcached
-- answers "CLIENT_ERROR bad data chunk" when it was not, having consumed
-- exactly n + 2 bytes either way). It returns nil, err when the connection
-- failed. A read timeout is not fatal unless the connection has an idle
-- limit: the host keeps the partial block buffered and reading goes on.
function _M.read_block(c, n)
    return block_result(c, n, c.receive_block(c.sock, n))
end

-- block_result is read_block for a caller that made the first
-- receive_block call itself, which saves a Lua call on the hot path.
_M.block_result = block_result

-- skip discards n bytes (memcached's "swallow" after an item that is too
-- large), reading at most CHUNK bytes at a time so that a client
-- announcing gigabytes does not make the server hold them. It returns
-- true, or nil, err when the connection failed.
function _M.skip(c, n)
    while n > 0 do
        local step = n < CHUNK and n or CHUNK
        local ok, err = recv(c, step)
        if not ok then
            return nil, err
        end
        n = n - step
    end
    return true
end

return _M

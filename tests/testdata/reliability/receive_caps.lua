-- Each request line names a read the client then feeds; the handler
-- answers what the socket returned, so the test can show that no read
-- buffers more than the host's caps however much a client sends.
--   size N      receive(N)
--   all         receive("*a")
--   until PAT   receiveuntil(PAT)()
--   line        receive("*l")
local sock = assert(ngx.req.socket(true))
local cmd, err = sock:receive()
if not cmd then return end
local op, arg = cmd:match("^(%S+)%s*(.*)$")
local data, rerr
if op == "size" then
    data, rerr = sock:receive(tonumber(arg))
elseif op == "all" then
    data, rerr = sock:receive("*a")
elseif op == "until" then
    data, rerr = sock:receiveuntil(arg)()
elseif op == "line" then
    data, rerr = sock:receive("*l")
end
if data then
    sock:send("ok ", #data, "\r\n")
else
    sock:send("err ", rerr, "\r\n")
end

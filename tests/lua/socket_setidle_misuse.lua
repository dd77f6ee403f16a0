-- ngx.AGAIN is honoured only in a run where a receive reported "idle": an
-- entry returning it without reading would otherwise run again and again
-- on input it never takes. The connection is closed at once instead (were
-- it parked, it would wait for the client and this eof would time out).
-- The client sends nothing: closing with unread input would be a reset.
--! eof
local sock = assert(ngx.req.socket(true))
sock:setidle(50)
return ngx.AGAIN

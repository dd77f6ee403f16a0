-- ngx.AGAIN is honoured only in a run where a receive reported "idle": an
-- entry returning it without reading would otherwise run again and again
-- on the input it never takes. The connection is closed instead.
--! send "x"
--! eof
local sock = assert(ngx.req.socket(true))
sock:setidle(50)
return ngx.AGAIN

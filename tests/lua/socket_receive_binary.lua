-- sock:receive_binary and sock:send_response (streamlua): memcached
-- binary protocol framing in Go. A request's header, extras and key come
-- back as fields and one string, the value stays buffered; a timeout
-- consumes nothing, so calling again resumes; a wrong magic byte consumes
-- nothing either (once a whole header is in, as memcached judges it). Replies are appended whole to the output buffer.
--! send "\x80\x00\x00\x03\x00\x00\x00\x00\x00\x00\x00\x03\xde\xad\xbe\xef\x00\x00\x00\x00\x00\x00\x00\x07key\x80\x01\x00\x01\x08\x00\x00\x00\x00\x00"
--! sleep 200ms
--! send "\x00\x0b\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x05\x00\x00\x00\x00kvv\x80\x0c\x00\x02\x00\x00\x00\x00\x00\x00\x00\x02\x00\x00\x00\x03\xff\xff\xff\xff\xff\xff\xff\xffkkxxxxxxxxxxxxxxxxxxxxxxxx"
--! expect "\x81\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x09\xde\xad\xbe\xef\x00\x00\x00\x00\x00\x00\x00\x00Not found\x81\x0c\x00\x03\x04\x00\x00\x00\x00\x00\x00\x0a\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x07\x00\x00\x00\x05keyval\x81\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\xff\xff\xff\xff\xff\xff\xff\xff"
--! send "\x80\x00\x00\x06\x00\x00\x00\x00\x00\x00\x00\x06\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00abc"
--! closewrite
--! expect "ok\n"
local t = require "t"
local sock = assert(ngx.req.socket(true))
local op, klen, elen, blen, opaque, cas, ek = t.n(7, sock:receive_binary())
t.eq(op, 0, "opcode")
t.eq(klen, 3, "keylen")
t.eq(elen, 0, "extlen")
t.eq(blen, 3, "bodylen")
t.eq(opaque, 0xdeadbeef, "opaque")
t.eq(cas, 7, "cas")
t.eq(ek, "key", "key")
sock:settimeout(50)
local none, err = sock:receive_binary()
t.eq(none, nil, "a cut header")
t.eq(err, "timeout", "a cut header's error")
sock:settimeout(5000)
op, klen, elen, blen, opaque, cas, ek = sock:receive_binary()
t.eq(op, 1, "resumed: opcode")
t.eq(ek, "\0\0\0\5\0\0\0\0k", "resumed: extras and key")
t.eq(sock:receive(blen - elen - klen), "vv", "the value is left for receive")
op, klen, elen, blen, opaque, cas, ek = sock:receive_binary()
t.eq(cas, "18446744073709551615", "a cas above 2^53 is a decimal string")
t.eq(ek, "kk", "key")
none, err = sock:receive_binary()
t.eq(err, "bad magic", "not a request")
t.eq(sock:receive(24), ("x"):rep(24), "a wrong magic is not consumed")
t.eq(sock:send_response(0, 1, 0xdeadbeef, 0, nil, nil, "Not found"), 33, "bytes sent")
sock:send_response(0x0c, 0, 1, 7, 5, "key", "val")
sock:send_response(1, 0, 2, "18446744073709551615")
t.raises("out of range", sock.send_response, sock, 0, 70000, 0, 0)
t.raises("string expected", sock.send_response, sock, 0, 0, 0, 0, nil, {})
ngx.flush(true)
local partial
none, err, partial = sock:receive_binary()
t.eq(err, "closed", "EOF inside a request")
t.eq(partial, "\x80\x00\x00\x06\x00\x00\x00\x00\x00\x00\x00\x06\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00abc", "the partial request")
t.done(sock)

local _M = {} return _M

return require "nginx.memcached" -- alias: Debian installs lua-resty-memcached as nginx.memcached

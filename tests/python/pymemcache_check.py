"""Drive a memcached-compatible server with Debian's pymemcache client.

Usage: pymemcache_check.py HOST PORT

Every check prints one line; the script exits with status 1 if any check
failed. Run from tests/memcached_clients_test.go (TestMemcachedPymemcache).
"""

import sys
import time

from pymemcache.client.base import Client

failures = 0


def check(name, got, want):
    global failures
    if got == want:
        print("ok   %s" % name)
    else:
        failures += 1
        print("FAIL %s: got %r, want %r" % (name, got, want))


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    c = Client((host, port), default_noreply=False, connect_timeout=5, timeout=10)

    check("flush_all", c.flush_all(), True)
    check("set", c.set("k1", b"v1"), True)
    check("get", c.get("k1"), b"v1")
    check("get miss", c.get("nope"), None)
    check("set flags", c.set("kf", b"x", flags=42), True)
    check("add existing", c.add("k1", b"other"), False)
    check("add new", c.add("k2", b"v2"), True)
    check("replace existing", c.replace("k2", b"v2b"), True)
    check("replace missing", c.replace("k3", b"v3"), False)
    check("get after replace", c.get("k2"), b"v2b")
    check("append", c.append("k1", b"+tail"), True)
    check("prepend", c.prepend("k1", b"head+"), True)
    check("get after pend", c.get("k1"), b"head+v1+tail")
    check("append missing", c.append("k404", b"x"), False)

    value, cas = c.gets("k1")
    check("gets value", value, b"head+v1+tail")
    check("gets cas is a number", cas is not None and int(cas) > 0, True)
    check("cas ok", c.cas("k1", b"swapped", cas), True)
    check("cas stale", c.cas("k1", b"again", cas), False)
    check("cas missing", c.cas("k404", b"x", cas), None)
    check("get after cas", c.get("k1"), b"swapped")

    check("set counter", c.set("n", b"10"), True)
    check("incr", c.incr("n", 5), 15)
    check("decr", c.decr("n", 20), 0)
    check("incr wraps", c.incr("n", 18446744073709551615), 18446744073709551615)
    check("incr wrap to small", c.incr("n", 2), 1)
    check("incr missing", c.incr("n404", 1), None)

    check("delete", c.delete("k2"), True)
    check("delete missing", c.delete("k2"), False)
    check("touch", c.touch("k1", 100), True)
    check("touch missing", c.touch("k404", 100), False)

    c.set("m1", b"a")
    c.set("m2", b"b")
    check("get_many", c.get_many(["m1", "m2", "m404"]), {"m1": b"a", "m2": b"b"})

    binary = b"a\r\nb\x00c\r\n\x00END\r\n"
    check("set binary", c.set("bin", binary), True)
    check("get binary", c.get("bin"), binary)
    check("get_many binary", c.get_many(["bin"]), {"bin": binary})

    big = bytes(i % 251 for i in range(1000000))
    check("set 1,000,000 bytes", c.set("big", big), True)
    check("get 1,000,000 bytes", c.get("big"), big)

    stats = c.stats()
    check("stats has cmd_get", b"cmd_get" in stats or "cmd_get" in stats, True)
    check("stats has curr_items", b"curr_items" in stats or "curr_items" in stats, True)
    check("version", c.version().startswith(b"1.6"), True)

    check("set ttl 1s", c.set("ttl", b"short", expire=1), True)
    check("ttl still there", c.get("ttl"), b"short")
    time.sleep(2.1)
    check("ttl expired", c.get("ttl"), None)

    check("flush_all again", c.flush_all(), True)
    check("get after flush", c.get("k1"), None)
    c.close()

    print("%d failure(s)" % failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

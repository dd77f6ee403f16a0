#!/usr/bin/env python3
"""Client-side hashing over streamlua nodes with pymemcache's HashClient.

No proxy: the client hashes each key to one node (rendezvous hashing), and
when a node stops answering it drops that node, so only that node's keys move
(they read as misses until written again).

    python3 examples/cluster/hashclient.py 127.0.0.1:11221 127.0.0.1:11222 127.0.0.1:11223
    python3 examples/cluster/hashclient.py --pause HOST:PORT ...   # stop a node at the prompt

It writes --keys keys, reads them back and prints how they spread over the
nodes; with --pause it then waits for a line on stdin (stop a node meanwhile),
reads every key again and writes --new-keys more. Each phase prints one JSON
line, which is what tests/cluster_test.go reads.

Debian: apt-get install python3-pymemcache
"""

import argparse
import json
import socket
import sys
import time

from pymemcache.client.hash import HashClient
from pymemcache.exceptions import MemcacheError

BATCH = 100


def parse_server(s):
    host, _, port = s.rpartition(":")
    return (host, int(port))


def with_retry(fn, attempts=5):
    """Run fn, retrying on connection errors.

    With retry_attempts=0 the HashClient drops a node at its first
    connection error but still raises that error to the caller; the retry
    then goes to the node the key maps to now.
    """
    for i in range(attempts):
        try:
            return fn()
        except (OSError, socket.error, MemcacheError):
            if i == attempts - 1:
                raise
            time.sleep(0.05)


def write(client, keys):
    """Store every key (value = "v-" + key); return the keys that failed."""
    failed = []
    for i in range(0, len(keys), BATCH):
        batch = {k: ("v-" + k).encode() for k in keys[i:i + BATCH]}
        try:
            failed.extend(with_retry(lambda: client.set_many(batch, noreply=False)))
        except (OSError, MemcacheError):
            failed.extend(batch)
    return failed


def read(client, keys):
    """Read every key back; return (hits, misses, wrong values, errors)."""
    hits, misses, wrong, errors = 0, [], [], 0
    for i in range(0, len(keys), BATCH):
        batch = keys[i:i + BATCH]
        try:
            got = with_retry(lambda: client.get_many(batch))
        except (OSError, MemcacheError):
            errors += len(batch)
            continue
        for k in batch:
            v = got.get(k)
            if v is None:
                misses.append(k)
            elif v != ("v-" + k).encode():
                wrong.append(k)
            else:
                hits += 1
    return hits, misses, wrong, errors


def report(phase, **fields):
    fields["phase"] = phase
    print(json.dumps(fields), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("servers", nargs="+", help="HOST:PORT of each node")
    ap.add_argument("--keys", type=int, default=10000)
    ap.add_argument("--new-keys", type=int, default=1000)
    ap.add_argument("--prefix", default="key")
    ap.add_argument("--pause", action="store_true",
                    help="after writing, wait for a line on stdin, then read and write again")
    args = ap.parse_args()

    servers = [parse_server(s) for s in args.servers]
    client = HashClient(
        servers,
        default_noreply=False,
        connect_timeout=2,
        timeout=5,
        retry_attempts=0,  # drop a node at its first connection error
        dead_timeout=600,  # and leave it out for the rest of the run
    )

    keys = ["%s%d" % (args.prefix, i) for i in range(args.keys)]
    failed = write(client, keys)
    hits, misses, wrong, errors = read(client, keys)
    spread = {}
    for k in keys:
        node = client.hasher.get_node(k)
        spread[node] = spread.get(node, 0) + 1
    report("write", stored=len(keys) - len(failed), hits=hits, misses=len(misses),
           wrong=len(wrong), errors=errors, spread=spread)
    if not args.pause:
        return 0 if not failed and hits == len(keys) else 1

    sys.stdin.readline()  # a node is stopped meanwhile
    hits, misses, wrong, errors = read(client, keys)
    new = ["%snew%d" % (args.prefix, i) for i in range(args.new_keys)]
    new_failed = write(client, new)
    new_hits, new_misses, new_wrong, new_errors = read(client, new)
    report("after", hits=hits, missed=misses, wrong=len(wrong), errors=errors,
           new_stored=len(new) - len(new_failed), new_hits=new_hits,
           new_misses=len(new_misses), new_wrong=len(new_wrong), new_errors=new_errors)
    return 0


if __name__ == "__main__":
    sys.exit(main())

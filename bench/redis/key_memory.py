#!/usr/bin/env python3
"""Memory per key: fresh servers (redis-server, and cachet-redis without
and with a maxmemory bound, under which every key carries an eviction
slot) each take KEYS SETs of 100-byte values to distinct keys of one
length, pipelined from one client; the figure is INFO used_memory after
minus before, over the keys. Key lengths 9, 12, 16 and 24 bytes: a key's
blocks come in malloc's size classes, so a figure holds for a band of
lengths, not for all.

usage: key_memory.py path/to/cachet-redis
env:   KEYS (150000)
"""
import os
import sys

from resp_client import Conn, encode, started, used_memory

KEYS = int(os.environ.get("KEYS", 150000))
LENGTHS = (9, 12, 16, 24)
VALUE = b"v" * 100
BATCH = 1000


def per_key(argv, length):
    with started(argv) as server:
        port = server.port
        c = Conn(port)
        before = used_memory(c)
        for start in range(0, KEYS, BATCH):
            n = min(BATCH, KEYS - start)
            c.sock.sendall(b"".join(
                encode(b"SET", b"k%0*d" % (length - 1, i), VALUE)
                for i in range(start, start + n)))
            for _ in range(n):
                r = c.reply()
                if r != b"+OK":
                    raise RuntimeError("SET: %r" % r)
        keys = int(c.call(b"DBSIZE")[1:])
        after = used_memory(c)
        c.sock.close()
        return (after - before) / keys


def main():
    cachet = sys.argv[1]
    servers = [
        ("redis-server", lambda port: [
            "redis-server", "--port", str(port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--daemonize", "no"]),
        ("cachet-redis", lambda port: [cachet, "--port=%d" % port]),
        ("cachet-redis --maxmemory", lambda port: [
            cachet, "--port=%d" % port, "--maxmemory=4gb"]),
    ]
    print("memory per key (B; %d SETs of 100-byte values, used_memory after "
          "minus before, over the keys):" % KEYS)
    print("  %-26s" % "key length" + "".join("%8d" % n for n in LENGTHS))
    for name, argv in servers:
        print("  %-26s" % name
              + "".join("%8.0f" % per_key(argv, n) for n in LENGTHS),
              flush=True)


if __name__ == "__main__":
    main()

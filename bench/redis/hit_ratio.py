#!/usr/bin/env python3
"""Hit ratios at a memory bound: redis-server (allkeys-lru, allkeys-lfu)
against cachet-redis (allkeys-s3fifo, allkeys-lru), as a cache-aside client
sees them.

Each server starts fresh with a bound of its own used_memory at start plus
BUDGET bytes (so each has the same room for keys, whatever it uses
besides). The client replays a trace of key requests: GET, and on a miss
SET of a 100-byte value; the hit ratio is hits over requests. Requests go
in pipelined batches of 32 GETs, then the batch's SETs: a key missed twice
in one batch counts two misses, on every server alike. Traces (as
cachet-bench's): Zipf(0.99) over KEYS keys; and the same with a scan of
`size` fresh keys (requested once, never again) after every 2 x `size` Zipf
requests, `size` being about what redis-server holds in the budget.

usage: hit_ratio.py path/to/cachet-redis
env:   HIT_KEYS (50000), HIT_REQUESTS (400000), HIT_BUDGET (1048576)
"""
import bisect
import os
import random
import subprocess
import sys

from resp_client import Conn, encode, free_port

KEYS = int(os.environ.get("HIT_KEYS", 50000))
REQUESTS = int(os.environ.get("HIT_REQUESTS", 400000))
BUDGET = int(os.environ.get("HIT_BUDGET", 1 << 20))
VALUE = b"v" * 100
BATCH = 32


def used_memory(c):
    info = c.call(b"INFO", b"memory")
    for l in info.split(b"\r\n"):
        if l.startswith(b"used_memory:"):
            return int(l.split(b":")[1])
    raise RuntimeError("no used_memory")


def zipf_trace(n, length, scan_size):
    rng = random.Random(42)
    cdf, total = [], 0.0
    for i in range(n):
        total += 1.0 / (i + 1) ** 0.99
        cdf.append(total)
    ids = list(range(n))
    rng.shuffle(ids)
    out, fresh = [], n
    block = 2 * scan_size if scan_size else length
    while len(out) < length:
        for _ in range(block):
            if len(out) == length:
                break
            i = bisect.bisect_left(cdf, rng.random() * total)
            out.append(ids[min(i, n - 1)])
        for _ in range(scan_size):
            if len(out) == length:
                break
            out.append(fresh)
            fresh += 1
    return [b"key:%d" % k for k in out]


def replay(port, trace):
    c = Conn(port)
    hits = 0
    for start in range(0, len(trace), BATCH):
        keys = trace[start:start + BATCH]
        c.sock.sendall(b"".join(encode(b"GET", k) for k in keys))
        missed = []
        for k in keys:
            if c.reply() is None:
                missed.append(k)
            else:
                hits += 1
        if missed:
            c.sock.sendall(b"".join(encode(b"SET", k, VALUE) for k in missed))
            for _ in missed:
                r = c.reply()
                if r != b"+OK":
                    raise RuntimeError("SET refused: %r" % r)
    keys = int(c.call(b"DBSIZE")[1:])
    c.sock.close()
    return hits / len(trace), keys


def run(argv, trace):
    port = free_port()
    proc = subprocess.Popen(argv(port), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        c = Conn(port)
        c.call(b"CONFIG", b"SET", b"maxmemory",
               str(used_memory(c) + BUDGET).encode())
        c.sock.close()
        return replay(port, trace)
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def main():
    cachet = sys.argv[1]

    def redis(policy):
        return lambda port: ["redis-server", "--port", str(port), "--bind",
                             "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--protected-mode", "no", "--maxmemory-policy",
                             policy]

    def cachet_redis(policy):
        return lambda port: [cachet, "--port=%d" % port,
                             "--maxmemory-policy=" + policy]

    servers = [("redis-server allkeys-lru", redis("allkeys-lru")),
               ("redis-server allkeys-lfu", redis("allkeys-lfu")),
               ("cachet-redis allkeys-s3fifo", cachet_redis("allkeys-s3fifo")),
               ("cachet-redis allkeys-lru", cachet_redis("allkeys-lru"))]
    # What redis-server holds in the budget (213 B a key of this size, as
    # bench-redis.sh measures): the scan's length.
    size = BUDGET // 213
    traces = [("zipf", zipf_trace(KEYS, REQUESTS, 0)),
              ("zipf+scan", zipf_trace(KEYS, REQUESTS, size))]
    print("hit ratio (%%), cache-aside GET/SET of 100-byte values, %d keys, "
          "%d requests, a budget of %d bytes over each server's used_memory "
          "at start (about %d keys in redis-server); zipf+scan: %d fresh keys "
          "after every %d Zipf requests" % (KEYS, REQUESTS, BUDGET, size,
                                             size, 2 * size))
    print("%-30s %10s %10s   %s" % ("server", "zipf", "zipf+scan",
                                    "keys held at the end"))
    for name, argv in servers:
        runs = [run(argv, t) for _, t in traces]
        print("%-30s %10.2f %10.2f   %d, %d" % (
            name, runs[0][0] * 100, runs[1][0] * 100, runs[0][1], runs[1][1]),
            flush=True)


if __name__ == "__main__":
    main()

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
Then the ceilings in the room redis-server's LFU and cachet-redis's S3-FIFO
had (the keys each held at the end): the best an online policy can expect
(A0: the most probable keys, known beforehand) and the offline optimum
(Belady: the future known).

usage: hit_ratio.py path/to/cachet-redis
env:   HIT_KEYS (50000), HIT_REQUESTS (400000), HIT_BUDGET (1048576)
"""
import bisect
import heapq
import os
import random
import sys

from resp_client import Conn, encode, started, used_memory

KEYS = int(os.environ.get("HIT_KEYS", 50000))
REQUESTS = int(os.environ.get("HIT_REQUESTS", 400000))
BUDGET = int(os.environ.get("HIT_BUDGET", 1 << 20))
VALUE = b"v" * 100
BATCH = 32


def zipf_trace(n, length, scan_size):
    """The keys requested, and each one's Zipf rank (0: the most probable;
    -1: a scan's fresh key)."""
    rng = random.Random(42)
    cdf, total = [], 0.0
    for i in range(n):
        total += 1.0 / (i + 1) ** 0.99
        cdf.append(total)
    ids = list(range(n))
    rng.shuffle(ids)
    keys, ranks, fresh = [], [], n
    block = 2 * scan_size if scan_size else length
    while len(keys) < length:
        for _ in range(block):
            if len(keys) == length:
                break
            i = min(bisect.bisect_left(cdf, rng.random() * total), n - 1)
            keys.append(b"key:%d" % ids[i])
            ranks.append(i)
        for _ in range(scan_size):
            if len(keys) == length:
                break
            keys.append(b"key:%d" % fresh)
            ranks.append(-1)
            fresh += 1
    return keys, ranks


def oracle(ranks, k):
    """The best hit ratio an online policy can expect with room for k keys
    (Aho, Denning and Ullman's A0 for independent requests): the k most
    probable keys, each kept from its first request; nothing else, so no
    scan key, ever enters."""
    seen, hits = set(), 0
    for r in ranks:
        if 0 <= r < k:
            if r in seen:
                hits += 1
            else:
                seen.add(r)
    return hits / len(ranks)


def belady(keys, k):
    """Belady's offline optimum with room for k keys: on a miss with the
    cache full, the key requested again farthest in the future goes (the
    requested key itself if that is it). No policy without the future does
    better."""
    n = len(keys)
    next_use, last = [0] * n, {}
    for i in range(n - 1, -1, -1):
        next_use[i] = last.get(keys[i], n + i) # never again: past the end
        last[keys[i]] = i
    cache, heap, hits = {}, [], 0 # key -> next use; max-heap, lazy
    for i, key in enumerate(keys):
        if key in cache:
            hits += 1
        elif len(cache) == k:
            while cache.get(heap[0][1]) != -heap[0][0]:
                heapq.heappop(heap) # stale
            far, victim = heap[0]
            if -far < next_use[i]:
                continue # bypass: the requested key is the farthest
            heapq.heappop(heap)
            del cache[victim]
        cache[key] = next_use[i]
        heapq.heappush(heap, (-next_use[i], key))
    return hits / n


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
    with started(argv) as server:
        port = server.port
        c = Conn(port)
        c.call(b"CONFIG", b"SET", b"maxmemory",
               str(used_memory(c) + BUDGET).encode())
        c.sock.close()
        return replay(port, trace)


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
    # What redis-server holds in the budget (213 B a key, as key_memory.py
    # measures with 16-byte keys): the scan's length.
    size = BUDGET // 213
    traces = [zipf_trace(KEYS, REQUESTS, 0), zipf_trace(KEYS, REQUESTS, size)]
    print("hit ratio (%%), cache-aside GET/SET of 100-byte values, %d keys, "
          "%d requests, a budget of %d bytes over each server's used_memory "
          "at start (about %d keys in redis-server); zipf+scan: %d fresh keys "
          "after every %d Zipf requests" % (KEYS, REQUESTS, BUDGET, size,
                                             size, 2 * size))
    print("%-30s %10s %10s   %s" % ("server", "zipf", "zipf+scan",
                                    "keys held at the end"))
    held = {}
    for name, argv in servers:
        runs = [run(argv, keys) for keys, _ in traces]
        held[name] = runs[0][1]
        print("%-30s %10.2f %10.2f   %d, %d" % (
            name, runs[0][0] * 100, runs[1][0] * 100, runs[0][1], runs[1][1]),
            flush=True)
    # What any policy could do in the same room: the ceilings the figures
    # above are measured against.
    for name in ("redis-server allkeys-lfu", "cachet-redis allkeys-s3fifo"):
        k = held[name]
        print("%-30s %10.2f %10.2f   %d (as %s)" % (
            "bound: best online (A0)", oracle(traces[0][1], k) * 100,
            oracle(traces[1][1], k) * 100, k, name))
        print("%-30s %10.2f %10.2f   %d (as %s)" % (
            "bound: Belady (offline)", belady(traces[0][0], k) * 100,
            belady(traces[1][0], k) * 100, k, name), flush=True)


if __name__ == "__main__":
    main()

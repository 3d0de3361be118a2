#!/usr/bin/env python3
"""What a BGSAVE costs the clients, and what loading its file takes:
redis-server (a fork, the child writes) against cachet-redis in both
modes (a point-in-time copy while no command runs, then a thread writes
it; redis/src/persist.hpp).

Each server starts fresh in a temp dir of its own and takes KEYS SETs of
100-byte values; then one client PINGs in a loop while another sends
BGSAVE and polls INFO until the save is done. Printed per server: the
longest PING round trip during the save (the pause the clients see), the
median one, the save's duration and the file's size (medians of ROUNDS
saves); then, from a restart on the last file, the time from the start
until INFO says loading:0, and the server's peak and final resident
memory (VmHWM, VmRSS).

usage: save_pause.py path/to/cachet-redis
env:   SAVE_KEYS (1000000), SAVE_ROUNDS (3)
"""
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time

from resp_client import Conn, rss_kib, started

KEYS = int(os.environ.get("SAVE_KEYS", 1000000))
ROUNDS = int(os.environ.get("SAVE_ROUNDS", 3))


def in_progress(c):
    info = c.call(b"INFO", b"persistence")
    return b"rdb_bgsave_in_progress:1" in info


def measure(port, path):
    c, p = Conn(port), Conn(port)
    for start in range(0, KEYS, 1000):
        c.sock.sendall(b"".join(
            b"*3\r\n$3\r\nSET\r\n$%d\r\nk%d\r\n$100\r\n%s\r\n"
            % (len(b"k%d" % i), i, b"v" * 100)
            for i in range(start, min(KEYS, start + 1000))))
        for _ in range(start, min(KEYS, start + 1000)):
            c.reply()
    pauses, medians, durations = [], [], []
    for _ in range(ROUNDS):
        rtts, stop = [], threading.Event()

        def pinger():
            while not stop.is_set():
                t = time.perf_counter()
                p.call(b"PING")
                rtts.append(time.perf_counter() - t)

        th = threading.Thread(target=pinger)
        th.start()
        time.sleep(0.05)
        rtts.clear()
        start = time.perf_counter()
        c.call(b"BGSAVE")
        while in_progress(c):
            time.sleep(0.001)
        durations.append(time.perf_counter() - start)
        stop.set()
        th.join()
        pauses.append(max(rtts))
        medians.append(statistics.median(rtts))
    return (statistics.median(pauses), statistics.median(medians),
            statistics.median(durations), os.path.getsize(path))


def reload(argv):
    """Starts the server on its dump: seconds until loaded, peak and final
    RSS in MB."""
    t0 = time.perf_counter()
    with started(argv) as server:
        c = Conn(server.port)
        while b"loading:1" in c.call(b"INFO", b"persistence"):
            time.sleep(0.005)
        seconds = time.perf_counter() - t0
        if c.call(b"DBSIZE") != b":%d" % KEYS:
            raise RuntimeError("the reload lost keys")
        rss, peak = rss_kib(server.pid)
    return seconds, peak / 1024, rss / 1024


def main():
    cachet = sys.argv[1]
    print("machine: %d cores; %d keys of 100 bytes; medians of %d BGSAVEs"
          % (os.cpu_count(), KEYS, ROUNDS))
    print("%-16s %12s %12s %8s %8s %8s %8s %8s" % (
        "server", "max PING ms", "median PING", "save s", "file MB",
        "load s", "peak MB", "RSS MB"))
    for name in ("redis-server", "cachet-direct", "cachet-message"):
        d = tempfile.mkdtemp(prefix="save-pause-")
        if name == "redis-server":
            def argv(port):
                return ["redis-server", "--port", str(port), "--bind",
                        "127.0.0.1", "--save", "", "--appendonly", "no",
                        "--dir", d, "--daemonize", "no"]
            path = os.path.join(d, "dump.rdb")
        else:
            def argv(port):
                return [cachet, "--port=%d" % port, "--dir=" + d,
                        "--mode=" + name.split("-")[1]]
            path = os.path.join(d, "dump.cachet")
        try:
            with started(argv) as server:
                pause, median, seconds, size = measure(server.port, path)
            load, peak, rss = reload(argv)
            print("%-16s %12.1f %12.3f %8.2f %8.1f %8.2f %8.0f %8.0f" % (
                name, pause * 1e3, median * 1e3, seconds, size / 1e6, load,
                peak, rss))
        finally:
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()

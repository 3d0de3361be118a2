#!/usr/bin/env python3
"""What a BGSAVE costs the clients: redis-server (a fork, the child
writes) against cachet-redis in both modes (a point-in-time copy while no
command runs, then a thread writes it; redis/src/persist.hpp).

Each server starts fresh in a temp dir of its own and takes KEYS SETs of
100-byte values; then one client PINGs in a loop while another sends
BGSAVE and polls INFO until the save is done. Printed per server: the
longest PING round trip during the save (the pause the clients see), the
median one, the save's duration and the file's size. Medians are of
ROUNDS saves.

usage: save_pause.py path/to/cachet-redis
env:   SAVE_KEYS (1000000), SAVE_ROUNDS (3)
"""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from resp_client import Conn, free_port

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


def main():
    cachet = sys.argv[1]
    print("machine: %d cores; %d keys of 100 bytes; medians of %d BGSAVEs"
          % (os.cpu_count(), KEYS, ROUNDS))
    print("%-16s %12s %12s %10s %10s" % ("server", "max PING ms",
                                         "median PING", "save s", "file MB"))
    for name in ("redis-server", "cachet-direct", "cachet-message"):
        d = tempfile.mkdtemp(prefix="save-pause-")
        port = free_port()
        if name == "redis-server":
            argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                    "--save", "", "--appendonly", "no", "--dir", d,
                    "--daemonize", "no"]
            path = os.path.join(d, "dump.rdb")
        else:
            argv = [cachet, "--port=%d" % port, "--dir=" + d,
                    "--mode=" + name.split("-")[1]]
            path = os.path.join(d, "dump.cachet")
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
        try:
            pause, median, seconds, size = measure(port, path)
            print("%-16s %12.1f %12.3f %10.2f %10.1f" % (
                name, pause * 1e3, median * 1e3, seconds, size / 1e6))
        finally:
            proc.terminate()
            proc.wait()
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()

"""A minimal RESP2 client for the benchmark scripts of this directory
(hit_ratio.py, key_memory.py, save_pause.py): free ports, servers started
for a block, encoding, a connection that waits for its server and reads
replies, INFO's used_memory, a process's resident memory."""
import contextlib
import socket
import subprocess
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def started(argv):
    """A server started by `argv(port)` on a free port, stopped when the
    block ends: yields its process, whose `port` is the port."""
    port = free_port()
    proc = subprocess.Popen(argv(port), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    proc.port = port
    try:
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def encode(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


class Conn:
    def __init__(self, port):
        deadline = time.monotonic() + 20
        while True:
            try:
                self.sock = socket.create_connection(("127.0.0.1", port), 10)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.buf = b""

    def line(self):
        while b"\r\n" not in self.buf:
            data = self.sock.recv(1 << 16)
            if not data:
                raise EOFError
            self.buf += data
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def reply(self):
        """One reply: bulk bytes, None for a null, else the line."""
        line = self.line()
        if line[:1] == b"$":
            n = int(line[1:])
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                data = self.sock.recv(1 << 16)
                if not data:
                    raise EOFError
                self.buf += data
            v, self.buf = self.buf[:n], self.buf[n + 2:]
            return v
        return line

    def call(self, *args):
        self.sock.sendall(encode(*args))
        return self.reply()


def used_memory(c):
    """INFO's used_memory, through the connection `c`."""
    for line in c.call(b"INFO", b"memory").split(b"\r\n"):
        if line.startswith(b"used_memory:"):
            return int(line.split(b":")[1])
    raise RuntimeError("no used_memory")


def rss_kib(pid):
    """VmRSS and VmHWM (its peak) of process `pid`, in KiB."""
    with open("/proc/%d/status" % pid) as f:
        kib = {line.split(":")[0]: int(line.split()[1]) for line in f
               if line.startswith(("VmRSS:", "VmHWM:"))}
    return kib["VmRSS"], kib["VmHWM"]

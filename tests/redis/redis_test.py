#!/usr/bin/env python3
"""Client-driven tests of cachet-redis, against redis-server 7.0.

Every suite starts its own servers on free ports (cachet-redis in direct and
in message mode, and redis-server with --save '' --appendonly no) and sends
the same raw RESP byte sequences to each; replies are compared byte for
byte (arrays whose order redis does not define, KEYS and SCAN, are compared
as sets). Suites: compare, protocol, limits, clients, supervision, shutdown,
expiry_race, expiry_memory, scan, info, transactions, security,
maxmemory, hashes, persistence.

usage: redis_test.py CACHET_REDIS SUITE
"""
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time

CACHET = None
FAILURES = []


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print("FAIL:", what, flush=True)


# -- servers ------------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc):
    """Bounded poll until the port accepts connections."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited with %s" % proc.returncode)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError("port %d never opened" % port)


class Server:
    def __init__(self, name, argv, port):
        self.name = name
        self.port = port
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        wait_port(port, self.proc)

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.returncode not in (0, None):
            print("%s exited with %s:\n%s" % (
                self.name, self.proc.returncode,
                self.proc.stdout.read().decode(errors="replace")[-4000:]))
        return self.proc.returncode


def cachet(mode="direct", *extra, loaded=True):
    """cachet-redis on a free port; with --dir, once its dump is loaded
    (unless `loaded` is False): it answers LOADING until then, as
    redis-server does."""
    port = free_port()
    s = Server("cachet-" + mode,
               [CACHET, "--port=%d" % port, "--mode=" + mode] + list(extra),
               port)
    if loaded and any(a.startswith("--dir=") for a in extra):
        wait_loaded(s)
    return s


def wait_loaded(s, limit=60):
    """Bounded poll until INFO says loading:0."""
    c = Conn(s.port)
    deadline = time.monotonic() + limit
    try:
        while b"loading:1" in c.call("INFO", "persistence"):
            if time.monotonic() > deadline:
                raise RuntimeError("%s still loading" % s.name)
            time.sleep(0.01)
    finally:
        c.close()


def redis(*extra):
    port = free_port()
    return Server("redis-server",
                  ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                   "--save", "", "--appendonly", "no", "--daemonize", "no",
                   "--protected-mode", "no"] + list(extra), port)


# -- a raw RESP client ---------------------------------------------------------

def encode(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, int):
            a = str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


class Conn:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def close(self):
        self.sock.close()

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError
        self.buf += data

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read_raw(self):
        """One complete reply (RESP2 or RESP3), as the exact bytes
        received."""
        out = []

        def one():
            line = self._line()
            out.append(line + b"\r\n")
            t, rest = line[:1], line[1:]
            if t in (b"$", b"=", b"!") and int(rest) >= 0:
                n = int(rest) + 2
                while len(self.buf) < n:
                    self._fill()
                out.append(self.buf[:n])
                self.buf = self.buf[n:]
            elif t in (b"*", b"~", b">") and int(rest) > 0:
                for _ in range(int(rest)):
                    one()
            elif t == b"%" and int(rest) > 0:
                for _ in range(2 * int(rest)):
                    one()
        one()
        return b"".join(out)

    def read_parsed(self):
        line = self._line()
        t, rest = line[:1], line[1:]
        if t in (b"+", b"-"):
            return line
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self._fill()
            v, self.buf = self.buf[:n], self.buf[n + 2:]
            return v
        if t in (b"*", b"~"):
            n = int(rest)
            return None if n < 0 else [self.read_parsed() for _ in range(n)]
        # RESP3's own
        if t == b"_":
            return None
        if t == b"%":
            return {self.read_parsed(): self.read_parsed()
                    for _ in range(int(rest))}
        if t == b"=":
            n = int(rest)
            while len(self.buf) < n + 2:
                self._fill()
            v, self.buf = self.buf[4:n], self.buf[n + 2:]  # past "txt:"
            return v
        raise ValueError(line)

    def call(self, *args):
        self.send(encode(*args))
        return self.read_parsed()

    def read_until_eof(self):
        self.sock.settimeout(10)
        try:
            while True:
                self._fill()
        except (EOFError, ConnectionResetError):
            pass
        data, self.buf = self.buf, b""
        return data


# -- suite: compare -----------------------------------------------------------

UNORDERED = {b"keys"}

def rand_text(seed):
    """Up to 40 bytes of a, b and c, from `seed`."""
    rng = random.Random(seed)
    return "".join(rng.choice("abc") for _ in range(rng.randint(0, 40)))


def rand_bits(seed):
    """Up to 24 bytes, from `seed`: runs of zero and all-one bytes among
    random ones, so that searches skip whole bytes."""
    rng = random.Random(seed)
    return bytes(rng.choice((0, 0xFF, rng.randrange(256)))
                 for _ in range(rng.randint(0, 24)))


SEQUENCE = [
    ("PING",), ("PING", "hi"), ("PING", "a", "b"), ("ECHO", "x"), ("ECHO",),
    ("SELECT", "0"), ("SELECT", "x"), ("SELECT", "99999999999"),
    ("FLUSHALL",), ("DBSIZE",), ("FLUSHDB", "ASYNC"), ("FLUSHDB", "nope"),
    ("FLUSHALL", "a", "b"), ("DBSIZE", "x"),
    ("GET", "missing"), ("SET", "k", "v"), ("GET", "k"), ("GET",),
    ("SET", "k"), ("set", "K2", "v2"), ("gEt", "K2"),
    ("SET", "bin\x00key", "v\x00\r\nal"), ("GET", "bin\x00key"),
    ("SET", "k", "v2", "NX"), ("SET", "k", "v3", "XX"), ("GET", "k"),
    ("SET", "new", "x", "XX"), ("GET", "new"), ("SET", "k", "v", "NX", "XX"),
    ("SET", "k", "v", "GET"), ("SET", "nokey", "v", "GET"),
    ("SET", "k", "z", "NX", "GET"), ("SET", "k", "v", "EX", "100"),
    ("TTL", "k"), ("SET", "k", "v", "KEEPTTL"), ("TTL", "k"),
    ("SET", "k", "v"), ("TTL", "k"), ("SET", "k", "v", "EX", "0"),
    ("SET", "k", "v", "EX", "-5"), ("SET", "k", "v", "EX", "abc"),
    ("SET", "k", "v", "PX", "0"), ("SET", "k", "v", "EX", "10", "PX", "10"),
    ("SET", "k", "v", "EX", "10", "KEEPTTL"), ("SET", "k", "v", "EX"),
    ("SET", "k", "v", "EX", "9223372036854775807"),
    ("SET", "k", "v", "PX", "9223372036854775807"),
    ("SET", "k", "v", "EXAT", "99999999999"), ("EXISTS", "k"),
    ("SET", "k", "v", "PXAT", "1"), ("GET", "k"), ("EXISTS", "k"),
    ("SET", "k", "v", "BOGUS"), ("SET", "k", "v", "ex", "10", "ex", "20"),
    ("TTL", "k"), ("SETNX", "k", "a"), ("SETNX", "fresh", "a"),
    ("GET", "fresh"), ("SETNX", "k"),
    ("SETEX", "se", "100", "v"), ("TTL", "se"), ("SETEX", "se", "0", "v"),
    ("SETEX", "se", "x", "v"), ("PSETEX", "pse", "100000", "v"),
    ("TTL", "pse"), ("PSETEX", "pse", "-1", "v"),
    ("GETSET", "gs", "1"), ("GETSET", "gs", "2"), ("GET", "gs"),
    ("GETDEL", "gs"), ("GETDEL", "gs"), ("GETEX", "nokey"),
    ("SET", "ge", "v"), ("GETEX", "ge", "EX", "100"), ("TTL", "ge"),
    ("GETEX", "ge", "PERSIST"), ("TTL", "ge"), ("GETEX", "ge", "NX"),
    ("GETEX", "ge", "EX", "0"), ("GETEX", "ge", "EX", "1", "PERSIST"),
    ("GETEX", "ge", "PXAT", "1"), ("GET", "ge"),
    ("MSET", "a", "1", "b", "2"), ("MSET", "a", "1", "b"),
    ("MGET", "a", "b", "nokey"), ("MSETNX", "a", "1", "zz", "2"),
    ("MSETNX", "x1", "1", "x2", "2"), ("MGET", "x1", "x2"), ("MSETNX", "q"),
    ("APPEND", "ap", "hello"), ("APPEND", "ap", " world"), ("GET", "ap"),
    ("STRLEN", "ap"), ("STRLEN", "nokey"),
    ("GETRANGE", "ap", "0", "4"), ("GETRANGE", "ap", "-5", "-1"),
    ("GETRANGE", "ap", "5", "2"), ("GETRANGE", "ap", "-1", "-5"),
    ("GETRANGE", "ap", "0", "1000"), ("GETRANGE", "ap", "x", "1"),
    ("GETRANGE", "nokey", "0", "1"), ("GETRANGE", "ap", "-100", "-50"),
    ("SETRANGE", "sr", "5", "abc"), ("GET", "sr"), ("SETRANGE", "sr", "0", "XY"),
    ("GET", "sr"), ("SETRANGE", "sr", "-1", "a"), ("SETRANGE", "sr", "2", ""),
    ("SETRANGE", "none2", "3", ""), ("EXISTS", "none2"),
    ("SETRANGE", "sr", "536870911", "ab"), ("SETRANGE", "sr", "x", "a"),
    ("INCR", "n"), ("INCR", "n"), ("DECR", "n"), ("INCRBY", "n", "10"),
    ("DECRBY", "n", "3"), ("INCRBY", "n", "x"), ("INCR", "ap"),
    ("SET", "big", "9223372036854775807"), ("INCR", "big"),
    ("SET", "small", "-9223372036854775808"), ("DECR", "small"),
    ("DECRBY", "n", "-9223372036854775808"),
    ("INCRBY", "n", "9223372036854775808"), ("SET", "sp", " 1"),
    ("INCR", "sp"), ("SET", "lz", "01"), ("INCR", "lz"), ("INCR", "a", "b"),
    ("INCRBYFLOAT", "f", "10.5"), ("INCRBYFLOAT", "f", "0.1"),
    ("INCRBYFLOAT", "f", "-5.0e3"), ("INCRBYFLOAT", "f", "abc"),
    ("INCRBYFLOAT", "ap", "1"), ("INCRBYFLOAT", "f", "inf"),
    ("INCRBYFLOAT", "f", " 1"), ("INCRBYFLOAT", "f2", "3.0"),
    ("INCRBYFLOAT", "f3", "1.1e-3"), ("SET", "fl", "-0.5"),
    ("INCRBYFLOAT", "fl", "0.5"),
    # A NUL inside the value or the increment: not a float (the whole
    # length must parse), and the value is left as it was.
    ("SET", "foo", "1"), ("SETRANGE", "foo", "2", "2"),
    ("INCRBYFLOAT", "foo", "1"), ("GET", "foo"), ("INCR", "foo"),
    ("SET", "foo", "1"), ("INCRBYFLOAT", "foo", "1\x002"),
    ("INCRBYFLOAT", "foo", "2\x00"), ("GET", "foo"),
    ("DEL", "a", "b", "nokey"), ("UNLINK", "x1", "x2"), ("DEL",),
    ("EXISTS", "k", "k", "nokey"), ("TYPE", "k"), ("TYPE", "nokey"),
    ("RENAME", "nokey", "x"), ("SET", "r1", "v"), ("EXPIRE", "r1", "100"),
    ("RENAME", "r1", "r2"), ("GET", "r1"), ("GET", "r2"), ("TTL", "r2"),
    ("RENAME", "r2", "r2"), ("RENAME", "r2"),
    ("KEYS", "*"), ("KEYS", "r?"), ("KEYS", "[a-f]*"), ("KEYS", "*p*"),
    ("KEYS", "[^s]*"), ("KEYS", "nomatch*"), ("KEYS", "bin\\x00*"),
    ("SET", "e", "v"), ("EXPIRE", "e", "100"), ("TTL", "e"),
    ("EXPIRE", "e", "200", "NX"), ("EXPIRE", "e", "200", "XX"), ("TTL", "e"),
    ("EXPIRE", "e", "100", "GT"), ("EXPIRE", "e", "300", "GT"), ("TTL", "e"),
    ("EXPIRE", "e", "400", "LT"), ("EXPIRE", "e", "50", "LT"), ("TTL", "e"),
    ("EXPIRE", "e", "1", "NX", "XX"), ("EXPIRE", "e", "1", "GT", "LT"),
    ("EXPIRE", "e", "1", "FOO"), ("EXPIRE", "e", "x"),
    ("EXPIRE", "e", "9223372036854775807"), ("PEXPIRE", "e", "9223372036854775807"),
    ("EXPIRE", "nokey", "10"), ("PERSIST", "e"), ("PERSIST", "e"), ("TTL", "e"),
    ("EXPIRE", "e", "10", "LT"), ("TTL", "e"), ("PERSIST", "e"),
    ("EXPIRE", "e", "10", "GT"), ("TTL", "e"),
    ("PEXPIRE", "e", "100000"), ("TTL", "e"),
    ("EXPIREAT", "e", "99999999999"), ("TTL", "nokey"), ("PTTL", "nokey"),
    ("PEXPIREAT", "e", "1"), ("GET", "e"), ("EXISTS", "e"),
    ("SET", "neg", "v"), ("EXPIRE", "neg", "-1"), ("GET", "neg"),
    ("TTL", "k", "x"),
    ("NOSUCHCMD",), ("nosuchcmd", "a", "b"), ("NOSUCH", "x" * 200, "y"),
    ("NOSUCH", "a\r\nb"), ("CONFIG", "GET", "save"), ("CONFIG", "GET"),
    ("CONFIG", "FOO"), ("DBSIZE",), ("SCAN", "x"), ("SCAN", "0", "COUNT", "0"),
    ("SCAN", "0", "COUNT", "x"), ("SCAN", "0", "FOO"), ("SCAN", "-1x"),
    # RENAMENX, COPY, EXPIRETIME, PEXPIRETIME
    ("SET", "rn", "1"), ("RENAMENX", "rn", "rn2"), ("SET", "rn", "2"),
    ("RENAMENX", "rn", "rn2"), ("GET", "rn2"), ("RENAMENX", "nokey", "x"),
    ("RENAMENX", "rn2", "rn2"), ("RENAMENX", "nokey", "rn"),
    ("RENAMENX", "rn",), ("COPY", "rn", "cp"), ("COPY", "rn", "cp"),
    ("COPY", "rn2", "cp", "REPLACE"), ("GET", "cp"),
    ("COPY", "rn2", "cp", "DB", "0"), ("COPY", "rn2", "cp", "DB", "x"),
    ("COPY", "nokey", "z"), ("COPY", "rn", "cp", "BAD"),
    ("COPY", "rn", "rn"), ("COPY", "rn", "cp", "REPLACE", "DB"),
    ("EXPIRETIME", "rn"), ("EXPIRETIME", "nokey"),
    ("EXPIREAT", "rn", "2000000000"), ("EXPIRETIME", "rn"),
    ("PEXPIRETIME", "rn"), ("COPY", "rn", "cp2"), ("PEXPIRETIME", "cp2"),
    ("PEXPIRETIME", "nokey"), ("EXPIRETIME", "a", "b"),
    # SETBIT, GETBIT, BITCOUNT
    ("SETBIT", "bits", "7", "1"), ("GETBIT", "bits", "7"),
    ("GETBIT", "bits", "100"), ("GET", "bits"), ("SETBIT", "bits", "7", "0"),
    ("SETBIT", "bits", "-1", "1"), ("SETBIT", "bits", "4294967296", "1"),
    ("SETBIT", "bits", "1", "2"), ("SETBIT", "bits", "x", "1"),
    ("SETBIT", "bits", "100", "1"), ("STRLEN", "bits"), ("GET", "bits"),
    ("BITCOUNT", "bits"), ("SET", "s", "foobar"), ("BITCOUNT", "s"),
    ("BITCOUNT", "s", "0", "0"), ("BITCOUNT", "s", "1", "1"),
    ("BITCOUNT", "s", "1", "1", "BIT"), ("BITCOUNT", "s", "5", "30", "BIT"),
    ("BITCOUNT", "s", "-2", "-1"), ("BITCOUNT", "s", "-13", "-2", "bit"),
    ("BITCOUNT", "s", "0"), ("BITCOUNT", "nokey"),
    # From the end and crossed: 0, even with a bogus unit (bitops.tcl's
    # "BITCOUNT returns 0 with negative indexes where start > end").
    ("BITCOUNT", "s", "-6", "-7"), ("BITCOUNT", "s", "-6", "-15", "BIT"),
    ("BITCOUNT", "s", "-6", "-7", "bogus"), ("BITCOUNT", "s", "-7", "-6"),
    ("BITCOUNT", "s", "-2", "-100"), ("TOUCH", "s", "nokey", "s"),
    ("TOUCH",),
    ("BITCOUNT", "nokey", "0"), ("BITCOUNT", "s", "0", "1", "WORD"),
    ("BITCOUNT", "s", "x", "1"), ("BITCOUNT", "s", "3", "1"),
    ("BITCOUNT", "s", "-1", "-5"), ("BITCOUNT", "s", "0", "-100", "BIT"),
    ("GETBIT", "s", "x"), ("GETBIT", "s", "1"), ("SETBIT", "s", "0", "1"),
    ("GET", "s"), ("SET", "ex", "v", "PX", "1"),
    # BITPOS: the bit argument, then the key, then the range; a clear bit
    # past the string only when no end is given
    ("SET", "bp", b"\xff\xf0\x00"), ("BITPOS", "bp", "0"),
    ("BITPOS", "bp", "1"), ("BITPOS", "bp", "1", "2"),
    ("BITPOS", "bp", "0", "0", "0"), ("BITPOS", "bp", "0", "0"),
    ("BITPOS", "bp", "1", "-1"), ("BITPOS", "bp", "1", "7", "15", "BIT"),
    ("BITPOS", "bp", "0", "7", "15", "bit"),
    ("BITPOS", "bp", "0", "3", "5", "BIT"),
    ("BITPOS", "bp", "0", "9", "11", "BIT"),
    ("BITPOS", "bp", "1", "20", "10", "BIT"),
    ("BITPOS", "bp", "0", "-3", "-1", "BIT"),
    ("BITPOS", "bp", "0", "-100", "100", "BYTE"),
    ("BITPOS", "bp", "1", "0", "-1", "bogus"),
    ("BITPOS", "bp", "2"), ("BITPOS", "bp", "x"), ("BITPOS", "bp", "-1"),
    ("BITPOS", "nokey", "1"), ("BITPOS", "nokey", "0"),
    ("BITPOS", "nokey", "0", "x"), ("BITPOS", "bp", "0", "x"),
    ("BITPOS", "bp", "0", "0", "x"),
    ("BITPOS", "bp", "0", "0", "1", "BIT", "x"),
    ("BITPOS", "bp"), ("SET", "b1s", b"\xff\xff"), ("BITPOS", "b1s", "0"),
    ("BITPOS", "b1s", "0", "0", "-1"),
    ("BITPOS", "b1s", "0", "0", "-1", "BIT"),
    ("BITPOS", "b1s", "0", "1"), ("BITPOS", "b1s", "0", "3", "BIT"),
    ("BITPOS", "b1s", "1", "3", "BIT"), ("SET", "bempty", ""),
    ("BITPOS", "bempty", "0"), ("BITPOS", "bempty", "1"),
    ("SET", "bint", "7"), ("BITPOS", "bint", "1"), ("HSET", "bh", "f", "v"),
    ("BITPOS", "bh", "1"), ("BITPOS", "bh", "2"),
    # BITOP: sources padded with zero bytes, absent ones empty; the result
    # replaces the destination whole (type and TTL) and is "raw"; an empty
    # one deletes it
    ("SET", "b1", "foobar"), ("SET", "b2", "abcdef"), ("SET", "b3", "a"),
    ("BITOP", "AND", "bd", "b1", "b2"), ("GET", "bd"),
    ("BITOP", "or", "bd", "b1", "b2"), ("GET", "bd"),
    ("BITOP", "XOR", "bd", "b1", "b2", "nokey"), ("GET", "bd"),
    ("BITOP", "NOT", "bd", "b1"), ("GET", "bd"),
    ("BITOP", "AND", "bd", "b3", "b1"), ("GET", "bd"),
    ("BITOP", "AND", "bd", "b1", "nokey"), ("GET", "bd"),
    ("BITOP", "OR", "bd", "b3", "b1"), ("GET", "bd"),
    ("BITOP", "NOT", "bd", "b1", "b2"), ("BITOP", "FOO", "bd", "b1"),
    ("BITOP", "AND", "bd"), ("BITOP", "OR", "bd", "b1", "bh"),
    ("BITOP", "AND", "bd", "nokey"), ("EXISTS", "bd"),
    ("BITOP", "NOT", "bd", "nokey"), ("SET", "bn", "12"),
    ("BITOP", "OR", "bd", "bn"), ("GET", "bd"), ("OBJECT", "ENCODING", "bd"),
    ("SET", "bt", "v", "EX", "100"), ("BITOP", "OR", "bt", "b1"),
    ("TTL", "bt"), ("BITOP", "OR", "bh", "b1"), ("TYPE", "bh"), ("GET", "bh"),
    ("BITOP", "AND", "b1", "b1", "b2"), ("GET", "b1"), ("BITCOUNT", "b1"),
    # COMMAND LIST's filters where one answer is right; subcommands are
    # looked up, and their arity checked, before anything else
    ("COMMAND", "LIST", "FILTERBY", "PATTERN", "getrange"),
    ("COMMAND", "LIST", "FILTERBY", "PATTERN", "OBJECT|ENC*"),
    ("COMMAND", "LIST", "FILTERBY", "PATTERN", "client|setn?me"),
    ("COMMAND", "LIST", "FILTERBY", "PATTERN", "nosuch*"),
    ("COMMAND", "LIST", "FILTERBY", "ACLCAT", "nosuch"),
    ("COMMAND", "LIST", "FILTERBY", "MODULE", "nosuch"),
    ("COMMAND", "LIST", "bad"), ("COMMAND", "LIST", "FILTERBY", "bad", "x"),
    ("COMMAND", "LIST", "FILTERBY", "PATTERN"), ("COMMAND", "COUNT", "x"),
    ("CONFIG", "GET"), ("CONFIG", "SET", "x"), ("CONFIG", "GET_XX"),
    ("CONFIG|GET", "x"), ("GET|",), ("MEMORY", "USAGE"), ("OBJECT", "FREQ"),
    ("CLIENT", "KILL"), ("client", "nosuch", "x"),
    ("CLIENT", "KILL", "USER", "wrong_user"),
    ("CLIENT", "KILL", "USER", "Default", "SKIPME", "yes"),
    # MONITOR inside a transaction is refused when EXEC runs it
    ("MULTI",), ("MONITOR",), ("EXEC",),
    # SLOWLOG where the answer is known: empty after RESET (nothing takes
    # the default 10 ms); its errors; its configuration
    ("SLOWLOG", "RESET"), ("SLOWLOG", "LEN"), ("SLOWLOG", "GET"),
    ("SLOWLOG", "GET", "-2"), ("SLOWLOG", "GET", "x"),
    ("SLOWLOG", "GET", "1", "2"), ("SLOWLOG", "FOO"), ("SLOWLOG",),
    ("SLOWLOG", "LEN", "x"), ("CONFIG", "GET", "slowlog-log-slower-than"),
    ("CONFIG", "GET", "slowlog-max-len"),
    ("CONFIG", "SET", "slowlog-max-len", "-1"),
    ("CONFIG", "SET", "slowlog-log-slower-than", "-2"),
    ("CONFIG", "SET", "slowlog-log-slower-than", "x"),
    # RANDOMKEY where only one answer is right; TIME's arity
    ("FLUSHALL",), ("RANDOMKEY",), ("SET", "solo", "1"), ("RANDOMKEY",),
    ("RANDOMKEY", "x"), ("TIME", "x"),
    # CLIENT, what a connection says of itself
    ("CLIENT",), ("CLIENT", "GETNAME"), ("CLIENT", "SETNAME", "foo"),
    ("CLIENT", "GETNAME"), ("CLIENT", "SETNAME", "a b"),
    ("CLIENT", "SETNAME", "a\x01b"), ("CLIENT", "GETNAME"),
    ("CLIENT", "SETNAME", ""), ("CLIENT", "GETNAME"), ("CLIENT", "SETNAME"),
    ("CLIENT", "GETNAME", "x"), ("CLIENT", "ID", "x"),
    ("CLIENT", "NO-EVICT", "on"), ("CLIENT", "NO-EVICT", "maybe"),
    ("CLIENT", "NO-EVICT"), ("CLIENT", "FOO"), ("client", "setname", "Bar"),
    ("CLIENT", "GETNAME"),
    # LCS: the examples of redis's documentation, the options, the errors,
    # then random pairs over a small alphabet (many equal-length answers:
    # the same one must come out)
    ("SET", "la", "ohmytext"), ("SET", "lb", "mynewtext"), ("LCS", "la", "lb"),
    ("LCS", "la", "lb", "LEN"), ("LCS", "la", "lb", "IDX"),
    ("LCS", "la", "lb", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"),
    ("LCS", "la", "lb", "idx", "withmatchlen", "minmatchlen", "-3"),
    ("LCS", "la", "lb", "LEN", "IDX"), ("LCS", "la", "lb", "bogus"),
    ("LCS", "la", "lb", "MINMATCHLEN", "x"), ("LCS", "la", "lb", "MINMATCHLEN"),
    ("LCS", "nokey", "lb"), ("LCS", "nokey", "nokey2", "IDX"), ("LCS", "la"),
    ("LCS", "la", "la", "IDX", "WITHMATCHLEN"),
    ("SET", "lbig", "x" * 12000), ("LCS", "lbig", "lbig"),
    # OBJECT (told from the bytes, as written whole) and MEMORY's errors
    ("SET", "oi", "123"), ("SET", "ob", "12345678901234567890"),
    ("SET", "oz", "0123"), ("SET", "on", "-5"), ("SET", "ol", "x" * 45),
    ("SET", "oe", "x" * 44), ("OBJECT", "ENCODING", "oi"),
    ("OBJECT", "ENCODING", "ob"), ("OBJECT", "ENCODING", "oz"),
    ("OBJECT", "ENCODING", "on"), ("OBJECT", "ENCODING", "ol"),
    ("OBJECT", "ENCODING", "oe"), ("OBJECT", "encoding", "nokey"),
    ("OBJECT", "REFCOUNT", "oi"), ("OBJECT", "REFCOUNT", "on"),
    ("OBJECT", "REFCOUNT", "ol"), ("OBJECT", "REFCOUNT", "nokey"),
    ("OBJECT", "FREQ", "oi"), ("OBJECT", "FREQ", "nokey"),
    ("OBJECT", "HELP"), ("OBJECT",), ("OBJECT", "FOO"), ("OBJECT", "ENCODING"),
    ("OBJECT", "ENCODING", "oi", "x"), ("MEMORY", "USAGE", "nokey"),
    ("MEMORY", "USAGE", "oi", "SAMPLES", "x"),
    ("MEMORY", "USAGE", "oi", "SAMPLES", "5", "x"),
    ("MEMORY", "USAGE", "oi", "BOGUS", "1"), ("MEMORY",), ("MEMORY", "FOO"),
    ("MEMORY", "USAGE"),
    # A string changed in place (APPEND to a key there, SETRANGE that
    # writes, SETBIT) is "raw" whatever its bytes until written whole again
    # (string.tcl's "SETRANGE against integer-encoded key"); COPY, RENAME
    # and EXPIRE keep it so.
    ("SET", "or", "1234"), ("SETRANGE", "or", "0", "2"),
    ("OBJECT", "ENCODING", "or"), ("OBJECT", "REFCOUNT", "or"),
    ("GET", "or"), ("SET", "or", "1234"),
    ("SETRANGE", "or", "0", ""), ("OBJECT", "ENCODING", "or"),
    ("SETRANGE", "or", "5", "2"), ("OBJECT", "ENCODING", "or"),
    ("GET", "or"), ("SETRANGE", "orn", "0", "7"),
    ("OBJECT", "ENCODING", "orn"), ("APPEND", "oa", "12"),
    ("OBJECT", "ENCODING", "oa"), ("APPEND", "oa", "3"),
    ("OBJECT", "ENCODING", "oa"), ("COPY", "oa", "oc"),
    ("OBJECT", "ENCODING", "oc"), ("EXPIRE", "oa", "100"),
    ("OBJECT", "ENCODING", "oa"), ("RENAME", "oc", "od"),
    ("OBJECT", "ENCODING", "od"), ("INCR", "oa"),
    ("OBJECT", "ENCODING", "oa"), ("SETBIT", "os", "3", "1"),
    ("OBJECT", "ENCODING", "os"), ("SET", "os", "5"),
    ("SETBIT", "os", "0", "0"), ("OBJECT", "ENCODING", "os"),
    ("SET", "os", "abc"), ("OBJECT", "ENCODING", "os"),
    ("SETRANGE", "od", "0", "9"), ("GETEX", "od", "PERSIST"),
    ("OBJECT", "ENCODING", "od"), ("GETSET", "od", "77"),
    ("OBJECT", "ENCODING", "od"),
] + [cmd for n in range(24) for cmd in (
    # Random bitmaps under every operation, and BITPOS over random ranges
    ("SET", "x1", rand_bits(3 * n)), ("SET", "x2", rand_bits(3 * n + 1)),
    ("SET", "x3", rand_bits(3 * n + 2)),
    ("BITOP", ("AND", "OR", "XOR")[n % 3], "xd", "x1", "x2", "x3"),
    ("GET", "xd"), ("BITOP", "NOT", "xd", "x2"), ("GET", "xd"),
    ("BITPOS", "x1", "0"), ("BITPOS", "x1", "1"),
    ("BITPOS", "x2", str(n % 2), str(n % 5 - 2)),
    ("BITPOS", "x3", str(n % 2), str(n - 12), str(n % 7 - 3)),
    ("BITPOS", "x1", str(n % 2), str(n * 3 - 30), str(n * 5 - 40), "BIT"),
    ("BITPOS", "x2", str((n + 1) % 2), str(n % 9), str(n % 9 + n % 4), "BIT"),
    ("BITPOS", "x3", str(n % 2), str(n % 11), "BIT"))
] + [cmd for n in range(12) for cmd in (
    ("SET", "r1", rand_text(2 * n)), ("SET", "r2", rand_text(2 * n + 1)),
    ("LCS", "r1", "r2"), ("LCS", "r1", "r2", "IDX", "WITHMATCHLEN"),
    ("LCS", "r2", "r1", "IDX", "MINMATCHLEN", "2"))] + [
    # GETEX: the options' names, then the key, then the expire's value;
    # SUBSTR, GETRANGE's old name
    ("GETEX", "nokey", "EX", "0"), ("GETEX", "nokey", "PX", "-5"),
    ("GETEX", "nokey", "EX", "x"), ("GETEX", "nokey", "BOGUS"),
    ("SET", "gx", "v"), ("GETEX", "gx", "EX", "x"), ("GETEX", "gx", "EX", "0"),
    ("SET", "sub", "abcdef"), ("SUBSTR", "sub", "1", "3"),
    ("SUBSTR", "sub", "-2", "-1"), ("SUBSTR", "nokey", "0", "1"),
    ("SUBSTR", "sub", "x", "1"), ("SUBSTR", "sub", "0"),
    # Hashes. Small ones (redis's listpack) answer in insertion order, so
    # they are compared byte for byte; HRANDFIELD where one answer is right.
    ("HSET", "h", "f1", "v1", "f2", "v2"), ("HSET", "h", "f1", "x", "f3", "v3"),
    ("HGETALL", "h"), ("HKEYS", "h"), ("HVALS", "h"), ("HGET", "h", "f1"),
    ("HGET", "h", "no"), ("HGET", "nokey", "f"), ("HMGET", "h", "f1", "no", "f3"),
    ("HMGET", "nokey", "a", "b"), ("HMGET", "h"), ("HLEN", "h"),
    ("HLEN", "nokey"), ("HEXISTS", "h", "f2"), ("HEXISTS", "h", "no"),
    ("HEXISTS", "nokey", "f"), ("HSTRLEN", "h", "f3"), ("HSTRLEN", "h", "no"),
    ("HSTRLEN", "nokey", "f"), ("HSET", "h"), ("HSET", "h", "f"),
    ("HSET", "h", "a", "b", "c"), ("HMSET", "h", "f4", "v4", "f5", "v5"),
    ("HMSET", "h", "f"), ("HSETNX", "h", "f1", "y"), ("HSETNX", "h", "f6", "y"),
    ("HSETNX", "h", "f6"), ("HGETALL", "h"), ("HDEL", "h", "f2", "no", "f2"),
    ("HGETALL", "h"), ("HDEL", "h"), ("HDEL", "nokey", "f"),
    ("HSET", "hd", "a", "1", "b", "2"), ("HDEL", "hd", "a", "b", "c"),
    ("EXISTS", "hd"), ("TYPE", "hd"), ("HGETALL", "hd"), ("HKEYS", "nokey"),
    ("HVALS", "nokey"), ("HGETALL", "nokey"), ("HINCRBY", "h", "n", "5"),
    ("HINCRBY", "h", "n", "-7"), ("HINCRBY", "h", "f1", "1"),
    ("HINCRBY", "h", "n", "x"), ("HSET", "h", "big", "9223372036854775807"),
    ("HINCRBY", "h", "big", "1"), ("HINCRBY", "h", "n", "9223372036854775808"),
    ("HINCRBY", "h", "n"), ("HINCRBY", "hn", "a", "3"), ("HGETALL", "hn"),
    ("HINCRBYFLOAT", "h", "fl", "1.5"), ("HINCRBYFLOAT", "h", "fl", "-0.25e1"),
    ("HINCRBYFLOAT", "h", "f1", "1"), ("HINCRBYFLOAT", "h", "fl", "x"),
    ("HINCRBYFLOAT", "h", "fl", "inf"), ("HINCRBYFLOAT", "hnew", "f", "-inf"),
    ("HINCRBYFLOAT", "hnew", "f", "nan"), ("EXISTS", "hnew"),
    ("HINCRBYFLOAT", "h", "fl", " 1"), ("HINCRBYFLOAT", "h", "fl", "1\x00"),
    ("HSET", "h", "huge", "1e4932"), ("HINCRBYFLOAT", "h", "huge", "1e4932"),
    ("HINCRBYFLOAT", "h", "n", "1e5000"), ("HGETALL", "h"),
    ("OBJECT", "ENCODING", "h"), ("TYPE", "h"), ("OBJECT", "REFCOUNT", "h"),
    ("HRANDFIELD", "nokey"), ("HRANDFIELD", "nokey", "3"),
    ("HRANDFIELD", "nokey", "-3", "WITHVALUES"), ("HSET", "one", "f", "v"),
    ("HRANDFIELD", "one"), ("HRANDFIELD", "one", "1"), ("HRANDFIELD", "one", "-3"),
    ("HRANDFIELD", "one", "-2", "WITHVALUES"), ("HRANDFIELD", "h", "100"),
    ("HRANDFIELD", "h", "100", "WITHVALUES"), ("HRANDFIELD", "h", "0"),
    ("HRANDFIELD", "h", "0", "WITHVALUES"), ("HRANDFIELD", "h", "x"),
    ("HRANDFIELD", "h", "1", "bogus"), ("HRANDFIELD", "h", "1", "WITHVALUES", "x"),
    ("HRANDFIELD", "h", "-9223372036854775808"),
    ("HRANDFIELD", "h", "-9223372036854775807", "WITHVALUES"),
    ("HRANDFIELD", "h", "4611686018427387904", "WITHVALUES"),
    ("HRANDFIELD", "h", "-4611686018427387904", "WITHVALUES"),
    ("HRANDFIELD", "nokey", "-9223372036854775807", "WITHVALUES"),
    ("HSCAN", "h", "0"), ("HSCAN", "h", "0", "MATCH", "f*"),
    ("HSCAN", "h", "0", "COUNT", "1"), ("HSCAN", "h", "x"),
    ("HSCAN", "h", "0", "COUNT", "0"), ("HSCAN", "h", "0", "COUNT", "x"),
    ("HSCAN", "h", "0", "TYPE", "string"), ("HSCAN", "h", "0", "MATCH"),
    ("HSCAN", "nokey", "0"), ("HSCAN", "nokey", "0", "BOGUS"), ("HSCAN", "h"),
    # WRONGTYPE both ways, in redis's order of checks
    ("SET", "str", "v"), ("HSET", "str", "f", "v"), ("HGET", "str", "f"),
    ("HMGET", "str", "f"), ("HGETALL", "str"), ("HKEYS", "str"),
    ("HVALS", "str"), ("HDEL", "str", "f"), ("HEXISTS", "str", "f"),
    ("HLEN", "str"), ("HSTRLEN", "str", "f"), ("HINCRBY", "str", "f", "1"),
    ("HINCRBY", "str", "f", "x"), ("HINCRBYFLOAT", "str", "f", "1"),
    ("HINCRBYFLOAT", "str", "f", "inf"), ("HSETNX", "str", "f", "v"),
    ("HMSET", "str", "f", "v"), ("HSCAN", "str", "0"), ("HSCAN", "str", "x"),
    ("HSCAN", "str", "0", "BOGUS"), ("HRANDFIELD", "str"),
    ("HRANDFIELD", "str", "2"), ("HRANDFIELD", "str", "x"), ("GET", "str"),
    ("GET", "h"), ("GETSET", "h", "v"), ("SET", "h", "v", "GET"),
    ("SET", "h", "v", "NX", "GET"), ("SET", "h", "v", "NX"),
    ("APPEND", "h", "x"), ("STRLEN", "h"), ("GETRANGE", "h", "0", "1"),
    ("GETRANGE", "h", "x", "1"), ("SUBSTR", "h", "0", "1"),
    ("SETRANGE", "h", "0", "x"), ("SETRANGE", "h", "0", ""),
    ("SETRANGE", "h", "-1", "x"), ("INCR", "h"), ("DECR", "h"),
    ("INCRBY", "h", "1"), ("INCRBY", "h", "x"), ("DECRBY", "h", "1"),
    ("INCRBYFLOAT", "h", "1"), ("INCRBYFLOAT", "h", "x"), ("GETDEL", "h"),
    ("GETEX", "h"), ("GETEX", "h", "EX", "10"), ("GETEX", "h", "EX", "x"),
    ("GETEX", "h", "PERSIST"), ("SETBIT", "h", "1", "1"),
    ("SETBIT", "h", "x", "1"), ("GETBIT", "h", "1"), ("BITCOUNT", "h"),
    ("BITCOUNT", "h", "0", "1"), ("LCS", "h", "str"), ("LCS", "str", "h"),
    ("LCS", "h", "nokey", "LEN"), ("MGET", "h", "str", "nokey"),
    ("SETNX", "h", "v"), ("MSETNX", "h", "v", "q", "1"), ("HLEN", "h"),
    ("TYPE", "h"),
    # The keyspace's commands take a hash whole; COPY's fields are its own
    ("EXPIRE", "h", "100"), ("TTL", "h"), ("PERSIST", "h"), ("TTL", "h"),
    ("RENAME", "h", "h2"), ("HGETALL", "h2"), ("EXISTS", "h"),
    ("COPY", "h2", "h3"), ("HSET", "h3", "f1", "changed"), ("HGET", "h2", "f1"),
    ("HGET", "h3", "f1"), ("HLEN", "h3"), ("TYPE", "h3"),
    ("RENAMENX", "h3", "h2"), ("KEYS", "h*"), ("DEL", "h2", "h3"),
    ("EXISTS", "h2", "h3"),
    # SET and MSET replace a hash; KEEPTTL keeps its expiry
    ("HSET", "hs", "a", "1"), ("SET", "hs", "v"), ("TYPE", "hs"), ("GET", "hs"),
    ("HSET", "hm", "a", "1"), ("MSET", "hm", "v"), ("GET", "hm"),
    ("HSET", "hx", "a", "1"), ("SET", "hx", "v", "XX"), ("GET", "hx"),
    ("HSET", "hk", "a", "1"), ("EXPIRE", "hk", "100"),
    ("SET", "hk", "v", "KEEPTTL"), ("TTL", "hk"), ("SETEX", "hk", "50", "w"),
    ("TTL", "hk"), ("HSET", "hk", "a", "1"),
    # The encoding: a listpack up to 128 fields of 64 bytes, then for good
    # a hashtable (whose order is its own: compared by what it holds)
    ("HSET", "lp", "f", "x" * 64), ("OBJECT", "ENCODING", "lp"),
    ("HINCRBYFLOAT", "lp", "f", "1"), ("HSET", "lp", "g", "x" * 65),
    ("OBJECT", "ENCODING", "lp"), ("HDEL", "lp", "g"),
    ("OBJECT", "ENCODING", "lp"), ("HGET", "lp", "f"), ("HLEN", "lp"),
    ("HSET", "lk", "k" * 65, "v"), ("OBJECT", "ENCODING", "lk"),
    ("HGET", "lk", "k" * 65), ("HSTRLEN", "lk", "k" * 65),
    ("HINCRBYFLOAT", "lf", "a", "1e100"), ("OBJECT", "ENCODING", "lf"),
    ("HSET", "l512", *[x for i in range(512) for x in ("f%d" % i, str(i))]),
    ("OBJECT", "ENCODING", "l512"), ("HSETNX", "l512", "extra", "1"),
    ("OBJECT", "ENCODING", "l512"), ("HLEN", "l512"), ("HGET", "l512", "f77"),
    ("HMGET", "l512", "f0", "extra", "nof"), ("HEXISTS", "l512", "f511"),
    ("HINCRBY", "l512", "f5", "10"), ("HDEL", "l512", "extra", "f0"),
    ("OBJECT", "ENCODING", "l512"), ("HLEN", "l512"), ("HKEYS", "l512"),
    ("HVALS", "l512"), ("HGETALL", "l512"), ("HRANDFIELD", "l512", "600"),
    ("HRANDFIELD", "l512", "-2", "BAD"),
    # hash-max-listpack-*, redis's limits on the listpack, and their errors
    ("CONFIG", "GET", "hash-max-listpack-entries"),
    ("CONFIG", "GET", "hash-max-ziplist-value"),
    ("CONFIG", "SET", "hash-max-listpack-entries", "-1"),
    ("CONFIG", "SET", "hash-max-listpack-value", "x"),
    ("CONFIG", "SET", "hash-max-listpack-value", "-1"),
    ("CONFIG", "SET", "hash-max-listpack-entries", "1kb"),
    ("CONFIG", "SET", "hash-max-listpack-entries", "2"),
    ("CONFIG", "GET", "hash-max-ziplist-entries"), ("HSET", "c2", "a", "1"),
    ("HSET", "c2", "b", "2"), ("OBJECT", "ENCODING", "c2"),
    ("HSET", "c2", "c", "3"), ("OBJECT", "ENCODING", "c2"),
    ("CONFIG", "SET", "hash-max-ziplist-value", "3"),
    ("HSET", "c3", "abc", "1"), ("OBJECT", "ENCODING", "c3"),
    ("HSET", "c3", "abcd", "1"), ("OBJECT", "ENCODING", "c3"),
    ("HSET", "c5", "a", "1", "b", "2"), ("OBJECT", "ENCODING", "c5"),
    ("CONFIG", "SET", "hash-max-listpack-entries", "1"),
    ("HSETNX", "c5", "a", "9"), ("HDEL", "c5", "zz"), ("OBJECT", "ENCODING", "c5"),
    ("HSET", "c5", "a", "9"), ("OBJECT", "ENCODING", "c5"),
    ("CONFIG", "SET", "hash-max-listpack-value", "1kb"),
    ("CONFIG", "GET", "hash-max-listpack-value"),
    ("CONFIG", "SET", "hash-max-listpack-entries", "512",
     "hash-max-listpack-value", "64"),
    # Saving's errors (a valid SAVE or SHUTDOWN has no place here: the
    # persistence suite has them); SAVE and SHUTDOWN refuse MULTI
    ("SAVE", "x"), ("BGSAVE", "x"), ("BGSAVE", "SCHEDULE", "x"),
    ("LASTSAVE", "x"), ("SHUTDOWN", "BOGUS"), ("SHUTDOWN", "SAVE", "NOSAVE"),
    ("SHUTDOWN", "ABORT"), ("SHUTDOWN", "ABORT", "NOW"),
    ("SHUTDOWN", "NOW", "x"), ("MULTI",), ("SHUTDOWN",), ("SAVE",),
    ("LASTSAVE",), ("EXEC",), ("MULTI",), ("SET", "m", "1"), ("SAVE", "x"),
    ("EXEC",), ("CONFIG", "SET", "dir", "/tmp"),
    ("CONFIG", "SET", "dbfilename", "x"), ("CONFIG", "SET", "save", "bogus"),
    ("CONFIG", "SET", "save", "1 2 3"), ("CONFIG", "SET", "save", "x 1"),
    ("CONFIG", "SET", "save", "3600 1 300 100"), ("CONFIG", "GET", "save"),
    ("CONFIG", "SET", "save", ""), ("CONFIG", "GET", "save"),
    ("GET", "k" * 5000), ("QUIT",),
]


# Hashes of SEQUENCE that are hashtables in redis: their order is the
# server's own, so their fields are compared as sets.
HASHTABLE_KEYS = {"l512"}
WHOLE_HASH = {b"hkeys", b"hvals", b"hgetall", b"hrandfield"}


def normalize(cmd, raw):
    """KEYS replies, and the fields of a hashtable, as sorted lists (of
    field-value pairs for HGETALL); everything else as it came."""
    name = cmd[0].lower().encode()
    unordered = name in UNORDERED or (
        name in WHOLE_HASH and len(cmd) > 1 and cmd[1] in HASHTABLE_KEYS)
    if unordered and raw[:1] in (b"*", b"%"):
        parts = raw.split(b"\r\n")
        head, items = parts[0], parts[1:-1]
        width = 4 if name == b"hgetall" else 2  # lines per element
        return head, sorted(tuple(items[i:i + width])
                            for i in range(0, len(items), width))
    return raw


def replay_sequence(servers, conns, label):
    """Sends SEQUENCE on `conns` (one per server) and checks cachet's
    replies against redis-server's (the first)."""
    for cmd in SEQUENCE:
        wire = encode(*cmd)
        replies = []
        for c in conns:
            c.send(wire)
            replies.append(normalize(cmd, c.read_raw()))
        for s, r in zip(servers[1:], replies[1:]):
            check(r == replies[0], "%s %s%r: %r, redis-server %r"
                  % (s.name, label, cmd, r, replies[0]))


def hello_normalized(raw):
    """A HELLO reply with its version and client id, which are each
    server's own, masked."""
    return re.sub(rb"\$\d+\r\n7\.0\.\d+\r\n(.*)id\r\n:\d+",
                  rb"VERSION\1id\r\n:ID", raw, flags=re.S)


def suite_compare():
    servers = [redis(), cachet("direct"), cachet("message")]
    try:
        # RANDOMKEY draws from the whole keyspace.
        for s in servers[1:]:
            c = Conn(s.port)
            c.call("MSET", *[x for i in range(200) for x in ("rk%d" % i, i)])
            drawn = {c.call("RANDOMKEY") for _ in range(200)}
            check(len(drawn) > 60 and all(k.startswith(b"rk") for k in drawn),
                  "RANDOMKEY %s: %d distinct keys in 200 draws of 200"
                  % (s.name, len(drawn)))
            c.call("FLUSHALL")
            c.close()
        # CLIENT ID: a number per connection, the same for its life.
        for s in servers[1:]:
            a, b = Conn(s.port), Conn(s.port)
            ia, ib = a.call("CLIENT", "ID"), b.call("CLIENT", "ID")
            check(isinstance(ia, int) and isinstance(ib, int) and ia != ib
                  and ia > 0 and a.call("CLIENT", "ID") == ia,
                  "CLIENT ID %s: %r and %r" % (s.name, ia, ib))
            a.close()
            b.close()
        # TIME: seconds and microseconds, as redis-server's clock has them.
        times = [Conn(s.port).call("TIME") for s in servers]
        for t in times[1:]:
            check(len(t) == 2 and t[0].isdigit() and t[1].isdigit()
                  and abs(int(t[0]) - int(times[0][0])) <= 5
                  and int(t[1]) < 1000000,
                  "TIME: %r, redis-server %r" % (t, times[0]))
        conns = [Conn(s.port) for s in servers]
        replay_sequence(servers, conns, "")
        # The same in RESP3, after HELLO 3 (whose version and client id are
        # cachet-redis's own).
        conns = [Conn(s.port) for s in servers]
        hellos = []
        for c in conns:
            c.send(encode("HELLO", "3"))
            hellos.append(hello_normalized(c.read_raw()))
            c.send(encode("FLUSHALL"))
            c.read_raw()
        for s, h in zip(servers[1:], hellos[1:]):
            check(h == hellos[0] and h.startswith(b"%7"),
                  "%s HELLO 3: %r, redis-server %r" % (s.name, h, hellos[0]))
        replay_sequence(servers, conns, "RESP3 ")
        # Inline commands and pipelining: one write, many replies.
        pipeline = (b"PING\r\nSET  inl  \"a\\x41\\n\"\r\nGET inl\r\n"
                    b"SET q 'it\\'s'\r\nGET q\r\n\r\n   \r\n"
                    + encode("INCR", "pn") * 50 + b"ECHO x\r\n")
        conns = [Conn(s.port) for s in servers]
        replies = []
        for c in conns:
            for i in range(0, len(pipeline), 7):  # split anywhere
                c.send(pipeline[i:i + 7])
            replies.append([c.read_raw() for _ in range(56)])
        for s, r in zip(servers[1:], replies[1:]):
            check(r == replies[0], "%s pipeline: %r vs %r"
                  % (s.name, r[:6], replies[0][:6]))
        # PTTL: both near the expiry set, not timed against each other.
        for s in servers:
            c = Conn(s.port)
            c.call("SET", "pt", "v", "PX", "100000")
            p = c.call("PTTL", "pt")
            check(90000 < p <= 100000, "%s PTTL %r" % (s.name, p))
            c.close()
        # SCAN walks every key exactly as KEYS sees them.
        for s in servers:
            c = Conn(s.port)
            c.call("FLUSHALL")
            for i in range(300):
                c.call("SET", "s:%d" % i, "v")
            c.call("SET", "other", "v")
            seen, cursor = set(), b"0"
            while True:
                cursor, keys = c.call("SCAN", cursor, "MATCH", "s:*",
                                      "COUNT", "17")
                seen.update(keys)
                if cursor == b"0":
                    break
            check(seen == {b"s:%d" % i for i in range(300)},
                  "%s SCAN saw %d keys" % (s.name, len(seen)))
            c.close()
        # A big binary value survives any split.
        blob = bytes(random.Random(1).getrandbits(8) for _ in range(300000))
        for s in servers[1:]:
            c = Conn(s.port)
            wire = encode("SET", "blob", blob)
            for i in range(0, len(wire), 65521):
                c.send(wire[i:i + 65521])
            check(c.read_parsed() == b"+OK", "%s big SET" % s.name)
            check(c.call("GET", "blob") == blob, "%s big GET" % s.name)
            check(c.call("STRLEN", "blob") == len(blob), "%s STRLEN" % s.name)
            c.close()
    finally:
        for s in servers:
            s.stop()


# -- suite: protocol ----------------------------------------------------------

BAD_INPUTS = [
    b"*1\r\n+PING\r\n",
    b"*2\r\n$3\r\nGET\r\n:5\r\n",
    b"*x\r\n",
    b"*3000000000\r\n",
    b"$5\r\n*1\r\n$q\r\n",
    b"*1\r\n$-1\r\n",
    b"*1\r\n$abc\r\n",
    b"*1\r\n$536870913\r\n",
    b"*1\r\n$01\r\nx\r\n",
    b"SET a \"unbalanced\r\n",
    b"SET a 'x'y\r\n",
    b"PING\r\n*1\r\n$4\r\nPING\r\n*1\r\n$4x\r\n",
    b"*-1\r\n*0\r\nPING\r\n*1\r\n@\r\n",
    b"*" + b"1" * 70000,
    b"*1\r\n$" + b"1" * 70000,
    b"GET " + b"a" * 70000,
]


def suite_protocol():
    servers = [redis(), cachet("direct"), cachet("message")]
    try:
        for data in BAD_INPUTS:
            got = []
            for s in servers:
                c = Conn(s.port)
                try:
                    c.send(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                got.append(c.read_until_eof())
                c.close()
            for s, g in zip(servers[1:], got[1:]):
                check(g == got[0], "%s on %r: %r, redis-server %r"
                      % (s.name, data[:40], g[:200], got[0][:200]))
        # An absurd multibulk count is accepted but allocates nothing: the
        # server stays small, then answers once the arguments arrive.
        for s in servers[1:]:
            c = Conn(s.port)
            c.send(b"*2147483647\r\n$4\r\nPING\r\n")
            c2 = Conn(s.port)
            check(c2.call("PING") == b"+PONG", "%s after huge count" % s.name)
            rss = [int(l.split(b":")[1]) for l in
                   c2.call("INFO", "memory").split(b"\r\n")
                   if l.startswith(b"used_memory_rss:")][0]
            check(rss < 512 * 1024 * 1024, "%s rss %d" % (s.name, rss))
            c.close()
            c2.close()
    finally:
        for s in servers:
            s.stop()


# -- suite: limits ------------------------------------------------------------

def idle_memory(mode):
    """Idle clients hold no buffers, and what DEL removed is freed once the
    writes stop: used_memory comes back down (INFO polled, at most 10 s)."""
    srv = cachet(mode)
    try:
        c = Conn(srv.port)
        base = info_int(c, "used_memory")
        idle = [Conn(srv.port) for _ in range(400)]
        for x in idle:
            x.call("PING")  # each now has an input buffer (16 KiB)
        grown = info_int(c, "used_memory") - base

        def settles(limit):
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                used = info_int(c, "used_memory")
                if used <= limit:
                    return used
                time.sleep(0.2)
            return used

        used = settles(base + grown // 5)
        print("idle memory (%s): 400 clients took %d bytes, %d are left "
              "once idle" % (mode, grown, used - base), flush=True)
        check(grown > 400 * 16384 * 0.8 and used <= base + grown // 5,
              "idle memory %s: %d bytes for 400 idle clients, %d left" % (
                  mode, grown, used - base))
        for x in idle:
            x.close()
        # What DEL removed is freed without further writes.
        before = info_int(c, "used_memory")
        fill_keys(c, "k", 20000)
        full = info_int(c, "used_memory")
        for start in range(0, 20000, 1000):
            c.call("DEL", *["k%d" % i for i in range(start, start + 1000)])
        used = settles(before + (full - before) // 2)
        print("idle memory (%s): 20000 keys took %d bytes, %d are left "
              "after DEL (the table's array stays)" % (
                  mode, full - before, used - before), flush=True)
        check(used <= before + (full - before) // 2,
              "idle memory %s: %d of %d bytes left after DEL" % (
                  mode, used - before, full - before))
        c.close()
    finally:
        check(srv.stop() == 0, "idle memory %s: clean exit" % mode)


def suite_limits():
    for mode in ("direct", "message"):
        idle_memory(mode)
    # maxclients: the third client is refused with redis's text.
    servers = [redis("--maxclients", "2"), cachet("direct", "--maxclients=2"),
               cachet("message", "--maxclients=2")]
    def admitted(port):
        # A client that PINGs successfully (bounded retry: a server sees a
        # client's close asynchronously, the harness's port probe's too).
        for _ in range(200):
            d = Conn(port)
            try:
                if d.call("PING") == b"+PONG":
                    return d
            except (EOFError, ConnectionResetError):
                pass
            d.close()
            time.sleep(0.01)
        return None
    try:
        for s in servers:
            a, b = admitted(s.port), admitted(s.port)
            check(a is not None and b is not None,
                  "%s admits two clients" % s.name)
            if a is None or b is None:
                continue
            c = Conn(s.port)
            got = c.read_until_eof()
            check(got == b"-ERR max number of clients reached\r\n",
                  "%s maxclients: %r" % (s.name, got))
            c.close()
            a.close()
            d = admitted(s.port)
            check(d is not None, "%s admits a client after one left" % s.name)
            d.close()
            b.close()
    finally:
        for s in servers:
            s.stop()
    # proto-max-bulk-len: a bulk over the limit is refused before any byte.
    servers = [redis("--proto-max-bulk-len", "1mb"),
               cachet("direct", "--proto-max-bulk-len=1mb")]
    try:
        got = []
        for s in servers:
            c = Conn(s.port)
            c.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1048577\r\n")
            got.append(c.read_until_eof())
            c2 = Conn(s.port)
            got.append(c2.call("SET", "k", b"x" * 1048576))
            got.append(c2.call("APPEND", "k", "y"))
            got.append(c2.call("SETRANGE", "k", "1048576", "y"))
        check(got[:4] == got[4:], "proto-max-bulk-len: %r" % got)
    finally:
        for s in servers:
            s.stop()
    # Output buffer: a client that pipelines big GETs and never reads is
    # disconnected once its unsent replies pass the limit.
    servers = [redis("--client-output-buffer-limit", "normal 1mb 1mb 0"),
               cachet("direct", "--output-buffer-limit=1mb"),
               cachet("message", "--output-buffer-limit=1mb")]
    try:
        for s in servers:
            c = Conn(s.port)
            c.call("SET", "big", b"v" * 100000)
            asked = 0
            try:
                for _ in range(2000):  # 200 MB of replies asked for
                    c.send(encode("GET", "big") * 10)
                    asked += 10
            except (BrokenPipeError, ConnectionResetError):
                pass
            # Closed: fewer replies arrive than were asked for, then EOF (a
            # server without the limit would send them all).
            got = len(c.read_until_eof())
            check(got < asked * 100000, "%s closes a slow reader (%d of %d)"
                  % (s.name, got, asked * 100000))
            c.close()
            d = Conn(s.port)
            check(d.call("PING") == b"+PONG", "%s still serves" % s.name)
            d.close()
    finally:
        for s in servers:
            s.stop()


# -- suite: clients -----------------------------------------------------------

def client_fields(line):
    return dict(f.split(b"=", 1) for f in line.strip().split(b" "))


def clients_list_kill(servers):
    """CLIENT LIST, INFO and KILL: errors against redis-server; what the
    lines say and that killed connections close, in both modes."""
    replay("clients", servers, [
        (0, ("CLIENT", "KILL", "1.2.3.4:5")), (0, ("CLIENT", "KILL", "ID", "99999")),
        (0, ("CLIENT", "KILL", "bogus", "1")), (0, ("CLIENT", "KILL", "ID", "x")),
        (0, ("CLIENT", "KILL", "ID", "1", "2")),
        (0, ("CLIENT", "KILL", "SKIPME", "maybe")),
        (0, ("CLIENT", "KILL", "TYPE", "master")),
        (0, ("CLIENT", "KILL", "TYPE", "x", "ID", "1")),
        (0, ("CLIENT", "LIST", "TYPE", "bogus")), (0, ("CLIENT", "LIST", "ID", "x")),
        (0, ("CLIENT", "LIST", "ID", "99999")), (0, ("CLIENT", "LIST", "x")),
        (0, ("CLIENT", "LIST", "TYPE", "pubsub")), (0, ("CLIENT", "INFO", "x")),
        (0, ("CLIENT", "KILL"))], 1)
    for s in servers[1:]:
        a, b, k = Conn(s.port), Conn(s.port), Conn(s.port)
        ida, idb = a.call("CLIENT", "ID"), b.call("CLIENT", "ID")
        a.call("CLIENT", "SETNAME", "alpha")
        a.call("MULTI")
        a.call("SET", "x", "1")
        b.call("HELLO", "3")
        b.call("GET", "x")
        # The replay's connection, closed, leaves the list once its loop
        # sees the close: on a busy machine, a moment later.
        for _ in range(100):
            text = k.call("CLIENT", "LIST")
            rows = {int(f[b"id"]): f for f in map(client_fields,
                                                   text.strip().split(b"\n"))}
            if len(rows) == 3:
                break
            time.sleep(0.02)
        fa, fb = rows.get(ida, {}), rows.get(idb, {})
        check(fa.get(b"name") == b"alpha" and fa.get(b"flags") == b"x"
              and fa.get(b"multi") == b"1" and fb.get(b"resp") == b"3"
              and fb.get(b"cmd") == b"get" and fb.get(b"multi") == b"-1"
              and fa.get(b"addr", b"").startswith(b"127.0.0.1:")
              and fa.get(b"laddr") == b"127.0.0.1:%d" % s.port
              and fa.get(b"age") == b"0" and len(rows) == 3,
              "clients %s: CLIENT LIST %r" % (s.name, text))
        info = client_fields(k.call("CLIENT", "INFO"))
        check(int(info[b"id"]) == k.call("CLIENT", "ID")
              and info[b"cmd"] == b"client|info",
              "clients %s: CLIENT INFO %r" % (s.name, info))
        # KILL by id: the other connection closes, the caller goes on.
        check(k.call("CLIENT", "KILL", "ID", str(ida)) == 1,
              "clients %s: KILL ID" % s.name)
        check(a.read_until_eof() == b"", "clients %s: killed client still "
              "open" % s.name)
        # The old form, by address, and SKIPME no on itself.
        addr = client_fields(b.call("CLIENT", "INFO"))[b"addr"]
        check(k.call("CLIENT", "KILL", addr) == b"+OK",
              "clients %s: KILL addr" % s.name)
        check(b.read_until_eof() == b"", "clients %s: killed by address, "
              "still open" % s.name)
        k.send(encode("CLIENT", "KILL", "ID", str(k.call("CLIENT", "ID")),
                      "SKIPME", "no"))
        check(k.read_until_eof() == b":1\r\n",
              "clients %s: KILL of itself" % s.name)
        rest = Conn(s.port).call("CLIENT", "LIST")
        check(rest.count(b"\n") == 1, "clients %s: left %r" % (s.name, rest))
        for c in (a, b, k):
            c.close()


def client_reply(servers):
    """CLIENT REPLY OFF, ON and SKIP, pipelined, against redis-server: the
    same bytes come back (RESET turns replies on; an error is skipped too)."""
    batch = [("CLIENT", "REPLY", "OFF"), ("PING", "a"), ("GET",),
             ("CLIENT", "REPLY", "ON"), ("PING", "b"),
             ("CLIENT", "REPLY", "SKIP"), ("PING", "c"), ("PING", "d"),
             ("CLIENT", "REPLY", "SKIP"), ("CLIENT", "REPLY", "ON"),
             ("PING", "e"), ("CLIENT", "REPLY", "SKIP"), ("GET",),
             ("CLIENT", "REPLY", "OFF"), ("CLIENT", "REPLY", "SKIP"),
             ("PING", "f"), ("CLIENT", "REPLY", "ON"),
             ("CLIENT", "REPLY", "BOGUS"), ("CLIENT", "REPLY"),
             ("CLIENT", "REPLY", "OFF"), ("RESET",), ("PING", "g"),
             ("ECHO", "end")]
    wire = b"".join(encode(*cmd) for cmd in batch)
    got = []
    for s in servers:
        c = Conn(s.port)
        c.send(wire)
        while not c.buf.endswith(b"$3\r\nend\r\n"):
            c._fill()
        got.append(c.buf)
        c.close()
    for s, g in zip(servers[1:], got[1:]):
        check(g == got[0], "%s CLIENT REPLY: %r, redis-server %r"
              % (s.name, g, got[0]))


def client_buffers(servers):
    """CLIENT INFO's and LIST's buffer fields, on redis-server and cachet
    alike: the caller's own request and arguments, a transaction's queue,
    a monitor's flag, and the replies waiting for a client that does not
    read them."""
    for s in servers:
        fields = lambda line: dict(f.split(b"=", 1) for f in line.split())
        a, b = Conn(s.port), Conn(s.port)
        me = fields(a.call("CLIENT", "INFO"))
        check(me[b"qbuf"] == b"26" and me[b"argv-mem"] == b"10"
              and me[b"multi-mem"] == b"0" and me[b"flags"] == b"N"
              and me[b"obl"] == b"0" and me[b"omem"] == b"0"
              and me[b"events"] == b"r" and int(me[b"tot-mem"]) > 0,
              "%s CLIENT INFO's buffers: %r" % (s.name, me))
        a_id = a.call("CLIENT", "ID")
        of = lambda c, i: fields(c.call("CLIENT", "LIST", "ID", str(i)))
        a.call("MULTI")
        a.call("SET", "k", "v" * 1000)
        queued = of(b, a_id)
        check(queued[b"flags"] == b"x" and int(queued[b"multi-mem"]) >= 1000,
              "%s a transaction's queue in CLIENT LIST: %r" % (s.name, queued))
        a.call("EXEC")
        check(of(b, a_id)[b"multi-mem"] == b"0",
              "%s multi-mem after EXEC" % s.name)
        a.call("MONITOR")
        check(of(b, a_id)[b"flags"] == b"O",
              "%s a monitor's flags" % s.name)
        b.call("SET", "big", "x" * 100000)
        slow = Conn(s.port)
        slow.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow_id = slow.call("CLIENT", "ID")
        slow.send(encode("GET", "big") * 100)
        deadline = time.time() + 10
        while time.time() < deadline:
            waiting = of(b, slow_id)
            if int(waiting[b"omem"]) > 0 and waiting[b"events"] == b"rw":
                break
            time.sleep(0.05)
        check(int(waiting[b"omem"]) >= 100000 and waiting[b"events"] == b"rw",
              "%s a client that does not read: %r" % (s.name, waiting))
        for c in (a, b, slow):
            c.close()


def suite_clients():
    import redis as pyredis
    servers = [redis(), cachet("direct"), cachet("message")]
    try:
        clients_list_kill(servers)
        client_reply(servers)
        client_buffers(servers)
        outs = []
        for s in servers:
            cli = ["redis-cli", "-p", str(s.port)]
            out = b""
            for args in (["SET", "greeting", "hello world"], ["GET", "greeting"],
                         ["INCR", "cnt"], ["INCRBY", "cnt", "5"],
                         ["MGET", "greeting", "nokey", "cnt"],
                         ["SET", "x", "1", "EX", "100"], ["TTL", "x"],
                         ["GET", "cnt", "extra"], ["NOPE"], ["DBSIZE"],
                         ["DEL", "x", "cnt"], ["PING"]):
                out += subprocess.run(cli + args, capture_output=True,
                                      timeout=10).stdout
            # --pipe mass insertion, as redis documents it
            data = b"".join(encode("SET", "p%d" % i, i) for i in range(1000))
            r = subprocess.run(cli + ["--pipe"], input=data,
                               capture_output=True, timeout=30)
            out += b"pipe:" + r.stdout.split(b"\n")[-2]  # errors/replies line
            out += subprocess.run(cli + ["DBSIZE"], capture_output=True,
                                  timeout=10).stdout
            outs.append(out)
        for s, o in zip(servers[1:], outs[1:]):
            check(o == outs[0], "%s redis-cli: %r vs %r" % (s.name, o, outs[0]))

        # python3-redis: typed replies, errors as exceptions, pipelines.
        for s in servers:
            r = pyredis.Redis(port=s.port)
            r.flushall()
            check(r.set("a", b"\x00\xff") is True, s.name)
            check(r.get("a") == b"\x00\xff", s.name)
            check(r.incrbyfloat("f", 1.5) == 1.5, s.name)
            check(r.setex("t", 100, "v") and r.ttl("t") == 100, s.name)
            check(sorted(r.scan_iter(match="*")) == [b"a", b"f", b"t"], s.name)
            p = r.pipeline(transaction=False)
            for i in range(100):
                p.incr("pc")
            check(p.execute()[-1] == 100, s.name)
            try:
                r.incr("a")
                check(False, "%s: INCR of a binary value" % s.name)
            except pyredis.ResponseError as e:
                check(str(e) == "value is not an integer or out of range",
                      "%s: %s" % (s.name, e))
            check(r.info("stats")["total_commands_processed"] > 0, s.name)
            r.close()

        # Concurrency: 8 clients incrementing one key on all cores.
        for s in servers[1:]:
            def work():
                c = Conn(s.port)
                for _ in range(500):
                    c.send(encode("INCR", "shared") * 4)
                    for _ in range(4):
                        c.read_parsed()
                c.close()
            ts = [threading.Thread(target=work) for _ in range(8)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            c = Conn(s.port)
            check(c.call("GET", "shared") == b"16000",
                  "%s concurrent INCR" % s.name)
            # A connection's failure closes it only.
            bad = Conn(s.port)
            bad.send(b"*1\r\n$x\r\n")
            bad.read_until_eof()
            check(c.call("PING") == b"+PONG", "%s survives a bad client"
                  % s.name)
            c.close()
    finally:
        for s in servers:
            s.stop()


# -- suite: supervision -------------------------------------------------------

def suite_supervision():
    for mode in ("direct", "message"):
        s = cachet(mode, "--enable-debug-command")
        try:
            c = Conn(s.port)
            for i in range(100):
                c.call("SET", "k%d" % i, i)
            c.call("SET", "ttl", "v", "EX", "1000")
            check(c.call("DEBUG", "CRASH-STORE") == b"+OK", mode)
            # The owner restarts (bounded poll on INFO, not a sleep).
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                info = c.call("INFO", "stats")
                if b"cachet_store_restarts:1\r\n" in info:
                    break
                time.sleep(0.01)
            check(b"cachet_store_restarts:1\r\n" in info,
                  "%s: owner restarted" % mode)
            check(c.call("DBSIZE") == 101, "%s: no data lost" % mode)
            check(c.call("GET", "k42") == b"42", mode)
            check(c.call("TTL", "ttl") == 1000, mode)
            check(c.call("SET", "after", "1") == b"+OK", mode)
            # The restarted owner sweeps keys that expire after the crash.
            c.call("SET", "gone", "v", "PX", "1")
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and c.call("DBSIZE") != 102:
                time.sleep(0.01)
            check(c.call("DBSIZE") == 102, "%s: swept after restart" % mode)
            c.close()
        finally:
            check(s.stop() == 0, "%s: clean exit" % mode)
    # Without the flag, DEBUG is refused as redis refuses it.
    servers = [redis(), cachet("direct")]
    try:
        got = [Conn(s.port).call("DEBUG", "CRASH-STORE") for s in servers]
        check(got[0] == got[1], "DEBUG refused: %r" % got)
    finally:
        for s in servers:
            s.stop()


# -- suite: shutdown ----------------------------------------------------------

def suite_shutdown():
    for sig in (signal.SIGINT, signal.SIGTERM):
        s = cachet("direct")
        c = Conn(s.port)
        c.call("SET", "a", "b")
        idle = Conn(s.port)
        code = s.stop(sig)
        check(code == 0, "exit status %r after %s" % (code, sig))
        check(c.read_until_eof() == b"", "connections closed on %s" % sig)
        idle.close()
        c.close()
    # --help and a bad option
    r = subprocess.run([CACHET, "--help"], capture_output=True, timeout=10)
    check(r.returncode == 0 and b"--mode=direct|message" in r.stdout, "--help")
    r = subprocess.run([CACHET, "--bogus"], capture_output=True, timeout=10)
    check(r.returncode == 2, "bad option")

# -- suite: expiry_race -------------------------------------------------------

def suite_expiry_race():
    """Removing a key for having expired never removes a write that landed
    after the test: each writer owns its keys, makes each expired (SET ...
    PXAT 1), then SETs it without a TTL, SETNXs it and GETs it, pipelined;
    readers keep EXISTSing every key, so the expired ones are removed by
    lazy expiry (and by the owner's sweep) right as the SETs land. With
    only the writer writing its key, the SETNX after an acknowledged SET
    must answer 0 and the GET must return that SET's value, never nil."""
    s = cachet("direct")
    writers, readers, keys_per_writer = 2, 2, 8
    seconds = 3.0
    stop = threading.Event()
    violations = []
    iterations = [0] * writers
    errors = []

    def writer(w):
        try:
            c = Conn(s.port)
            keys = ["race:%d:%d" % (w, i) for i in range(keys_per_writer)]
            deadline = time.monotonic() + seconds
            it = 0
            while (time.monotonic() < deadline and not stop.is_set()
                   and it < 200000):
                it += 1
                val = b"v%d" % it
                c.send(b"".join(encode("SET", k, "x", "PXAT", "1")
                                + encode("SET", k, val)
                                + encode("SETNX", k, "other")
                                + encode("GET", k) for k in keys))
                for k in keys:
                    r = [c.read_parsed() for _ in range(4)]
                    if r[:2] != [b"+OK", b"+OK"] or r[2] != 0 or r[3] != val:
                        violations.append((k, it, r))
                if len(violations) >= 20:
                    break  # proven: no need to go on
            iterations[w] = it
            c.close()
        except Exception as e:  # a dead server shows as a failure, not a hang
            errors.append(repr(e))

    def reader():
        try:
            c = Conn(s.port)
            every = ["race:%d:%d" % (w, i) for w in range(writers)
                     for i in range(keys_per_writer)]
            batch = encode("EXISTS", *every) * 20
            while not stop.is_set():
                c.send(batch)
                got = 0
                while got < 20:  # each reply is one ":n\r\n" line
                    c._fill()
                    got = c.buf.count(b"\r\n")
                c.buf = b""
            c.close()
        except Exception as e:
            errors.append(repr(e))

    try:
        ts = [threading.Thread(target=writer, args=(w,))
              for w in range(writers)]
        rs = [threading.Thread(target=reader) for _ in range(readers)]
        for t in ts + rs:
            t.start()
        for t in ts:
            t.join()
        stop.set()
        for t in rs:
            t.join()
        print("expiry_race: %d writer iterations of %d keys, %d violations"
              % (sum(iterations), keys_per_writer, len(violations)))
        check(not errors, "clients failed: %r" % errors)
        check(sum(iterations) > 100, "too few iterations: %r" % iterations)
        for k, it, r in violations[:5]:
            print("  %s iteration %d: SET PXAT, SET, SETNX, GET -> %r"
                  % (k, it, r))
        check(not violations, "%d acknowledged writes lost or SETNX on a "
              "live key" % len(violations))
        # Nothing left behind: every key holds its writer's last value.
        c = Conn(s.port)
        for w in range(writers):
            for i in range(keys_per_writer):
                got = c.call("GET", "race:%d:%d" % (w, i))
                check(got == b"v%d" % iterations[w],
                      "race:%d:%d ends as %r" % (w, i, got))
        c.close()
    finally:
        stop.set()
        s.stop()


# -- suite: expiry_memory -----------------------------------------------------

def vm_rss(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def suite_expiry_memory():
    """Expiry costs nothing per SET: a million SETs with EX over the same
    1K keys leave the server's RSS where it was (a per-SET record of the
    deadline would grow with the put rate times the TTL)."""
    s = cachet("direct")
    try:
        c = Conn(s.port)
        batch = b"".join(encode("SET", "m%d" % i, "v", "EX", "3600")
                         for i in range(1000))
        reply_bytes = len(b"+OK\r\n") * 1000

        def run(rounds):
            for _ in range(rounds):
                c.send(batch)
                got = 0
                while got < reply_bytes:
                    c._fill()
                    got = len(c.buf)
                check(c.buf == b"+OK\r\n" * 1000, "SET EX replies")
                c.buf = b""

        run(50)  # warm up: keys, buffers, the allocator's arenas
        before = vm_rss(s.proc.pid)
        start = time.monotonic()
        run(1000)
        after = vm_rss(s.proc.pid)
        print("expiry_memory: 1M SET EX 3600 over 1K keys in %.1f s, "
              "VmRSS %.1f MB -> %.1f MB" % (time.monotonic() - start,
                                            before / 2**20, after / 2**20))
        check(after - before < 8 * 2**20, "RSS grew by %.1f MB"
              % ((after - before) / 2**20))
        check(c.call("DBSIZE") == 1000, "1K keys")
        # Active expiry still removes what expires, with nothing tracked:
        # 5K keys with a short TTL among 1K with a long one go by themselves
        # (no client reads them).
        c.send(b"".join(encode("SET", "short%d" % i, "v", "PX", "50")
                        for i in range(5000)))
        for _ in range(5000):
            c.read_parsed()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and c.call("DBSIZE") != 1000:
            time.sleep(0.02)
        check(c.call("DBSIZE") == 1000, "short-lived keys swept: %r"
              % c.call("DBSIZE"))
        info = c.call("INFO", "stats")
        check(b"expired_keys:5000\r\n" in info, "expired_keys: %r" % info)
        c.close()
    finally:
        s.stop()


# -- suite: scan --------------------------------------------------------------

def fill(c, prefix, start, n, chunk=1000):
    """MSETs keys prefix<start..start+n-1>, pipelined."""
    sent = 0
    for i in range(start, start + n, chunk):
        args = []
        for j in range(i, min(i + chunk, start + n)):
            args += ["%s%d" % (prefix, j), "v"]
        c.send(encode("MSET", *args))
        sent += 1
    for _ in range(sent):
        check(c.read_parsed() == b"+OK", "MSET")


def median_latency(c, argv_of, n):
    lat = []
    for i in range(n):
        t = time.perf_counter()
        r = c.call(*argv_of(i))
        lat.append(time.perf_counter() - t)
    lat.sort()
    return lat[len(lat) // 2], r


def suite_scan():
    """SCAN is a cursor: bounded work per call whatever the table's size,
    and every key present for the whole walk is returned while another
    client grows the keyspace a hundredfold."""
    count = 20
    for mode in ("direct", "message"):
        s = cachet(mode)
        try:
            c, grower = Conn(s.port), Conn(s.port)
            fill(c, "base:", 0, 1000)
            seen, cursor, steps, grown, biggest = set(), b"0", 0, 0, 0
            empty_steps = 0
            deadline = time.monotonic() + 30
            while True:
                cursor, keys = c.call("SCAN", cursor, "MATCH", "base:*",
                                      "COUNT", count)
                steps += 1
                biggest = max(biggest, len(keys))
                empty_steps += not keys and cursor != b"0"
                seen.update(keys)
                if grown < 99000:  # 1K -> 100K keys during the walk
                    fill(grower, "grow:", grown, 200)
                    grown += 200
                if cursor == b"0" or time.monotonic() > deadline:
                    break
            print("scan (%s): %d steps, %d keys grown meanwhile, at most %d "
                  "keys a reply, %d empty replies with a nonzero cursor"
                  % (mode, steps, grown, biggest, empty_steps))
            check(cursor == b"0", "%s: the walk ends at cursor 0" % mode)
            missing = {b"base:%d" % i for i in range(1000)} - seen
            check(not missing, "%s: %d keys never returned, e.g. %r"
                  % (mode, len(missing), sorted(missing)[:3]))
            check(all(k.startswith(b"base:") for k in seen),
                  "%s: MATCH applied" % mode)
            # About COUNT: a step stops after the bucket in which it reached
            # COUNT entries.
            check(biggest <= 2 * count, "%s: a reply of %d keys for COUNT %d"
                  % (mode, biggest, count))
            check(c.call("DBSIZE") == 1000 + grown, "%s: DBSIZE" % mode)
            # Without MATCH a walk of the 100K keys returns each (a table no
            # longer growing: exactly the keys there are).
            every, cursor = set(), b"0"
            while True:
                cursor, keys = c.call("SCAN", cursor, "COUNT", 1000)
                check(len(keys) <= 2000, "%s: COUNT 1000 reply of %d"
                      % (mode, len(keys)))
                every.update(keys)
                if cursor == b"0":
                    break
            check(len(every) == 1000 + grown, "%s: full walk saw %d keys"
                  % (mode, len(every)))
            check(c.call("SCAN", "0", "TYPE", "list")[1] == [],
                  "%s: TYPE list matches nothing" % mode)
            c.close()
            grower.close()
        finally:
            s.stop()
    # Bounded work: a SCAN step costs the same on 1K keys as on 200K (a
    # call that walked the whole table would cost 200 times more).
    s = cachet("direct")
    try:
        c = Conn(s.port)
        fill(c, "k", 0, 1000)
        step = lambda i: ("SCAN", str(i * 64), "COUNT", "10")
        small, _ = median_latency(c, step, 300)
        fill(c, "k", 1000, 199000)
        large, _ = median_latency(c, step, 300)
        print("scan: median SCAN COUNT 10 %.0f us on 1K keys, %.0f us on "
              "200K keys" % (small * 1e6, large * 1e6))
        check(large < 5 * small + 0.0002,
              "SCAN's cost grows with the table: %.0f us vs %.0f us"
              % (large * 1e6, small * 1e6))
        c.close()
    finally:
        s.stop()


# -- suite: info --------------------------------------------------------------

def info_sections(text):
    return [l[2:] for l in text.split(b"\r\n") if l.startswith(b"# ")]


def info_fields(text, section):
    """The field names of one section, in order."""
    out, inside = [], False
    for l in text.split(b"\r\n"):
        if l.startswith(b"# "):
            inside = l[2:] == section
        elif inside and b":" in l:
            out.append(l.split(b":", 1)[0])
    return out


def info_dict(text):
    return dict(l.split(b":", 1) for l in text.split(b"\r\n")
                if b":" in l and not l.startswith(b"#"))


def command_stats(text):
    """cmdstat_x -> (calls, rejected_calls, failed_calls)."""
    out = {}
    for k, v in info_dict(text).items():
        if k.startswith(b"cmdstat_"):
            f = dict(p.split(b"=") for p in v.split(b","))
            out[k] = (int(f[b"calls"]), int(f[b"rejected_calls"]),
                      int(f[b"failed_calls"]))
    return out


# Commands whose stats are compared with redis-server's: calls, refusals
# before running (arity, an unknown subcommand, DEBUG disabled) and error
# replies while running.
STATS_SEQUENCE = [
    ("SET", "a", "1"), ("SET", "b", "x", "EX", "100"), ("INCR", "a"),
    ("INCR", "b"), ("INCR", "a", "extra"), ("GET",), ("GET", "a"),
    ("GET", "nokey"), ("SET", "c", "v", "EX", "nope"), ("MSET", "a"),
    ("MSET", "a", "1", "b"), ("NOSUCH", "x"), ("CONFIG", "GET", "save"),
    ("CONFIG", "GET"), ("CONFIG", "NOPE"), ("COMMAND", "COUNT"),
    ("DEBUG", "CRASH-STORE"), ("PING", "a", "b"), ("DEL", "nokey"),
    ("EXPIRE", "a", "100"), ("TTL", "a"), ("SCAN", "0"), ("SCAN", "x"),
    ("INCRBYFLOAT", "b", "1"), ("PERSIST", "a"), ("DBSIZE",),
    # SETBIT counts a write only when it creates, grows or flips; an empty
    # BITOP deletes its destination once
    ("SETBIT", "sb", "0", "0"), ("SETBIT", "sb", "0", "0"),
    ("SETBIT", "sb", "0", "1"), ("SETBIT", "sb", "0", "1"),
    ("SETBIT", "sb", "9", "0"), ("SETBIT", "sb", "9", "0"),
    ("BITOP", "AND", "bo", "sb"), ("BITOP", "OR", "bo", "nokey"),
    ("BITOP", "OR", "bo", "nokey"),
]


def suite_info():
    import redis as pyredis
    servers = [redis(), cachet("direct"), cachet("message")]
    try:
        conns = [Conn(s.port) for s in servers]
        for cmd in STATS_SEQUENCE:
            for c in conns:
                c.call(*cmd)
        for s in servers:  # a protocol error is an error reply too
            bad = Conn(s.port)
            bad.send(b"*x\r\n")
            bad.read_until_eof()
            bad.close()
        stats = [c.call("INFO", "commandstats") for c in conns]
        errs = [c.call("INFO", "errorstats") for c in conns]
        counts = [info_dict(c.call("INFO", "stats")) for c in conns]
        for i, s in enumerate(servers[1:], 1):
            check(command_stats(stats[i]) == command_stats(stats[0]),
                  "%s commandstats: %r, redis-server %r"
                  % (s.name, sorted(command_stats(stats[i]).items()),
                     sorted(command_stats(stats[0]).items())))
            check(errs[i] == errs[0], "%s errorstats: %r, redis-server %r"
                  % (s.name, errs[i], errs[0]))
            for f in (b"total_error_replies", b"total_commands_processed"):
                check(counts[i].get(f) == counts[0].get(f),
                      "%s %s: %r, redis-server %r" % (
                          s.name, f, counts[i].get(f), counts[0].get(f)))
        dirty = [info_dict(c.call("INFO", "persistence"))
                 [b"rdb_changes_since_last_save"] for c in conns]
        check(dirty[1:] == [dirty[0]] * 2,
              "rdb_changes_since_last_save: %r, redis-server first" % dirty)
        # CONFIG RESETSTAT: the figures count again from zero (the
        # reset itself included), the write count does not.
        after = [("SET", "a", "1"), ("GET", "a"), ("GET", "nokey"),
                 ("NOSUCH",), ("GET",), ("CONFIG", "RESETSTAT", "x"),
                 ("SET", "gone", "v", "PX", "1")]
        for c in conns:
            check(c.call("CONFIG", "RESETSTAT") == b"+OK", "CONFIG RESETSTAT")
            for cmd in after:
                c.call(*cmd)
        time.sleep(0.05)
        for c in conns:
            c.call("GET", "gone")  # expired on access
        stats = [command_stats(c.call("INFO", "commandstats")) for c in conns]
        errs = [c.call("INFO", "errorstats") for c in conns]
        counts = [info_dict(c.call("INFO", "stats")) for c in conns]
        again = [info_dict(c.call("INFO", "persistence"))
                 [b"rdb_changes_since_last_save"] for c in conns]
        check(int(again[0]) > int(dirty[0]), "redis-server's write count "
              "after RESETSTAT: %r, before %r" % (again[0], dirty[0]))
        for i, s in enumerate(servers[1:], 1):
            check(stats[i] == stats[0], "%s commandstats after RESETSTAT: "
                  "%r, redis-server %r" % (s.name, sorted(stats[i].items()),
                                           sorted(stats[0].items())))
            check(errs[i] == errs[0], "%s errorstats after RESETSTAT: %r, "
                  "redis-server %r" % (s.name, errs[i], errs[0]))
            for f in (b"total_commands_processed", b"total_error_replies",
                      b"keyspace_hits", b"keyspace_misses", b"expired_keys",
                      b"total_connections_received", b"evicted_keys"):
                check(counts[i].get(f) == counts[0].get(f),
                      "%s %s after RESETSTAT: %r, redis-server %r" % (
                          s.name, f, counts[i].get(f), counts[0].get(f)))
            check(again[i] == again[0], "%s rdb_changes_since_last_save "
                  "after RESETSTAT: %r, redis-server %r"
                  % (s.name, again[i], again[0]))
        # Which sections each argument prints, in redis's order (cachet-redis
        # keeps no latency histograms: no Latencystats).
        for args in ((), ("default",), ("all",), ("everything",),
                     ("cpu", "server"), ("server", "server"), ("bogus",),
                     ("default", "commandstats"), ("all", "keyspace"),
                     ("CPU",), ("modules",), ("module_list",),
                     ("persistence", "replication", "errorstats"),
                     ("keyspace",), ("commandstats",), ("cluster",)):
            got = [info_sections(c.call("INFO", *args)) for c in conns]
            want = [t for t in got[0] if t != b"Latencystats"]
            for s, g in zip(servers[1:], got[1:]):
                check(g == want, "%s INFO %s: %r, redis-server %r"
                      % (s.name, " ".join(args), g, want))
        # Field names: persistence and replication as redis 7.0's for a
        # server without RDB, AOF or replicas; CPU's getrusage figures.
        full = [c.call("INFO", "everything") for c in conns]
        for section in (b"Persistence", b"Replication", b"Cluster"):
            want = info_fields(full[0], section)
            for s, f in zip(servers[1:], full[1:]):
                check(info_fields(f, section) == want,
                      "%s %s fields: %r, redis-server %r"
                      % (s.name, section, info_fields(f, section), want))
        cpu = [b"used_cpu_sys", b"used_cpu_user", b"used_cpu_sys_children",
               b"used_cpu_user_children"]
        for s, f in zip(servers, full):
            check(info_fields(f, b"CPU")[:4] == cpu, "%s CPU fields" % s.name)
            d = info_dict(f)
            for k in cpu:
                whole, _, frac = d.get(k, b"").partition(b".")
                check(whole.isdigit() and len(frac) == 6 and frac.isdigit(),
                      "%s %s: %r" % (s.name, k, d.get(k)))
            check(b"total_error_replies" in d, "%s total_error_replies"
                  % s.name)
            check(d.get(b"role") == b"master"
                  and len(d.get(b"master_replid", b"")) == 40,
                  "%s replication" % s.name)
            check(b"mem_allocator" in d, "%s mem_allocator" % s.name)
        for f in full[1:]:
            check(info_dict(f).get(b"mem_allocator") == b"libc",
                  "mem_allocator")
        # Keyspace: shown only when the db holds keys; keys and expires
        # counted, avg_ttl in ms.
        for s, c in zip(servers, conns):
            c.call("FLUSHALL")
            got = c.call("INFO", "keyspace")
            check(got == b"# Keyspace\r\n", "%s empty keyspace: %r"
                  % (s.name, got))
            c.call("SET", "p1", "v")
            c.call("SET", "p2", "v")
            c.call("SET", "t1", "v", "EX", "100")
            c.call("SET", "t2", "v", "PX", "50000")
            c.call("MSET", "p3", "v", "p4", "v")
            c.call("SET", "t1", "v2", "KEEPTTL")
            c.call("SET", "p2", "v3")  # still without a TTL
            got = c.call("INFO", "keyspace")
            line = got.split(b"\r\n")[1]
            fields = dict(p.split(b"=") for p in line.split(b":", 1)[1]
                          .split(b","))
            check(line.startswith(b"db0:") and fields[b"keys"] == b"6"
                  and fields[b"expires"] == b"2",
                  "%s keyspace: %r" % (s.name, got))
            if s is not servers[0]:  # redis's avg_ttl is a sampled estimate
                avg = int(fields[b"avg_ttl"])
                check(50000 < avg <= 75000, "%s avg_ttl %d" % (s.name, avg))
        # What monitoring reads: the instantaneous rates follow the load
        # (checked on redis-server too, as the yardstick of the bounds),
        # and fall back once it stops; the process's facts.
        for s in servers:
            c = Conn(s.port)
            batch = encode("PING") * 200
            sent, start = 0, time.time()
            while time.time() - start < 2.0:
                c.send(batch)
                for _ in range(200):
                    c.read_raw()
                sent += 200
            rate = sent / (time.time() - start)
            f = info_dict(c.call("INFO", "everything"))
            ops = int(f[b"instantaneous_ops_per_sec"])
            check(0.5 * rate < ops < 1.5 * rate,
                  "%s instantaneous_ops_per_sec %d at %.0f PINGs/s"
                  % (s.name, ops, rate))
            kbps = float(f[b"instantaneous_input_kbps"])
            check(0.5 * rate * 14 / 1024 < kbps < 1.5 * rate * 14 / 1024,
                  "%s instantaneous_input_kbps %.2f at %.0f PINGs/s"
                  % (s.name, kbps, rate))
            check(float(f[b"instantaneous_output_kbps"]) > 0,
                  "%s instantaneous_output_kbps" % s.name)
            check(re.fullmatch(rb"[0-9a-f]{40}", f[b"run_id"])
                  and f[b"arch_bits"] == b"64" and f[b"hz"] == b"10"
                  and f[b"os"].startswith(b"Linux ")
                  and abs(int(f[b"server_time_usec"]) / 1e6 - time.time()) < 5
                  and f[b"blocked_clients"] == b"0"
                  and float(f[b"mem_fragmentation_ratio"]) > 0,
                  "%s INFO's server facts: %r" % (s.name, f))
            time.sleep(2.0)
            ops = int(info_dict(c.call("INFO", "stats"))
                      [b"instantaneous_ops_per_sec"])
            check(ops < 0.1 * rate, "%s instantaneous_ops_per_sec %d idle, "
                  "%.0f under load" % (s.name, ops, rate))
            c.close()
        # redis-py parses every section.
        for s in servers:
            r = pyredis.Redis(port=s.port)
            info = r.info("everything")
            check(isinstance(info.get("used_cpu_user"), float),
                  "%s redis-py CPU: %r" % (s.name, info.get("used_cpu_user")))
            check(info.get("db0", {}).get("keys") == 6,
                  "%s redis-py keyspace: %r" % (s.name, info.get("db0")))
            check(info.get("cmdstat_set", {}).get("calls", 0) > 0,
                  "%s redis-py commandstats: %r"
                  % (s.name, info.get("cmdstat_set")))
            # redis-py 4.3 leaves "count=N" (no comma) as a string.
            check(str(info.get("errorstat_ERR")).startswith("count="),
                  "%s redis-py errorstats: %r"
                  % (s.name, info.get("errorstat_ERR")))
            check(info.get("aof_enabled") == 0 and info.get("loading") == 0
                  and isinstance(info.get("rdb_changes_since_last_save"), int)
                  and info.get("connected_slaves") == 0
                  and info.get("cluster_enabled") == 0,
                  "%s redis-py persistence/replication/cluster" % s.name)
            check(r.info() and "db0" in r.info() and "used_cpu_sys" in r.info(),
                  "%s redis-py default INFO" % s.name)
            r.close()
    finally:
        for s in servers:
            s.stop()


def suite_slowlog():
    """SLOWLOG against redis-server: what is logged (every command at a
    threshold of 0 but EXEC, nothing at 1 s or -1), with what arguments
    (secrets redacted, at most 32, each at most 128 bytes), whose client,
    how many are kept; the ids, times, durations and ports are each
    server's own, so they are checked, then masked."""
    servers = [redis(), cachet("direct"), cachet("message")]
    try:
        logs = []
        for s in servers:
            c = Conn(s.port)
            port = c.sock.getsockname()[1]
            for cmd in [("CONFIG", "SET", "slowlog-log-slower-than", "0"),
                        ("CONFIG", "SET", "slowlog-max-len", "12"),
                        ("SLOWLOG", "RESET"), ("CLIENT", "SETNAME", "bob"),
                        ("SET", "k", "v"), ("AUTH", "a", "b"),
                        ("HELLO", "2", "AUTH", "default", "x"),
                        ("CONFIG", "SET", "requirepass", "",
                         "slowlog-max-len", "12"),
                        ("MSET",) + tuple("k%d" % i for i in range(40)),
                        ("SET", "long", "A" * 129), ("MULTI",),
                        ("INCR", "n"), ("GET", "n"), ("EXEC",),
                        ("GET",)]:  # refused before it ran: not logged
                c.call(*cmd)
            before = time.time()
            got = c.call("SLOWLOG", "GET", "-1")
            entries = []
            for e in got:
                check(isinstance(e[0], int) and e[2] >= 0
                      and abs(e[1] - before) < 10,
                      "%s slowlog entry's id, time, duration: %r"
                      % (s.name, e[:3]))
                check(e[4] == b"127.0.0.1:%d" % port,
                      "%s slowlog entry's client: %r, not port %d"
                      % (s.name, e[4], port))
                entries.append((e[3], e[5]))
            ids = [e[0] for e in got]
            check(ids == sorted(ids, reverse=True)
                  and len(set(ids)) == len(ids),
                  "%s slowlog ids: %r" % (s.name, ids))
            logs.append(entries)
            # The bound: trimmed as soon as it is lowered; off at -1 and
            # past a threshold no command reaches.
            lens = [c.call("CONFIG", "SET", "slowlog-max-len", "3"),
                    c.call("SLOWLOG", "LEN"),
                    c.call("CONFIG", "SET", "slowlog-log-slower-than", "-1"),
                    c.call("SLOWLOG", "RESET"), c.call("SET", "k", "v"),
                    c.call("SLOWLOG", "LEN"),
                    c.call("CONFIG", "SET", "slowlog-log-slower-than",
                           "1000000"),
                    c.call("SET", "k", "v"), c.call("SLOWLOG", "LEN"),
                    c.call("SLOWLOG", "GET", "0")]
            logs.append(lens)
            c.close()
        for s, log in zip(servers[1:], logs[2::2]):
            check(log == logs[0], "%s SLOWLOG GET: %r, redis-server %r"
                  % (s.name, log, logs[0]))
        for s, lens in zip(servers[1:], logs[3::2]):
            check(lens == logs[1], "%s slowlog bound: %r, redis-server %r"
                  % (s.name, lens, logs[1]))
        check(len(logs[0]) == 11 and logs[1][1] == 3 and logs[1][5] == 0
              and logs[1][8] == 0,
              "redis-server's slowlog: %r" % logs[:2])
    finally:
        for s in servers:
            s.stop()


def suite_monitor():
    """MONITOR against redis-server: the lines two other clients' commands
    give (not the administrative ones, not those refused before they ran;
    secrets redacted; bytes quoted as redis quotes them; a transaction's
    commands before its EXEC), whose client each is, and RESET ending it.
    The timestamps are each server's own: checked, then masked."""
    servers = [redis(), cachet("direct"), cachet("message")]
    steps = [(0, ("SET", "k", "v")), (1, ("GET", "k")),
             (0, ("CONFIG", "GET", "maxmemory")), (0, ("AUTH", "x")),
             (1, ("CLIENT", "SETNAME", "bob")), (1, ("CLIENT", "LIST")),
             (0, ("MULTI",)), (0, ("INCR", "n")), (1, ("INCR", "n")),
             (0, ("EXEC",)),
             (1, ("SET", "bin", b"a\x00b\"\\\n\r\t\x07\x08\xff~ ")),
             (0, ("GET|",)), (0, ("GET",)), (1, ("SLOWLOG", "LEN")),
             (1, ("HELLO", "2", "AUTH", "default", "x")),
             (0, ("ECHO", "end"))]
    seen = []
    try:
        for s in servers:
            m = Conn(s.port)
            check(m.call("MONITOR") == b"+OK", "%s MONITOR" % s.name)
            conns = [Conn(s.port), Conn(s.port)]
            who = {b"127.0.0.1:%d" % c.sock.getsockname()[1]: i
                   for i, c in enumerate(conns)}
            for i, cmd in steps:
                conns[i].call(*cmd)
            lines = []
            while not lines or not lines[-1].endswith(b'"ECHO" "end"'):
                lines.append(m._line())
            got = []
            for l in lines:
                hit = re.fullmatch(rb"\+(\d+)\.(\d{6}) \[0 ([^\]]*)\] (.*)", l)
                check(hit is not None
                      and abs(int(hit.group(1)) - time.time()) < 10,
                      "%s MONITOR line %r" % (s.name, l))
                if hit:
                    got.append((who.get(hit.group(3), hit.group(3)),
                                hit.group(4)))
            seen.append(got)
            # A second MONITOR has no reply; RESET ends it, and what others
            # run after it is not sent.
            m.send(encode("MONITOR"))
            check(m.call("RESET") == b"+RESET", "%s RESET" % s.name)
            conns[0].call("SET", "after", "1")
            check(m.call("PING") == b"+PONG",
                  "%s: a command after RESET reached the monitor" % s.name)
            for c in conns + [m]:
                c.close()
        for s, got in zip(servers[1:], seen[1:]):
            check(got == seen[0], "%s MONITOR: %r, redis-server %r"
                  % (s.name, got, seen[0]))
        check(len(seen[0]) == 11, "redis-server's MONITOR: %r" % seen[0])
    finally:
        for s in servers:
            s.stop()
    # Monitors that hang up while lines are fed to them: the loop that
    # sends their feed finds them gone (a batch of events once named a
    # connection this freed earlier in the batch).
    s = cachet("direct")
    try:
        writer = Conn(s.port)
        stop = threading.Event()

        def write():
            while not stop.is_set():
                writer.send(encode("SET", "k", "v") * 200)
                for _ in range(200):
                    writer.read_raw()

        t = threading.Thread(target=write)
        t.start()
        try:
            for _ in range(300):
                m = Conn(s.port)
                m.call("MONITOR")
                m.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                  b"\x01\x00\x00\x00\x00\x00\x00\x00")
                m.close()  # a reset, with lines on the way
        finally:
            stop.set()
            t.join()
        check(s.proc.poll() is None and Conn(s.port).call("PING") == b"+PONG",
              "the server after 300 monitors hung up: %r" % s.proc.poll())
        writer.close()
    finally:
        s.stop()
    # A monitor that does not read is closed at the output-buffer limit,
    # as any client: what others write does not pile up for it.
    s = cachet("direct", "--output-buffer-limit=1mb")
    try:
        m = Conn(s.port)
        m.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        m.call("MONITOR")
        c = Conn(s.port)
        value = "x" * 65536
        deadline = time.time() + 30
        while time.time() < deadline:
            for i in range(50):
                c.call("SET", "big%d" % i, value)
            if b"cmd=monitor" not in c.call("CLIENT", "LIST"):
                break
        check(b"cmd=monitor" not in c.call("CLIENT", "LIST"),
              "a monitor that never reads was not closed")
        check(info_int(c, "connected_clients", "clients") == 1,
              "connected_clients after the monitor was closed")
        m.close()
        c.close()
    finally:
        s.stop()


def replay(label, servers, steps, width):
    """Sends each step's command on connection `who` (of `width`) of every
    server, opening it at first use, and checks cachet's replies (servers
    1 and 2: direct, message) against redis-server's (server 0) byte for
    byte; a step (None, s) sleeps s seconds. Closes the connections."""
    conns = [[None] * width for _ in servers]
    for who, cmd in steps:
        if who is None:
            time.sleep(cmd)
            continue
        wire = encode(*cmd)
        replies = []
        for i, srv in enumerate(servers):
            if conns[i][who] is None:
                conns[i][who] = Conn(srv.port)
            conns[i][who].send(wire)
            replies.append(conns[i][who].read_raw())
        for name, got in zip(("direct", "message"), replies[1:]):
            check(got == replies[0], "%s %s: %r -> %r, redis-server %r"
                  % (label, name, cmd, got, replies[0]))
    for row in conns:
        for c in row:
            if c is not None:
                c.close()


# -- suite: transactions ------------------------------------------------------

def suite_transactions():
    """MULTI, EXEC, DISCARD, WATCH, UNWATCH reply for reply against
    redis-server; EXEC isolated from concurrent clients."""
    import threading
    servers = [redis(), cachet("direct"), cachet("message")]
    try:
        steps = [
            (0, ("EXEC",)), (0, ("DISCARD",)), (0, ("MULTI",)),
            (0, ("MULTI",)), (0, ("SET", "a", "1")), (0, ("WATCH", "x")),
            (0, ("INCR", "a")), (0, ("GET", "a")), (0, ("EXEC",)),
            (0, ("MULTI",)), (0, ("SET", "a", "2")), (0, ("NOSUCH",)),
            (0, ("SET", "b")), (0, ("EXEC",)), (0, ("GET", "a")),
            (0, ("MULTI",)), (0, ("SET", "a", "x")), (0, ("INCR", "a")),
            (0, ("GET", "a")), (0, ("DEL", "a", "nokey")), (0, ("EXEC",)),
            (0, ("MULTI",)), (0, ("EXEC",)),
            (0, ("MULTI",)), (0, ("SET", "q", "1")), (0, ("DISCARD",)),
            (0, ("GET", "q")),
            # WATCH: another connection's write fails the EXEC ...
            (0, ("SET", "w", "1")), (0, ("WATCH", "w", "v")),
            (1, ("SET", "w", "2")), (0, ("MULTI",)), (0, ("GET", "w")),
            (0, ("EXEC",)), (0, ("GET", "w")),
            # ... and the EXEC unwatched it: the next one goes through.
            (0, ("MULTI",)), (0, ("GET", "w")), (0, ("EXEC",)),
            # its own write too; a write that changes nothing does not.
            (0, ("WATCH", "w")), (0, ("SET", "w", "3")), (0, ("MULTI",)),
            (0, ("PING",)), (0, ("EXEC",)),
            (0, ("WATCH", "w")), (1, ("SET", "w", "4", "NX")),
            (1, ("EXPIRE", "nokey", "10")), (0, ("MULTI",)),
            (0, ("GET", "w")), (0, ("EXEC",)),
            # RESET: the transaction discarded (RESET itself not queued),
            # the watches dropped, the name cleared.
            (0, ("MULTI",)), (0, ("SET", "q", "3")), (0, ("RESET",)),
            (0, ("EXEC",)), (0, ("GET", "q")), (0, ("WATCH", "wr")),
            (0, ("RESET",)), (1, ("SET", "wr", "1")), (0, ("MULTI",)),
            (0, ("GET", "wr")), (0, ("EXEC",)),
            (0, ("CLIENT", "SETNAME", "foo")), (0, ("RESET",)),
            (0, ("CLIENT", "GETNAME")),
            # A subcommand unknown or of the wrong arity is refused when
            # queued: EXECABORT.
            (0, ("MULTI",)), (0, ("CONFIG", "GET_XX")), (0, ("SET", "q", "2")),
            (0, ("EXEC",)), (0, ("MULTI",)), (0, ("CLIENT", "SETNAME")),
            (0, ("EXEC",)), (0, ("GET", "q")),
            # SETBIT writes only when it changes the string; BITOP writes.
            (0, ("SET", "wb", "a")), (0, ("WATCH", "wb")),
            (1, ("SETBIT", "wb", "1", "1")), (0, ("MULTI",)),
            (0, ("GET", "wb")), (0, ("EXEC",)),
            (0, ("WATCH", "wb")), (1, ("SETBIT", "wb", "0", "1")),
            (0, ("MULTI",)), (0, ("GET", "wb")), (0, ("EXEC",)),
            (0, ("WATCH", "wb")), (1, ("SETBIT", "wb", "20", "0")),
            (0, ("MULTI",)), (0, ("STRLEN", "wb")), (0, ("EXEC",)),
            (0, ("WATCH", "wb")), (1, ("BITOP", "NOT", "wb", "wb")),
            (0, ("MULTI",)), (0, ("GET", "wb")), (0, ("EXEC",)),
            (0, ("MULTI",)), (0, ("BITOP", "XOR", "wx", "wb", "w")),
            (0, ("BITPOS", "wx", "1")), (0, ("EXEC",)),
            # UNWATCH, and a watched key deleted, renamed onto, flushed.
            (0, ("WATCH", "w")), (1, ("DEL", "w")), (0, ("UNWATCH",)),
            (0, ("MULTI",)), (0, ("EXISTS", "w")), (0, ("EXEC",)),
            (0, ("SET", "r", "1")), (0, ("WATCH", "w")),
            (1, ("RENAME", "r", "w")), (0, ("MULTI",)), (0, ("GET", "w")),
            (0, ("EXEC",)),
            (0, ("WATCH", "w")), (1, ("FLUSHALL",)), (0, ("MULTI",)),
            (0, ("DBSIZE",)), (0, ("EXEC",)),
            (0, ("WATCH", "m1")), (1, ("MSET", "m0", "a", "m1", "b")),
            (0, ("MULTI",)), (0, ("MGET", "m0", "m1")), (0, ("EXEC",)),
            (0, ("MULTI",)), (0, ("WATCH", "z")), (0, ("EXEC",)),
            # FLUSHALL and FLUSHDB touch only watched keys they remove
            # live: not absent ones, not ones already expired.
            (0, ("WATCH", "absent")), (1, ("SET", "other", "1")),
            (1, ("FLUSHALL",)), (0, ("MULTI",)), (0, ("PING",)),
            (0, ("EXEC",)), (0, ("SET", "stale", "v", "PX", "1")),
            (None, 0.02), (0, ("WATCH", "stale")), (1, ("FLUSHDB",)),
            (0, ("MULTI",)), (0, ("PING",)), (0, ("EXEC",)),
            (2, ("MULTI",)), (2, ("SET", "gone", "1")), (2, ("QUIT",)),
            (1, ("EXISTS", "gone")),
            # A key live at WATCH that expires before EXEC fails it; one
            # already expired at WATCH does not.
            (0, ("SET", "e", "v", "PX", "100")), (0, ("WATCH", "e")),
            (None, 0.3), (0, ("MULTI",)), (0, ("PING",)), (0, ("EXEC",)),
            (0, ("SET", "s", "v", "PX", "50")), (None, 0.2),
            (0, ("WATCH", "s")), (0, ("MULTI",)), (0, ("PING",)),
            (0, ("EXEC",)),
        ]
        replay("transactions", servers, steps, 3)
        # In RESP3 a failed EXEC is the null, and so is a null inside one.
        for s in servers:
            a, b = Conn(s.port), Conn(s.port)
            a.call("HELLO", "3")
            a.call("WATCH", "r3")
            b.call("SET", "r3", "1")
            a.call("MULTI")
            a.call("GET", "r3")
            a.send(encode("EXEC"))
            check(a.read_raw() == b"_\r\n", "transactions %s: RESP3 EXEC of a "
                  "watched key written" % s.name)
            a.call("MULTI")
            a.call("GET", "nokey")
            a.send(encode("EXEC"))
            check(a.read_raw() == b"*1\r\n_\r\n",
                  "transactions %s: RESP3 EXEC with a null" % s.name)
            a.close()
            b.close()
        # redis-py's pipeline(), a transaction by default, and its
        # optimistic locking with WATCH.
        import redis as pyredis
        for srv in servers[1:]:
            r = pyredis.Redis(port=srv.port)
            p = r.pipeline()
            p.set("py", "1").incr("py").get("py")
            check(p.execute() == [True, 2, b"2"],
                  "transactions %s: redis-py pipeline" % srv.name)
            with r.pipeline() as p:
                p.watch("py")
                r.set("py", "changed")  # another client's write
                p.multi()
                p.set("py", "mine")
                try:
                    p.execute()
                    check(False, "transactions %s: redis-py WATCH did not "
                          "fail" % srv.name)
                except pyredis.exceptions.WatchError:
                    pass
            check(r.get("py") == b"changed",
                  "transactions %s: a failed EXEC wrote" % srv.name)
            r.close()
        # Isolation: writers move a and b together in transactions while
        # readers MGET both outside any; no reader may see them apart.
        for srv in servers[1:]:
            Conn(srv.port).call("MSET", "a", "0", "b", "0")
            stop = time.monotonic() + 1.5
            torn = []
            execs = [0]

            def writer():
                c = Conn(srv.port)
                while time.monotonic() < stop:
                    c.send(encode("MULTI") + encode("INCR", "a")
                           + encode("INCR", "b") + encode("EXEC"))
                    for _ in range(3):
                        c.read_parsed()
                    r = c.read_parsed()
                    check(isinstance(r, list) and r[0] == r[1],
                          "transactions: EXEC of two INCRs: %r" % r)
                    execs[0] += 1
                c.close()

            def reader():
                c = Conn(srv.port)
                while time.monotonic() < stop:
                    a, b = c.call("MGET", "a", "b")
                    if a != b:
                        torn.append((a, b))
                c.close()

            threads = ([threading.Thread(target=writer) for _ in range(3)]
                       + [threading.Thread(target=reader) for _ in range(3)])
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            final = Conn(srv.port).call("MGET", "a", "b")
            check(not torn, "transactions %s: readers saw a and b apart: %r"
                  % (srv.name, torn[:5]))
            check(final[0] == final[1] == str(execs[0]).encode(),
                  "transactions %s: %d EXECs, a and b %r"
                  % (srv.name, execs[0], final))
            check(execs[0] > 50, "transactions %s: only %d EXECs ran"
                  % (srv.name, execs[0]))
            # RENAME is atomic as a whole: a key renamed back and forth is
            # always in exactly one of its two places.
            Conn(srv.port).call("SET", "r1", "v")
            stop = time.monotonic() + 1.0
            seen = []

            def renamer():
                c = Conn(srv.port)
                src, dst = "r1", "r2"
                while time.monotonic() < stop:
                    check(c.call("RENAME", src, dst) == b"+OK",
                          "transactions: RENAME %s %s" % (src, dst))
                    src, dst = dst, src
                c.close()

            def counter():
                c = Conn(srv.port)
                while time.monotonic() < stop:
                    n = c.call("EXISTS", "r1", "r2")
                    if n != 1:
                        seen.append(n)
                c.close()

            threads = ([threading.Thread(target=renamer)]
                       + [threading.Thread(target=counter) for _ in range(3)])
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            check(not seen, "transactions %s: EXISTS r1 r2 during RENAMEs "
                  "gave %r" % (srv.name, seen[:5]))
    finally:
        for s in servers:
            check(s.stop() == 0, "transactions: %s exits cleanly" % s.name)


# -- suite: security ----------------------------------------------------------

def suite_security():
    """requirepass, AUTH, NOAUTH, CONFIG SET requirepass and rename-command,
    reply for reply against redis-server started with the same options."""
    import redis as pyredis
    opts = ["--requirepass", "sekret", "--protected-mode", "yes",
            "--rename-command", "FLUSHALL", "myflush",
            "--rename-command", "KEYS", ""]
    servers = [redis(*opts), cachet("direct", *opts),
               cachet("message", *opts)]
    try:
        # Each step: (connection index, command); connections open as the
        # steps first use them, so a password change meets new ones.
        steps = [
            (0, ("SET", "k", "v")), (0, ("PING",)), (0, ("GET", "k")),
            (0, ("SET", "k")), (0, ("NOSUCH", "x")), (0, ("KEYS", "*")),
            (0, ("AUTH",)), (0, ("AUTH", "a", "b", "c")),
            (0, ("AUTH", "wrong")), (0, ("AUTH", "default", "wrong")),
            (0, ("AUTH", "bob", "sekret")), (0, ("GET", "k")),
            (0, ("AUTH", "sekret")), (0, ("SET", "k", "v")),
            (0, ("GET", "k")), (0, ("KEYS", "*")), (0, ("FLUSHALL",)),
            (0, ("CONFIG", "GET", "requirepass")),
            (1, ("AUTH", "default", "sekret")), (1, ("GET", "k")),
            (0, ("CONFIG", "SET", "requirepass")),
            (0, ("CONFIG", "SET", "requirepass", "a", "b")),
            (0, ("CONFIG", "SET", "nosuch", "1")),
            (0, ("CONFIG", "SET", "protected-mode", "maybe")),
            (0, ("CONFIG", "SET", "requirepass", "a", "REQUIREPASS", "b")),
            (0, ("CONFIG", "SET", "protected-mode", "no", "nosuch", "1")),
            (0, ("CONFIG", "GET", "protected-mode")),
            (0, ("CONFIG", "SET", "protected-mode", "No")),
            (0, ("CONFIG", "GET", "protected-mode")),
            (0, ("CONFIG", "SET", "protected-mode", "yes")),
            (0, ("CONFIG", "SET", "requirepass", "n3w")),
            (0, ("GET", "k")), (1, ("GET", "k")),
            (2, ("GET", "k")), (2, ("AUTH", "sekret")), (2, ("AUTH", "n3w")),
            (2, ("GET", "k")), (2, ("MYFLUSH",)), (2, ("DBSIZE",)),
            (0, ("CONFIG", "SET", "requirepass", "")),
            (3, ("SET", "k", "v")), (3, ("AUTH", "x")),
            (3, ("AUTH", "default", "anything")), (3, ("GET", "k")),
            (3, ("QUIT",)),
        ]
        # HELLO with and without AUTH on a connection not yet
        # authenticated; the map's version and client id are cachet's own.
        hello = [("HELLO", "3"), ("HELLO", "3", "AUTH", "default", "no"),
                 ("HELLO", "2", "AUTH", "bob", "sekret"), ("GET", "nokey"),
                 ("HELLO", "3", "AUTH", "default", "sekret"),
                 ("GET", "nokey"), ("HELLO",), ("HELLO", "2"),
                 ("GET", "nokey"),
                 # RESET: RESP2 again, and not authenticated
                 ("HELLO", "3"), ("RESET",), ("GET", "nokey"),
                 ("AUTH", "sekret"), ("GET", "nokey"), ("RESET", "x")]
        got = []
        for s in servers:
            c = Conn(s.port)
            replies = []
            for cmd in hello:
                c.send(encode(*cmd))
                replies.append(hello_normalized(c.read_raw()))
            got.append(replies)
            c.close()
        check(got[0][4].startswith(b"%7") and got[0][5] == b"_\r\n"
              and got[0][7].startswith(b"*14"),
              "security: redis-server's HELLO %r" % got[0])
        for s, r in zip(servers[1:], got[1:]):
            check(r == got[0], "security %s HELLO: %r, redis-server %r"
                  % (s.name, r, got[0]))
        replay("security", servers, steps, 4)
        # COMMAND lists the new name, not the old, and not KEYS.
        for srv in servers[1:]:
            c = Conn(srv.port)
            c.call("AUTH", "x")
            names = c.call("COMMAND", "LIST")
            check(b"myflush" in names and b"flushall" not in names
                  and b"keys" not in names,
                  "security: COMMAND LIST under rename-command: %r" % names)
            c.close()
        # Protected mode: with no password, a client from 127.0.0.2 gets
        # redis's DENIED text and the connection closes; 127.0.0.1 is
        # served; CONFIG SET protected-mode no lets 127.0.0.2 in.
        guarded = [redis("--protected-mode", "yes"), cachet("direct"),
                   cachet("message")]
        try:
            def from_addr(srv, src):
                s = socket.socket()
                s.settimeout(10)
                s.bind((src, 0))
                s.connect(("127.0.0.1", srv.port))
                c = Conn.__new__(Conn)
                c.sock, c.buf = s, b""
                return c
            denied = []
            for srv in guarded:
                c = from_addr(srv, "127.0.0.2")
                c.send(encode("PING"))
                denied.append(c.read_until_eof())
                c.close()
            check(denied[0].startswith(b"-DENIED Redis is running in "
                                       b"protected mode"),
                  "security: redis-server denies 127.0.0.2: %r"
                  % denied[0][:80])
            for name, got in zip(("direct", "message"), denied[1:]):
                check(got == denied[0], "security %s: 127.0.0.2 got %r"
                      % (name, got[:200]))
            for srv in guarded:
                local = Conn(srv.port)
                check(local.call("PING") == b"+PONG",
                      "security: %s serves 127.0.0.1" % srv.name)
                check(local.call("CONFIG", "SET", "protected-mode", "no")
                      == b"+OK", "security: %s turns protected mode off"
                      % srv.name)
                c = from_addr(srv, "127.0.0.2")
                check(c.call("PING") == b"+PONG",
                      "security: %s serves 127.0.0.2 with protected-mode no"
                      % srv.name)
                stats = info_dict(local.call("INFO", "stats"))
                check(stats.get(b"rejected_connections") == b"1",
                      "security: %s rejected_connections %r"
                      % (srv.name, stats.get(b"rejected_connections")))
                c.close()
                local.close()
        finally:
            for srv in guarded:
                check(srv.stop() == 0, "security: %s exits cleanly" % srv.name)
        # A client library: redis-py with a password, and without one.
        srv = cachet("direct", "--requirepass=pw")
        try:
            good = pyredis.Redis(port=srv.port, password="pw")
            check(good.set("a", "1") and good.get("a") == b"1",
                  "security: redis-py with the password")
            try:
                pyredis.Redis(port=srv.port).get("a")
                check(False, "security: redis-py without a password read")
            except pyredis.exceptions.AuthenticationError:
                pass
            try:
                pyredis.Redis(port=srv.port, password="no").get("a")
                check(False, "security: redis-py with a wrong password read")
            except pyredis.exceptions.ResponseError as e:
                check(str(e).startswith("WRONGPASS"),
                      "security: redis-py with a wrong password: %s" % e)
        finally:
            check(srv.stop() == 0, "security: clean exit")
    finally:
        for s in servers:
            check(s.stop() == 0, "security: %s exits cleanly" % s.name)


# -- suite: maxmemory ---------------------------------------------------------

def info_int(conn, field, section="memory"):
    return int(info_dict(conn.call("INFO", section))[field.encode()])


def suite_maxmemory():
    """maxmemory: noeviction's refusals (OOM, in MULTI and at EXEC) and
    CONFIG's replies byte for byte against redis-server; the bound held by
    8 concurrent writers; what each policy evicts."""
    servers = [redis(), cachet("direct"), cachet("message")]
    try:
        full = [(1, ("CONFIG", "SET", "maxmemory", "1"))]
        room = [(1, ("CONFIG", "SET", "maxmemory", "0"))]
        steps = [
            (0, ("SET", "a", "1")), (0, ("SET", "b", "2")),
            (1, ("CONFIG", "SET", "maxmemory-policy", "noeviction")),
            (1, ("CONFIG", "GET", "maxmemory-policy")),
        ] + full + [
            (0, ("SET", "c", "3")), (0, ("GET", "a")), (0, ("APPEND", "a", "x")),
            (0, ("INCR", "a")), (0, ("SETNX", "z", "1")),
            (0, ("MSET", "y", "1")), (0, ("SETRANGE", "a", "0", "x")),
            (0, ("COPY", "a", "a2")), (0, ("GETSET", "a", "2")),
            (0, ("EXPIRE", "a", "100")), (0, ("PERSIST", "a")),
            (0, ("GETEX", "a")), (0, ("DEL", "b")), (0, ("EXISTS", "b", "c")),
            (0, ("RENAME", "a", "b")), (0, ("GET", "b")), (0, ("PING",)),
            (0, ("DBSIZE",)),
            # In MULTI every queued command is refused, and EXEC aborts.
            (0, ("MULTI",)), (0, ("GET", "b")), (0, ("SET", "q", "1")),
            (0, ("EXEC",)), (0, ("MULTI",)), (0, ("DISCARD",)),
        ] + room + [
            (0, ("MULTI",)), (0, ("SET", "x", "1")), (0, ("GET", "x")),
        ] + full + [
            # Full by EXEC: a queue that writes aborts, one that reads runs.
            (0, ("EXEC",)), (0, ("GET", "x")), (0, ("EXEC",)),
        ] + room + [
            (0, ("MULTI",)), (0, ("GET", "b")), (0, ("EXISTS", "x")),
        ] + full + [
            (0, ("EXEC",)),
        ] + room + [
            (0, ("SET", "c", "3")), (0, ("GET", "c")),
            (1, ("CONFIG", "SET", "maxmemory", "10MB")),
            (1, ("CONFIG", "GET", "maxmemory")),
            (1, ("CONFIG", "SET", "maxmemory", "1k")),
            (1, ("CONFIG", "GET", "maxmemory")),
            (1, ("CONFIG", "SET", "maxmemory", "abc")),
            (1, ("CONFIG", "SET", "maxmemory", "-1")),
            (1, ("CONFIG", "SET", "maxmemory", "1.5mb")),
            (1, ("CONFIG", "SET", "maxmemory-samples", "0")),
            (1, ("CONFIG", "SET", "maxmemory-samples", "x")),
            (1, ("CONFIG", "SET", "maxmemory-samples", "10")),
            (1, ("CONFIG", "GET", "maxmemory-samples")),
            (1, ("CONFIG", "SET", "maxmemory-policy", "ALLKEYS-LRU")),
            (1, ("CONFIG", "GET", "maxmemory-policy")),
            (1, ("CONFIG", "SET", "maxmemory", "0", "maxmemory-policy",
                 "volatile-ttl")),
            (1, ("CONFIG", "GET", "maxmemory*policy")),
            # A bound under what the server holds besides its keys: every
            # key goes, and the write is refused all the same.
            (1, ("CONFIG", "SET", "maxmemory-policy", "allkeys-lru")),
            (0, ("SET", "a", "1")), (0, ("SET", "b", "2")),
        ] + full + [
            (0, ("SET", "c", "3")), (0, ("DBSIZE",)), (0, ("GET", "a")),
        ] + room
        replay("maxmemory", servers, steps, 2)
        # cachet's own policy is in its error's list.
        c = Conn(servers[1].port)
        got = c.call("CONFIG", "SET", "maxmemory-policy", "bogus")
        check(got == b"-ERR CONFIG SET failed (possibly related to argument "
              b"'maxmemory-policy') - argument(s) must be one of the "
              b"following: volatile-lru, volatile-lfu, volatile-random, "
              b"volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, "
              b"allkeys-s3fifo, noeviction", "maxmemory: bad policy: %r" % got)
        c.close()
    finally:
        for s in servers:
            check(s.stop() == 0, "maxmemory: %s exits cleanly" % s.name)

    for mode in ("direct", "message"):
        maxmemory_bound(mode)
        maxmemory_during_saves(mode)
        maxmemory_during_saves(mode, overwrite=True)
    maxmemory_policies()


def set_batch(c, n, i, value, errors):
    """Writer n's keys w<n>:<i> to w<n>:<i + 31>, values from value(),
    pipelined; the replies that are not +OK go to errors."""
    c.send(b"".join(encode("SET", "w%d:%d" % (n, i + j), value())
                    for j in range(32)))
    for _ in range(32):
        r = c.read_parsed()
        if r != b"+OK":
            errors.append(r)


def maxmemory_bound(mode):
    """8 writers of keys of 50 B to 2 KB against a 16 MB bound: the highest
    used_memory ever seen (INFO polled, and used_memory_peak) stays within
    5% of the bound, keys are evicted, and what is left reads back."""
    bound = 16 * 1024 * 1024
    srv = cachet(mode, "--maxmemory=16mb")
    try:
        stop = threading.Event()
        seen = [0]
        errors = []

        def poll():
            c = Conn(srv.port)
            while not stop.is_set():
                seen[0] = max(seen[0], info_int(c, "used_memory"))
                time.sleep(0.01)
            c.close()

        def write(n):
            c = Conn(srv.port)
            rnd = random.Random(n)
            deadline = time.monotonic() + 3
            i = 0
            while time.monotonic() < deadline and i < 200000:
                set_batch(c, n, i, lambda: "v" * rnd.randint(50, 2000), errors)
                i += 32
            c.close()

        poller = threading.Thread(target=poll)
        poller.start()
        writers = [threading.Thread(target=write, args=(n,)) for n in range(8)]
        for t in writers:
            t.start()
        for t in writers:
            t.join()
        stop.set()
        poller.join()
        c = Conn(srv.port)
        peak = info_int(c, "used_memory_peak")
        evicted = info_int(c, "evicted_keys", "stats")
        keys = c.call("DBSIZE")
        print("maxmemory %s: highest used_memory seen %d, used_memory_peak %d "
              "(bound %d: %+.2f%%), %d keys left, %d evicted" % (
                  mode, seen[0], peak, bound, 100.0 * (peak - bound) / bound,
                  keys, evicted), flush=True)
        check(not errors, "maxmemory %s: writes refused: %r" % (
            mode, errors[:3]))
        check(seen[0] <= bound * 1.05 and peak <= bound * 1.05,
              "maxmemory %s: over the bound: seen %d, peak %d" % (
                  mode, seen[0], peak))
        check(evicted > 0 and keys > 1000,
              "maxmemory %s: %d evicted, %d left" % (mode, evicted, keys))
        check(info_int(c, "used_memory") <= bound * 1.05,
              "maxmemory %s: used_memory after the writers" % mode)
        # Every key left is whole.
        cursor, checked = b"0", 0
        while checked < 2000:
            cursor, batch = c.call("SCAN", cursor, "COUNT", "500")
            for k in batch:
                v = c.call("GET", k)
                check(v is None or (set(v) == {ord("v")} and 50 <= len(v)
                                    <= 2000), "maxmemory: torn value %r" % k)
                checked += 1
            if cursor == b"0":
                break
        c.close()
    finally:
        check(srv.stop() == 0, "maxmemory %s: clean exit" % mode)


def maxmemory_during_saves(mode, overwrite=False):
    """4 writers against an 8 MB bound while BGSAVE runs back to back. A
    save's image holds the entries it reads (its thread stays pinned), so
    what writes evict or replace meanwhile is freed only after it: eviction
    must not take that, nor the save's own image, for keys' memory. No
    write is refused, the table keeps 90% of the keys it held under the
    same writes before the saves, used_memory stays under twice the bound
    and comes back under it once they end. With `overwrite`, the writers
    give the keys there are new values of the same size (new keys only
    where one was evicted)."""
    import shutil
    import tempfile
    bound = 8 * 1024 * 1024
    d = tempfile.mkdtemp(prefix="cachet-redis-saves-")
    srv = cachet(mode, "--maxmemory=8mb", "--dir=" + d)
    try:
        c = Conn(srv.port)
        check(fill_keys(c, "f", 30000, 500) == b"+OK",
              "maxmemory during saves %s: fill refused" % mode)
        full = c.call("DBSIZE")
        # Each overwriting writer takes every fourth key there is.
        present_keys = sorted(c.call("KEYS", "f*"))
        saving = threading.Event()
        stop = threading.Event()
        errors = []
        lowest = [full]
        saves = [0]

        def save_loop():
            s = Conn(srv.port)
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline and saves[0] < 100:
                r = s.call("BGSAVE")
                check(r == b"+Background saving started",
                      "maxmemory during saves %s: BGSAVE %r" % (mode, r))
                while info_int(s, "rdb_bgsave_in_progress", "persistence"):
                    time.sleep(0.001)
                saves[0] += 1
            saving.clear()
            s.close()

        def write(n):
            w = Conn(srv.port)
            i = 0
            mine = present_keys[n::4]
            while not stop.is_set() and i < 400000:
                if overwrite:
                    batch = [mine[(i + j) % len(mine)] for j in range(32)]
                    w.send(b"".join(encode("SET", k, "v" * 500)
                                    for k in batch))
                    for _ in batch:
                        r = w.read_parsed()
                        if r != b"+OK":
                            errors.append(r)
                else:
                    set_batch(w, n, i, lambda: "v" * 500, errors)
                i += 32
            w.close()

        def watch():
            m = Conn(srv.port)
            while saving.is_set():
                lowest[0] = min(lowest[0], m.call("DBSIZE"))
                time.sleep(0.005)
            m.close()

        # The keys the writers' load leaves without saves (their buffers
        # and the garbage their writes leave for readers take some memory).
        threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        settled = c.call("DBSIZE")
        lowest[0] = settled
        saving.set()
        threads += [threading.Thread(target=watch),
                    threading.Thread(target=save_loop)]
        for t in threads[-2:]:
            t.start()
        threads[-1].join()
        # The writers go on a little after the last save, as a server does:
        # their next writes free what waited for the saves.
        time.sleep(0.5)
        stop.set()
        for t in threads:
            t.join()
        keys = c.call("DBSIZE")
        used = info_int(c, "used_memory")
        restarts = info_int(c, "cachet_store_restarts", "stats")
        what = "overwrites" if overwrite else "new keys"
        print("maxmemory %s, %s, during %d saves: %d keys before, %d under "
              "the writes, lowest %d, %d after; used_memory after %d (bound "
              "%d); %d store restarts" % (mode, what, saves[0], full, settled,
                                          lowest[0], keys, used, bound,
                                          restarts), flush=True)
        check(restarts == 0, "maxmemory during saves %s: the store "
              "restarted %d times" % (mode, restarts))
        # What a save holds back stays under the bound's worth, as a fork's
        # copied pages do; the save's own image (24 bytes a key) and its
        # 1 MB write buffer come on top, not evicted for (a save that
        # starts as the last one's garbage peaks takes them there).
        peak = info_int(c, "used_memory_peak")
        own = 32 * full + 1024 * 1024
        check(peak <= 2.1 * bound + own, "maxmemory during saves %s: "
              "used_memory_peak %d (bound %d, the save's own about %d)" % (
                  mode, peak, bound, own))
        check(not errors, "maxmemory during saves %s: writes refused: %r" % (
            mode, errors[:3]))
        check(saves[0] >= 3, "maxmemory during saves %s: only %d saves" % (
            mode, saves[0]))
        # What the saves hold of their own (the image's list of entries,
        # the dump's buffer) and the garbage they keep from being freed are
        # not the keys' memory: redis's fork takes the like outside it.
        check(lowest[0] >= settled * 0.9 and keys >= settled * 0.9,
              "maxmemory during saves %s, %s: %d keys under the writes "
              "before, %d at the lowest, %d after" % (
                  mode, what, settled, lowest[0], keys))
        check(used <= bound * 1.05,
              "maxmemory during saves %s: used_memory %d after" % (mode, used))
        c.close()
    finally:
        check(srv.stop() == 0, "maxmemory during saves %s: clean exit" % mode)
        shutil.rmtree(d, ignore_errors=True)


def fill_keys(c, prefix, n, size=200, ttl=None):
    """n keys prefix0.. of `size` bytes, pipelined, up to the first batch
    with a refusal (returned); with `ttl`, key i expires in ttl + i
    seconds."""
    for start in range(0, n, 500):
        cmds = []
        for i in range(start, min(n, start + 500)):
            if ttl is None:
                cmds.append(encode("SET", "%s%d" % (prefix, i), "x" * size))
            else:
                cmds.append(encode("SET", "%s%d" % (prefix, i), "x" * size,
                                   "EX", str(ttl + i)))
        c.send(b"".join(cmds))
        replies = [c.read_parsed() for _ in cmds]
        refused = [r for r in replies if r != b"+OK"]
        if refused:
            return refused[0]
    return b"+OK"


def present(c, prefix, n):
    c.send(b"".join(encode("EXISTS", "%s%d" % (prefix, i)) for i in range(n)))
    return [i for i in range(n) if c.read_parsed() == 1]


def maxmemory_policies():
    """What each policy evicts, each on a server of its own whose bound the
    keys written outgrow. (A key evicted frees its entry, not its share of
    the table's array, which keeps its size; under the bound the array
    grows only if the larger one fits.)"""

    def run(policy, bound, test, slack=1.05):
        srv = cachet("direct", "--maxmemory-policy=" + policy,
                     "--maxmemory=%d" % bound)
        try:
            c = Conn(srv.port)
            test(c)
            peak = info_int(c, "used_memory_peak")
            check(peak <= bound * slack, "maxmemory %s: over the bound: "
                  "used_memory_peak %d" % (policy, peak))
            c.close()
        finally:
            check(srv.stop() == 0, "maxmemory %s: clean exit" % policy)

    mb = 1024 * 1024

    # volatile-*: only keys with an expiry go (volatile-ttl the nearest
    # expiries first); with none to find, writes are refused.
    def volatile(policy):
        def test(c):
            check(fill_keys(c, "p", 3000) == b"+OK",
                  "maxmemory %s: fill" % policy)
            check(fill_keys(c, "t", 10000, ttl=1000) == b"+OK",
                  "maxmemory %s: fill with expiries" % policy)
            check(len(present(c, "p", 3000)) == 3000,
                  "maxmemory %s: a key without expiry was evicted" % policy)
            left = present(c, "t", 10000)
            print("maxmemory %s: %d of 10000 keys with an expiry left" % (
                policy, len(left)), flush=True)
            check(0 < len(left) < 10000, "maxmemory %s: %d of 10000 keys "
                  "with an expiry left" % (policy, len(left)))
            if policy == "volatile-ttl" and 0 < len(left) < 10000:
                gone = sorted(set(range(10000)) - set(left))
                check(sum(gone) / len(gone) < sum(left) / len(left),
                      "maxmemory volatile-ttl: evicted later expiries first")
            got = fill_keys(c, "q", 30000)
            check(got.startswith(b"-OOM command not allowed"),
                  "maxmemory %s: nothing to evict, yet %r" % (policy, got))
            check(len(present(c, "p", 3000)) == 3000,
                  "maxmemory %s: a key without expiry was evicted" % policy)
        return test

    # One client, so the peak is the table's: its array must not grow past
    # the bound (3.26 MB, 3.6% over, before growth asked whether it fits).
    for policy in ("volatile-ttl", "volatile-lru", "volatile-random",
                   "volatile-lfu"):
        run(policy, 3 * mb, volatile(policy), slack=1.02)

    def read_keys(c, keys, times=1):
        c.send(b"".join(encode("GET", "k%d" % i)
                        for _ in range(times) for i in keys))
        for _ in range(times * len(keys)):
            c.read_parsed()

    # allkeys-s3fifo resists a scan: keys read since they were written
    # outlive a stream of keys written once.
    def s3fifo(c):
        fill_keys(c, "k", 1000)
        read_keys(c, range(1000), 2)
        fill_keys(c, "scan", 30000)
        hot = len(present(c, "k", 1000))
        scan = len(present(c, "scan", 30000))
        print("maxmemory allkeys-s3fifo: %d of 1000 hot keys and %d of 30000 "
              "scanned keys left" % (hot, scan), flush=True)
        check(hot >= 950, "maxmemory allkeys-s3fifo: only %d hot keys "
              "outlived the scan" % hot)
        check(scan < 30000, "maxmemory allkeys-s3fifo: nothing evicted")
    run("allkeys-s3fifo", 3 * mb, s3fifo)

    read = range(0, 4000, 10)

    # allkeys-lru: keys in use outlive the others.
    def lru(c):
        fill_keys(c, "k", 4000)
        for j in range(6):
            read_keys(c, read)
            fill_keys(c, "n%d_" % j, 500)
        left = set(present(c, "k", 4000))
        print("maxmemory allkeys-lru: %d of 4000 keys left" % len(left))
        check(set(read) <= left, "maxmemory allkeys-lru: %d recently read "
              "keys evicted" % len(set(read) - left))
        check(len(left) < 4000, "maxmemory allkeys-lru: nothing evicted")
    run("allkeys-lru", 2 * mb, lru)

    # OBJECT FREQ and IDLETIME read the key's slot; MEMORY USAGE counts it.
    def object_figures(c):
        fill_keys(c, "k", 2)
        check(c.call("OBJECT", "IDLETIME", "k0") == 0,
              "maxmemory: OBJECT IDLETIME of a key just written")
        check(c.call("OBJECT", "FREQ", "k0").startswith(b"-ERR An LFU"),
              "maxmemory: OBJECT FREQ without an LFU policy")
        used = c.call("MEMORY", "USAGE", "k0")
        check(isinstance(used, int) and 200 + 2 < used < 1000,
              "maxmemory: MEMORY USAGE of a 200-byte value: %r" % used)
        time.sleep(1.1)
        c.call("GET", "k1")
        check(c.call("OBJECT", "IDLETIME", "k0") >= 1
              and c.call("OBJECT", "IDLETIME", "k1") == 0,
              "maxmemory: OBJECT IDLETIME after a second")
        c.call("CONFIG", "SET", "maxmemory-policy", "allkeys-lfu")
        # As in redis, a key's one word of access data changes meaning with
        # the policy: a key written under LRU has no LFU count to read.
        c.call("DEL", "k0")
        fill_keys(c, "k", 1)
        before = c.call("OBJECT", "FREQ", "k0")
        read_keys(c, [0], 200)
        after = c.call("OBJECT", "FREQ", "k0")
        # 5, redis's LFU_INIT_VAL, less one if a minute boundary passed
        # since the write (the counter decays by the minutes elapsed, as
        # redis's does).
        check(before in (4, 5) and before < after < 255,
              "maxmemory: OBJECT FREQ %r, after 200 reads %r" % (before, after))
        check(c.call("OBJECT", "IDLETIME", "k0").startswith(b"-ERR An LFU"),
              "maxmemory: OBJECT IDLETIME under an LFU policy")
        # EXISTS, TYPE and the TTLs leave the count alone, as redis's
        # lookups without a touch; TOUCH counts as a read. From 5 (or 4) a
        # read always adds one, unless a minute passed: it decays first.
        c.call("DEL", "k0")
        fill_keys(c, "k", 1)
        t0 = time.time()
        fresh = c.call("OBJECT", "FREQ", "k0")
        for cmd in ("EXISTS", "TYPE", "TTL", "PTTL", "EXPIRETIME"):
            c.call(cmd, "k0")
        untouched = c.call("OBJECT", "FREQ", "k0")
        check(c.call("TOUCH", "k0", "nokey", "k0") == 2,
              "maxmemory: TOUCH counts the live keys")
        touched = c.call("OBJECT", "FREQ", "k0")
        minute_passed = int(t0 / 60) != int(time.time() / 60)
        check(untouched <= fresh, "maxmemory: OBJECT FREQ %r after EXISTS, "
              "TYPE and the TTLs, %r before" % (untouched, fresh))
        check(touched > untouched or (minute_passed and touched == untouched),
              "maxmemory: OBJECT FREQ %r after TOUCH, %r before"
              % (touched, untouched))
    run("allkeys-random", 2 * mb, object_figures)

    # allkeys-lfu: keys read often outlive keys read once.
    def lfu(c):
        fill_keys(c, "k", 4000)
        read_keys(c, read, 30)
        fill_keys(c, "n", 3000)
        left = set(present(c, "k", 4000))
        kept = len(set(read) & left)
        print("maxmemory allkeys-lfu: %d of 4000 keys left, %d of the 400 "
              "read often" % (len(left), kept), flush=True)
        check(kept >= 380, "maxmemory allkeys-lfu: %d of 400 frequent keys "
              "left" % kept)
        check(len(left) < 4000, "maxmemory allkeys-lfu: nothing evicted")
    run("allkeys-lfu", 2 * mb, lfu)

    def random_keys(c):
        check(fill_keys(c, "k", 8000) == b"+OK",
              "maxmemory allkeys-random: fill")
        left = len(present(c, "k", 8000))
        check(0 < left < 8000, "maxmemory allkeys-random: %d left" % left)
    run("allkeys-random", 2 * mb, random_keys)

    # noeviction: writes are refused once full; reads and DEL go on.
    def noeviction(c):
        got = fill_keys(c, "k", 20000)
        check(got.startswith(b"-OOM"), "maxmemory noeviction: %r" % got)
        n = len(present(c, "k", 20000))
        check(c.call("GET", "k1") == b"x" * 200, "maxmemory noeviction: read")
        check(c.call("DEL", "k1") == 1, "maxmemory noeviction: DEL refused")
        check(info_int(c, "evicted_keys", "stats") == 0,
              "maxmemory noeviction: evicted %d keys" % n)
    run("noeviction", 2 * mb, noeviction)

    # A bound set at run time covers the keys written before it.
    def late(c):
        c.call("CONFIG", "SET", "maxmemory", "0")
        fill_keys(c, "k", 8000)
        used = info_int(c, "used_memory")
        c.call("CONFIG", "SET", "maxmemory", str(used))
        fill_keys(c, "n", 4000)
        left = len(present(c, "k", 8000))
        check(left < 8000, "maxmemory set late: no old key evicted")
        check(info_int(c, "used_memory") <= used * 1.05,
              "maxmemory set late: over the bound")
    run("allkeys-s3fifo", 64 * mb, late)


def hash_scan_walk(c, key, count, during=None):
    """Every field HSCAN returns from cursor 0 back to 0 (a list: repeats
    show), calling `during()` between steps; bounded in steps."""
    seen, cursor = [], b"0"
    for _ in range(100000):
        cursor, items = c.call("HSCAN", key, cursor, "COUNT", count)
        seen += items[0::2]
        if during:
            during()
        if cursor == b"0":
            return seen
    raise RuntimeError("HSCAN never came back to 0")


def hash_randoms(servers):
    """HRANDFIELD: distinct fields for a positive count, repeats for a
    negative one, pairs that are the hash's own WITHVALUES, and draws fair
    enough that every field comes (60 000 draws over 600 fields of a
    hashtable, 50 000 over 100 of a listpack: each is expected 100 or 500
    times; a draw that favoured some fields, as a pick by a random point in
    hash order would, leaves others near 0)."""
    for s in servers:
        c = Conn(s.port)
        for key, n, draws in (("rt", 600, 60000), ("rl", 100, 50000)):
            fields = {("f%d" % i).encode(): str(i).encode() for i in range(n)}
            c.call("HSET", key, *[x for kv in fields.items() for x in kv])
            for count in (1, 5, n - 1, n, n + 7):
                got = c.call("HRANDFIELD", key, count)
                check(len(got) == min(count, n) and len(set(got)) == len(got)
                      and set(got) <= set(fields),
                      "%s HRANDFIELD %s %d: %d fields, %d distinct"
                      % (s.name, key, count, len(got), len(set(got))))
            got = c.call("HRANDFIELD", key, -3 * n, "WITHVALUES")
            pairs = list(zip(got[0::2], got[1::2]))
            check(len(pairs) == 3 * n and all(fields.get(f) == v
                                              for f, v in pairs),
                  "%s HRANDFIELD %s -%d WITHVALUES: %d pairs"
                  % (s.name, key, 3 * n, len(pairs)))
            if s.name.startswith("cachet"):
                hist = {}
                for _ in range(draws // 10000):
                    for f in c.call("HRANDFIELD", key, -10000):
                        hist[f] = hist.get(f, 0) + 1
                expect = draws / n
                low = min(hist.get(f, 0) for f in fields)
                high = max(hist.values())
                check(low > expect * 0.4 and high < expect * 1.8,
                      "%s HRANDFIELD %s: %d draws, each field %d to %d times, "
                      "expected %d" % (s.name, key, draws, low, high, expect))
        c.close()


def hash_concurrency(mode):
    """Real threads on one hash: HINCRBY and HSET from four connections
    lose nothing, and a hash whose last field goes is never seen empty."""
    s = cachet(mode)
    try:
        def incr(n):
            c = Conn(s.port)
            for _ in range(n):
                c.call("HINCRBY", "ctr", "n", 1)
            c.close()

        def fields(t, n):
            c = Conn(s.port)
            for i in range(n):
                c.call("HSET", "wide", "t%d-%d" % (t, i), i)
            c.close()

        threads = ([threading.Thread(target=incr, args=(500,))
                    for _ in range(4)]
                   + [threading.Thread(target=fields, args=(t, 300))
                      for t in range(4)])
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        c = Conn(s.port)
        check(c.call("HGET", "ctr", "n") == b"2000",
              "%s: 4 x 500 HINCRBY gave %r" % (mode, c.call("HGET", "ctr", "n")))
        check(c.call("HLEN", "wide") == 1200,
              "%s: 4 x 300 HSET gave %r fields"
              % (mode, c.call("HLEN", "wide")))
        # One connection adds and removes the only field; another reads
        # EXISTS and HLEN in one EXEC: the key is there only with a field.
        stop = threading.Event()

        def churn():
            w = Conn(s.port)
            while not stop.is_set():
                w.call("HSET", "flip", "f", "v")
                w.call("HDEL", "flip", "f")
            w.close()

        writer = threading.Thread(target=churn)
        writer.start()
        empty, seen = 0, 0
        try:
            for _ in range(1500):
                c.send(encode("MULTI") + encode("EXISTS", "flip")
                       + encode("HLEN", "flip") + encode("EXEC"))
                for _ in range(3):
                    c.read_parsed()
                exists, length = c.read_parsed()
                seen += exists
                empty += 1 if exists and length == 0 else 0
        finally:
            stop.set()
            writer.join()
        check(empty == 0 and seen > 0,
              "%s: an empty hash seen %d times (present %d of 1500)"
              % (mode, empty, seen))
        c.close()
    finally:
        s.stop()


def suite_hashes():
    """Hashes beyond the compare suite's byte-for-byte sequence: HSCAN's
    guarantee on a hashtable that changes under it, HRANDFIELD's draws,
    threads on one hash, expiry, eviction, the reply bound, redis-py."""
    servers = [redis(), cachet("direct"), cachet("message")]
    try:
        # A hashtable of 3 000 fields, HSCAN'd 7 at a time while another
        # client adds and removes other fields: every field present all
        # along comes exactly once (redis promises at least once).
        for s in servers:
            c, w = Conn(s.port), Conn(s.port)
            stable = {("s%d" % i).encode() for i in range(3000)}
            c.call("HSET", "big", *[x for f in stable for x in (f, "v")])
            check(c.call("OBJECT", "ENCODING", "big") == b"hashtable",
                  "%s: 3 000 fields are a hashtable" % s.name)
            step = [0]

            def churn():
                step[0] += 1
                w.call("HSET", "big", "new%d" % step[0], "x")
                w.call("HDEL", "big", "new%d" % (step[0] // 2))

            seen = hash_scan_walk(c, "big", 7, churn)
            stable_seen = [f for f in seen if f in stable]
            check(set(stable_seen) == stable,
                  "%s HSCAN: %d of 3000 fields" % (s.name, len(set(stable_seen))))
            if s.name.startswith("cachet"):
                check(len(stable_seen) == len(stable),
                      "%s HSCAN: %d repeats" % (s.name,
                                                len(stable_seen) - len(stable)))
            got = c.call("HSCAN", "big", "0", "MATCH", "s1??", "COUNT", "100000")
            check(got[0] == b"0" and sorted(got[1][0::2])
                  == sorted(f for f in stable if re.fullmatch(rb"s1..", f)),
                  "%s HSCAN MATCH over the whole hashtable" % s.name)
            # SCAN's TYPE filter
            c.call("SET", "plain", "v")
            keys = hash_scan_keys(c, "hash")
            check(keys == {b"big"}, "%s SCAN TYPE hash: %r" % (s.name, keys))
            check(hash_scan_keys(c, "STRING") == {b"plain"},
                  "%s SCAN TYPE string" % s.name)
            c.close()
            w.close()
        hash_randoms(servers)
        # Expiry takes a hash whole, and a write then makes a new one.
        for s in servers:
            c = Conn(s.port)
            c.call("HSET", "eh", "a", "1", "b", "2")
            c.call("PEXPIRE", "eh", "50")
            deadline = time.monotonic() + 5
            while c.call("EXISTS", "eh") and time.monotonic() < deadline:
                time.sleep(0.01)
            check([c.call("HGET", "eh", "a"), c.call("HLEN", "eh"),
                   c.call("HINCRBY", "eh", "a", "5"), c.call("HGETALL", "eh"),
                   c.call("TTL", "eh")]
                  == [None, 0, 5, [b"a", b"5"], -1],
                  "%s: an expired hash is gone, a write starts a new one"
                  % s.name)
            c.close()
        # redis-py, as an application would use it.
        import redis as redispy
        for s in servers:
            r = redispy.Redis(port=s.port)
            r.hset("user:1", mapping={"name": "ada", "visits": 1})
            r.hincrby("user:1", "visits", 2)
            r.hincrbyfloat("user:1", "score", 1.5)
            with r.pipeline() as p:  # MULTI/EXEC
                p.hset("user:2", "name", "bob").hgetall("user:1")
                _, user = p.execute()
            check(user == {b"name": b"ada", b"visits": b"3", b"score": b"1.5"}
                  and r.hget("user:2", "name") == b"bob"
                  and len(set(r.hscan_iter("big"))) >= 3000,
                  "%s redis-py hashes: %r" % (s.name, user))
            r.close()
    finally:
        for s in servers:
            s.stop()
    for mode in ("direct", "message"):
        hash_concurrency(mode)
        # A reply over the output buffer limit is refused, not built; the
        # connection goes on.
        s = cachet(mode, "--output-buffer-limit=1000000")
        try:
            c = Conn(s.port)
            c.call("HSET", "h", "field", "value")
            got = c.call("HRANDFIELD", "h", "-10000000", "WITHVALUES")
            check(got == b"-ERR reply exceeds the client output buffer limit"
                  and c.call("PING") == b"+PONG"
                  and len(c.call("HRANDFIELD", "h", "-1000")) == 1000,
                  "%s: HRANDFIELD past the output limit: %r" % (mode, got))
            c.close()
        finally:
            s.stop()
        # Eviction takes hashes whole, within the bound.
        s = cachet(mode, "--maxmemory=8mb")
        try:
            c = Conn(s.port)
            for start in range(0, 3000, 100):
                c.send(b"".join(encode("HSET", "eh%d" % i,
                                       *[x for j in range(20)
                                         for x in ("f%d" % j, "x" * 100)])
                                for i in range(start, start + 100)))
                for _ in range(100):
                    c.read_parsed()
            evicted = info_int(c, "evicted_keys", "stats")
            peak = info_int(c, "used_memory_peak")
            c.send(b"".join(encode("HLEN", "eh%d" % i) for i in range(3000)))
            lens = [c.read_parsed() for _ in range(3000)]
            usage = c.call("MEMORY", "USAGE", "eh2999")
            check(evicted > 0 and peak <= 8 * 1024 * 1024 * 1.05
                  and set(lens) == {0, 20} and lens[-1] == 20
                  and usage > 20 * 100,
                  "%s eviction of hashes: %d evicted, peak %d, lengths %r, "
                  "MEMORY USAGE %r" % (mode, evicted, peak, set(lens), usage))
            c.close()
        finally:
            s.stop()


def hash_scan_keys(c, type_name):
    """The keys a whole SCAN with TYPE finds."""
    keys, cursor = set(), b"0"
    for _ in range(100000):
        cursor, items = c.call("SCAN", cursor, "TYPE", type_name)
        keys |= set(items)
        if cursor == b"0":
            return keys
    raise RuntimeError("SCAN never came back to 0")


# -- persistence ---------------------------------------------------------------

def store_state(c):
    """Every key: its type, its value (a hash's fields in their order) and
    whether it has an expiry."""
    state = {}
    for k in c.call("KEYS", "*"):
        kind = c.call("TYPE", k)
        value = c.call("GET", k) if kind == b"+string" else c.call("HGETALL", k)
        if c.call("OBJECT", "ENCODING", k) == b"hashtable":
            # its order is its own (a seed per process): compared as a set
            value = sorted(zip(value[0::2], value[1::2]))
        state[k] = (kind, value, c.call("PTTL", k) > 0)
    return state


def wait_saves(c, n, limit=60):
    """Bounded wait until INFO's rdb_saves reaches n and no BGSAVE runs."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        info = info_dict(c.call("INFO", "persistence"))
        if (int(info[b"rdb_saves"]) >= n
                and info[b"rdb_bgsave_in_progress"] == b"0"):
            return info
        time.sleep(0.01)
    raise RuntimeError("no save came")


def fill_big(c, n, size=100, prefix="big"):
    """n keys prefix0.. of `size` bytes, pipelined."""
    for start in range(0, n, 1000):
        c.send(b"".join(encode("SET", "%s%d" % (prefix, i), "v" * size)
                        for i in range(start, min(n, start + 1000))))
        for _ in range(start, min(n, start + 1000)):
            c.read_parsed()


def start_fails(argv):
    """cachet-redis started with argv: its exit status and output."""
    p = subprocess.run([CACHET, "--port=%d" % free_port()] + argv,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=30)
    return p.returncode, p.stdout.decode(errors="replace")


def persistence_round_trip(mode, d):
    s = cachet(mode, "--dir=" + d)
    try:
        c = Conn(s.port)
        c.call("SET", "plain", "v")
        c.call("SET", "bin\x00key", "\x00\r\n\xff")
        c.call("SET", "large", "x" * 1000000)
        c.call("SET", "ttl", "t", "EX", "1000")
        c.call("SET", "gone", "g", "PX", "1")
        c.call("HSET", "small", "z", "1", "a", "2", "m", "3")  # listpack order
        c.call("HSET", "table", *[x for i in range(1000)
                                  for x in ("f%d" % i, "v%d" % i)])
        c.call("HSET", "hashttl", "f", "v")
        c.call("EXPIRE", "hashttl", "1000")
        time.sleep(0.01)  # "gone" has expired: no image holds it
        before = store_state(c)
        before.pop(b"gone", None)
        check(c.call("SAVE") == b"+OK", "%s SAVE" % mode)
        saved = c.call("LASTSAVE")
        c.call("SET", "after", "not saved")  # no save points: not at exit
        c.close()
    finally:
        s.stop()
    s = cachet(mode, "--dir=" + d)
    try:
        c = Conn(s.port)
        after = store_state(c)
        info = info_dict(c.call("INFO", "persistence"))
        check(after == before, "%s round trip: %r keys back, %r saved"
              % (mode, sorted(after), sorted(before)))
        check(int(info[b"rdb_last_load_keys_loaded"]) == len(before)
              and c.call("OBJECT", "ENCODING", "small") == b"listpack"
              and c.call("OBJECT", "ENCODING", "table") == b"hashtable"
              and 990000 < c.call("PTTL", "ttl") <= 1000000
              and c.call("LASTSAVE") >= saved,
              "%s round trip: %r" % (mode, info))
        c.close()
    finally:
        s.stop()


# SET c<w> i then SET d<w> i, for i = 1, 2, ..., 100 pairs per write, for
# at most 60 s: at any instant c<w> is d<w> or one ahead.
STEPPER = """
import socket, sys, time
port, w = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port))
i, end = 0, time.monotonic() + 60
while time.monotonic() < end:
    out = b""
    for _ in range(100):
        i += 1
        for key in (b"c" + w.encode(), b"d" + w.encode()):
            v = str(i).encode()
            out += b"*3\\r\\n$3\\r\\nSET\\r\\n$%d\\r\\n%s\\r\\n$%d\\r\\n%s\\r\\n" % (
                len(key), key, len(v), v)
    s.sendall(out)
    got = b""
    while got.count(b"+OK") < 200:
        got += s.recv(65536)
"""


def bgsave_image(mode, d):
    """BGSAVE while three clients EXEC pairs of writes and two more SET c
    then d, one after the other: the file holds each EXEC's pair whole and
    each c at d or one ahead (an image of one instant: a walk that saw c
    and d at different times would not), and the server answers all the
    while."""
    s = cachet(mode, "--dir=" + d)
    stop = threading.Event()
    steppers = []
    try:
        c = Conn(s.port)
        fill_big(c, 300000, 200)

        counts = [0] * 3

        def writer(w):
            x = Conn(s.port)
            i = 0
            while not stop.is_set():
                i += 1
                if w < 3:
                    x.send(encode("MULTI") + encode("SET", "a%d" % w, i)
                           + encode("SET", "b%d" % w, i) + encode("EXEC"))
                    for _ in range(4):
                        x.read_parsed()
                counts[w] = i
            x.close()

        writers = [threading.Thread(target=writer, args=(w,))
                   for w in range(3)]
        # The SET c, SET d writers, as processes of their own (no GIL
        # between them and the server), pipelined: fast enough that a walk
        # of the store sees many of their steps.
        steppers = [subprocess.Popen([sys.executable, "-c", STEPPER,
                                      str(s.port), str(w)])
                    for w in range(3, 5)]
        for t in writers:
            t.start()
        deadline = time.monotonic() + 30
        while ((min(counts[:3]) < 50 or c.call("EXISTS", "c3", "c4") < 2)
               and time.monotonic() < deadline):
            time.sleep(0.01)
        check(c.call("BGSAVE") == b"+Background saving started",
              "%s BGSAVE" % mode)
        served = 0
        while info_dict(c.call("INFO", "persistence"))[
                b"rdb_bgsave_in_progress"] == b"1":
            served += 1 if c.call("PING") == b"+PONG" else 0
        moved = list(counts)
        info = wait_saves(c, 1)
        stop.set()
        for t in writers:
            t.join()
        for p in steppers:
            p.kill()
            p.wait()
        check(served > 0 and info[b"rdb_last_bgsave_status"] == b"ok",
              "%s: %d commands answered during the BGSAVE, status %r"
              % (mode, served, info[b"rdb_last_bgsave_status"]))
        c.close()
    finally:
        stop.set()
        for p in steppers:
            if p.poll() is None:
                p.kill()
                p.wait()
        s.stop()
    s = cachet(mode, "--dir=" + d)
    try:
        c = Conn(s.port)
        pairs = [(c.call("GET", "a%d" % w), c.call("GET", "b%d" % w))
                 for w in range(3)]
        steps = [(c.call("GET", "c%d" % w), c.call("GET", "d%d" % w))
                 for w in range(3, 5)]
        check(all(a == b and a is not None for a, b in pairs)
              and all(x is not None and y is not None
                      and int(x) - int(y) in (0, 1) for x, y in steps)
              and c.call("DBSIZE") == 300010,
              "%s BGSAVE image: pairs %r, steps %r (writers at %r), %r keys"
              % (mode, pairs, steps, moved, c.call("DBSIZE")))
        c.close()
    finally:
        s.stop()


def kill_during_bgsave(d):
    """kill -9 while a BGSAVE writes: the file is the last one, whole."""
    s = cachet("direct", "--dir=" + d)
    try:
        c = Conn(s.port)
        fill_big(c, 300000, 200)
        c.call("SAVE")
        c.call("SET", "marker", "after the SAVE")
        c.call("BGSAVE")
        deadline = time.monotonic() + 10
        while (info_dict(c.call("INFO", "persistence"))[
                b"rdb_bgsave_in_progress"] != b"1"
               and time.monotonic() < deadline):
            pass
        s.proc.kill()
        s.proc.wait()
    finally:
        s.stop()
    s = cachet("direct", "--dir=" + d)
    try:
        c = Conn(s.port)
        n = c.call("DBSIZE")
        check(n in (300000, 300001)
              and c.call("GET", "big123") == b"v" * 200,
              "kill -9 during BGSAVE: %r keys back" % n)
        c.close()
    finally:
        s.stop()
    return n


LOADING = b"-LOADING Redis is loading the dataset in memory\r\n"

# Commands sent while a dump loads: refused with LOADING but for redis's
# `loading` ones (ECHO, SELECT, CONFIG, MULTI/EXEC/DISCARD, WATCH, HELLO,
# INFO, LASTSAVE, TIME, CLIENT, AUTH, SHUTDOWN...); a refusal in MULTI
# aborts the EXEC.
LOADING_SEQUENCE = [
    ("PING",), ("GET", "key:1"), ("SET", "a", "b"), ("DBSIZE",),
    ("KEYS", "*"), ("ECHO", "x"), ("SELECT", "0"),
    ("CONFIG", "GET", "maxmemory"), ("MULTI",), ("SET", "a", "b"),
    ("ECHO", "y"), ("EXEC",), ("MULTI",), ("ECHO", "y"), ("EXEC",),
    ("MULTI",), ("PING",), ("DISCARD",), ("WATCH", "a"), ("UNWATCH",),
    ("BGSAVE",), ("SAVE",), ("FLUSHALL",), ("FOO",), ("GET",),
    ("HELLO", "3"), ("PING",), ("GET", "key:1"), ("HELLO", "2"),
    ("AUTH", "pw"),
]


def loading_replies(port):
    """LOADING_SEQUENCE's raw replies, pipelined, and whether the server
    still loaded after them."""
    c = Conn(port)
    c.send(b"".join(encode(*cmd) for cmd in LOADING_SEQUENCE))
    replies = []
    for cmd in LOADING_SEQUENCE:
        raw = c.read_raw()
        replies.append(hello_normalized(raw) if cmd[0] == "HELLO" else raw)
    still = b"loading:1" in c.call("INFO", "persistence")
    c.close()
    return replies, still


def loading_phase(root):
    """The load at start, as redis-server's: while the dump goes in, the
    same commands answer LOADING and the same run, byte for byte against
    redis-server loading an RDB of the same keys (both slowed by
    key-load-delay); INFO shows the load go on; then every key is there,
    in both modes. A signal or SHUTDOWN SAVE during the load stops the
    server without saving: the file stays as it was."""
    n, delay = 4000, 1000  # 1 ms a key: 4 s of loading
    rd = os.path.join(root, "loading-redis")
    cd = os.path.join(root, "loading-cachet")
    os.mkdir(rd)
    os.mkdir(cd)
    for srv in (redis("--dir", rd), cachet("direct", "--dir=" + cd)):
        try:
            c = Conn(srv.port)
            fill(c, "key:", 0, n)
            check(c.call("SAVE") == b"+OK", "SAVE of %d keys" % n)
            c.close()
        finally:
            srv.stop()
    dump = os.path.join(cd, "dump.cachet")
    with open(dump, "rb") as f:
        original = f.read()
    slow = "--key-load-delay=%d" % delay
    r = redis("--dir", rd, "--key-load-delay", str(delay),
              "--loading-process-events-interval-bytes", "1024")
    try:
        want, r_loading = loading_replies(r.port)
    finally:
        r.stop()
    check(r_loading, "redis-server loaded %d keys before the sequence ended"
          % n)
    check(want[0] == LOADING, "redis-server during its load: %r" % want[0])
    for mode in ("direct", "message"):
        s = cachet(mode, "--dir=" + cd, slow, loaded=False)
        try:
            got, loading = loading_replies(s.port)
            check(loading, "%s: loaded before the sequence ended" % mode)
            # redis-py knows the error: BusyLoadingError, for callers to
            # retry.
            import redis as pyredis
            py = pyredis.Redis(port=s.port)
            try:
                py.get("key:1")
                check(False, "%s: redis-py GET while loading" % mode)
            except pyredis.exceptions.BusyLoadingError:
                pass
            py.close()
            for cmd, a, b in zip(LOADING_SEQUENCE, want, got):
                check(a == b, "%s, loading, %s: redis %r, cachet %r"
                      % (mode, " ".join(cmd), a, b))
            # INFO while loading: the figures go on and stay in bounds.
            c = Conn(s.port)
            seen = []
            for _ in range(3):
                info = info_dict(c.call("INFO", "persistence"))
                if info[b"loading"] != b"1":
                    break
                seen.append(info)
                time.sleep(0.3)
            check(len(seen) >= 2, "%s: INFO while loading: %r"
                  % (mode, seen))
            for info in seen:
                total = int(info[b"loading_total_bytes"])
                done = int(info[b"loading_loaded_bytes"])
                keys = int(info[b"rdb_last_load_keys_loaded"])
                check(total == len(original) and 0 <= done <= total
                      and 0 <= keys <= n
                      and float(info[b"loading_loaded_perc"])
                      == round(100.0 * done / total, 2),
                      "%s: INFO while loading: %r" % (mode, info))
            if len(seen) >= 2:
                check(int(seen[-1][b"rdb_last_load_keys_loaded"])
                      > int(seen[0][b"rdb_last_load_keys_loaded"]),
                      "%s: the load goes on: %r" % (mode, seen))
            c.close()
            wait_loaded(s)
            c = Conn(s.port)
            check(c.call("DBSIZE") == n and c.call("GET", "key:7") == b"v"
                  and c.call("PING") == b"+PONG",
                  "%s: after the load" % mode)
            info = info_dict(c.call("INFO", "persistence"))
            check(info[b"rdb_last_load_keys_loaded"] == str(n).encode()
                  and b"loading_total_bytes" not in info,
                  "%s: INFO after the load: %r" % (mode, info))
            c.close()
        finally:
            s.stop()
    # Stopped during the load: no save, whatever asks for one.
    for how in ("SIGTERM", "SHUTDOWN SAVE"):
        s = cachet("direct", "--dir=" + cd, slow, "--save=1 1", loaded=False)
        try:
            c = Conn(s.port)
            check(b"loading:1" in c.call("INFO", "persistence"),
                  how + ": not loading")
            if how == "SIGTERM":
                s.proc.send_signal(signal.SIGTERM)
            else:
                c.send(encode("SHUTDOWN", "SAVE"))
                check(c.read_until_eof() == b"",
                      "SHUTDOWN SAVE during the load replied")
            c.close()
            code = s.proc.wait(timeout=15)
            out = s.proc.stdout.read().decode(errors="replace")
            check(code == 0 and "not saving" in out,
                  "%s during the load: exit %r, %r" % (how, code, out[-300:]))
        finally:
            s.stop()
        with open(dump, "rb") as f:
            check(f.read() == original, how + " during the load: file changed")


def loading_memory(root):
    """The load holds no more than a batch of the file besides the table:
    the server's peak RSS is its RSS after the load plus a small part of
    the file (before, the whole file's entries were decoded first and
    their copy outlived the read: 0.6-0.8 of the file's size on top)."""
    d = os.path.join(root, "loading-memory")
    os.mkdir(d)
    s = cachet("direct", "--dir=" + d)
    try:
        c = Conn(s.port)
        fill_big(c, 200000)
        check(c.call("SAVE") == b"+OK", "SAVE of 200000 keys")
        c.close()
    finally:
        s.stop()
    size = os.path.getsize(os.path.join(d, "dump.cachet"))
    s = cachet("direct", "--dir=" + d)
    try:
        c = Conn(s.port)
        check(c.call("DBSIZE") == 200000, "the keys came back")
        c.close()
        with open("/proc/%d/status" % s.proc.pid) as f:
            kb = {line.split(":")[0]: int(line.split()[1])
                  for line in f if line.startswith(("VmHWM", "VmRSS"))}
        extra = (kb["VmHWM"] - kb["VmRSS"]) * 1024
        print("load of a %d-byte dump: peak RSS %d KiB, %d KiB after"
              % (size, kb["VmHWM"], kb["VmRSS"]))
        check(extra < size // 4, "peak RSS %d bytes above the RSS after "
              "the load of a %d-byte file" % (extra, size))
    finally:
        s.stop()


def suite_persistence():
    """SAVE, BGSAVE, LASTSAVE, save points, SHUTDOWN and SIGTERM saves, the
    load at start, and what a bad file does, on real files in temp dirs."""
    import shutil
    import tempfile
    root = tempfile.mkdtemp(prefix="cachet-redis-persist-")
    try:
        for mode in ("direct", "message"):
            d = os.path.join(root, mode)
            os.mkdir(d)
            persistence_round_trip(mode, d)
            os.mkdir(d + "-bg")
            bgsave_image(mode, d + "-bg")
        d = os.path.join(root, "kill")
        os.mkdir(d)
        kept = kill_during_bgsave(d)
        print("kill -9 during BGSAVE: %d keys came back" % kept)
        # Bad files refuse the start, saying why; the file is left alone.
        good = os.path.join(root, "direct", "dump.cachet")
        with open(good, "rb") as f:
            data = f.read()
        d = os.path.join(root, "bad")
        os.mkdir(d)
        bad = os.path.join(d, "dump.cachet")
        for name, content, reason in (
                ("truncated", data[:len(data) // 2], "truncated body"),
                ("short", data[:20], "truncated header"),
                ("flipped", data[:300] + bytes([data[300] ^ 1]) + data[301:],
                 "checksum mismatch"),
                ("empty", b"", "truncated header"),
                ("foreign", b"REDIS0010" + bytes(200), "bad magic")):
            with open(bad, "wb") as f:
                f.write(content)
            code, out = start_fails(["--dir=" + d])
            with open(bad, "rb") as f:
                kept = f.read() == content
            check(code == 1 and "cannot load" in out and reason in out
                  and kept, "%s file: exit %r, %r" % (name, code, out[-300:]))
        code, out = start_fails(["--dir=" + os.path.join(root, "nope")])
        check(code == 2 and "No such file or directory" in out,
              "a missing --dir: exit %r, %r" % (code, out[-200:]))
        # A real RDB file from redis-server is no cachet dump.
        rd = os.path.join(root, "rdb")
        os.mkdir(rd)
        r = redis("--dir", rd)
        try:
            Conn(r.port).call("SET", "k", "v")
            Conn(r.port).call("SAVE")
        finally:
            r.stop()
        shutil.copy(os.path.join(rd, "dump.rdb"), bad)
        code, out = start_fails(["--dir=" + d])
        check(code == 1 and "bad magic" in out,
              "redis-server's RDB: exit %r, %r" % (code, out[-200:]))
        persistence_shutdown(root)
        loading_phase(root)
        loading_memory(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def persistence_shutdown(root):
    """SHUTDOWN and SIGTERM: saved when asked or when save points are set,
    not otherwise; a save that fails stops neither SHUTDOWN FORCE nor the
    server, which goes on serving."""
    def keys_in(d):
        s = cachet("direct", "--dir=" + d)
        try:
            return sorted(Conn(s.port).call("KEYS", "*"))
        finally:
            s.stop()

    for n, (argv, how, saved) in enumerate((
            ([], ("SHUTDOWN", "SAVE"), True),
            ([], ("SHUTDOWN",), False),
            (["--save", "3600 1"], ("SHUTDOWN",), True),
            (["--save", "3600 1"], ("SHUTDOWN", "NOSAVE"), False),
            (["--save", "3600 1"], signal.SIGTERM, True),
            ([], signal.SIGTERM, False),
            (["--save", "3600 1"], signal.SIGINT, True))):
        d = os.path.join(root, "shutdown%d" % n)
        os.mkdir(d)
        s = cachet("message" if n % 2 else "direct", "--dir=" + d, *argv)
        try:
            c = Conn(s.port)
            c.call("SET", "k%d" % n, "v")
            if isinstance(how, tuple):
                c.send(encode(*how))
                tail = c.read_until_eof()
                s.proc.wait(timeout=30)
            else:
                s.proc.send_signal(how)
                s.proc.wait(timeout=30)
                tail = b""
            check(tail == b"" and s.proc.returncode == 0,
                  "%r with %r: reply %r, exit %r" % (how, argv, tail,
                                                     s.proc.returncode))
        finally:
            s.stop()
        got = keys_in(d)
        check(got == ([b"k%d" % n] if saved else []),
              "%r with %r: %r in the file" % (how, argv, got))
    # Save points: a BGSAVE comes by itself once one is due.
    d = os.path.join(root, "points")
    os.mkdir(d)
    s = cachet("direct", "--dir=" + d, "--save", "1 2")
    try:
        c = Conn(s.port)
        c.call("SET", "p1", "v")
        c.call("SET", "p2", "v")
        info = wait_saves(c, 1, 10)
        check(info[b"rdb_changes_since_last_save"] == b"0",
              "save points: %r" % info)
        c.call("BGSAVE")
        check(c.call("BGSAVE", "SCHEDULE") in (
            b"+Background saving scheduled", b"+Background saving started"),
              "BGSAVE SCHEDULE")
        wait_saves(c, 3, 10)
    finally:
        s.stop()
    check(keys_in(d) == [b"p1", b"p2"], "save points: the file")
    # A save that fails: the directory is gone.
    d = os.path.join(root, "vanishing")
    os.mkdir(d)
    s = cachet("direct", "--dir=" + d, "--save", "3600 1")
    try:
        c = Conn(s.port)
        c.call("SET", "k", "v")
        os.rmdir(d)
        check(c.call("SAVE") == b"-ERR", "SAVE into a removed dir")
        c.call("BGSAVE")
        info = wait_saves(c, 0)
        deadline = time.monotonic() + 10
        while (info[b"rdb_last_bgsave_status"] != b"err"
               and time.monotonic() < deadline):
            info = info_dict(c.call("INFO", "persistence"))
        check(info[b"rdb_last_bgsave_status"] == b"err",
              "BGSAVE into a removed dir: %r" % info)
        check(c.call("SHUTDOWN") == b"-ERR Errors trying to SHUTDOWN. "
              b"Check logs.", "SHUTDOWN whose save fails")
        s.proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        check(s.proc.poll() is None and c.call("PING") == b"+PONG",
              "SIGTERM whose save fails: the server goes on")
        c.send(encode("SHUTDOWN", "FORCE"))
        c.read_until_eof()
        s.proc.wait(timeout=30)
        check(s.proc.returncode == 0, "SHUTDOWN FORCE: exit %r"
              % s.proc.returncode)
    finally:
        s.stop()


def main():
    global CACHET
    CACHET = sys.argv[1]
    suite = sys.argv[2]
    globals()["suite_" + suite]()
    if FAILURES:
        print("%d failure(s)" % len(FAILURES))
        sys.exit(1)
    print("suite %s: ok" % suite)


if __name__ == "__main__":
    main()

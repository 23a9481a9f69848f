#!/usr/bin/env python3
"""bench/soak.py: the troublesome backend and the checking client of bench/soak.

    soak.py backend PORT UNTIL
        An HTTP/1.1 server on 127.0.0.1:PORT (keep-alive, one thread per
        connection) that exits by itself at the epoch time UNTIL. Paths:
          /trouble/echo[?chunked=1]  reads the body (Content-Length or
                        chunked) and answers "LENGTH SHA256" of it, with a
                        Content-Length, or chunked in random pieces
          /trouble/gen?n=N  N bytes of a known pattern, chunked in random pieces
          /trouble/slow  answers after SLOW seconds (past portico's read_timeout)
          /trouble/reset resets the connection (RST) without answering
          /trouble/half  sends a head with Content-Length 10000, 1000 bytes, then RST
          anything else  200 "ok"

    soak.py client PORT SECONDS
        Runs for SECONDS and stops by itself (each request has a 10 s
        timeout), against portico on 127.0.0.1:PORT, in threads:
          upload   chunked (and some Content-Length, some Expect:
                   100-continue) uploads of random sizes to /trouble/echo,
                   the answer checked against what was sent
          chunked  chunked responses of random sizes, /trouble/gen, checked
          pipeline 12 requests in one write (proxied, 404, status page,
                   chunked), the answers checked in order
          failures /trouble/slow, /trouble/reset, /trouble/half and
                   /flaky/1k.html, a few a second: any status is counted,
                   a hang is not
        and prints one line per kind: "client KIND ok N bad N" followed by
        the counts of what it got, then the first few failures.
"""
import hashlib
import os
import random
import socket
import struct
import sys
import threading
import time

SLOW = 1.5


# --- HTTP reading, both sides ------------------------------------------------------
class Reader:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("connection closed")
        self.buf += data

    def line(self):
        while b"\r\n" not in self.buf:
            if len(self.buf) > 65536:
                raise ValueError("line too long")
            self.fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def exact(self, n):
        while len(self.buf) < n:
            self.fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def head(self):
        first = self.line()
        fields = {}
        while True:
            line = self.line()
            if not line:
                return first, fields
            k, _, v = line.partition(b":")
            fields[k.strip().lower().decode()] = v.strip().decode()

    def chunked(self):
        out = []
        while True:
            size = int(self.line().split(b";")[0], 16)
            if size == 0:
                while self.line():   # trailers
                    pass
                return b"".join(out)
            out.append(self.exact(size))
            if self.exact(2) != b"\r\n":
                raise ValueError("bad chunk end")

    def rest(self):
        try:
            while True:
                self.fill()
        except EOFError:
            pass
        data, self.buf = self.buf, b""
        return data

    def body(self, fields, until_close):
        if "chunked" in fields.get("transfer-encoding", "").lower():
            return self.chunked()
        if "content-length" in fields:
            return self.exact(int(fields["content-length"]))
        return self.rest() if until_close else b""


def chunk_up(data, rnd):
    """data as a chunked body in random pieces."""
    out, i = [], 0
    while i < len(data):
        n = rnd.randint(1, 20000)
        out.append(b"%x\r\n%s\r\n" % (len(data[i:i + n]), data[i:i + n]))
        i += n
    out.append(b"0\r\n\r\n")
    return b"".join(out)


def pattern(n):
    block = bytes(range(256)) * 64
    return (block * (n // len(block) + 1))[:n]


def rst_close(sock):
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


# --- the backend ------------------------------------------------------------------
def serve_conn(sock):
    rnd = random.Random()
    r = Reader(sock)
    sock.settimeout(120)
    try:
        while True:
            first, fields = r.head()
            method, target, _ = first.decode().split(" ", 2)
            body = r.body(fields, False)
            path, _, query = target.partition("?")
            args = dict(a.partition("=")[::2] for a in query.split("&") if a)
            status, out, chunked = 200, b"ok\n", False
            if path == "/trouble/echo":
                out = b"%d %s\n" % (len(body), hashlib.sha256(body).hexdigest().encode())
                chunked = args.get("chunked") == "1"
            elif path == "/trouble/gen":
                out, chunked = pattern(int(args.get("n", "1000"))), True
            elif path == "/trouble/slow":
                time.sleep(SLOW)
            elif path == "/trouble/reset":
                rst_close(sock)
                return
            elif path == "/trouble/half":
                sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10000\r\n\r\n" + b"h" * 1000)
                time.sleep(0.05)
                rst_close(sock)
                return
            if chunked:
                head = b"HTTP/1.1 %d OK\r\nTransfer-Encoding: chunked\r\n\r\n" % status
                sock.sendall(head + chunk_up(out, rnd))
            else:
                sock.sendall(b"HTTP/1.1 %d OK\r\nContent-Length: %d\r\n\r\n%s" % (status, len(out), out))
            if fields.get("connection", "").lower() == "close":
                break
    except (EOFError, OSError, ValueError):
        pass
    try:
        sock.close()
    except OSError:
        pass


def backend(port, until):
    def watchdog():
        time.sleep(max(0, until - time.time()))
        os._exit(0)
    threading.Thread(target=watchdog, daemon=True).start()
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(1024)
    while True:
        s, _ = ls.accept()
        threading.Thread(target=serve_conn, args=(s,), daemon=True).start()


# --- the client -------------------------------------------------------------------
class Conn:
    """A keep-alive connection to portico, made again when it closes."""
    def __init__(self, port):
        self.port, self.sock, self.r = port, None, None

    def open(self):
        self.close()
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        self.r = Reader(self.sock)

    def close(self):
        if self.sock is not None:
            self.sock.close()
        self.sock = None

    def exchange(self, req, method="GET", expect_continue=False, body=b""):
        """Send req (+ body), read one response: (status, fields, body).
        A request on a reused connection that fails before any answer is
        sent again on a new one (the server may close an idle connection,
        as portico's old workers do at a reload)."""
        for attempt in (0, 1):
            fresh = self.sock is None
            if fresh:
                self.open()
            try:
                self.sock.sendall(req)
                if expect_continue:
                    first, fields = self.r.head()
                    if not first.startswith(b"HTTP/1.1 100"):
                        return self.finish(first, fields, method)
                self.sock.sendall(body)
                first, fields = self.r.head()
                while first.split(b" ")[1].startswith(b"1"):
                    first, fields = self.r.head()
                return self.finish(first, fields, method)
            except (EOFError, ConnectionResetError, BrokenPipeError):
                self.close()
                if fresh or attempt == 1 or (self.r and self.r.buf):
                    raise
                with lock:
                    counts["reconnect", "resent on a new connection"] = \
                        counts.get(("reconnect", "resent on a new connection"), 0) + 1

    def finish(self, first, fields, method):
        status = int(first.split(b" ")[1])
        close = fields.get("connection", "").lower() == "close"
        body = b"" if method == "HEAD" or status in (204, 304) else self.r.body(fields, True)
        if close or ("content-length" not in fields and "chunked" not in fields.get("transfer-encoding", "")):
            self.close()
        return status, fields, body


counts = {}
failures = []
lock = threading.Lock()


def count(kind, what, ok, detail=None):
    with lock:
        counts[kind, what] = counts.get((kind, what), 0) + 1
        counts[kind, "ok" if ok else "bad"] = counts.get((kind, "ok" if ok else "bad"), 0) + 1
        if not ok and detail and len(failures) < 20:
            failures.append("%s: %s" % (kind, detail))


def req(method, path, extra=b""):
    return b"%s %s HTTP/1.1\r\nHost: soak\r\n%s\r\n" % (method.encode(), path.encode(), extra)


def t_upload(port, deadline):
    c, rnd = Conn(port), random.Random()
    while time.time() < deadline:
        n = rnd.choice([0, 1, 100, 4096, rnd.randint(1, 300000)])
        data = os.urandom(n)
        want = b"%d %s\n" % (n, hashlib.sha256(data).hexdigest().encode())
        how = rnd.choice(["chunked", "chunked", "length", "continue"])
        cont = how == "continue"
        if how == "length":
            head, body = req("POST", "/trouble/echo", b"Content-Length: %d\r\n" % n), data
        else:
            head = req("POST", "/trouble/echo?chunked=%d" % rnd.randint(0, 1),
                       b"Transfer-Encoding: chunked\r\n" + (b"Expect: 100-continue\r\n" if cont else b""))
            body = chunk_up(data, rnd)
        try:
            status, _, got = c.exchange(head, "POST", cont, body)
            count("upload", how, status == 200 and got == want, "%s %d bytes: %d %r" % (how, n, status, got[:80]))
        except (OSError, EOFError, ValueError) as e:
            c.close()
            count("upload", how, False, "%s %d bytes: %s" % (how, n, e))


def t_chunked(port, deadline):
    c, rnd = Conn(port), random.Random()
    while time.time() < deadline:
        n = rnd.choice([0, 1, 5000, rnd.randint(1, 500000)])
        try:
            status, fields, got = c.exchange(req("GET", "/trouble/gen?n=%d" % n))
            ok = status == 200 and got == pattern(n) and "chunked" in fields.get("transfer-encoding", "")
            count("chunked", "gen", ok, "%d bytes: status %d, got %d" % (n, status, len(got)))
        except (OSError, EOFError, ValueError) as e:
            c.close()
            count("chunked", "gen", False, "%d bytes: %s" % (n, e))


PIPE = [("/app/1k.html", 200), ("/nothing/x", 404), ("/status", 200), ("/trouble/gen?n=3000", 200),
        ("/app/1k.html", 200), ("/nothing/y", 404), ("/trouble/echo", 200), ("/app/1k.html", 200),
        ("/nothing/z", 404), ("/app/1k.html", 200), ("/trouble/gen?n=70000", 200), ("/app/1k.html", 200)]


def t_pipeline(port, deadline):
    want = [st for _, st in PIPE]
    while time.time() < deadline:
        got, closing = [], False
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            r = Reader(s)
            s.sendall(b"".join(req("GET", p) for p, _ in PIPE))
            for _ in PIPE:
                first, fields = r.head()
                got.append(int(first.split(b" ")[1]))
                r.body(fields, False)
                if fields.get("connection", "").lower() == "close":
                    closing = True
                    break
            s.close()
            if closing and got == want[:len(got)]:
                # A worker that stops (a reload) answers what it has read
                # with Connection: close: the client sends the rest again.
                count("pipeline", "cut short by Connection: close", True)
            else:
                count("pipeline", "12 in one write", got == want, "got %s" % got)
        except (OSError, EOFError, ValueError) as e:
            count("pipeline", "12 in one write", False,
                  "%s after %d answers %s (no Connection: close)" % (e, len(got), got))
        time.sleep(0.01)


def t_failures(port, deadline):
    rnd = random.Random()
    paths = ["/trouble/slow", "/trouble/reset", "/trouble/half", "/flaky/1k.html", "/flaky/1k.html"]
    while time.time() < deadline:
        p = rnd.choice(paths)
        what = p.split("/")[2]
        try:
            c = Conn(port)
            status, _, got = c.exchange(req("GET", p, b"Connection: close\r\n"))
            c.close()
            count("failures", "%s %d" % (what, status), True)
        except socket.timeout:
            count("failures", "%s hung" % what, False, "%s: no answer in 10 s" % p)
        except (OSError, EOFError, ValueError) as e:
            # A response broken off after its head (half) ends like this.
            count("failures", "%s %s" % (what, type(e).__name__), True)
        time.sleep(0.2)


def client(port, seconds):
    deadline = time.time() + seconds
    threads = [threading.Thread(target=f, args=(port, deadline), daemon=True)
               for f in (t_upload, t_upload, t_chunked, t_pipeline, t_failures, t_failures)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 30)
    kinds = sorted({k for k, _ in counts})
    for k in kinds:
        detail = ", ".join("%s %d" % (w, n) for (kk, w), n in sorted(counts.items())
                           if kk == k and w not in ("ok", "bad"))
        print("client %s ok %d bad %d: %s" % (k, counts.get((k, "ok"), 0), counts.get((k, "bad"), 0), detail))
    for f in failures[:10]:
        print("client failure %s" % f)
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "backend":
        backend(int(sys.argv[2]), float(sys.argv[3]))
    elif len(sys.argv) == 4 and sys.argv[1] == "client":
        client(int(sys.argv[2]), float(sys.argv[3]))
    else:
        sys.exit(__doc__)

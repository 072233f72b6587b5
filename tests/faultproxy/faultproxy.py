#!/usr/bin/env python3
"""faultproxy: a loopback HTTP/1.1 proxy that sits in front of a real S3
server and injects failures on a chosen fraction of requests, so that the
retry behaviour of floe's S3 client is tested against the real server.

    faultproxy.py --upstream 127.0.0.1:8080 --port-file P [--listen-port 0]
                  [--rate 0.1] [--modes 500,503,slowdown,delay,reset,reset-mid,truncate]
                  [--delay-ms 300] [--seed N] [--stats-file S]

The client talks to the proxy as if it were the server (same Host header is
passed on, so SigV4 signatures stay valid). For each request, with
probability --rate, one mode is picked at random:

  500        answer 500 InternalError without forwarding
  503        answer 503 ServiceUnavailable without forwarding
  slowdown   answer 503 SlowDown without forwarding
  delay      wait --delay-ms, then forward normally (the request succeeds)
  reset      reset the connection (RST) before forwarding
  reset-mid  forward, relay the headers and part of the body, then reset
  truncate   forward, relay the headers and part of the body, then close

The chosen port is written to --port-file once listening. Counters
(requests, injected per mode) are rewritten to --stats-file as JSON after
every request. Stops on SIGTERM/SIGINT.
"""
import argparse
import json
import random
import signal
import socket
import socketserver
import struct
import sys
import threading
import time

ERR_XML = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
           '<Message>{msg}</Message><RequestId>faultproxy</RequestId></Error>')


class Stats:
    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()
        self.data = {"requests": 0, "injected": 0, "by_mode": {}}

    def count(self, mode):
        with self.lock:
            self.data["requests"] += 1
            if mode:
                self.data["injected"] += 1
                self.data["by_mode"][mode] = self.data["by_mode"].get(mode, 0) + 1
            if self.path:
                tmp = self.path + ".tmp"
                with open(tmp, "w") as f:
                    json.dump(self.data, f)
                import os
                os.replace(tmp, self.path)


def read_line(f):
    line = f.readline(65537)
    if not line:
        return None
    if len(line) > 65536:
        raise ValueError("header line too long")
    return line


def read_head(f):
    """Returns (first_line, [(name, value)], raw_header_lines) or None at EOF."""
    first = read_line(f)
    if first is None:
        return None
    while first in (b"\r\n", b"\n"):
        first = read_line(f)
        if first is None:
            return None
    headers = []
    while True:
        line = read_line(f)
        if line is None:
            raise ValueError("eof in headers")
        if line in (b"\r\n", b"\n"):
            break
        name, _, value = line.decode("latin-1").partition(":")
        headers.append((name.strip(), value.strip()))
    return first, headers


def header(headers, name):
    for k, v in headers:
        if k.lower() == name:
            return v
    return None


def reset(sock):
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


def read_body(f, headers):
    """Reads a request body (Content-Length or chunked) and returns raw bytes to forward."""
    te = header(headers, "transfer-encoding")
    if te and "chunked" in te.lower():
        out = bytearray()
        while True:
            line = read_line(f)
            out += line
            size = int(line.split(b";")[0].strip(), 16)
            if size == 0:
                while True:
                    t = read_line(f)
                    out += t
                    if t in (b"\r\n", b"\n"):
                        return bytes(out)
            out += f.read(size + 2)
    n = int(header(headers, "content-length") or 0)
    return f.read(n) if n else b""


class Handler(socketserver.BaseRequestHandler):
    def setup(self):
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.cf = self.request.makefile("rb", buffering=65536)
        self.up = None
        self.uf = None

    def finish(self):
        for s in (self.up,):
            if s:
                try:
                    s.close()
                except OSError:
                    pass

    def upstream(self):
        if self.up is None:
            host, port = self.server.opts.upstream.rsplit(":", 1)
            self.up = socket.create_connection((host, int(port)))
            self.up.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.uf = self.up.makefile("rb", buffering=65536)
        return self.up

    def send_error(self, status, reason, code, msg, close=False):
        body = ERR_XML.format(code=code, msg=msg).encode()
        head = (f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/xml\r\n"
                f"Content-Length: {len(body)}\r\n"
                f"Connection: {'close' if close else 'keep-alive'}\r\n\r\n").encode()
        self.request.sendall(head + body)

    def handle(self):
        opts = self.server.opts
        try:
            while True:
                got = read_head(self.cf)
                if got is None:
                    return
                first, headers = got
                method = first.split(b" ", 1)[0].decode("latin-1")
                mode = None
                if self.server.rng_lock:
                    with self.server.rng_lock:
                        if self.server.rng.random() < opts.rate:
                            mode = self.server.rng.choice(opts.modes)
                self.server.stats.count(mode)
                expect = (header(headers, "expect") or "").lower() == "100-continue"
                has_body = header(headers, "content-length") not in (None, "0") or \
                    header(headers, "transfer-encoding") is not None
                if mode == "reset":
                    reset(self.request)
                    return
                if mode in ("500", "503", "slowdown"):
                    status, reason, code = {"500": (500, "Internal Server Error", "InternalError"),
                                            "503": (503, "Service Unavailable", "ServiceUnavailable"),
                                            "slowdown": (503, "Slow Down", "SlowDown")}[mode]
                    if expect:
                        # refuse before the body is sent, then close: the body never comes
                        self.send_error(status, reason, code, "injected by faultproxy", close=True)
                        return
                    read_body(self.cf, headers)
                    self.send_error(status, reason, code, "injected by faultproxy")
                    continue
                if expect:
                    self.request.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
                body = read_body(self.cf, headers) if has_body else b""
                if mode == "delay":
                    time.sleep(opts.delay_ms / 1000.0)
                raw = bytearray(first)
                for k, v in headers:
                    if k.lower() == "expect":
                        continue
                    raw += f"{k}: {v}\r\n".encode("latin-1")
                raw += b"\r\n"
                up = self.upstream()
                up.sendall(bytes(raw) + body)
                if not self.relay_response(method, mode):
                    return
        except (OSError, ValueError):
            return

    def relay_response(self, method, mode):
        """Relays one response; returns False when the client connection is done."""
        while True:
            got = read_head(self.uf)
            if got is None:
                self.request.close()
                return False
            first, headers = got
            status = int(first.split(b" ")[1])
            out = bytearray(first)
            for k, v in headers:
                out += f"{k}: {v}\r\n".encode("latin-1")
            out += b"\r\n"
            if status == 100:
                continue  # the proxy answered 100 itself
            break
        no_body = method == "HEAD" or status in (204, 304) or 100 <= status < 200
        te = header(headers, "transfer-encoding")
        cl = header(headers, "content-length")
        conn_close = (header(headers, "connection") or "").lower() == "close"
        if no_body:
            self.request.sendall(bytes(out))
            return not conn_close
        if te and "chunked" in te.lower():
            body = read_body(self.uf, headers)
            total = len(body)
            chunks = iter([body])
        elif cl is not None:
            total = int(cl)
            chunks = self.stream(total)
        else:
            body = self.uf.read()
            total = len(body)
            chunks = iter([body])
            conn_close = True
        # headers go out first, the body is streamed (a server that stalls
        # mid-body stalls the client too, as it would without the proxy)
        self.request.sendall(bytes(out))
        cut = total // 2 if mode in ("reset-mid", "truncate") and total > 1 else None
        sent = 0
        for chunk in chunks:
            if cut is not None and sent + len(chunk) >= cut:
                self.request.sendall(chunk[: cut - sent])
                if mode == "reset-mid":
                    reset(self.request)
                else:
                    self.request.shutdown(socket.SHUT_RDWR)
                    self.request.close()
                if self.up:
                    self.up.close()
                    self.up = None
                return False
            self.request.sendall(chunk)
            sent += len(chunk)
        if sent < total:
            self.request.close()
            return False
        if conn_close:
            self.request.close()
            return False
        return True

    def stream(self, n):
        while n > 0:
            chunk = self.uf.read1(min(n, 262144))
            if not chunk:
                return
            n -= len(chunk)
            yield chunk


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--upstream", required=True, help="host:port of the real server")
    ap.add_argument("--listen-port", type=int, default=0)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--rate", type=float, default=0.1)
    ap.add_argument("--modes", default="500,503,slowdown,delay,reset,reset-mid,truncate")
    ap.add_argument("--delay-ms", type=int, default=300)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--stats-file", default=None)
    opts = ap.parse_args()
    opts.modes = [m for m in opts.modes.split(",") if m]
    known = {"500", "503", "slowdown", "delay", "reset", "reset-mid", "truncate"}
    bad = [m for m in opts.modes if m not in known]
    if bad or not opts.modes:
        print(f"faultproxy: unknown mode(s) {bad}; known: {sorted(known)}", file=sys.stderr)
        return 2
    if not 0 <= opts.rate <= 1:
        print("faultproxy: --rate must be in [0, 1]", file=sys.stderr)
        return 2
    srv = Server(("127.0.0.1", opts.listen_port), Handler)
    srv.opts = opts
    srv.rng = random.Random(opts.seed)
    srv.rng_lock = threading.Lock()
    srv.stats = Stats(opts.stats_file)
    signal.signal(signal.SIGTERM, lambda *a: threading.Thread(target=srv.shutdown).start())
    with open(opts.port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.replace(opts.port_file + ".tmp", opts.port_file)
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

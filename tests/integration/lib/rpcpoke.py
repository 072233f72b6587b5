#!/usr/bin/env python3
"""Hostile RPC clients against a floe node, for the fault matrix.

    rpcpoke.py HOST PORT TOKEN_FILE [CASE...]

Speaks floe's frame format (24-byte little-endian header: magic "FLRP",
version, kind, flags, method, seq, status, len) and its cluster-token
handshake (HMAC-SHA256 over label NUL client_nonce server_nonce) only as far
as needed to misbehave. Each case prints "PASS rpc:<case>" when the node
refused the way it should (an error frame and/or a closed connection, within a
deadline), "FAIL rpc:<case>: why" otherwise. Exit status 1 when any failed.
Whether the node stayed up is for the caller to check.
"""
import hashlib
import hmac
import os
import socket
import struct
import sys
import time

MAGIC = 0x50524C46
VERSION = 1
REQUEST, REPLY, AUTH = 1, 2, 3
HELLO, CHALLENGE, PROOF, RESULT = 1, 2, 3, 4
LABEL_CLIENT = b"floe-rpc-client-v1\0"
LABEL_SERVER = b"floe-rpc-server-v1\0"


def header(kind, method=0, seq=0, status=0, length=0, version=VERSION, flags=0, magic=MAGIC):
    return struct.pack("<IBBHIIiI", magic, version, kind, flags, method, seq, status, length)


def recv_exact(s, n):
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            return None
        out += chunk
    return out


def read_frame(s):
    """(kind, method, status, payload) or None when the peer closed."""
    h = recv_exact(s, 24)
    if h is None:
        return None
    magic, ver, kind, flags, method, seq, status, length = struct.unpack("<IBBHIIiI", h)
    if magic != MAGIC:
        raise ValueError("reply with bad magic")
    payload = recv_exact(s, length) if length else b""
    if payload is None:
        return None
    return kind, method, status, payload


def connect(host, port, timeout):
    s = socket.create_connection((host, port), timeout=timeout)
    s.settimeout(timeout)
    return s


def refused(s, deadline_s):
    """True when the node answers with an error frame and/or closes the
    connection within deadline_s (reads until EOF, ignoring error frames)."""
    s.settimeout(deadline_s)
    end = time.time() + deadline_s
    try:
        while time.time() < end:
            f = read_frame(s)
            if f is None:
                return True, "closed"
            kind, method, status, payload = f
            if status == 0:
                return False, "got a success frame (kind %d method %d)" % (kind, method)
            # an error frame; the connection should close next (or at least
            # not serve anything): keep reading until EOF or deadline
            return True, "error frame status %d: %s" % (status, payload[:80].decode("utf-8", "replace"))
    except (ConnectionResetError, BrokenPipeError):
        return True, "reset"
    except socket.timeout:
        return False, "no answer and still open after %.0f s" % deadline_s
    return False, "deadline"


def handshake(s, token):
    """Runs the client side of the handshake; returns the result frame."""
    cn = os.urandom(32)
    s.sendall(header(AUTH, HELLO, length=32) + cn)
    f = read_frame(s)
    if f is None:
        return None
    kind, method, status, sn = f
    if status != 0 or method != CHALLENGE:
        return f
    proof = hmac.new(token, LABEL_CLIENT + cn + sn, hashlib.sha256).digest()
    s.sendall(header(AUTH, PROOF, length=len(proof)) + proof)
    res = read_frame(s)
    if res and res[2] == 0:
        want = hmac.new(token, LABEL_SERVER + cn + sn, hashlib.sha256).digest()
        if res[3] != want:
            raise ValueError("server proof does not verify")
    return res


def main():
    host, port, token_file = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    only = set(sys.argv[4:])
    with open(token_file, "rb") as f:
        token = f.read().strip()
    failed = 0

    def report(name, ok, why):
        nonlocal failed
        if ok:
            print("PASS rpc:%s (%s)" % (name, why))
        else:
            failed += 1
            print("FAIL rpc:%s: %s" % (name, why))
        sys.stdout.flush()

    def case(name, fn):
        if only and name not in only:
            return
        try:
            ok, why = fn()
        except Exception as ex:  # a crash of the probe is a failure too
            ok, why = False, "probe error: %r" % (ex,)
        report(name, ok, why)

    def garbage():
        s = connect(host, port, 5)
        s.sendall(os.urandom(64))
        return refused(s, 10)

    def http_request():
        s = connect(host, port, 5)
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        return refused(s, 10)

    def bad_version():
        s = connect(host, port, 5)
        s.sendall(header(AUTH, HELLO, length=32, version=99) + os.urandom(32))
        return refused(s, 10)

    def request_before_auth():
        s = connect(host, port, 5)
        s.sendall(header(REQUEST, 1, seq=1, length=4) + b"\0\0\0\0")
        return refused(s, 10)

    def huge_length():
        s = connect(host, port, 5)
        s.sendall(header(AUTH, HELLO, length=0x7FFFFFF0))
        return refused(s, 10)

    def short_hello():
        s = connect(host, port, 5)
        s.sendall(header(AUTH, HELLO, length=5) + b"abcde")
        return refused(s, 10)

    def wrong_token():
        s = connect(host, port, 5)
        res = handshake(s, b"not-the-cluster-token-0123456789")
        if res is None:
            return True, "closed"
        if res[2] == 0:
            return False, "handshake with a wrong token succeeded"
        return refused(s, 10)[0], "error status %d" % res[2]

    def replayed_proof():
        # A proof computed for other nonces must not be accepted.
        s = connect(host, port, 5)
        s.sendall(header(AUTH, HELLO, length=32) + os.urandom(32))
        f = read_frame(s)
        if f is None:
            return False, "closed before the challenge"
        stale = hmac.new(token, LABEL_CLIENT + os.urandom(64), hashlib.sha256).digest()
        s.sendall(header(AUTH, PROOF, length=32) + stale)
        res = read_frame(s)
        if res is None:
            return True, "closed"
        return res[2] != 0, "status %d" % res[2]

    def silent_client():
        # Connects and says nothing: closed after the handshake timeout.
        s = connect(host, port, 5)
        return refused(s, 30)

    def stalled_crowd():
        # 20 connections that never finish the handshake must not keep an
        # honest client out for long.
        crowd = [connect(host, port, 5) for _ in range(20)]
        t0 = time.time()
        s = connect(host, port, 30)
        res = handshake(s, token)
        dt = time.time() - t0
        for c in crowd:
            c.close()
        if res is None or res[2] != 0:
            return False, "honest handshake failed (%r) after %.1f s" % (res and res[2], dt)
        return dt < 5, "honest handshake took %.1f s behind 20 stalled clients" % dt

    def auth_then_garbage():
        # Authenticated, then requests with unknown methods and random
        # payloads: every one answered (error or not) or the connection
        # closed; never a hang.
        s = connect(host, port, 10)
        res = handshake(s, token)
        if res is None or res[2] != 0:
            return False, "handshake with the right token failed"
        answered = errors = 0
        for i, method in enumerate([60000, 65535, 0] + list(range(1, 40))):
            payload = os.urandom((i * 37) % 300)
            try:
                s.sendall(header(REQUEST, method, seq=i + 1, length=len(payload)) + payload)
                f = read_frame(s)
            except (ConnectionResetError, BrokenPipeError):
                f = None
            if f is None:
                s = connect(host, port, 10)
                if handshake(s, token) is None:
                    return False, "node stopped accepting after method %d" % method
                continue
            answered += 1
            if f[2] != 0:
                errors += 1
        return True, "%d answered, %d with an error" % (answered, errors)

    def bad_frame_after_auth():
        s = connect(host, port, 10)
        res = handshake(s, token)
        if res is None or res[2] != 0:
            return False, "handshake with the right token failed"
        s.sendall(header(REQUEST, 1, seq=1, length=8, flags=0x10) + b"\0" * 8)
        return refused(s, 10)

    case("garbage_bytes", garbage)
    case("http_request", http_request)
    case("bad_version", bad_version)
    case("request_before_auth", request_before_auth)
    case("huge_length", huge_length)
    case("short_hello", short_hello)
    case("wrong_token", wrong_token)
    case("replayed_proof", replayed_proof)
    case("bad_frame_after_auth", bad_frame_after_auth)
    case("auth_then_garbage", auth_then_garbage)
    case("stalled_crowd", stalled_crowd)
    case("silent_client", silent_client)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

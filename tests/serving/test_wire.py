"""What the real `serve` puts on the wire for a small answer: one piece, head and body."""

from __future__ import annotations

import socket

from tests.serving.conftest import Server

REQUEST = (b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
           b"Content-Length: 11\r\n\r\n0.1,0.2,0.3")


def _head_and_length(answer: bytes) -> tuple[bytes, int]:
    head, _, _ = answer.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return head, int(value)
    raise AssertionError(f"no content-length in {head!r}")


def test_a_small_answer_arrives_whole_in_one_read(server: Server):
    # Written in one send(), a small response is one segment on loopback, and the first
    # recv() holds all of it; written head first, the client often wakes with the head
    # alone (two system calls each side, for every request).
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        for _ in range(50):
            sock.sendall(REQUEST)
            answer = sock.recv(65536)
            head, length = _head_and_length(answer)
            assert head.startswith(b"HTTP/1.1 200 ")
            assert len(answer) == len(head) + 4 + length


def test_a_head_request_gets_its_head_on_a_kept_alive_connection(server: Server):
    # HEAD has no body bytes to carry the response's head: it must still leave.
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        for _ in range(3):
            sock.sendall(b"HEAD /ping HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = b""
            while not answer.endswith(b"\r\n\r\n"):
                answer += sock.recv(65536)
            assert answer.startswith(b"HTTP/1.1 200 ")
        sock.sendall(REQUEST)  # and the connection still serves
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")

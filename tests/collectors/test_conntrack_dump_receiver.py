"""The two-thread dump reader: where the end of a dump is, and what happens when it is not there.

The kernel is replaced here by the other end of a real datagram socket pair, so the buffers can
be shaped as a kernel never would: the end of the dump in the middle of a buffer, a buffer that
only looks like the end, a socket that closes mid-dump. (The real kernel's dumps are read by
``test_conntrack_netlink.py`` and ``benchmarks/conntrack.py``.)
"""

from __future__ import annotations

import os
import socket
import struct
import threading
import time
from collections.abc import Iterator

import pytest

from collectors import ctnetlink_decode as decode
from collectors.conntrack_netlink import _dump, _ends_dump
from collectors.conntrack_text import ConntrackEntry
from tests.collectors.conntrack_lab import ct_message
from topomap.errors import CollectorFailed, CollectorUnavailable

SEQ = 1


def done_message(seq: int = SEQ, code: int = 0) -> bytes:
    return decode.NLMSG_HDR.pack(20, decode.NLMSG_DONE, 2, seq, 0) + struct.pack("=i", code)


def error_message(code: int, seq: int = SEQ) -> bytes:
    request = decode.NLMSG_HDR.pack(20, 0x101, 0x301, seq, 0)
    return (
        decode.NLMSG_HDR.pack(36, decode.NLMSG_ERROR, 0, seq, 0)
        + struct.pack("=i", -code)
        + request
    )


def entries(first: int, count: int) -> bytes:
    return b"".join(
        ct_message(SEQ, "10.0.0.1", "10.0.0.2", 6, 1000 + i, 80, state=3)
        for i in range(first, first + count)
    )


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    ours, kernel = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    yield ours, kernel
    ours.close()
    kernel.close()


def run_dump(
    ours: socket.socket, *buffers: bytes, kernel: socket.socket
) -> tuple[list[ConntrackEntry], dict[str, int]]:
    for buf in buffers:
        kernel.send(buf)
    return _dump(ours, None)


def test_end_of_dump_detection() -> None:
    body = bytearray(entries(0, 2) + done_message())
    assert _ends_dump(body, len(body), SEQ)
    assert not _ends_dump(body, len(body), SEQ + 1)  # another dump's end
    assert not _ends_dump(body, len(body) - 20, SEQ)
    error = bytearray(error_message(1))
    assert _ends_dump(error, len(error), SEQ)
    assert not _ends_dump(bytearray(b"\0" * 8), 8, SEQ)


def test_a_dump_in_several_buffers(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, kernel = pair
    got, skipped = run_dump(
        ours, entries(0, 50), entries(50, 50), entries(100, 7) + done_message(), kernel=kernel
    )
    assert [e.original.sport for e in got] == list(range(1000, 1107))
    assert skipped == {}
    assert kernel.recv(100)[:4] == struct.pack("=I", 20)  # the request went out
    assert [t.name for t in threading.enumerate() if t.name == "conntrack-dump"] == []


def test_end_in_the_middle_of_a_buffer_stops_the_receiver(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    """The decoder finds NLMSG_DONE; the receiver, still waiting, is stopped within its wakeup."""
    ours, kernel = pair
    trailing = ct_message(SEQ + 5, "10.9.9.9", "10.9.9.8", 6, 1, 2, state=3)  # another seq
    started = time.monotonic()
    got, _ = run_dump(ours, entries(0, 3) + done_message() + trailing, kernel=kernel)
    assert len(got) == 3
    assert time.monotonic() - started < 5
    assert [t.name for t in threading.enumerate() if t.name == "conntrack-dump"] == []


def test_a_buffer_that_only_looks_like_the_end(pair: tuple[socket.socket, socket.socket]) -> None:
    """An entry whose last 20 bytes read like NLMSG_DONE: the caller reads on by itself."""
    ours, kernel = pair
    # NLMSG_DONE's bytes are also a valid attribute (length 20, type 0 on a little-endian
    # machine), which the decoder skips as unknown: appended, the entry ends like a dump.
    tricky = ct_message(SEQ, "10.0.0.7", "10.0.0.8", 6, 7, 8, state=3, extra=done_message())
    buf = bytearray(tricky)
    assert _ends_dump(buf, len(buf), SEQ)
    got, _ = run_dump(ours, bytes(buf), entries(0, 2) + done_message(), kernel=kernel)
    assert [e.original.sport for e in got] == [7, 1000, 1001]


def test_a_socket_that_closes_mid_dump(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, kernel = pair
    kernel.send(entries(0, 4))
    kernel.send(b"")  # an empty datagram: what recv gives when the socket is shut down
    with pytest.raises(CollectorFailed, match="ended without NLMSG_DONE after 4 entries"):
        _dump(ours, None)


def test_a_refused_dump(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, kernel = pair
    with pytest.raises(CollectorUnavailable, match="needs CAP_NET_ADMIN"):
        run_dump(ours, error_message(1), kernel=kernel)


def test_a_cut_message_fails_the_dump_and_stops_the_receiver(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, kernel = pair
    cut = entries(0, 2)[:-30]
    with pytest.raises(CollectorFailed, match="netlink message cut"):
        run_dump(ours, cut, entries(2, 2) + done_message(), kernel=kernel)
    assert [t.name for t in threading.enumerate() if t.name == "conntrack-dump"] == []


class _BrokenReads(socket.socket):
    """A real socket whose reads fail with something other than an OSError."""

    def recv_into(self, *args: object, **kwargs: object) -> int:
        raise MemoryError("no memory for the next buffer")


def test_any_failure_of_the_receiving_thread_reaches_the_caller(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    """Not only OSError: whatever ends the receiving thread is raised in the caller, which
    would otherwise wait forever for a buffer."""
    ours, _ = pair
    broken = _BrokenReads(fileno=os.dup(ours.fileno()))
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            _dump(broken, None)
        except BaseException as exc:  # noqa: BLE001 - the test inspects it
            outcome.append(exc)

    caller = threading.Thread(target=run, daemon=True)
    caller.start()
    caller.join(timeout=10)
    broken.close()
    assert not caller.is_alive(), "the caller still waits for the receiving thread"
    assert [type(e) for e in outcome] == [MemoryError]

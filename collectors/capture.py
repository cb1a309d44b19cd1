"""The packet-capture collectors: a pcap/pcapng file, or a live interface through scapy.

This module owns turning packets into Snapshot parts: it feeds batches (from
:mod:`collectors.pcap_reader`, or built from what a live scapy socket receives) through
:mod:`collectors.fastpath` into two :class:`collectors.flows.FlowTable` (flows, and the outer
UDP flows of VXLAN/Geneve tunnels, which are recorded on the inner flows rather than reported
themselves), and DNS payloads into :class:`collectors.dns_answers.DnsCollector`; then writes
:class:`topomap.model.Connection` and :class:`topomap.model.DnsAnswer`.

Coverage: packets that could not be decoded are counted by reason in ``ctx.skipped``; a file
cut short, a corrupt record, or flows split because the table was full are ``ctx.warnings``.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import select
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from collectors import fastpath, flows, packet_decode
from collectors.base import CollectorContext
from collectors.dns_answers import DnsCollector
from collectors.merge import Observation
from collectors.pcap_reader import Batch, CaptureFile
from topomap import __version__, model
from topomap.errors import CollectorUnavailable, InputError

_PROTO: dict[int, model.Protocol] = {6: "tcp", 17: "udp"}


@dataclass
class Aggregator:
    """Everything a capture adds up to, batch after batch."""

    observed_by: str
    max_flows: int = flows.DEFAULT_MAX_FLOWS
    table: flows.FlowTable = field(init=False)
    outer: flows.FlowTable = field(init=False)
    fragments: fastpath.Fragments = field(default_factory=fastpath.Fragments)
    dns: DnsCollector = field(init=False)
    skipped: Counter[str] = field(default_factory=Counter)
    packets: int = 0
    fast: bool = True
    """Use the vectorized path (False: every packet through the reference decoder)."""

    def __post_init__(self) -> None:
        self.table = flows.FlowTable(self.max_flows)
        self.outer = flows.FlowTable(self.max_flows)
        self.dns = DnsCollector(self.observed_by)

    def add(self, batch: Batch) -> None:
        got = fastpath.rows_of(batch, self.fragments, fast=self.fast)
        self.packets += len(batch)
        self.skipped.update(got.skipped)
        if len(got.flows):
            self.table.add(got.flows, got.tunnels)
        if len(got.outer):
            self.outer.add(got.outer)
        for payload, proto, ts in got.dns:
            self.dns.add_payload(payload, proto, flows.time_of(ts))

    def done_connections(self) -> Iterator[model.Connection]:
        """Connections finished so far (reused ports, evictions); frees them."""
        done, self.table.done = self.table.done, []
        for flow in done:
            yield to_connection(flow, self.observed_by)

    def finish(self) -> Iterator[Observation]:
        for flow in self.table.finish():
            yield to_connection(flow, self.observed_by)
        yield from self.dns.results()
        self.skipped.update(self.dns.skipped)

    def warnings(self) -> list[str]:
        if not self.table.evicted:
            return []
        return [
            f"flow table full ({self.max_flows} flows): {self.table.evicted} idle flows were "
            "written early; a flow active again after that is counted in a second record"
        ]


def to_connection(flow: flows.Flow, observed_by: str) -> model.Connection:
    src, dst = flows.address(flow.fam, flow.src), flows.address(flow.fam, flow.dst)
    tunnel = None
    if isinstance(flow.tunnel, packet_decode.Tunnel):
        t = flow.tunnel
        tunnel = model.Tunnel(
            kind=t.kind,  # type: ignore[arg-type]
            outer=model.FlowTuple(src=_text(t.src), dst=_text(t.dst), sport=t.sport, dport=t.dport),
            vni=t.vni,
        )
    return model.Connection(
        protocol=_PROTO[flow.proto],
        original=model.FlowTuple(src=src, dst=dst, sport=flow.sport, dport=flow.dport),
        initiator=flows.initiator(flow),
        packets_orig=flow.packets[0],
        bytes_orig=flow.bytes[0],
        packets_reply=flow.packets[1],
        bytes_reply=flow.bytes[1],
        first_seen=flows.time_of(flow.first_ns),
        last_seen=flows.time_of(flow.last_ns),
        observed_by=observed_by,
        tcp_flags=flows.flag_names(flow.flags[0] | flow.flags[1]) if flow.proto == 6 else (),
        tunnel=tunnel,
    )


def _text(raw: bytes) -> str:
    fam, hi, lo = fastpath.split_addr(raw)
    return flows.address(fam, (hi << 64) | lo)


def read_capture(
    path: str | Path,
    *,
    observed_by: str = "pcap",
    max_flows: int = flows.DEFAULT_MAX_FLOWS,
    fast: bool = True,
) -> tuple[Aggregator, CaptureFile]:
    """Read a whole capture file into an :class:`Aggregator` (flows not yet finished)."""
    capture = CaptureFile(Path(path))
    agg = Aggregator(observed_by, max_flows, fast=fast)
    for batch in capture.batches():
        agg.add(batch)
    return agg, capture


class PcapFile:
    """Flows and DNS answers of a pcap or pcapng file."""

    name: ClassVar[str] = "pcap"
    version: ClassVar[str] = __version__

    def __init__(self, path: str | Path, *, max_flows: int = flows.DEFAULT_MAX_FLOWS) -> None:
        self.path = Path(path)
        self.max_flows = max_flows

    def check(self) -> None:
        if not self.path.is_file():
            raise CollectorUnavailable(f"{self.path}: no such capture file")

    def collect(self, ctx: CollectorContext) -> Iterator[Observation]:
        capture = CaptureFile(self.path)
        agg = Aggregator(self.name, self.max_flows)
        for batch in capture.batches():
            agg.add(batch)
            yield from agg.done_connections()
        yield from agg.finish()
        ctx.skipped.update(agg.skipped)
        ctx.warnings.extend(capture.warnings)
        ctx.warnings.extend(agg.warnings())


_LINKTYPES = {"Ether": 1, "CookedLinux": 113, "CookedLinuxV2": 276, "IP": 101, "IPv6": 101}
#: ARPHRD device types (SIOCGIFHWADDR) -> link type of what a packet socket reads.
_ARPHRD = {1: 1, 772: 1, 65534: 101}
_CLONE_NEWNET = 0x40000000
#: Live packets are handed to the flow table in batches of this many, or this often.
LIVE_BATCH, LIVE_FLUSH_S = 4096, 0.5


def _in_netns(netns: str | None, fn: Any) -> Any:
    """Call ``fn()`` in a thread that has entered the named network namespace (``ip netns``
    name), so what it opens (a packet socket) lives there; the calling thread stays put."""
    if netns is None:
        return fn()
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            fd = os.open(f"/run/netns/{netns}", os.O_RDONLY)
            try:
                libc = ctypes.CDLL(None, use_errno=True)
                if libc.setns(fd, _CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise CollectorUnavailable(
                        f"netns {netns}: cannot enter ({os.strerror(err)}); run as root"
                    )
            finally:
                os.close(fd)
            result["value"] = fn()
        except BaseException as exc:  # handed to the caller's thread
            result["error"] = exc

    thread = threading.Thread(target=run, name=f"netns-{netns}")
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result["value"]


class LiveCapture:
    """Flows and DNS answers seen on a live interface (scapy packet socket), for a duration."""

    name: ClassVar[str] = "capture"
    version: ClassVar[str] = __version__

    def __init__(
        self,
        iface: str | None,
        *,
        duration: float | None = None,
        bpf: str | None = None,
        snaplen: int = 262144,
        netns: str | None = None,
        max_flows: int = flows.DEFAULT_MAX_FLOWS,
    ) -> None:
        self.iface = None if iface in (None, "any", "all") else iface
        self.duration = duration
        """Seconds to capture; None: the run's ``--duration`` (``ctx.duration``)."""
        self.bpf = bpf
        self.snaplen = snaplen
        self.netns = netns
        self.max_flows = max_flows

    def check(self) -> None:
        try:
            import scapy.config  # noqa: F401
        except ImportError as exc:
            raise CollectorUnavailable("scapy is not installed: pip install scapy") from exc
        if os.geteuid() != 0:
            raise CollectorUnavailable("live capture needs root (CAP_NET_RAW)")
        if self.netns is not None and not Path(f"/run/netns/{self.netns}").exists():
            raise CollectorUnavailable(f"netns {self.netns}: no such namespace (ip netns list)")

    def _open(self) -> Any:
        from scapy.arch.linux import L2ListenSocket

        self._linktype = -1
        if self.iface is not None:  # the device's ARPHRD type, asked where the device lives
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                    req = struct.pack("256s", self.iface.encode()[:15])
                    got = fcntl.ioctl(probe.fileno(), 0x8927, req)  # SIOCGIFHWADDR
                arphrd = struct.unpack_from("H", got, 16)[0]
            except OSError:
                arphrd = -1
            self._linktype = _ARPHRD.get(arphrd, -1)
        try:
            return L2ListenSocket(iface=self.iface, filter=self.bpf, promisc=False)
        except OSError as exc:
            where = f"{self.iface or 'all interfaces'}" + (
                f" in netns {self.netns}" if self.netns else ""
            )
            raise CollectorUnavailable(f"cannot capture on {where}: {exc}") from exc

    def collect(self, ctx: CollectorContext) -> Iterator[Observation]:
        sock = _in_netns(self.netns, self._open)
        agg = Aggregator(self.name, self.max_flows)
        pending: list[tuple[bytes, int, int, int]] = []  # captured, wire length, ns, linktype
        flushed = time.monotonic()
        deadline = flushed + (self.duration if self.duration is not None else ctx.duration)
        try:
            while (now := time.monotonic()) < deadline and not ctx.stop.is_set():
                ready, _, _ = select.select([sock.ins], [], [], min(0.2, deadline - now))
                if ready:
                    cls, raw, ts = sock.recv_raw(65535 + 64)
                    if raw:
                        link = self._linktype
                        if link < 0:
                            link = _LINKTYPES.get(getattr(cls, "__name__", ""), -1)
                        if link < 0:
                            agg.skipped[f"unsupported link layer {cls.__name__}"] += 1
                        else:
                            stamp = int(ts * 1e9) if ts else time.time_ns()
                            pending.append((raw[: self.snaplen], len(raw), stamp, link))
                if len(pending) >= LIVE_BATCH or (pending and now - flushed > LIVE_FLUSH_S):
                    agg.add(_batch(pending, agg.packets))
                    pending, flushed = [], now
                    yield from agg.done_connections()
        finally:
            sock.close()
        if pending:
            agg.add(_batch(pending, agg.packets))
        yield from agg.finish()
        ctx.skipped.update(agg.skipped)
        ctx.warnings.extend(agg.warnings())


def _batch(packets: list[tuple[bytes, int, int, int]], first: int) -> Batch:
    """Received packets laid end to end, as if read from a file."""
    caplen = np.array([len(p[0]) for p in packets], dtype=np.int64)
    offset = np.concatenate([[0], np.cumsum(caplen)[:-1]]).astype(np.int64)
    data = np.frombuffer(b"".join(p[0] for p in packets), dtype=np.uint8)
    return Batch(
        data=data,
        offset=offset,
        caplen=caplen,
        wirelen=np.array([p[1] for p in packets], dtype=np.int64),
        ts_ns=np.array([p[2] for p in packets], dtype=np.int64),
        linktype=np.array([p[3] for p in packets], dtype=np.int64),
        first_index=first,
    )


def require_readable(path: str | Path) -> None:
    if not Path(path).is_file():
        raise InputError(f"{path}: no such capture file")

"""DNS responses seen on the wire, turned into name -> address records.

This module owns parsing DNS messages (RFC 1035, with name compression) far enough to read the
answer section: A, AAAA and CNAME records. A response to a query for ``api.stripe.com`` that
answers ``api.stripe.com CNAME d1.cloudfront.net`` and ``d1.cloudfront.net A 3.18.12.1``
becomes one :class:`topomap.model.DnsAnswer`: name ``api.stripe.com``, addresses
``("3.18.12.1",)``, cnames ``("d1.cloudfront.net",)``, TTL the smallest of the chain's.

Over TCP a message is preceded by its 2-byte length and several may share a segment; each
complete one is read (a message split over segments is counted as skipped, not reassembled).
Only responses (QR set) with answers are kept; a message that cannot be parsed is counted
under ``"malformed DNS message"``. The same answer (name, addresses, cnames) seen again is kept
once, at its first time, with the smallest TTL seen.
"""

from __future__ import annotations

import socket
import struct
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from topomap import model

_HDR = struct.Struct("!HHHHHH")
_RR = struct.Struct("!HHIH")
A, CNAME, AAAA = 1, 5, 28


class _Malformed(Exception):
    pass


def _name(msg: bytes, at: int) -> tuple[str, int]:
    """Read a (possibly compressed) name at ``at``; return it and where the record goes on."""
    labels: list[str] = []
    resume = -1
    jumps = 0
    while True:
        if at >= len(msg):
            raise _Malformed
        length = msg[at]
        if length & 0xC0 == 0xC0:
            if at + 1 >= len(msg) or jumps > 32:
                raise _Malformed
            if resume < 0:
                resume = at + 2
            at = ((length & 0x3F) << 8) | msg[at + 1]
            jumps += 1
            continue
        if length & 0xC0:
            raise _Malformed
        at += 1
        if length == 0:
            break
        if at + length > len(msg):
            raise _Malformed
        labels.append(msg[at : at + length].decode("ascii", "replace").lower())
        at += length
    return ".".join(labels), (resume if resume >= 0 else at)


def parse_response(msg: bytes) -> tuple[str, list[tuple[str, int, int, bytes | str]]] | None:
    """The question name and answer records ``(owner, type, ttl, address bytes or target)``
    of a DNS response, or None when it is not a response. Raises ``ValueError`` if malformed."""
    try:
        if len(msg) < 12:
            raise _Malformed
        _id, flags, qd, an, _ns, _ar = _HDR.unpack_from(msg, 0)
        if not flags & 0x8000 or flags & 0x7800:  # a query, or not a standard query's answer
            return None
        at, question = 12, ""
        for i in range(qd):
            name, at = _name(msg, at)
            at += 4
            if i == 0:
                question = name
        answers: list[tuple[str, int, int, bytes | str]] = []
        for _ in range(an):
            owner, at = _name(msg, at)
            if at + 10 > len(msg):
                raise _Malformed
            rtype, _cls, ttl, rdlen = _RR.unpack_from(msg, at)
            at += 10
            if at + rdlen > len(msg):
                raise _Malformed
            if rtype in (A, AAAA) and rdlen == (4 if rtype == A else 16):
                answers.append((owner, rtype, ttl, msg[at : at + rdlen]))
            elif rtype == CNAME:
                answers.append((owner, rtype, ttl, _name(msg, at)[0]))
            at += rdlen
        return question, answers
    except _Malformed as exc:
        raise ValueError("malformed DNS message") from exc


@dataclass
class DnsCollector:
    """DNS answers gathered over a capture, each distinct answer once."""

    observed_by: str
    answers: dict[tuple[str, tuple[str, ...], tuple[str, ...]], tuple[int, datetime]] = field(
        default_factory=dict
    )
    skipped: Counter[str] = field(default_factory=Counter)

    def add_payload(self, payload: bytes, proto: int, when: datetime) -> None:
        """Read the DNS message(s) of one UDP datagram or TCP segment from port 53."""
        if proto == 17:
            self._add(payload, when)
            return
        at = 0
        while at + 2 <= len(payload):
            length = struct.unpack_from("!H", payload, at)[0]
            if length < 12:  # shorter than a DNS header: not DNS (or not a message start)
                self.skipped["malformed DNS message"] += 1
                return
            if at + 2 + length > len(payload):
                self.skipped["DNS message split over TCP segments"] += 1
                return
            self._add(payload[at + 2 : at + 2 + length], when)
            at += 2 + length

    def _add(self, msg: bytes, when: datetime) -> None:
        try:
            parsed = parse_response(msg)
        except ValueError:
            self.skipped["malformed DNS message"] += 1
            return
        if parsed is None or not parsed[0]:
            return
        question, records = parsed
        chain, ttl = [question], None
        targets = {owner: target for owner, rtype, _, target in records if rtype == CNAME}
        while chain[-1] in targets and len(chain) < 16:
            nxt = targets[chain[-1]]
            if not isinstance(nxt, str) or nxt in chain:
                break
            chain.append(nxt)
        names = set(chain)
        addresses: list[str] = []
        for owner, rtype, rttl, value in records:
            if owner not in names:
                continue
            ttl = rttl if ttl is None else min(ttl, rttl)
            if rtype in (A, AAAA) and isinstance(value, bytes):
                family = socket.AF_INET if rtype == A else socket.AF_INET6
                text = socket.inet_ntop(family, value)
                if text not in addresses:
                    addresses.append(text)
        if not addresses:
            return
        key = (question, tuple(addresses), tuple(chain[1:]))
        seen = self.answers.get(key)
        ttl = ttl or 0
        self.answers[key] = (min(ttl, seen[0]) if seen else ttl, seen[1] if seen else when)

    def results(self) -> list[model.DnsAnswer]:
        return [
            model.DnsAnswer(
                name=name,
                addresses=addresses,
                cnames=cnames,
                ttl=ttl,
                time=when,
                observed_by=self.observed_by,
            )
            for (name, addresses, cnames), (ttl, when) in sorted(
                self.answers.items(), key=lambda kv: (kv[1][1], kv[0])
            )
        ]

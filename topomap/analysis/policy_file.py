"""The policy file ``topomap.yaml``: the declared boundary the observed graph is judged against.

This module owns the file's structure (the dataclasses below are its one definition: the JSON
Schema in ``docs/policy-file.schema.json`` is generated from them), loading it with errors that
name the line and key (``topomap.yaml:14: /allowed_egress/2/ports/0: expected integer``), and
the matching questions the rules ask: is this peer allowed egress, is this a declared entry
point, which suppression covers this finding, what is this rule's severity here.

Decisions:

* Unknown keys are errors (a typo must not silently allow nothing or everything).
* ``to`` entries are CIDRs or DNS names; ``*.example.com`` matches any name below
  ``example.com`` (not ``example.com`` itself), as in TLS certificates.
* Source limits (``namespaces``, ``workloads``, ``labels``) narrow an entry; an entry with none
  applies to every internal source, hosts included. Workloads are written ``ns/Kind/name``.
* A suppression whose ``expires`` date is before the analysis date no longer applies; the
  finding is reported again and says which suppression expired.
"""

from __future__ import annotations

import fnmatch
import functools
import ipaddress
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

from topomap import typed_json
from topomap.analysis.yaml_source import line_of, load_yaml
from topomap.errors import InputError
from topomap.findings import Severity
from topomap.zones import IPAddress, parse_ip

POLICY_FILE_VERSION = 1

Proto = Literal["tcp", "udp", "sctp", "any"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Boundary:
    """What is inside the system boundary besides the cluster's own ranges."""

    internal: tuple[str, ...] = ()
    """CIDRs inside the boundary (VPC, office, peered networks). The cluster's pod, service
    and node ranges are added automatically from the Kubernetes data."""


@dataclass(frozen=True, kw_only=True, slots=True)
class SourceLimits:
    """Who an entry applies to; empty means every internal source."""

    namespaces: tuple[str, ...] = ()
    """Kubernetes namespaces (glob patterns allowed: ``team-*``)."""
    workloads: tuple[str, ...] = ()
    """Workloads as ``namespace/Kind/name`` (glob patterns allowed)."""
    labels: dict[str, str] = field(default_factory=dict)
    """Pod labels that must all match."""


@dataclass(frozen=True, kw_only=True, slots=True)
class AllowedEgress:
    """One approved external destination."""

    id: str
    """Short unique name of the entry, used in reports."""
    to: tuple[str, ...]
    """CIDRs (``3.18.12.0/24``) or DNS names (``api.stripe.com``, ``*.stripe.com``)."""
    protocol: Proto = "tcp"
    """Transport protocol, or ``any``."""
    ports: tuple[int, ...] = ()
    """Server ports; empty means any port."""
    source: SourceLimits = field(default_factory=SourceLimits)
    """Who may use it."""
    owner: str
    """Who answers for this entry."""
    reason: str
    """Why it is needed."""


@dataclass(frozen=True, kw_only=True, slots=True)
class EntryPoint:
    """A declared way in from outside the boundary."""

    id: str
    """Short unique name."""
    service: str | None = None
    """Service ``namespace/name`` that may be reached."""
    workload: str | None = None
    """Or a workload ``namespace/Kind/name`` (for hostNetwork/hostPort listeners)."""
    host: str | None = None
    """Or a host name (for a listener of the host itself)."""
    ports: tuple[int, ...] = ()
    """Ports; empty means any."""
    sources: tuple[str, ...] = ("0.0.0.0/0", "::/0")
    """Source CIDRs allowed in."""
    owner: str
    """Who answers for it."""
    reason: str
    """Why it is exposed."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Suppression:
    """An accepted risk: a finding that is known, owned and time-boxed."""

    rule: str
    """Rule id (``TM-UNCOVERED``)."""
    subject: str
    """Node or edge id of the finding's main subject; glob patterns allowed
    (``workload:monitoring/*``). Use the fingerprint instead for one exact finding."""
    reason: str
    """Why it is accepted."""
    approved_by: str
    """Who accepted it."""
    expires: date
    """Last day it applies (YYYY-MM-DD)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class PolicyFile:
    """The whole ``topomap.yaml``."""

    version: int = field(default=POLICY_FILE_VERSION, metadata={"required": True})
    """Format version (1)."""
    boundary: Boundary = field(default_factory=Boundary)
    """The system boundary."""
    allowed_egress: tuple[AllowedEgress, ...] = ()
    """Approved external destinations."""
    entry_points: tuple[EntryPoint, ...] = ()
    """Declared ways in."""
    apiserver_clients: tuple[str, ...] = ()
    """Workloads (``namespace/Kind/name``, globs allowed) that may call the Kubernetes API."""
    suppressions: tuple[Suppression, ...] = ()
    """Accepted risks."""
    severity: dict[str, Severity] = field(default_factory=dict)
    """Severity overrides by rule id."""


_decode = typed_json.decoder_for(PolicyFile)
_LISTS = ("allowed_egress", "entry_points", "apiserver_clients", "suppressions")


def _fail(origin: str, lines: dict[str, int], pointer: str, message: str) -> InputError:
    line = line_of(lines, pointer)
    where = f"{origin}:{line}" if line else origin
    return InputError(f"{where}: {pointer or '/'}: {message}")


def _check_cidr(text: str) -> str | None:
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return f"{text!r} is not a CIDR"
    return None


def _is_dns(text: str) -> bool:
    name = text[2:] if text.startswith("*.") else text
    labels = name.split(".")
    return (
        len(labels) >= 2
        and not labels[-1].isdigit()
        and all(
            label and len(label) <= 63 and all(c.isalnum() or c == "-" for c in label)
            for label in labels
        )
    )


def _validate(policy: PolicyFile, known_rules: frozenset[str]) -> tuple[str, str] | None:
    """The first semantic problem as ``(pointer, message)``."""
    if policy.version != POLICY_FILE_VERSION:
        return "/version", f"version {policy.version} is not supported (this topomap reads 1)"
    for i, cidr in enumerate(policy.boundary.internal):
        if problem := _check_cidr(cidr):
            return f"/boundary/internal/{i}", problem
    seen: set[str] = set()
    for i, entry in enumerate(policy.allowed_egress):
        if entry.id in seen:
            return f"/allowed_egress/{i}/id", f"duplicate id {entry.id!r}"
        seen.add(entry.id)
        if not entry.to:
            return f"/allowed_egress/{i}/to", "needs at least one CIDR or DNS name"
        for j, target in enumerate(entry.to):
            if any(c in target for c in "/:") or target.replace(".", "").isdigit():
                if problem := _check_cidr(target):
                    return f"/allowed_egress/{i}/to/{j}", problem
            elif not _is_dns(target):
                return f"/allowed_egress/{i}/to/{j}", f"{target!r} is neither a CIDR nor a DNS name"
        for j, port in enumerate(entry.ports):
            if not 1 <= port <= 65535:
                return f"/allowed_egress/{i}/ports/{j}", f"{port} is not a port (1-65535)"
        for j, ref in enumerate(entry.source.workloads):
            if ref.count("/") != 2:
                return f"/allowed_egress/{i}/source/workloads/{j}", (
                    f"{ref!r} is not namespace/Kind/name"
                )
    for i, point in enumerate(policy.entry_points):
        targets = [t for t in (point.service, point.workload, point.host) if t]
        if len(targets) != 1:
            return f"/entry_points/{i}", "needs exactly one of service, workload, host"
        for j, cidr in enumerate(point.sources):
            if problem := _check_cidr(cidr):
                return f"/entry_points/{i}/sources/{j}", problem
    for i, sup in enumerate(policy.suppressions):
        if sup.rule not in known_rules:
            return f"/suppressions/{i}/rule", f"unknown rule {sup.rule!r}"
    for rule in policy.severity:
        if rule not in known_rules:
            return f"/severity/{rule}", f"unknown rule {rule!r}"
    return None


def parse_policy_file(text: str, *, origin: str, known_rules: frozenset[str]) -> PolicyFile:
    """Parse and validate policy-file text; one-line :class:`InputError` naming line and key."""
    value, lines = load_yaml(text, origin=origin)
    if value is None:
        value = {"version": POLICY_FILE_VERSION}
    if type(value) is dict:
        # A key whose entries are all commented out (as init-policy writes them) is empty.
        for key in _LISTS:
            if key in value and value[key] is None:
                value[key] = []
    try:
        policy: PolicyFile = _decode(value)
    except typed_json.DecodeError as exc:
        raise _fail(origin, lines, exc.pointer, exc.message) from None
    problem = _validate(policy, known_rules)
    if problem:
        raise _fail(origin, lines, *problem)
    return policy


def load_policy_file(path: str | Path, *, known_rules: frozenset[str]) -> PolicyFile:
    """Read ``topomap.yaml``."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return parse_policy_file(text, origin=str(path), known_rules=known_rules)


def policy_schema() -> dict[str, Any]:
    """JSON Schema of the policy file (``docs/policy-file.schema.json``)."""
    return typed_json.json_schema(
        PolicyFile,
        schema_id="https://topomap.dev/schemas/policy-file-1.json",
        title="topomap policy file (topomap.yaml)",
    )


# --- the questions rules ask ---------------------------------------------------------------


def dns_matches(pattern: str, name: str) -> bool:
    """Whether ``name`` matches ``pattern`` (``*.`` matches one or more labels below).

    >>> dns_matches("*.stripe.com", "api.stripe.com"), dns_matches("*.stripe.com", "stripe.com")
    (True, False)
    >>> dns_matches("API.Stripe.com.", "api.stripe.com")
    True
    """
    pattern, name = pattern.lower().rstrip("."), name.lower().rstrip(".")
    if pattern.startswith("*."):
        return name.endswith(pattern[1:])
    return name == pattern


# The rules ask these per observed flow, about the same few entries and addresses: parse each
# address, CIDR list and ``to`` list once (benchmarks/analyze.py: 6 s of 40 s before).


@functools.lru_cache(maxsize=1 << 16)
def _address(ip: str) -> IPAddress | None:
    try:
        return parse_ip(ip)
    except ValueError:
        return None


@functools.lru_cache(maxsize=1 << 12)
def _networks(cidrs: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)


@functools.lru_cache(maxsize=1 << 12)
def _targets(to: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """An allowed-egress ``to`` list split into CIDRs and DNS name patterns."""
    return tuple(t for t in to if not _is_dns(t)), tuple(t for t in to if _is_dns(t))


def in_cidrs(ip: str, cidrs: tuple[str, ...]) -> bool:
    """Whether ``ip`` lies in any of ``cidrs``."""
    addr = _address(ip)
    if addr is None:
        return False
    return any(addr.version == net.version and addr in net for net in _networks(cidrs))


@dataclass(frozen=True, slots=True)
class Source:
    """An internal source as the source limits see it."""

    namespace: str | None
    workload: str | None  # "ns/Kind/name"
    labels: dict[str, str]


def source_matches(limits: SourceLimits, source: Source) -> bool:
    """Whether ``source`` is among those ``limits`` allow."""
    if limits.namespaces and not any(
        source.namespace is not None and fnmatch.fnmatchcase(source.namespace, pattern)
        for pattern in limits.namespaces
    ):
        return False
    if limits.workloads and not any(
        source.workload is not None and fnmatch.fnmatchcase(source.workload, pattern)
        for pattern in limits.workloads
    ):
        return False
    return all(source.labels.get(k) == v for k, v in limits.labels.items())


def egress_entry(
    policy: PolicyFile,
    source: Source,
    ip: str,
    names: tuple[str, ...],
    protocol: str,
    port: int | None,
) -> AllowedEgress | None:
    """The first allowed-egress entry that covers this connection, if any."""
    for entry in policy.allowed_egress:
        if entry.protocol not in ("any", protocol):
            continue
        if entry.ports and port not in entry.ports:
            continue
        if not source_matches(entry.source, source):
            continue
        cidrs, patterns = _targets(entry.to)
        if (cidrs and in_cidrs(ip, cidrs)) or any(
            dns_matches(p, n) for p in patterns for n in names
        ):
            return entry
    return None


def entry_point(
    policy: PolicyFile,
    *,
    services: tuple[str, ...],
    workload: str | None,
    host: str | None,
    source_ip: str,
    port: int | None,
) -> EntryPoint | None:
    """The declared entry point this inbound connection used, if any."""
    for point in policy.entry_points:
        if point.ports and port not in point.ports:
            continue
        if not in_cidrs(source_ip, point.sources):
            continue
        if (
            (point.service and point.service in services)
            or (point.workload and workload and fnmatch.fnmatchcase(workload, point.workload))
            or (point.host and host == point.host)
        ):
            return point
    return None


def suppression_for(
    policy: PolicyFile, rule: str, subject: str, fingerprint: str
) -> Suppression | None:
    """The first suppression naming this finding (by subject pattern or exact fingerprint)."""
    for sup in policy.suppressions:
        if sup.rule == rule and (
            sup.subject == fingerprint or fnmatch.fnmatchcase(subject, sup.subject)
        ):
            return sup
    return None

"""Two sample sets for diff and store tests, made from the bundled Online Boutique snapshots.

``baseline()`` is ``samples/shop`` as committed. ``current()`` is the same shop collected again
after a redeploy (every pod name gets a new ReplicaSet hash and suffix, every container a new
id, every process a new pid and start time, every client a new ephemeral port) and with two
real changes: recommendationservice talks to a new external peer (``telemetry.example.net``,
93.184.215.14:443, with the DNS answer that names it), and frontend no longer calls adservice
(every record of that edge is gone, on both nodes).
"""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import timedelta
from pathlib import Path

from topomap import model, snapshot_io

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples" / "shop"
NEW_PEER_IP = "93.184.215.14"
NEW_PEER_NAME = "telemetry.example.net"
ADSERVICE_CLUSTER_IP = "10.102.230.61"
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_LOW, _SPAN = 32768, 60999 - 32768 + 1


def baseline() -> dict[str, model.Snapshot]:
    """The committed sample snapshots, by file name."""
    return {p.name: snapshot_io.load_snapshot(p).snapshot for p in sorted(SAMPLES.glob("*.json"))}


def _token(seed: str, length: int) -> str:
    digest = hashlib.sha256(f"redeploy/{seed}".encode()).digest()
    return "".join(_ALPHABET[b % len(_ALPHABET)] for b in digest[:length])


def ephemeral(port: int | None) -> int | None:
    """A bijection of the ephemeral range: every client port changes, none collide."""
    if port is None or not _LOW <= port < _LOW + _SPAN:
        return port
    return _LOW + ((port - _LOW) * 7919 + 12345) % _SPAN


def _pod_name(old: str, workload: str) -> str:
    return f"{workload}-{_token(old + '/rs', 9)}-{_token(old, 5)}"


def _pid(pid: int) -> int:
    return pid + 1000


def _ticks(ticks: int) -> int:
    return ticks + 86_400 * 100  # a day later, in clock ticks


def _ref(ref: model.ProcessRef | None) -> model.ProcessRef | None:
    if ref is None:
        return None
    return model.ProcessRef(pid=_pid(ref.pid), start_ticks=_ticks(ref.start_ticks))


def _container(cid: str | None) -> str | None:
    return None if cid is None else hashlib.sha256(f"redeploy/{cid}".encode()).hexdigest()


def _flow(t: model.FlowTuple | None, *, client_field: str) -> model.FlowTuple | None:
    if t is None:
        return None
    value = getattr(t, client_field)
    return dataclasses.replace(t, **{client_field: ephemeral(value)})


def _connection(c: model.Connection) -> model.Connection:
    return dataclasses.replace(
        c,
        original=_flow(c.original, client_field="sport"),
        reply=_flow(c.reply, client_field="dport"),
        process=_ref(c.process),
    )


def _to_adservice(c: model.Connection, adservice_ips: set[str]) -> bool:
    o = c.original
    return o.dst == ADSERVICE_CLUSTER_IP or (o.dst in adservice_ips and o.dport == 9555)


def current() -> dict[str, model.Snapshot]:
    """The redeployed shop with one new external peer and without frontend -> adservice."""
    base = baseline()
    cluster = base["cluster.json"]
    names = {
        p.name: _pod_name(p.name, p.workload.name if p.workload else p.name) for p in cluster.pods
    }
    adservice_ips = {ip for p in cluster.pods if p.name.startswith("adservice-") for ip in p.ips}
    recommendation = next(p for p in cluster.pods if p.name.startswith("recommendationservice"))
    pods = tuple(
        dataclasses.replace(
            p,
            name=names[p.name],
            labels={**p.labels, "pod-template-hash": names[p.name].split("-")[-2]},
            containers=tuple(
                dataclasses.replace(c, container_id=_container(c.container_id))
                for c in p.containers
            ),
        )
        for p in cluster.pods
    )
    services = tuple(
        dataclasses.replace(
            s,
            endpoints=tuple(
                dataclasses.replace(e, pod=names.get(e.pod or "", e.pod)) for e in s.endpoints
            ),
        )
        for s in cluster.services
    )
    result = {
        "cluster.json": dataclasses.replace(
            cluster, snapshot_id=cluster.snapshot_id + "-redeployed", pods=pods, services=services
        )
    }
    for name in ("node-a.json", "node-b.json"):
        snap = base[name]
        connections = [
            _connection(c) for c in snap.connections if not _to_adservice(c, adservice_ips)
        ]
        dns = list(snap.dns)
        if snap.observer == recommendation.node:
            connections.append(_new_peer_connection(snap, recommendation))
            dns.append(
                model.DnsAnswer(
                    name=NEW_PEER_NAME,
                    addresses=(NEW_PEER_IP,),
                    ttl=300,
                    time=snap.window.start + timedelta(seconds=20),
                    observed_by="dns-cache",
                )
            )
        result[name] = dataclasses.replace(
            snap,
            snapshot_id=snap.snapshot_id + "-redeployed",
            processes=tuple(
                dataclasses.replace(
                    p,
                    pid=_pid(p.pid),
                    start_ticks=_ticks(p.start_ticks),
                    ppid=_pid(p.ppid) if p.ppid and p.ppid > 1 else p.ppid,
                    container_id=_container(p.container_id),
                )
                for p in snap.processes
            ),
            containers=tuple(
                dataclasses.replace(c, id=_container(c.id) or c.id) for c in snap.containers
            ),
            listeners=tuple(
                dataclasses.replace(x, process=_ref(x.process)) for x in snap.listeners
            ),
            connections=tuple(connections),
            dns=tuple(dns),
        )
    return result


def _new_peer_connection(snap: model.Snapshot, pod: model.Pod) -> model.Connection:
    """recommendationservice -> telemetry.example.net:443, masqueraded to the node address."""
    node_ip = snap.hosts[0].ips[0]
    start = snap.window.start + timedelta(seconds=21)
    return model.Connection(
        protocol="tcp",
        original=model.FlowTuple(src=pod.ips[0], dst=NEW_PEER_IP, sport=45017, dport=443),
        reply=model.FlowTuple(src=NEW_PEER_IP, dst=node_ip, sport=443, dport=45017),
        state="ESTABLISHED",
        packets_orig=40,
        bytes_orig=9000,
        packets_reply=30,
        bytes_reply=4000,
        first_seen=start,
        last_seen=start + timedelta(seconds=30),
        observed_by="conntrack",
    )


def write(snapshots: dict[str, model.Snapshot], directory: Path) -> Path:
    """Write a set to ``directory`` (created) and return it."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, snap in snapshots.items():
        snapshot_io.dump_snapshot(snap, directory / name)
    return directory

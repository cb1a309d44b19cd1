"""``topomap diff`` on two large workload graphs, and a year of hourly history in the store.

Part 1, diff. Two workload-view graphs of 10,000 nodes (9,500 workloads in 50 namespaces and
500 external peers) and 100,000 edges, written as graph JSON files (not timed). The current
graph drops 1,000 edges, adds 1,000 (100 of them to 50 new external peers) and moves 500
edges to another port. Timed, each in a fresh process:

* ``topomap diff BASE.json CUR.json -o /dev/null``, the whole command as a user runs it
  (interpreter start, reading and digest-checking both files, normalising, comparing, JSON);
  (its wall time and its CPU time, which a loaded machine does not inflate);
* the same in-process (``sides.load_side`` both files, ``compare``, ``render_json``);
* the reference: both files loaded into networkx graphs with ``export.load_graph_json`` (digest
  checked too), then a plain networkx/set comparison (node sets, ``(u, v)`` pair sets, and a
  per-pair ``protocol/port`` set dict). The two must agree on the pairs added, removed and
  changed; the script checks that they do.

Part 2, store. 365 days of hourly snapshots of a 500-pod cluster (100 Deployments x 5 pods in
10 namespaces, on 20 nodes), generated in memory from a fixed seed: each day one cluster
snapshot (the inventory; every pod gets a new name each day, as after a daily deploy), each
hour one snapshot of ~1,540 connections (every workload calls five others, ten call external
APIs, and one runs a "monthly cron job" to a partner on the 1st at 02:00). 8,760 + 365
snapshot objects are ingested straight into a fresh store with ``ingest.ingest_snapshot``
(graph build, normalisation and the SQLite transaction per snapshot; no JSON files), then the
one-month window query ``query.window_graph`` (June) is timed in a fresh process. Its
reference: building the same month's workload graph from the raw snapshots with
``build_graph`` + ``views.project`` (what one does without a store); both must give the same
edges.

Run from the repository root: ``python benchmarks/diff_store.py`` (``--quick``: 1,000 nodes /
10,000 edges and 30 days).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import networkx as nx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from measure import in_child, mb, measure, yes  # noqa: E402

from topomap import __version__, export, graph, model, views  # noqa: E402
from topomap.diff import compare, normalize, render, sides  # noqa: E402
from topomap.store import history, ingest, query, schema  # noqa: E402

SEED = 20261201
YEAR = datetime(2026, 1, 1, tzinfo=UTC)

# --- part 1: two large workload graphs --------------------------------------------------------


def workload_graph(nodes: int, edges: int, seed: int) -> nx.MultiDiGraph:
    """A workload-view graph: 95% workloads, 5% external peers, ``edges`` distinct pairs."""
    rng = random.Random(seed)
    g = nx.MultiDiGraph()
    g.graph.update(view="workload", window={"start": "2026-11-01T00:00:00Z", "end": None})
    externals = nodes // 20
    names = []
    for i in range(nodes - externals):
        ns = f"team-{i % 50:02d}"
        node = f"workload:{ns}/Deployment/svc-{i:05d}"
        g.add_node(node, kind="workload", label=f"svc-{i:05d}", namespace=ns, name=f"svc-{i:05d}")
        names.append(node)
    peers = []
    for i in range(externals):
        ip = f"52.{i // 250}.{i % 250}.{seed % 200 + 1}"
        node = f"external:{ip}"
        g.add_node(
            node, kind="external", label=ip, ip=ip, zone="public", dns_names=[f"api-{i}.example"]
        )
        peers.append(node)
    seen: set[tuple[str, str]] = set()
    while len(seen) < edges:
        u = rng.choice(names)
        v = rng.choice(peers) if rng.random() < 0.1 else rng.choice(names)
        if u == v or (u, v) in seen:
            continue
        seen.add((u, v))
        port = rng.choice((80, 443, 5432, 6379, 8080, 9090))
        g.add_edge(u, v, "tcp", **_edge_attrs(port))
    return g


def _edge_attrs(port: int) -> dict[str, Any]:
    return {
        "protocol": "tcp",
        "port": port,
        "ports": [port],
        "connections": 3,
        "packets": 30,
        "bytes": 3000,
        "counted": 3,
        "first_seen": "2026-11-01T00:00:00Z",
        "last_seen": "2026-11-01T01:00:00Z",
        "observed_by": ["conntrack@node-a"],
        "services": [],
    }


def changed_copy(base: nx.MultiDiGraph, seed: int, scale: int) -> nx.MultiDiGraph:
    """``base`` with scale x (10 removed, 10 added, 5 re-ported) edges and new peers."""
    rng = random.Random(seed)
    g = base.copy()
    pairs = sorted({(u, v) for u, v in g.edges()})
    rng.shuffle(pairs)
    for u, v in pairs[: 10 * scale]:
        g.remove_edges_from([(u, v, k) for k in list(g[u][v])])
    for u, v in pairs[10 * scale : 15 * scale]:
        (attrs,) = g.get_edge_data(u, v).values()
        g.remove_edge(u, v, "tcp")
        g.add_edge(u, v, "tcp", **_edge_attrs(attrs["port"] + 10000))
    workloads = [n for n, a in g.nodes(data=True) if a["kind"] == "workload"]
    for i in range(scale // 2):
        ip = f"203.0.113.{i % 250}" if i < 250 else f"198.51.100.{i % 250}"
        g.add_node(f"external:{ip}", kind="external", label=ip, ip=ip, zone="public", dns_names=[])
    new_peers = [n for n in g if n.startswith(("external:203.", "external:198."))]
    added = 0
    while added < 10 * scale:
        u = rng.choice(workloads)
        v = rng.choice(new_peers) if added < scale else rng.choice(workloads)
        if u != v and not g.has_edge(u, v):
            g.add_edge(u, v, "tcp", **_edge_attrs(443))
            added += 1
    return g


def time_core(base_path: str, cur_path: str) -> dict[str, Any]:
    """topomap's diff in-process: load both files (digests checked), normalise, compare,
    render JSON; everything ``topomap diff`` does but start the interpreter."""

    def run() -> compare.Diff:
        b = sides.load_side(base_path, view="workload")
        c = sides.load_side(cur_path, view="workload")
        d = compare.compare(b.side, c.side)
        render.render_json(d, b.info, c.info)
        return d

    diff, stats = measure(run)
    b, c = export.load_graph_json(base_path), export.load_graph_json(cur_path)
    # topomap knows a named external peer by its DNS name; map back to node ids to compare
    back = {
        f"external:{min(a['dns_names'])}": n
        for g in (b, c)
        for n, a in g.nodes(data=True)
        if a["kind"] == "external" and a.get("dns_names")
    }

    def pairs(changes: tuple[compare.EdgeChange, ...]) -> list[tuple[str, str]]:
        return sorted(
            (back.get(e.source.id, e.source.id), back.get(e.target.id, e.target.id))
            for e in changes
        )

    stats["pairs"] = (pairs(diff.edges_added), pairs(diff.edges_removed), pairs(diff.edges_changed))
    stats["peers_added"] = len(diff.peers_added)
    return stats


def _info(path: str) -> compare.SideInfo:
    return compare.SideInfo(source=path, kind="graph")


def reference_diff(b: nx.MultiDiGraph, c: nx.MultiDiGraph) -> tuple[list[Any], ...]:
    """The plain networkx/set comparison: node sets, pair sets, per-pair port sets."""

    def services(g: nx.MultiDiGraph) -> dict[tuple[str, str], set[str]]:
        found: dict[tuple[str, str], set[str]] = {}
        for u, v, attrs in g.edges(data=True):
            found.setdefault((u, v), set()).update(
                f"{attrs['protocol']}/{p}" for p in attrs["ports"]
            )
        return found

    sb, sc = services(b), services(c)
    nodes_added = set(c) - set(b)
    nodes_removed = set(b) - set(c)
    added = sorted(sc.keys() - sb.keys())
    removed = sorted(sb.keys() - sc.keys())
    changed = sorted(k for k in sc.keys() & sb.keys() if sc[k] != sb[k])
    return added, removed, changed, sorted(nodes_added), sorted(nodes_removed)


def time_reference(base_path: str, cur_path: str) -> dict[str, Any]:
    """The reference, also loading both files (digests checked) into networkx graphs."""

    def run() -> tuple[list[Any], ...]:
        b, c = export.load_graph_json(base_path), export.load_graph_json(cur_path)
        return reference_diff(b, c)

    result, stats = measure(run)
    stats["pairs"] = result[:3]
    return stats


def time_cli(base_path: str, cur_path: str) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system) of the whole command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "topomap", "diff", base_path, cur_path, "-o", os.devnull],
        check=False,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise RuntimeError(f"topomap diff failed: {result.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def diff_part(nodes: int, edges: int, repeat: int, workdir: Path) -> list[str]:
    start = time.perf_counter()
    base = workload_graph(nodes, edges, SEED)
    current = changed_copy(base, SEED + 1, edges // 1000)
    base_path, cur_path = str(workdir / "base.json"), str(workdir / "current.json")
    Path(base_path).write_bytes(export.dumps_graph_json(base))
    Path(cur_path).write_bytes(export.dumps_graph_json(current))
    size = Path(base_path).stat().st_size
    out = [
        f"part 1: diff of two workload graphs: {base.number_of_nodes():,} / "
        f"{current.number_of_nodes():,} nodes, {base.number_of_edges():,} / "
        f"{current.number_of_edges():,} edges; graph JSON {size / 1e6:.0f} MB each "
        f"(generated in {time.perf_counter() - start:.1f} s, not timed)"
    ]
    clis: list[tuple[float, float]] = []
    cores, refs = [], []
    for n in range(repeat):
        clis.append(time_cli(base_path, cur_path))
        cores.append(in_child(time_core, base_path, cur_path))
        refs.append(in_child(time_reference, base_path, cur_path))
        out.append(
            f"  run {n + 1}: topomap diff (CLI) {clis[-1][0]:.2f} s (CPU {clis[-1][1]:.2f} s), "
            f"core {cores[-1]['seconds']:.2f} s, reference {refs[-1]['seconds']:.2f} s"
        )
    core = min(cores, key=lambda r: r["seconds"])
    ref = min(refs, key=lambda r: r["seconds"])
    same = core["pairs"] == ref["pairs"]
    added, removed, changed = (len(x) for x in ref["pairs"])
    out += [
        "",
        f"{'best of ' + str(repeat):<40} {'seconds':>8} {'peak RSS':>9}",
        f"{'topomap diff BASE CUR (whole command)':<40} {min(clis)[0]:>8.2f}",
        f"{'  its CPU time (user + system)':<40} {min(c for _, c in clis):>8.2f}",
        f"{'topomap in-process (load+compare+JSON)':<40} {core['seconds']:>8.2f} "
        f"{mb(core['peak_kib']):>9}",
        f"{'reference (load + networkx + sets)':<40} {ref['seconds']:>8.2f} "
        f"{mb(ref['peak_kib']):>9}",
        f"{'ratio in-process / reference':<40} {core['seconds'] / ref['seconds']:>7.2f}x",
        f"changes: {added:,} pairs added, {removed:,} removed, {changed:,} re-ported; "
        f"{core['peers_added']} new external peers; topomap and reference agree: {yes(same)}",
        f"target: diff under 5 s: {yes(min(clis)[0] < 5)} ({min(clis)[0]:.2f} s, whole command)",
    ]
    return out


# --- part 2: a year of hourly snapshots --------------------------------------------------------

WORKLOADS, REPLICAS, NODES = 100, 5, 20
CRON, PARTNER = 99, "192.0.2.77"
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def _token(seed: str, n: int) -> str:
    digest = hashlib.sha256(seed.encode()).digest()
    return "".join(_ALPHABET[b % len(_ALPHABET)] for b in digest[:n])


def pod_ip(w: int, r: int) -> str:
    return f"10.244.{w}.{r + 2}"


def cluster_snapshot(day: int) -> model.Snapshot:
    """The inventory on ``day``: 500 pods with that day's names."""
    when = YEAR + timedelta(days=day)
    pods, workloads, services = [], [], []
    for w in range(WORKLOADS):
        ns, name = f"team-{w % 10}", f"svc-{w:03d}"
        workloads.append(
            model.Workload(namespace=ns, kind="Deployment", name=name, selector={"app": name})
        )
        services.append(
            model.Service(
                namespace=ns,
                name=name,
                cluster_ips=(f"10.96.0.{w + 1}",),
                ports=(model.ServicePort(port=8080, target_port=8080),),
                selector={"app": name},
            )
        )
        rs = _token(f"{w}/{day}", 9)
        for r in range(REPLICAS):
            pods.append(
                model.Pod(
                    namespace=ns,
                    name=f"{name}-{rs}-{_token(f'{w}/{r}/{day}', 5)}",
                    node=f"node-{(w * REPLICAS + r) % NODES:02d}",
                    ips=(pod_ip(w, r),),
                    labels={"app": name},
                    workload=model.ObjectRef(kind="Deployment", name=name),
                )
            )
    return model.Snapshot(
        snapshot_id=f"cluster-{day}",
        source="cluster",
        observer="bench-cluster",
        window=model.Window(start=when, end=when + timedelta(seconds=2)),
        namespaces=tuple(model.Namespace(name=f"team-{i}") for i in range(10)),
        hosts=tuple(
            model.Host(name=f"node-{i:02d}", ips=(f"10.0.1.{10 + i}",)) for i in range(NODES)
        ),
        pods=tuple(pods),
        workloads=tuple(workloads),
        services=tuple(services),
        cluster=model.ClusterInfo(pod_cidrs=("10.244.0.0/16",), service_cidrs=("10.96.0.0/12",)),
    )


def hourly_snapshot(day: int, hour: int) -> model.Snapshot:
    """One hour of traffic (no inventory): resolved against the day's cluster snapshot."""
    rng = random.Random(SEED * 10_000 + day * 24 + hour)
    start = YEAR + timedelta(days=day, hours=hour)
    conns = []

    def add(src: str, dst: str, port: int) -> None:
        t = start + timedelta(seconds=rng.randint(0, 3000))
        conns.append(
            model.Connection(
                protocol="tcp",
                original=model.FlowTuple(
                    src=src, dst=dst, sport=rng.randint(32768, 60999), dport=port
                ),
                first_seen=t,
                last_seen=t + timedelta(seconds=rng.randint(1, 500)),
                observed_by="conntrack",
                packets_orig=10,
                bytes_orig=1000,
            )
        )

    for w in range(WORKLOADS):
        for k in range(1, 6):
            callee = (w + k * 7) % WORKLOADS
            for _ in range(3):
                add(pod_ip(w, rng.randrange(REPLICAS)), pod_ip(callee, rng.randrange(5)), 8080)
        if w % 10 == 0:
            for peer in (f"52.94.{w}.10", f"52.94.{w}.11"):
                for _ in range(2):
                    add(pod_ip(w, rng.randrange(REPLICAS)), peer, 443)
    if (start.day, hour) == (1, 2):  # the monthly cron job
        add(pod_ip(CRON, 0), PARTNER, 22)
    return model.Snapshot(
        snapshot_id=f"hour-{day}-{hour:02d}",
        source="mixed",
        observer="bench-tap",
        window=model.Window(start=start, end=start + timedelta(hours=1) - timedelta(seconds=1)),
        connections=tuple(conns),
    )


def fill_store(path: str, days: int) -> dict[str, Any]:
    """Ingest ``days`` x (1 cluster + 24 hourly) snapshots; seconds and sizes."""
    conn = schema.connect(path)
    started = time.perf_counter()
    rows = 0
    for day in range(days):
        cluster = cluster_snapshot(day)
        ingest.ingest_snapshot(conn, cluster, ingest.snapshot_sha256(cluster))
        for hour in range(24):
            snap = hourly_snapshot(day, hour)
            done = ingest.ingest_snapshot(conn, snap, ingest.snapshot_sha256(snap))
            rows += done.rows
    seconds = time.perf_counter() - started
    info = query.info(conn)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return {"seconds": seconds, "rows": rows, "info": info, "bytes": os.path.getsize(path)}


def month(days: int) -> tuple[int, int, int]:
    """The month to query: June for a full year, else the last whole 30 days."""
    if days >= 181:
        return 151, 181, int((YEAR + timedelta(days=151)).timestamp())
    return 0, min(days, 30), int(YEAR.timestamp())


def time_window(path: str, days: int) -> dict[str, Any]:
    first, last, start = month(days)
    end = start + (last - first) * 86400
    conn = schema.connect(path, create=False)
    g, stats = measure(query.window_graph, conn, start, end)
    stats["edges"] = sorted(
        (u, v, p) for u, v, k, a in g.edges(keys=True, data=True) for p in a["ports"]
    )
    stats["nodes"] = g.number_of_nodes()
    _, hist = measure(history.history, conn, int(YEAR.timestamp()), end, 86400)
    stats["history_seconds"] = hist["seconds"]
    conn.close()
    return stats


def time_rebuild(days: int) -> dict[str, Any]:
    """Reference: the month's workload graph rebuilt from its raw snapshots."""
    first, last, _ = month(days)
    snaps = []
    for day in range(first, last):
        snaps.append(cluster_snapshot(day))
        snaps.extend(hourly_snapshot(day, h) for h in range(24))

    def rebuild() -> nx.MultiDiGraph:
        return views.project(graph.build_graph(snaps), "workload")

    g, stats = measure(rebuild)
    side = normalize.normalize(g)
    stats["edges"] = sorted((u, v, p) for (u, v, _, p) in side.edges)
    stats["snapshots"] = len(snaps)
    stats["connections"] = sum(len(s.connections) for s in snaps)
    return stats


def store_part(days: int, repeat: int, workdir: Path, keep: str | None) -> list[str]:
    path = keep or str(workdir / "history.sqlite3")
    if keep and Path(keep).exists():  # filled by an earlier run: measure the queries only
        conn = schema.connect(keep, create=False)
        filled: dict[str, Any] = {
            "seconds": float("nan"),
            "info": query.info(conn),
            "bytes": os.path.getsize(keep),
        }
        conn.close()
    else:
        filled = in_child(fill_store, path, days)
    info = filled["info"]
    out = [
        f"part 2: store of {days} days: {info['snapshots']:,} snapshots "
        f"({days} cluster + {days * 24:,} hourly), {info['nodes']:,} nodes, "
        f"{info['edges']:,} edges, {info['sightings']:,} sightings; "
        f"{filled['bytes'] / 1e6:,.0f} MB on disk",
        f"  ingest (generation included, snapshot objects straight in): {filled['seconds']:.0f} s "
        f"= {filled['seconds'] / info['snapshots'] * 1000:.1f} ms per snapshot",
    ]
    windows, rebuilds = [], []
    for n in range(repeat):
        windows.append(in_child(time_window, path, days))
        rebuilds.append(in_child(time_rebuild, days))
        out.append(
            f"  run {n + 1}: window query {windows[-1]['seconds']:.2f} s, "
            f"rebuild from snapshots {rebuilds[-1]['seconds']:.2f} s"
        )
    win = min(windows, key=lambda r: r["seconds"])
    ref = min(rebuilds, key=lambda r: r["seconds"])
    first, last, _ = month(days)
    out += [
        "",
        f"{'best of ' + str(repeat):<44} {'seconds':>8} {'peak RSS':>9}",
        f"{'store window_graph, one month':<44} {win['seconds']:>8.2f} {mb(win['peak_kib']):>9}",
        f"{'reference: build_graph + project, same month':<44} {ref['seconds']:>8.2f} "
        f"{mb(ref['peak_kib']):>9}",
        f"{'ratio store / reference':<44} {win['seconds'] / ref['seconds']:>7.3f}x",
        f"month: days {first}..{last - 1} of 2026, {ref['snapshots']:,} snapshots, "
        f"{ref['connections']:,} connections; {win['nodes']} nodes, {len(win['edges']):,} edges; "
        f"same edges: {yes(win['edges'] == ref['edges'])}",
        f"extra: history by day over the whole period: {win['history_seconds']:.2f} s",
        f"target: one-month window under 2 s: {yes(win['seconds'] < 2)} ({win['seconds']:.2f} s)",
    ]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measured step")
    parser.add_argument("--only", choices=["diff", "store"], help="run one part")
    parser.add_argument(
        "--keep-store",
        metavar="PATH",
        help="fill the store at PATH (or reuse it if it exists) instead of a temporary one",
    )
    args = parser.parse_args()
    nodes, edges, days = (1_000, 10_000, 30) if args.quick else (10_000, 100_000, 365)
    print(
        f"topomap {__version__}, networkx {nx.__version__}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, {platform.platform()}"
    )
    with tempfile.TemporaryDirectory(prefix="topomap-diff-store-") as tmp:
        if args.only in (None, "diff"):
            print("\n".join(diff_part(nodes, edges, args.repeat, Path(tmp))), flush=True)
        if args.only in (None, "store"):
            print()
            print("\n".join(store_part(days, args.repeat, Path(tmp), args.keep_store)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`policy advise`: the advised policies allow exactly what was observed (property test) and the
command writes them as kubectl-ready YAML."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tests import factories as f
from topomap import model, snapshot_io
from topomap.analysis import advise, context, policy_file
from topomap.policy import engine, loader
from topomap.policy import objects as o

PORTS = (80, 443, 5432, 8080)
REPO = Path(__file__).resolve().parents[2]


@st.composite
def clusters(draw: st.DrawFn) -> tuple[list[str], set[tuple[int, int, str, int]]]:
    n = draw(st.integers(min_value=2, max_value=5))
    namespaces = [draw(st.sampled_from(["alpha", "beta"])) for _ in range(n)]
    pairs = st.tuples(
        st.integers(0, n - 1),
        st.integers(0, n - 1),
        st.sampled_from(["tcp", "udp"]),
        st.sampled_from(PORTS),
    ).filter(lambda t: t[0] != t[1])
    traffic = draw(st.sets(pairs, min_size=1, max_size=8))
    return namespaces, traffic


def _snapshots(
    namespaces: list[str], traffic: set[tuple[int, int, str, int]]
) -> list[model.Snapshot]:
    pods = [
        f.pod(f"w{i}-5d8f9-abcde", f"10.244.0.{10 + i}", ns=ns, app=f"w{i}", workload=f"w{i}")
        for i, ns in enumerate(namespaces)
    ]
    cluster = f.snapshot(
        "cluster",
        source="cluster",
        pods=pods,
        namespaces=[model.Namespace(name=ns) for ns in sorted(set(namespaces))],
        cluster=model.ClusterInfo(pod_cidrs=("10.244.0.0/16",)),
    )
    conns = [
        f.conn(f"10.244.0.{10 + i}", 40000 + k, f"10.244.0.{10 + j}", port, protocol=proto)  # type: ignore[arg-type]
        for k, (i, j, proto, port) in enumerate(sorted(traffic))
    ]
    return [cluster, f.snapshot("node-a", connections=conns)]


@settings(max_examples=40, deadline=None)
@given(clusters())
def test_advised_policies_allow_exactly_the_observed_traffic(
    drawn: tuple[list[str], set[tuple[int, int, str, int]]],
) -> None:
    namespaces, traffic = drawn
    ctx = context.build_context(_snapshots(namespaces, traffic), policy_file.PolicyFile())
    advised = advise.advise(ctx)
    assert len(advised) == len(namespaces)  # one per workload, traffic or not
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "advised.yaml"
        path.write_text(advise.dumps_policies(advised))
        loaded = loader.load_cluster([path])
    cluster = o.Cluster(
        namespaces={
            ns: o.Namespace(ns, {"kubernetes.io/metadata.name": ns}) for ns in set(namespaces)
        },
        policies=loaded.policies,
    )
    judge = engine.PolicyEngine(cluster)
    pods = [
        o.Workload(namespace=ns, name=f"w{i}", kind="Pod", labels={"app": f"w{i}"})
        for i, ns in enumerate(namespaces)
    ]
    for i, j, proto, port in traffic:
        verdict = engine.evaluate(judge, pods[i], pods[j], proto, port)
        assert verdict.allowed and verdict.covered, (i, j, proto, port)
    unseen = [
        (i, j, proto, port)
        for i in range(len(pods))
        for j in range(len(pods))
        for proto in ("tcp", "udp")
        for port in PORTS
        if i != j and (i, j, proto, port) not in traffic
    ]
    for i, j, proto, port in unseen:
        assert not engine.evaluate(judge, pods[i], pods[j], proto, port).allowed, (
            i,
            j,
            proto,
            port,
        )


def test_advise_command_writes_kubectl_yaml(tmp_path: Path) -> None:
    paths = []
    for snap in _snapshots(["alpha", "beta"], {(0, 1, "tcp", 8080)}):
        path = tmp_path / f"{snap.observer}.json"
        snapshot_io.dump_snapshot(snap, path)
        paths.append(str(path))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "topomap",
            "policy",
            "advise",
            *paths,
            "-o",
            str(tmp_path / "np.yaml"),
        ],
        cwd=REPO,
        text=True,
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    cluster = loader.load_cluster([tmp_path / "np.yaml"])
    assert sorted((p.namespace, p.name) for p in cluster.policies) == [
        ("alpha", "topomap-advise-w0"),
        ("beta", "topomap-advise-w1"),
    ]
    w1 = next(p for p in cluster.policies if p.name == "topomap-advise-w1")
    assert len(w1.ingress) == 1 and not w1.egress and w1.affects_egress

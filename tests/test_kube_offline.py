"""Offline Kubernetes input gives the graph live collection gives, through the real CLI.

Live: ``topomap collect --k8s`` against the stand-in API server writes a cluster snapshot, and
``topomap graph host.json cluster.json`` builds the graph. Offline: the same objects written as
``kubectl get -o json`` / ``-o yaml`` output (a ``List``, a typed list, multi-document YAML, a
nested directory) and ``topomap graph host.json --k8s DIR``. Nodes, edges and groups must match.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from tests import factories as f
from tests.kubeapi import cluster as c
from tests.kubeapi.server import KubeAPI
from topomap import cli, kube_offline, model, snapshot_io
from topomap.errors import InputError


def run(*args: str) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main(list(args))
    assert done.value.code == 0


def host_snapshot(path: Path) -> Path:
    cid = c.cid("postgres" + c.DB_0)
    snap = f.snapshot(
        "node-b",
        processes=[
            model.Process(host="node-b", pid=9, start_ticks=1, comm="postgres", container_id=cid)
        ],
        listeners=[f.listener("node-b", 5432, 9, 1)],
        connections=[
            # frontend -> db ClusterIP, DNAT seen by conntrack
            f.conn(c.FRONTEND_2, 41000, c.DB_VIP, 5432, reply=(c.DB_0, 5432, c.FRONTEND_2, 41000)),
            # debug -> frontend ClusterIP seen only by the client's socket: the backend's view
            f.conn(c.DEBUG, 40000, c.FRONTEND_VIP, 80),
            f.conn(c.DEBUG, 40000, c.FRONTEND_2, 8080, initiator="unknown"),
            # the agent on its host network, and the outside world through the NodePort
            f.conn(c.FRONTEND_2, 41001, c.NODE_A, 9100),
            f.conn(
                "192.0.2.50", 50000, c.NODE_B, 30080, reply=(c.FRONTEND_2, 8080, c.NODE_B, 6000)
            ),
        ],
    )
    snapshot_io.dump_snapshot(snap, path)
    return path


def write_kubectl_output(root: Path) -> Path:
    """The fixture objects as kubectl prints them, spread over files of every shape."""
    objects = c.objects()
    (root / "pods").mkdir(parents=True)
    pods = [o for o in objects if o["kind"] == "Pod"]
    slices = [o for o in objects if o["kind"] == "EndpointSlice"]
    rest = [o for o in objects if o["kind"] not in ("Pod", "EndpointSlice")]
    # kubectl get ns,nodes,svc,... -A -o json: one List of mixed kinds
    listing = {"apiVersion": "v1", "kind": "List", "metadata": {}, "items": rest}
    (root / "all.json").write_bytes(orjson.dumps(listing, option=orjson.OPT_INDENT_2))
    # a typed list whose items leave out kind and apiVersion (as the API returns them)
    typed = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSliceList",
        "metadata": {},
        "items": [{k: v for k, v in o.items() if k not in ("kind", "apiVersion")} for o in slices],
    }
    (root / "slices.json").write_bytes(orjson.dumps(typed))
    # kubectl get pods -A -o yaml, one document per pod
    (root / "pods" / "pods.yaml").write_text(yaml.safe_dump_all(pods, sort_keys=False))
    (root / "README.txt").write_text("not a manifest: ignored")
    return root


def graph_content(path: Path) -> dict[str, Any]:
    document = orjson.loads(path.read_bytes())
    return {
        "nodes": document["nodes"],
        "edges": document["edges"],
    }


def test_offline_manifests_give_the_same_graph_as_live_collection(
    kube_api: KubeAPI, tmp_path: Path
) -> None:
    kubeconfig = kube_api.write_kubeconfig(tmp_path / "kubeconfig")
    host = host_snapshot(tmp_path / "host.json")
    live_cluster = tmp_path / "cluster.json"
    run(
        "collect", "--k8s", "--no-procnet", "--no-cgroup", "--kubeconfig", str(kubeconfig),
        "--context", "lab", "-q", "-o", str(live_cluster),
    )  # fmt: skip
    snap = snapshot_io.load_snapshot(live_cluster).snapshot
    assert (snap.source, snap.observer) == ("cluster", "lab")
    assert len(snap.pods) == 8 and len(snap.policy_objects) == 4
    live, offline = tmp_path / "live.json", tmp_path / "offline.json"
    run("graph", str(host), str(live_cluster), "-o", str(live))
    manifests = write_kubectl_output(tmp_path / "manifests")
    run("graph", str(host), "--k8s", str(manifests), "-o", str(offline))
    got, want = graph_content(offline), graph_content(live)
    assert got["nodes"] == want["nodes"]
    assert got["edges"] == want["edges"]
    edges = {(e["source"], e["target"], e["key"]): e["services"] for e in got["edges"]}
    assert edges == {
        (f"pod:shop/frontend-{c.HASH}-q9m4z", "process:node-b/9@1", "tcp/5432"): [
            "service:shop/db"
        ],
        ("pod:shop/debug", f"pod:shop/frontend-{c.HASH}-q9m4z", "tcp/8080"): [
            "service:shop/frontend"
        ],
        (f"pod:shop/frontend-{c.HASH}-q9m4z", "pod:kube-system/agent-a", "tcp/9100"): [],
        ("external:192.0.2.50", f"pod:shop/frontend-{c.HASH}-q9m4z", "tcp/8080"): [
            "service:shop/frontend"
        ],
    }
    for view in ("service", "workload"):
        run("graph", str(host), str(live_cluster), "--view", view, "-o", str(live))
        run("graph", str(host), "--k8s", str(manifests), "--view", view, "-o", str(offline))
        assert graph_content(offline) == graph_content(live), view
    workload_edges = sorted((e["source"], e["target"]) for e in graph_content(offline)["edges"])
    assert workload_edges == [
        ("external:192.0.2.50", "workload:shop/Deployment/frontend"),
        ("pod:shop/debug", "workload:shop/Deployment/frontend"),  # a bare pod stays a pod
        ("workload:shop/Deployment/frontend", "workload:kube-system/DaemonSet/agent"),
        ("workload:shop/Deployment/frontend", "workload:shop/StatefulSet/db"),
    ]
    # every manifest file is an input of the offline graph, with its digest
    inputs = orjson.loads(offline.read_bytes())["topomap"]["inputs"]
    assert sorted(Path(i["path"]).name for i in inputs) == [
        "all.json",
        "host.json",
        "pods.yaml",
        "slices.json",
    ]


def test_collect_k8s_records_unreadable_policies(kube_api: KubeAPI, tmp_path: Path) -> None:
    kubeconfig = kube_api.write_kubeconfig(tmp_path / "kubeconfig")
    kube_api.fail("/apis/networking.k8s.io/v1/networkpolicies", 403)
    out = tmp_path / "cluster.json"
    run(
        "collect", "--k8s", "--no-procnet", "--no-cgroup", "--kubeconfig", str(kubeconfig),
        "-q", "-o", str(out),
    )  # fmt: skip
    snap = snapshot_io.load_snapshot(out).snapshot
    assert snap.cluster is not None
    assert [(u.resource, u.group, u.status) for u in snap.cluster.unreadable] == [
        ("networkpolicies", "networking.k8s.io", 403)
    ]
    (run_,) = snap.collectors
    assert (run_.name, run_.status) == ("kubernetes", "partial")


def test_manifest_errors_name_the_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n  labels: [\n")
    window = model.Window(start=f.at(0), end=f.at(1))
    with pytest.raises(InputError, match=r"bad.yaml: line \d+: "):
        kube_offline.load_manifests([bad], window=window)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="no Kubernetes objects found"):
        kube_offline.load_manifests([empty], window=window)

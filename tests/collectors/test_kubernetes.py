"""The Kubernetes collector against the stand-in API server: paging, errors, retries, config.

The real ``kubernetes`` client talks HTTP to :mod:`tests.kubeapi.server` through a generated
kubeconfig; nothing is patched. Each test injects the faults it is about and checks both what
the collector recorded and what it asked the server.
"""

from __future__ import annotations

import copy
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from collectors import kubernetes as k8s
from collectors.base import Collected, run_collectors
from tests.kubeapi import cluster
from tests.kubeapi.server import KubeAPI
from topomap import kube, model

NETPOL = "/apis/networking.k8s.io/v1/networkpolicies"
PODS = "/api/v1/pods"
T0 = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


def collect(api: KubeAPI, tmp_path: Path, **options: object) -> tuple[Collected, list[float]]:
    delays: list[float] = []
    if "kubeconfig" not in options:
        options["kubeconfig"] = str(api.write_kubeconfig(tmp_path / "kubeconfig"))
    collector = k8s.KubernetesCollector(sleep=delays.append, **options)  # type: ignore[arg-type]
    return run_collectors([collector], host="lab", started=T0), delays


def snapshot(collected: Collected) -> model.Snapshot:
    return collected.snapshot(
        snapshot_id="s", source="cluster", observer="lab", window=model.Window(start=T0, end=T0)
    )


def expected_parts() -> kube.KubeParts:
    """The converter applied to the fixture objects directly (what a complete read gives)."""
    return kube.convert([kube.Doc("fixture", 1, obj) for obj in cluster.objects()])


def test_a_multi_page_pod_list_is_read_completely(kube_api: KubeAPI, tmp_path: Path) -> None:
    collected, _ = collect(kube_api, tmp_path, page_size=3)
    snap = snapshot(collected)
    want = expected_parts()
    assert [p.name for p in snap.pods] == [p.name for p in want.pods]
    assert len(snap.pods) == len(cluster.pods()) == 8
    assert snap.pods == tuple(want.pods)
    assert snap.services == tuple(want.services)
    assert snap.workloads == tuple(want.workloads)
    assert snap.hosts == tuple(want.hosts)
    assert snap.namespaces == tuple(want.namespaces)
    assert snap.policy_objects == tuple(want.policy_objects)
    pages = kube_api.requests(PODS)
    assert [r.query.get("limit") for r in pages] == ["3", "3", "3"]
    assert ["continue" in r.query for r in pages] == [False, True, True]
    assert pages[1].query["continue"] != pages[2].query["continue"]
    (run,) = collected.runs
    assert run.status == "ok", run
    assert run.counts == {
        "hosts": 2,
        "namespaces": 2,
        "pods": 8,
        "policy_objects": 4,
        "services": 4,
        "workloads": 4,
    }
    assert snap.cluster == model.ClusterInfo(
        name="lab",
        pod_cidrs=("10.244.0.0/24", "10.244.1.0/24"),
        service_cidrs=("10.96.0.0/16",),
    )


def test_403_on_networkpolicies_is_named_and_recorded_as_unreadable(
    kube_api: KubeAPI, tmp_path: Path
) -> None:
    kube_api.fail(NETPOL, 403)
    collected, _ = collect(kube_api, tmp_path)
    snap = snapshot(collected)
    (run,) = collected.runs
    assert run.status == "partial"
    (warning,) = run.warnings
    assert warning.startswith(
        "networkpolicies.networking.k8s.io: forbidden: cannot list networkpolicies in API group "
        '"networking.k8s.io" at the cluster scope; grant it with the ClusterRole rule '
        '{apiGroups: ["networking.k8s.io"], resources: ["networkpolicies"], verbs: ["list"]}'
    )
    assert run.skipped == {"networkpolicies.networking.k8s.io: unreadable (HTTP 403)": 1}
    assert snap.cluster is not None
    (entry,) = snap.cluster.unreadable
    assert (entry.resource, entry.group, entry.verb, entry.status) == (
        "networkpolicies",
        "networking.k8s.io",
        "list",
        403,
    )
    assert 'cannot list resource "networkpolicies"' in entry.reason  # the server's own words
    # everything else was still read
    kinds = sorted(o["kind"] for o in snap.policy_objects)
    assert kinds == ["AdminNetworkPolicy", "BaselineAdminNetworkPolicy", "Ingress"]
    assert len(snap.pods) == 8
    assert [r.status for r in kube_api.requests(NETPOL)] == [403]  # a 403 is not retried


def test_410_on_a_continue_token_restarts_the_list_and_completes(
    kube_api: KubeAPI, tmp_path: Path
) -> None:
    kube_api.fail(PODS, 410, when="continue")
    collected, _ = collect(kube_api, tmp_path, page_size=3)
    snap = snapshot(collected)
    assert snap.pods == tuple(expected_parts().pods)  # no page lost, none twice
    statuses = [(r.status, "continue" in r.query) for r in kube_api.requests(PODS)]
    assert statuses == [(200, False), (410, True), (200, False), (200, True), (200, True)]
    (run,) = collected.runs
    assert run.skipped == {"pods: list restarted (continue token expired)": 1}
    assert snap.cluster is not None and snap.cluster.unreadable == ()


def test_410_every_time_gives_up_after_the_restarts_and_says_so(
    kube_api: KubeAPI, tmp_path: Path
) -> None:
    kube_api.fail(PODS, 410, when="continue", times=10)
    collected, _ = collect(kube_api, tmp_path, page_size=3, max_restarts=2)
    snap = snapshot(collected)
    assert snap.pods == ()
    assert snap.cluster is not None
    assert [(u.resource, u.status) for u in snap.cluster.unreadable] == [("pods", 410)]
    assert len(kube_api.requests(PODS)) == 6  # three tries of (first page, 410)


def test_429_and_500_are_retried_with_backoff_then_succeed(
    kube_api: KubeAPI, tmp_path: Path
) -> None:
    kube_api.fail("/api/v1/services", 429, times=2, retry_after=3)
    kube_api.fail("/api/v1/nodes", 500)
    kube_api.fail("/apis/discovery.k8s.io/v1/endpointslices", 503, times=2)
    collected, delays = collect(kube_api, tmp_path, backoff=0.5)
    snap = snapshot(collected)
    want = expected_parts()
    assert snap.hosts == tuple(want.hosts)
    assert snap.services == tuple(want.services)  # endpoints included: slices were read
    # nodes: 500 once (0.5 s); services: 429 twice, Retry-After 3 s wins over 0.5 and 1 s;
    # endpointslices: 503 twice (0.5 s, 1 s).
    assert delays == [0.5, 3.0, 3.0, 0.5, 1.0]
    assert [r.status for r in kube_api.requests("/api/v1/services")] == [429, 429, 200]
    (run,) = collected.runs
    assert run.status == "ok"


def test_retries_run_out_and_the_resource_is_unreadable(kube_api: KubeAPI, tmp_path: Path) -> None:
    kube_api.fail("/api/v1/services", 500, times=10)
    collected, delays = collect(kube_api, tmp_path, retries=2, backoff=0.25)
    snap = snapshot(collected)
    assert delays == [0.25, 0.5]
    assert snap.services == ()
    assert snap.cluster is not None
    (entry,) = snap.cluster.unreadable
    assert (entry.resource, entry.group, entry.status) == ("services", "", 500)
    assert entry.reason.startswith("HTTP 500 after 3 tries: Internal error occurred")
    assert len(snap.pods) == 8
    assert collected.runs[0].status == "partial"


def test_401_is_a_credentials_problem_and_stops_the_collector(
    kube_api: KubeAPI, tmp_path: Path
) -> None:
    kubeconfig = kube_api.write_kubeconfig(tmp_path / "kubeconfig", token="expired")
    collected, _ = collect(kube_api, tmp_path, kubeconfig=str(kubeconfig))
    (run,) = collected.runs
    assert run.status == "unavailable"
    assert run.reason == (
        f"kubernetes: {kube_api.url} rejected the credentials (HTTP 401 Unauthorized) listing "
        "namespaces: the token or client certificate of context 'lab' is invalid or expired; "
        "refresh it (e.g. log in again) and retry"
    )
    assert len(kube_api.requests()) == 1


def test_crds_that_are_not_served_are_no_blind_spot(kube_api: KubeAPI, tmp_path: Path) -> None:
    for path in [p for p in kube_api.resources if "policy.networking.k8s.io" in p]:
        del kube_api.resources[path]
    del kube_api.resources["/api/v1/nodes"]
    collected, _ = collect(kube_api, tmp_path)
    snap = snapshot(collected)
    (run,) = collected.runs
    assert run.warnings == ("nodes: not served (HTTP 404)",)  # required: said; CRDs: silent
    assert snap.cluster is not None
    assert [(u.resource, u.status) for u in snap.cluster.unreadable] == [("nodes", 404)]
    assert sorted(o["kind"] for o in snap.policy_objects) == ["Ingress", "NetworkPolicy"]


def test_kubeconfig_env_list_and_context_are_honoured(
    kube_api: KubeAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = kube_api.write_kubeconfig(tmp_path / "a", context="other", token="wrong")
    second = kube_api.write_kubeconfig(tmp_path / "b", context="prod")
    monkeypatch.setenv("KUBECONFIG", f"{first}:{second}")
    collected, _ = collect(kube_api, tmp_path, kubeconfig=None, context="prod")
    assert collected.runs[0].status == "ok"
    assert collected.cluster is not None and collected.cluster.name == "prod"
    # the current context of the merged files is the first file's: its token is refused
    collected, _ = collect(kube_api, tmp_path, kubeconfig=None)
    assert collected.runs[0].status == "unavailable"
    assert "context 'other'" in (collected.runs[0].reason or "")


def test_an_unknown_context_is_unavailable_with_the_known_ones(
    kube_api: KubeAPI, tmp_path: Path
) -> None:
    collected, _ = collect(kube_api, tmp_path, context="nope")
    (run,) = collected.runs
    assert run.status == "unavailable"
    assert run.reason == (
        f"kubernetes: context 'nope' is not in {tmp_path / 'kubeconfig'}; known: lab"
    )
    assert kube_api.requests() == []


def test_no_configuration_says_how_to_give_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    collected = run_collectors([k8s.KubernetesCollector()], host="lab", started=T0)
    (run,) = collected.runs
    assert run.status == "unavailable"
    assert run.reason is not None and run.reason.startswith("kubernetes: no usable cluster")
    assert run.reason.endswith(
        "pass --kubeconfig/--context, set KUBECONFIG, or run in a pod with a service account"
    )


def test_an_unreachable_server_fails_after_the_retries(tmp_path: Path) -> None:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": "http://127.0.0.1:9"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "x",
    }
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    delays: list[float] = []
    collector = k8s.KubernetesCollector(
        kubeconfig=str(path), retries=1, backoff=0.01, timeout=2, sleep=delays.append
    )
    collected = run_collectors([collector], host="lab", started=T0)
    (run,) = collected.runs
    assert run.status == "failed"
    assert run.reason is not None
    assert run.reason.startswith(
        "CollectorFailed: kubernetes: cannot reach http://127.0.0.1:9 listing namespaces after "
        "2 tries"
    )
    assert delays == [0.01]


def test_with_a_duration_the_cluster_is_listed_again_and_pods_that_left_are_kept(
    kube_api: KubeAPI, tmp_path: Path
) -> None:
    """A pod deleted and another created during the window: both are in the snapshot (the
    deleted one from the first list, the new one from a later list), each pod list complete."""
    version, kind, pods = kube_api.resources[PODS]
    gone, kept = pods[0], pods[1:]
    job = copy.deepcopy(pods[1])
    job["metadata"]["name"] = "report-29160000-k4x7q"
    job["metadata"]["uid"] = "00000000-0000-4000-8000-00000000f00d"
    job["status"]["podIP"] = "10.244.1.99"
    job["status"]["podIPs"] = [{"ip": "10.244.1.99"}]

    def churn() -> None:
        deadline = time.monotonic() + 10
        while not kube_api.requests(PODS) and time.monotonic() < deadline:
            time.sleep(0.01)
        kube_api.resources[PODS] = (version, kind, [*kept, job])

    changer = threading.Thread(target=churn)
    changer.start()
    kubeconfig = str(kube_api.write_kubeconfig(tmp_path / "kubeconfig"))
    collector = k8s.KubernetesCollector(kubeconfig=kubeconfig, relist=0.3)
    collected = run_collectors([collector], host="lab", started=T0, duration=1.0, interval=0.2)
    changer.join()
    names = [p.name for p in snapshot(collected).pods]
    assert gone["metadata"]["name"] in names
    assert "report-29160000-k4x7q" in names
    assert sorted(names) == sorted(
        [gone["metadata"]["name"], *(p["metadata"]["name"] for p in kept), job["metadata"]["name"]]
    )
    lists = [r for r in kube_api.requests(PODS) if "continue" not in r.query]
    assert len(lists) == 5  # at 0, 0.3, 0.6 and 0.9 s, and at the end of the window (1.0 s)
    assert collected.runs[0].status == "ok"


def test_one_shot_lists_once(kube_api: KubeAPI, tmp_path: Path) -> None:
    collect(kube_api, tmp_path)
    assert len([r for r in kube_api.requests(PODS) if "continue" not in r.query]) == 1

"""The Kubernetes collector inside a pod: the service account, over HTTPS, against the stand-in.

A pod gets ``KUBERNETES_SERVICE_HOST``/``KUBERNETES_SERVICE_PORT`` and a service-account volume
(``token``, ``ca.crt``). Here the variables point at the stand-in API server in TLS mode (a CA
and a server certificate for 127.0.0.1 made for this test session) and the volume is a temporary
directory holding its token and CA. The real client's in-cluster loader reads them and verifies
the server's certificate; nothing is patched, and the real /var/run/secrets is never read.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from collectors import kubernetes as k8s
from collectors.base import Collected, run_collectors
from tests.kubeapi import cluster, pki
from tests.kubeapi.server import KubeAPI
from topomap import cli, kube, model, snapshot_io

T0 = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[2]
PODS = "/api/v1/pods"


@pytest.fixture
def pod_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No kubeconfig anywhere (a fresh HOME, no KUBECONFIG), as in a pod."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_PORT", raising=False)
    return monkeypatch


def in_pod(env: pytest.MonkeyPatch, api: KubeAPI) -> None:
    """The variables the kubelet sets in every pod, pointing at the stand-in server."""
    env.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    env.setenv("KUBERNETES_SERVICE_PORT", str(api.port))


def run(collector: k8s.KubernetesCollector) -> Collected:
    return run_collectors([collector], host="lab", started=T0)


def snapshot(collected: Collected) -> model.Snapshot:
    return collected.snapshot(
        snapshot_id="s", source="cluster", observer="lab", window=model.Window(start=T0, end=T0)
    )


def objects(snap: model.Snapshot) -> tuple[object, ...]:
    return (
        snap.pods,
        snap.services,
        snap.workloads,
        snap.hosts,
        snap.namespaces,
        snap.policy_objects,
    )


def test_in_cluster_reads_what_the_kubeconfig_reads_over_verified_https(
    kube_api_tls: KubeAPI, pod_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    api = kube_api_tls
    in_pod(pod_env, api)
    account = api.write_service_account(tmp_path / "serviceaccount")
    collector = k8s.KubernetesCollector(
        in_cluster=True, service_account_dir=str(account), page_size=3
    )
    inside = run(collector)
    assert collector.server == f"https://127.0.0.1:{api.port}" == api.url
    in_cluster_requests = [(r.path, r.query.get("continue")) for r in api.requests()]
    api.log.clear()

    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")  # the same server and CA
    outside = run(k8s.KubernetesCollector(kubeconfig=str(kubeconfig), page_size=3))

    (run_in,), (run_out,) = inside.runs, outside.runs
    assert (run_in.status, run_out.status) == ("ok", "ok")
    counts = {
        "hosts": 2,
        "namespaces": 2,
        "pods": 8,
        "policy_objects": 4,
        "services": 4,
        "workloads": 4,
    }
    assert run_in.counts == run_out.counts == counts
    got, want = snapshot(inside), snapshot(outside)
    assert objects(got) == objects(want)
    direct = kube.convert([kube.Doc("fixture", 1, obj) for obj in cluster.objects()])
    assert got.pods == tuple(direct.pods) and got.services == tuple(direct.services)
    # the cluster is named after the context; in a pod there is none
    assert want.cluster is not None and want.cluster.name == "lab"
    assert got.cluster == replace(want.cluster, name="in-cluster")
    # same calls, paged the same way (so deploy/rbac.yaml covers both: tests/test_rbac.py)
    assert in_cluster_requests == [(r.path, r.query.get("continue")) for r in api.requests()]
    assert [r.query.get("continue") is not None for r in api.requests(PODS)] == [
        False,
        True,
        True,
    ]


def test_a_ca_that_did_not_sign_the_server_certificate_stops_without_a_request(
    kube_api_tls: KubeAPI, pod_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    in_pod(pod_env, kube_api_tls)
    other = pki.write_ca(tmp_path / "other-ca.crt")
    account = kube_api_tls.write_service_account(tmp_path / "serviceaccount", ca=other)
    delays: list[float] = []
    collected = run(
        k8s.KubernetesCollector(
            in_cluster=True, service_account_dir=str(account), sleep=delays.append
        )
    )
    (run_,) = collected.runs
    assert run_.status == "unavailable"
    assert run_.reason == (
        f"kubernetes: TLS verification of {kube_api_tls.url} failed listing namespaces: its "
        f"certificate does not verify with the CA in {account / 'ca.crt'} (certificate verify "
        "failed: unable to get local issuer certificate); KUBERNETES_SERVICE_HOST/PORT must "
        "point at the API server of the cluster whose CA that is"
    )
    assert delays == []  # not retried: the same certificate would be refused again
    assert kube_api_tls.requests() == []  # the token never left the client


def test_a_kubeconfig_whose_ca_did_not_sign_the_server_says_so_too(
    kube_api_tls: KubeAPI, tmp_path: Path
) -> None:
    kube_api_tls.ca = pki.write_ca(tmp_path / "other-ca.crt")
    kubeconfig = kube_api_tls.write_kubeconfig(tmp_path / "kubeconfig")
    collected = run(k8s.KubernetesCollector(kubeconfig=str(kubeconfig)))
    (run_,) = collected.runs
    assert run_.status == "unavailable"
    assert run_.reason == (
        f"kubernetes: TLS verification of {kube_api_tls.url} failed listing namespaces: its "
        "certificate does not verify with the certificate authority of context 'lab' "
        "(certificate verify failed: unable to get local issuer certificate); the context's "
        "server and certificate-authority must be one cluster's"
    )


def test_a_wrong_token_is_the_401_credentials_message(
    kube_api_tls: KubeAPI, pod_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    in_pod(pod_env, kube_api_tls)
    account = kube_api_tls.write_service_account(tmp_path / "sa", token="revoked")
    collected = run(k8s.KubernetesCollector(in_cluster=True, service_account_dir=str(account)))
    (run_,) = collected.runs
    assert run_.status == "unavailable"
    assert run_.reason == (
        f"kubernetes: {kube_api_tls.url} rejected the credentials (HTTP 401 Unauthorized) "
        f"listing namespaces: the service account token in {account / 'token'} is invalid or "
        "expired; check that the pod's service account exists (deploy/rbac.yaml) and its "
        "token is this cluster's"
    )
    assert [r.status for r in kube_api_tls.requests()] == [401]


def test_without_a_kubeconfig_a_pod_is_detected_and_a_kubeconfig_still_wins(
    kube_api_tls: KubeAPI, pod_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    in_pod(pod_env, kube_api_tls)
    account = kube_api_tls.write_service_account(tmp_path / "sa")
    collector = k8s.KubernetesCollector(service_account_dir=str(account))  # no --in-cluster
    collected = run(collector)
    assert collected.runs[0].status == "ok"
    assert collected.cluster is not None and collected.cluster.name == "in-cluster"
    assert len(kube_api_tls.requests()) == len(k8s.RESOURCES)
    # detected, but the pod has no token mounted: said as for --in-cluster, with why it was used
    absent = tmp_path / "absent"
    collected = run(k8s.KubernetesCollector(service_account_dir=str(absent)))
    assert collected.runs[0].reason == (
        "kubernetes: in-cluster (KUBERNETES_SERVICE_HOST is set, no kubeconfig): no service "
        f"account token at {absent / 'token'} (is automountServiceAccountToken false?)"
    )
    # a kubeconfig in the usual place is preferred to the pod's account, as kubectl does
    home_config = tmp_path / "home" / ".kube" / "config"  # HOME is tmp_path/home: pod_env
    home_config.parent.mkdir()
    kube_api_tls.write_kubeconfig(home_config, context="from-home")
    collected = run(k8s.KubernetesCollector(service_account_dir=str(absent)))
    assert collected.runs[0].status == "ok"
    assert collected.cluster is not None and collected.cluster.name == "from-home"


@pytest.mark.parametrize(
    ("unset", "remove", "content", "reason"),
    [
        (
            "KUBERNETES_SERVICE_HOST",
            None,
            None,
            "kubernetes: --in-cluster: KUBERNETES_SERVICE_HOST is not set (Kubernetes sets it "
            "in every pod); outside a pod use --kubeconfig/--context",
        ),
        (
            "KUBERNETES_SERVICE_PORT",
            None,
            None,
            "kubernetes: --in-cluster: KUBERNETES_SERVICE_PORT is not set (Kubernetes sets it "
            "in every pod); outside a pod use --kubeconfig/--context",
        ),
        (
            None,
            "token",
            None,
            "kubernetes: --in-cluster: no service account token at {sa}/token "
            "(is automountServiceAccountToken false?)",
        ),
        (
            None,
            "ca.crt",
            None,
            "kubernetes: --in-cluster: no cluster CA certificate at {sa}/ca.crt "
            "(the service account volume holds it next to token)",
        ),
        (
            None,
            None,
            ("token", ""),
            "kubernetes: --in-cluster: the service account in {sa} is not usable: "
            "Token file exists but empty.",
        ),
        (
            None,
            None,
            ("token", "stand-in-token\n"),  # as `kubectl create token > token` writes it
            "kubernetes: --in-cluster: the token in {sa}/token ends with a line break, which no "
            "HTTP header may carry; write the token without one (kubelet-projected tokens have "
            "none)",
        ),
        (
            None,
            None,
            ("ca.crt", "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----"),
            "kubernetes: --in-cluster: {sa}/ca.crt holds no usable CA certificate",
        ),
    ],
)
def test_what_is_missing_for_the_in_cluster_mode_is_named(
    kube_tls: pki.ServerTLS,
    pod_env: pytest.MonkeyPatch,
    tmp_path: Path,
    unset: str | None,
    remove: str | None,
    content: tuple[str, str] | None,
    reason: str,
) -> None:
    pod_env.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    pod_env.setenv("KUBERNETES_SERVICE_PORT", "9")  # never reached: each case stops before
    if unset:
        pod_env.delenv(unset)
    account = tmp_path / "sa"
    account.mkdir()
    (account / "token").write_text("t")
    (account / "ca.crt").write_bytes(kube_tls.ca.read_bytes())
    if remove:
        (account / remove).unlink()
    if content:
        (account / content[0]).write_text(content[1])
    collected = run(k8s.KubernetesCollector(in_cluster=True, service_account_dir=str(account)))
    (run_,) = collected.runs
    assert run_.status == "unavailable"
    assert run_.reason is not None
    assert run_.reason.startswith(reason.format(sa=account))
    assert "\n" not in run_.reason


# -- the CLI, end to end -------------------------------------------------------------------


def test_collect_k8s_in_cluster_writes_the_cluster_snapshot(
    kube_api_tls: KubeAPI, tmp_path: Path
) -> None:
    """``topomap collect --k8s --in-cluster`` as the pod runs it: the environment says where
    the API server and the service account are (the account directory through the
    ``TOPOMAP_COLLECT_SERVICE_ACCOUNT_DIR`` variable of the hidden ``--service-account-dir``)."""
    account = kube_api_tls.write_service_account(tmp_path / "serviceaccount")
    out = tmp_path / "cluster.json"
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "KUBERNETES_SERVICE_HOST": "127.0.0.1",
        "KUBERNETES_SERVICE_PORT": str(kube_api_tls.port),
        "TOPOMAP_COLLECT_SERVICE_ACCOUNT_DIR": str(account),
    }
    result = subprocess.run(
        [sys.executable, "-m", "topomap", "collect", "--k8s", "--in-cluster", "-o", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    snap = snapshot_io.load_snapshot(out).snapshot  # validated against the schema on load
    assert (snap.source, snap.observer) == ("cluster", "in-cluster")
    direct = kube.convert(
        [kube.Doc("fixture", 1, obj) for obj in cluster.objects()], cluster_name="in-cluster"
    )
    assert objects(snap) == (
        tuple(direct.pods),
        tuple(direct.services),
        tuple(direct.workloads),
        tuple(direct.hosts),
        tuple(direct.namespaces),
        tuple(direct.policy_objects),
    )
    assert snap.cluster == direct.cluster
    assert [(r.name, r.status) for r in snap.collectors] == [("kubernetes", "ok")]
    assert result.stderr.endswith(
        f"\nkubernetes {k8s.KubernetesCollector.version}: ok: 2 hosts, 2 namespaces, 8 pods, "
        "4 policy_objects, 4 services, 4 workloads\n"
    )
    assert {r.path for r in kube_api_tls.requests()} == {r.path for r in k8s.RESOURCES}


def test_collect_in_cluster_outside_a_pod_records_why_and_still_writes(
    pod_env: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cluster.json"
    with pytest.raises(SystemExit) as done:
        cli.main(
            ["collect", "--k8s", "--in-cluster", "--service-account-dir", str(tmp_path),
             "-o", str(out)]
        )  # fmt: skip
    assert done.value.code == 0
    snap = snapshot_io.load_snapshot(out).snapshot
    (run_,) = snap.collectors
    reason = (
        "kubernetes: --in-cluster: KUBERNETES_SERVICE_HOST is not set (Kubernetes sets it in "
        "every pod); outside a pod use --kubeconfig/--context"
    )
    assert (run_.name, run_.status, run_.reason) == ("kubernetes", "unavailable", reason)
    assert snap.pods == () and snap.cluster is None
    version = k8s.KubernetesCollector.version
    assert f"\nkubernetes {version}: unavailable: nothing ({reason})\n" in capsys.readouterr().err

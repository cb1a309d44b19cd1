"""deploy/rbac.yaml grants exactly what the Kubernetes collector uses: no more, no less.

The collector runs against the stand-in API server, which logs every request; each request is
turned into the (API group, resource, verb) that kube-apiserver's authorizer would check, and
must be allowed by a rule of the ClusterRole. Every rule must in turn be used by some request,
and the role must never reach secrets or hold a write verb.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from collectors import kubernetes as k8s
from collectors.base import run_collectors
from tests.kubeapi.server import KubeAPI, Request

RBAC = Path(__file__).resolve().parent.parent / "deploy" / "rbac.yaml"
READ_VERBS = {"get", "list", "watch"}


def manifests() -> dict[str, dict[str, Any]]:
    return {doc["kind"]: doc for doc in yaml.safe_load_all(RBAC.read_text()) if doc}


def attributes(request: Request) -> tuple[str, str, str]:
    """What the authorizer checks for a request: (API group, resource, verb)."""
    parts = request.path.strip("/").split("/")
    if parts[0] == "api":  # /api/v1/<resource>[/<name>]
        group, rest = "", parts[2:]
    else:  # /apis/<group>/<version>/<resource>[/<name>]
        group, rest = parts[1], parts[3:]
    if len(rest) >= 3 and rest[0] == "namespaces":
        rest = rest[2:]  # /namespaces/<ns>/<resource>...
    resource = rest[0]
    if request.method != "GET":
        verb = request.method.lower()
    elif request.query.get("watch") in ("true", "1"):
        verb = "watch"
    else:
        verb = "get" if len(rest) > 1 else "list"
    return group, resource, verb


def granted(role: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


@pytest.mark.parametrize("mode", ["kubeconfig", "in-cluster"])
def test_every_call_the_collector_makes_is_granted_and_every_grant_is_used(
    mode: str, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if mode == "kubeconfig":
        kube_api: KubeAPI = request.getfixturevalue("kube_api")
        kubeconfig = kube_api.write_kubeconfig(tmp_path / "kubeconfig")
        collector = k8s.KubernetesCollector(kubeconfig=str(kubeconfig), page_size=2)
    else:  # as the ServiceAccount of deploy/rbac.yaml, from inside a pod, over HTTPS
        kube_api = request.getfixturevalue("kube_api_tls")
        monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
        monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(kube_api.port))
        account = kube_api.write_service_account(tmp_path / "serviceaccount")
        collector = k8s.KubernetesCollector(
            in_cluster=True, service_account_dir=str(account), page_size=2
        )
    collected = run_collectors([collector], host="lab", started=datetime.now(UTC))
    assert collected.runs[0].status == "ok"
    used = {attributes(r) for r in kube_api.requests()}
    rules = granted(manifests()["ClusterRole"])
    assert used - rules == set(), "calls the ClusterRole does not allow"
    assert rules - used == set(), "rights the collector never uses"
    assert used == {(r.group, r.plural, "list") for r in k8s.RESOURCES}


def test_the_role_is_read_only_and_never_reaches_secrets() -> None:
    rules = granted(manifests()["ClusterRole"])
    assert {verb for _, _, verb in rules} <= READ_VERBS
    assert not any(resource in ("secrets", "*") for _, resource, _ in rules)
    assert not any(group == "*" for group, _, _ in rules)


def test_the_binding_ties_the_role_to_the_service_account() -> None:
    docs = manifests()
    account, role, binding = docs["ServiceAccount"], docs["ClusterRole"], docs["ClusterRoleBinding"]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": role["metadata"]["name"],
    }
    assert binding["subjects"] == [
        {
            "kind": "ServiceAccount",
            "name": account["metadata"]["name"],
            "namespace": account["metadata"]["namespace"],
        }
    ]
    assert docs["Namespace"]["metadata"]["name"] == account["metadata"]["namespace"]

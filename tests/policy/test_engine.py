"""The engine on small hand-made clusters: precedence, named ports, evaluate()."""

from __future__ import annotations

from pathlib import Path

from topomap.policy import engine, loader

MANIFESTS = """
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec: {containers: [{name: c, image: x, ports: [{name: http, containerPort: 8080}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: shop, labels: {app: db}}
spec: {containers: [{name: c, image: x, ports: [{name: pg, containerPort: 5432}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: free, namespace: other, labels: {app: free}}
spec: {containers: [{name: c, image: x}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-from-web, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: web}}}]
    ports: [{port: pg}]
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: no-telnet}
spec:
  priority: 10
  subject: {namespaces: {}}
  egress:
  - name: deny-telnet
    action: Deny
    to: [{namespaces: {}}]
    ports: [{portNumber: {protocol: TCP, port: 23}}]
"""


def make(tmp_path: Path) -> engine.PolicyEngine:
    (tmp_path / "m.yaml").write_text(MANIFESTS)
    return engine.PolicyEngine(loader.load_cluster([tmp_path]))


def workloads(e: engine.PolicyEngine) -> dict[str, object]:
    return {w.name: w for w in e.cluster.workloads}


def test_named_port_allows_exactly_that_port(tmp_path: Path) -> None:
    e = make(tmp_path)
    w = workloads(e)
    ok = engine.evaluate(e, w["web"], w["db"], "tcp", 5432)  # type: ignore[arg-type]
    assert ok.allowed and not ok.covered  # allowed in, but only the default lets it out
    assert ok.ingress.policy == "shop/db-from-web" and ok.ingress.layer == "NetworkPolicy"
    assert ok.egress.layer == engine.SYSTEM_DEFAULT  # web has no egress policy
    wrong_port = engine.evaluate(e, w["web"], w["db"], "tcp", 5433)  # type: ignore[arg-type]
    assert not wrong_port.allowed and wrong_port.ingress.verdict == "deny"
    stranger = engine.evaluate(e, w["free"], w["db"], "tcp", 5432)  # type: ignore[arg-type]
    assert not stranger.allowed


def test_admin_deny_wins_over_everything_below(tmp_path: Path) -> None:
    e = make(tmp_path)
    w = workloads(e)
    telnet = engine.evaluate(e, w["free"], w["web"], "tcp", 23)  # type: ignore[arg-type]
    assert not telnet.allowed
    assert (telnet.egress.layer, telnet.egress.policy, telnet.egress.rule) == (
        "AdminNetworkPolicy",
        "no-telnet",
        "deny-telnet",
    )
    open_port = engine.evaluate(e, w["free"], w["web"], "tcp", 80)  # type: ignore[arg-type]
    assert open_port.allowed and not open_port.covered


def test_selected_per_direction(tmp_path: Path) -> None:
    e = make(tmp_path)
    w = workloads(e)
    assert e.selected(w["db"], "ingress")  # type: ignore[arg-type]
    assert not e.selected(w["web"], "ingress")  # type: ignore[arg-type]
    assert e.selected(w["web"], "egress")  # the ANP's subject is every namespace


PASS_TO_DEFAULT = """
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: x, labels: {app: a}}
spec: {containers: [{name: c, image: i}]}
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: y, labels: {app: b}}
spec: {containers: [{name: c, image: i}]}
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: pass-web}
spec:
  priority: 5
  subject: {namespaces: {}}
  egress:
  - name: pass-80
    action: Pass
    to: [{namespaces: {}}]
    ports: [{portNumber: {protocol: TCP, port: 80}}]
  ingress:
  - name: pass-80-in
    action: Pass
    from: [{namespaces: {}}]
    ports: [{portNumber: {protocol: TCP, port: 80}}]
"""


def test_passed_port_that_nothing_decides_is_allowed_and_counts_as_covered(
    tmp_path: Path,
) -> None:
    (tmp_path / "m.yaml").write_text(PASS_TO_DEFAULT)
    e = engine.PolicyEngine(loader.load_cluster([tmp_path]))
    w = workloads(e)
    passed = engine.evaluate(e, w["a"], w["b"], "tcp", 80)  # type: ignore[arg-type]
    assert passed.allowed and passed.covered
    assert passed.egress_ruled and passed.ingress_ruled  # per direction, as the analysis asks
    assert passed.egress.layer == engine.SYSTEM_DEFAULT  # the final decision
    other = engine.evaluate(e, w["a"], w["b"], "tcp", 81)  # type: ignore[arg-type]
    assert other.allowed and not other.covered
    assert not other.egress_ruled and not other.ingress_ruled
    egress, _ = e.pair(w["a"], w["b"])  # type: ignore[arg-type]
    assert not egress.by_default.contains("tcp", 80) and egress.by_default.contains("tcp", 81)


EGRESS_ONLY_ANP = """
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: x, labels: {app: a}}
spec: {containers: [{name: c, image: i}]}
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: egress-only}
spec:
  priority: 5
  subject: {namespaces: {}}
  egress:
  - name: deny-smtp
    action: Deny
    to: [{networks: [0.0.0.0/0]}]
    ports: [{portNumber: {protocol: TCP, port: 25}}]
"""


def test_an_admin_policy_selects_only_the_directions_it_has_rules_for(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(EGRESS_ONLY_ANP)
    e = engine.PolicyEngine(loader.load_cluster([tmp_path]))
    a = workloads(e)["a"]
    assert e.selecting("egress", a) == ("AdminNetworkPolicy egress-only",)  # type: ignore[arg-type]
    assert e.selecting("ingress", a) == ()  # type: ignore[arg-type]

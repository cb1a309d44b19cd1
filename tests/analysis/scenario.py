"""A small observed cluster with known problems, shared by the analysis tests.

Pods (node-a): shop/web (10.244.0.5), shop/api (10.244.0.6), shop/db (10.244.0.7),
monitoring/prom (10.244.0.9). NetworkPolicies: api accepts web on 8080; db accepts api on
5432; web may only send to api:8080 and DNS. Observed, and what each must give:

* web -> api:8080            allowed by policies both ways       -> nothing
* web -> db:5432             denied (db ingress, web egress)     -> TM-POLICY-BYPASS
* api -> db:5432             api egress: no policy selects api   -> TM-UNCOVERED (egress)
* prom -> api:9090           api ingress has no rule for prom    -> TM-POLICY-BYPASS
* api -> api.stripe.com:443  allowed_egress *.stripe.com for api -> nothing
* api -> 203.0.113.50:443    nothing allows it                   -> TM-EXT-EGRESS (+ uncovered)
* api -> 169.254.169.254:80  metadata                            -> TM-METADATA (+ uncovered)
* 198.51.100.7 -> web:8443   via LoadBalancer shop/web-lb        -> TM-EXT-INGRESS, and the
                                                                    service -> TM-EXPOSURE
"""

from __future__ import annotations

from pathlib import Path

from tests import factories as f
from topomap import model

POLICIES = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api-from-web, namespace: shop}
spec:
  podSelector: {matchLabels: {app: api}}
  policyTypes: [Ingress]
  ingress:
    - from: [{podSelector: {matchLabels: {app: web}}}]
      ports: [{port: 8080}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-from-api, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  policyTypes: [Ingress]
  ingress:
    - from: [{podSelector: {matchLabels: {app: api}}}]
      ports: [{port: 5432}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-egress, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Egress]
  egress:
    - to: [{podSelector: {matchLabels: {app: api}}}]
      ports: [{port: 8080}]
    - ports: [{port: 53, protocol: UDP}]
"""

POLICY_FILE = """\
version: 1
allowed_egress:
  - id: stripe
    to: ["*.stripe.com"]
    ports: [443]
    source: {workloads: [shop/Deployment/api]}
    owner: payments
    reason: card payments
"""


def write_policies(directory: Path) -> Path:
    path = directory / "policies.yaml"
    path.write_text(POLICIES)
    return path


def snapshots(*, sport_base: int = 40000, suffix: str = "7d9f8-abcde") -> list[model.Snapshot]:
    """The scenario; ``sport_base`` and ``suffix`` vary what must not change identities."""

    def pod(name: str, ip: str, ns: str = "shop") -> model.Pod:
        return f.pod(f"{name}-{suffix}", ip, ns=ns, app=name, workload=name)

    cluster = f.snapshot(
        "cluster",
        source="cluster",
        cluster=model.ClusterInfo(pod_cidrs=("10.244.0.0/16",), service_cidrs=("10.96.0.0/12",)),
        hosts=[model.Host(name="node-a", ips=("10.0.1.10",))],
        namespaces=[model.Namespace(name="shop"), model.Namespace(name="monitoring")],
        pods=[
            pod("web", "10.244.0.5"),
            pod("api", "10.244.0.6"),
            pod("db", "10.244.0.7"),
            pod("prom", "10.244.0.9", ns="monitoring"),
        ],
        services=[
            model.Service(
                namespace="shop",
                name="web-lb",
                type="LoadBalancer",
                cluster_ips=("10.96.0.50",),
                ports=(model.ServicePort(port=443, target_port=8443, node_port=30443),),
                selector={"app": "web"},
                load_balancer_ips=("198.51.100.200",),
            )
        ],
    )
    s = sport_base
    conns = [
        f.conn("10.244.0.5", s + 1, "10.244.0.6", 8080),
        f.conn("10.244.0.5", s + 2, "10.244.0.7", 5432),
        f.conn("10.244.0.6", s + 3, "10.244.0.7", 5432),
        f.conn("10.244.0.9", s + 4, "10.244.0.6", 9090),
        f.conn("10.244.0.6", s + 5, "54.187.174.169", 443),
        f.conn("10.244.0.6", s + 6, "203.0.113.50", 443),
        f.conn("10.244.0.6", s + 7, "169.254.169.254", 80),
        f.conn(
            "198.51.100.7",
            s + 8,
            "10.96.0.50",
            443,
            reply=("10.244.0.5", 8443, "198.51.100.7", s + 8),
        ),
    ]
    host = f.snapshot(
        "node-a",
        connections=conns,
        dns=[
            model.DnsAnswer(
                name="api.stripe.com",
                addresses=("54.187.174.169",),
                ttl=60,
                time=f.at(0),
                observed_by="dns",
            )
        ],
    )
    return [cluster, host]

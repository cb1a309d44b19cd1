"""What the Kubernetes API would say about the lab, served by the stand-in API server.

Objects as kube-apiserver returns them (owner chains Pod -> ReplicaSet -> Deployment, a
StatefulSet and a DaemonSet pod, container statuses carrying the lab's real container ids,
Services with EndpointSlices) plus least-privilege NetworkPolicies in the Online Boutique style
(one per workload, both directions) with planted gaps, for the CC6.6 analysis test:

* ``data/dns`` has no policy at all (a workload nobody selected);
* ``shop/frontend`` accepts ``shop/cart`` on 8080 only, so the short-lived cart -> frontend:9090
  connection is traffic the policies deny (the lab does not enforce policies);
* ``shop/cart`` may send to frontend, redis, dns, 203.0.113.0/24:80 and 169.254.169.254:80;
* ``shop/frontend-nodeport`` is a NodePort service nobody declared.
"""

from __future__ import annotations

from typing import Any

from tests.lab.netlab import (
    EXTERNAL_CIDR,
    METADATA_IP,
    NODE_INTERNAL_IP,
    NODE_NAME,
    SERVICE_IP,
    Lab,
    PodSpec,
)

Obj = dict[str, Any]
CREATED = "2026-11-29T08:00:00Z"
HASHES = {"frontend": "7d9f8b6c5", "cart": "6b8f9d7c4"}
NODEPORT_SERVICE_IP = "10.96.0.11"


def _meta(name: str, ns: str | None = None, **extra: Any) -> Obj:
    out: Obj = {"name": name, "uid": f"uid-{ns or ''}-{name}", "creationTimestamp": CREATED}
    if ns:
        out["namespace"] = ns
    out.update(extra)
    return out


def _owner(kind: str, name: str, api: str = "apps/v1") -> list[Obj]:
    return [
        {"apiVersion": api, "kind": kind, "name": name, "uid": f"uid-{name}", "controller": True}
    ]


def _pod(pod: PodSpec) -> Obj:
    labels = {"app": pod.workload}
    if pod.workload_kind == "Deployment":
        rs = f"{pod.workload}-{HASHES[pod.workload]}"
        labels["pod-template-hash"] = HASHES[pod.workload]
        owners = _owner("ReplicaSet", rs)
    else:
        owners = _owner(pod.workload_kind, pod.workload)
    meta = _meta(pod.name, pod.namespace, labels=labels, ownerReferences=owners)
    meta["uid"] = pod.uid
    return {
        "metadata": meta,
        "spec": {
            "nodeName": NODE_NAME,
            "containers": [
                {
                    "name": pod.container,
                    "image": f"registry.example/{pod.workload}:1.0",
                    "ports": [
                        {"containerPort": port, "protocol": proto.upper()}
                        for proto, port in pod.ports
                    ],
                }
            ],
        },
        "status": {
            "phase": "Running",
            "hostIP": NODE_INTERNAL_IP,
            "podIP": pod.ip,
            "podIPs": [{"ip": pod.ip}],
            "startTime": CREATED,
            "containerStatuses": [
                {
                    "name": pod.container,
                    "ready": True,
                    "restartCount": 0,
                    "containerID": f"containerd://{pod.container_id}",
                    "state": {"running": {"startedAt": CREATED}},
                }
            ],
        },
    }


def _controllers(lab: Lab, kind: str) -> list[Obj]:
    out = []
    for pod in lab.pods:
        if pod.workload_kind != kind:
            continue
        selector = {"matchLabels": {"app": pod.workload}}
        out.append(
            {
                "metadata": _meta(pod.workload, pod.namespace, labels={"app": pod.workload}),
                "spec": {"selector": selector},
            }
        )
    return out


def _replicasets(lab: Lab) -> list[Obj]:
    return [
        {
            "metadata": _meta(
                f"{p.workload}-{HASHES[p.workload]}",
                p.namespace,
                labels={"app": p.workload, "pod-template-hash": HASHES[p.workload]},
                ownerReferences=_owner("Deployment", p.workload),
            ),
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": p.workload}}},
        }
        for p in lab.pods
        if p.workload_kind == "Deployment"
    ]


def _services(lab: Lab) -> list[Obj]:
    def svc(name: str, kind: str, ip: str, port: Obj) -> Obj:
        return {
            "metadata": _meta(name, "shop"),
            "spec": {
                "type": kind,
                "clusterIP": ip,
                "clusterIPs": [ip],
                "selector": {"app": "frontend"},
                "ports": [port],
            },
            "status": {"loadBalancer": {}},
        }

    return [
        svc(
            "frontend",
            "ClusterIP",
            SERVICE_IP,
            {"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080},
        ),
        svc(
            "frontend-nodeport",
            "NodePort",
            NODEPORT_SERVICE_IP,
            {"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080, "nodePort": 30080},
        ),
    ]


def _endpointslices(lab: Lab) -> list[Obj]:
    frontend = lab.pod("frontend")
    endpoint = {
        "addresses": [frontend.ip],
        "conditions": {"ready": True, "serving": True, "terminating": False},
        "nodeName": NODE_NAME,
        "targetRef": {
            "kind": "Pod",
            "name": frontend.name,
            "namespace": "shop",
            "uid": frontend.uid,
        },
    }
    return [
        {
            "metadata": _meta(
                f"{service}-x1y2z",
                "shop",
                labels={"kubernetes.io/service-name": service},
                ownerReferences=_owner("Service", service, "v1"),
            ),
            "addressType": "IPv4",
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            "endpoints": [endpoint],
        }
        for service in ("frontend", "frontend-nodeport")
    ]


def _peer(ns: str, app: str) -> Obj:
    return {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}},
        "podSelector": {"matchLabels": {"app": app}},
    }


def _policy(name: str, ns: str, app: str, ingress: list[Obj], egress: list[Obj]) -> Obj:
    return {
        "metadata": _meta(name, ns),
        "spec": {
            "podSelector": {"matchLabels": {"app": app}},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": ingress,
            "egress": egress,
        },
    }


def _networkpolicies() -> list[Obj]:
    def tcp(port: int) -> list[Obj]:
        return [{"protocol": "TCP", "port": port}]

    return [
        _policy(
            "frontend",
            "shop",
            "frontend",
            [{"from": [_peer("shop", "cart")], "ports": tcp(8080)}],
            [],
        ),
        _policy(
            "cart",
            "shop",
            "cart",
            [],
            [
                {"to": [_peer("shop", "frontend")], "ports": tcp(8080)},
                {"to": [_peer("data", "redis")], "ports": tcp(6379)},
                {"to": [_peer("data", "dns")], "ports": [{"protocol": "UDP", "port": 5353}]},
                {"to": [{"ipBlock": {"cidr": EXTERNAL_CIDR}}], "ports": tcp(80)},
                {"to": [{"ipBlock": {"cidr": f"{METADATA_IP}/32"}}], "ports": tcp(80)},
            ],
        ),
        _policy(
            "redis", "data", "redis", [{"from": [_peer("shop", "cart")], "ports": tcp(6379)}], []
        ),
    ]


def resources(lab: Lab) -> dict[str, tuple[str, str, list[Obj]]]:
    """The lab as the stand-in API server serves it (paths as in tests/kubeapi/cluster.py)."""
    namespaces = [
        {
            "metadata": _meta(n, labels={"kubernetes.io/metadata.name": n}),
            "status": {"phase": "Active"},
        }
        for n in ("data", "shop")
    ]
    nodes = [
        {
            "metadata": _meta(NODE_NAME, labels={"kubernetes.io/hostname": NODE_NAME}),
            "spec": {"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24"]},
            "status": {
                "addresses": [
                    {"type": "InternalIP", "address": NODE_INTERNAL_IP},
                    {"type": "Hostname", "address": NODE_NAME},
                ]
            },
        }
    ]
    return {
        "/api/v1/namespaces": ("v1", "Namespace", namespaces),
        "/api/v1/nodes": ("v1", "Node", nodes),
        "/api/v1/pods": ("v1", "Pod", [_pod(p) for p in lab.pods]),
        "/api/v1/services": ("v1", "Service", _services(lab)),
        "/apis/apps/v1/replicasets": ("apps/v1", "ReplicaSet", _replicasets(lab)),
        "/apis/apps/v1/deployments": ("apps/v1", "Deployment", _controllers(lab, "Deployment")),
        "/apis/apps/v1/statefulsets": ("apps/v1", "StatefulSet", _controllers(lab, "StatefulSet")),
        "/apis/apps/v1/daemonsets": ("apps/v1", "DaemonSet", _controllers(lab, "DaemonSet")),
        "/apis/batch/v1/jobs": ("batch/v1", "Job", []),
        "/apis/batch/v1/cronjobs": ("batch/v1", "CronJob", []),
        "/apis/discovery.k8s.io/v1/endpointslices": (
            "discovery.k8s.io/v1",
            "EndpointSlice",
            _endpointslices(lab),
        ),
        "/apis/networking.k8s.io/v1/networkpolicies": (
            "networking.k8s.io/v1",
            "NetworkPolicy",
            _networkpolicies(),
        ),
        "/apis/networking.k8s.io/v1/ingresses": ("networking.k8s.io/v1", "Ingress", []),
    }

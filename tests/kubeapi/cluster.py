"""A small cluster as the Kubernetes API returns it: the objects every Kubernetes test uses.

Shapes follow what a real API server (v1.30) returns for ``kubectl get -o json``: list items
carry ``status``, controllers' pods carry controller ``ownerReferences``, container ids carry
their runtime prefix, EndpointSlices name their Service in ``kubernetes.io/service-name``.
Scene: namespace ``shop`` on two nodes. ``frontend`` (Deployment, via ReplicaSet
``frontend-6d9c5b7f48``, two pods, NodePort 30080 and externalIP 203.0.113.10), ``db``
(StatefulSet, ClusterIP), ``web-lb`` (LoadBalancer, 198.51.100.7), ``backup`` (CronJob -> Job
-> a Succeeded pod), ``agent`` (DaemonSet, host network, port 9100), ``debug`` (a bare pod),
a static pod mirror in kube-system, and policies of every kind.
"""

from __future__ import annotations

import hashlib
from typing import Any

Obj = dict[str, Any]

NODE_A, NODE_B = "10.0.1.10", "10.0.1.11"
FRONTEND_1, FRONTEND_2, DB_0, DEBUG = "10.244.0.5", "10.244.1.5", "10.244.1.9", "10.244.0.7"
BACKUP_IP = "10.244.0.8"
FRONTEND_VIP, DB_VIP, LB_VIP = "10.96.0.10", "10.96.0.20", "10.96.0.30"
EXTERNAL_IP, LB_INGRESS = "203.0.113.10", "198.51.100.7"
CREATED = "2026-11-27T14:32:05Z"


def cid(name: str) -> str:
    """A 64-hex container id derived from a name (stable)."""
    return hashlib.sha256(name.encode()).hexdigest()


def meta(name: str, ns: str | None = None, **extra: Any) -> Obj:
    out: Obj = {"name": name, "uid": f"uid-{ns or ''}-{name}", "creationTimestamp": CREATED}
    if ns is not None:
        out["namespace"] = ns
    out.update(extra)
    return out


def owner(kind: str, name: str, api: str = "apps/v1") -> list[Obj]:
    return [
        {
            "apiVersion": api,
            "kind": kind,
            "name": name,
            "uid": f"uid-{name}",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]


def namespaces() -> list[Obj]:
    return [
        {
            "metadata": meta(n, labels={"kubernetes.io/metadata.name": n, **extra}),
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        }
        for n, extra in (("kube-system", {}), ("shop", {"team": "shop"}))
    ]


def nodes() -> list[Obj]:
    return [
        {
            "metadata": meta(
                name,
                labels={"kubernetes.io/hostname": name, "topology.kubernetes.io/zone": zone},
                managedFields=[{"manager": "kubelet", "operation": "Update"}],
            ),
            "spec": {"podCIDR": cidr, "podCIDRs": [cidr]},
            "status": {
                "addresses": [
                    {"type": "InternalIP", "address": ip},
                    {"type": "Hostname", "address": name},
                ],
                "nodeInfo": {"machineID": f"{index}" * 32, "kubeletVersion": "v1.30.2"},
            },
        }
        for index, (name, ip, cidr, zone) in enumerate(
            (("node-a", NODE_A, "10.244.0.0/24", "z1"), ("node-b", NODE_B, "10.244.1.0/24", "z2"))
        )
    ]


def container(name: str, image: str, ports: list[Obj]) -> Obj:
    return {"name": name, "image": image, "ports": ports, "imagePullPolicy": "IfNotPresent"}


def status(ip: str | None, host_ip: str, containers: list[str], phase: str = "Running") -> Obj:
    out: Obj = {
        "phase": phase,
        "hostIP": host_ip,
        "startTime": CREATED,
        "containerStatuses": [
            {
                "name": c,
                "ready": phase == "Running",
                "restartCount": 0,
                "containerID": f"containerd://{cid(c + (ip or ''))}",
                "state": {"running": {"startedAt": CREATED}}
                if phase == "Running"
                else {
                    "terminated": {
                        "exitCode": 0,
                        "startedAt": "2026-11-28T09:58:00Z",
                        "finishedAt": "2026-11-28T09:59:30Z",
                    }
                },
            }
            for c in containers
        ],
    }
    if ip is not None:
        out["podIP"] = ip
        out["podIPs"] = [{"ip": ip}]
    return out


HASH = "6d9c5b7f48"


def pods() -> list[Obj]:
    web_ports = [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    out = [
        {
            "metadata": meta(
                f"frontend-{HASH}-{suffix}",
                "shop",
                labels={"app": "frontend", "pod-template-hash": HASH},
                ownerReferences=owner("ReplicaSet", f"frontend-{HASH}"),
            ),
            "spec": {
                "nodeName": node,
                "containers": [container("server", "shop/frontend:1.0", web_ports)],
            },
            "status": status(ip, host, ["server"]),
        }
        for suffix, node, host, ip in (
            ("x7k2p", "node-a", NODE_A, FRONTEND_1),
            ("q9m4z", "node-b", NODE_B, FRONTEND_2),
        )
    ]
    out.append(
        {
            "metadata": meta(
                "db-0", "shop", labels={"app": "db"}, ownerReferences=owner("StatefulSet", "db")
            ),
            "spec": {
                "nodeName": "node-b",
                "initContainers": [container("init-schema", "shop/db-init:1.0", [])],
                "containers": [
                    container(
                        "postgres",
                        "postgres:16",
                        [{"name": "pg", "containerPort": 5432, "protocol": "TCP"}],
                    )
                ],
            },
            "status": {
                **status(DB_0, NODE_B, ["postgres"]),
                "initContainerStatuses": [
                    {
                        "name": "init-schema",
                        "containerID": f"containerd://{cid('init-schema')}",
                        "state": {
                            "terminated": {"exitCode": 0, "finishedAt": "2026-11-27T14:33:00Z"}
                        },
                    }
                ],
            },
        }
    )
    out.append(
        {
            "metadata": meta(
                "backup-29400000-r8d2w",
                "shop",
                labels={"job-name": "backup-29400000"},
                ownerReferences=owner("Job", "backup-29400000", "batch/v1"),
            ),
            "spec": {"nodeName": "node-a", "containers": [container("backup", "shop/bk:1", [])]},
            "status": status(BACKUP_IP, NODE_A, ["backup"], phase="Succeeded"),
        }
    )
    for node, host in (("node-a", NODE_A), ("node-b", NODE_B)):
        out.append(
            {
                "metadata": meta(
                    f"agent-{node[-1]}",
                    "kube-system",
                    labels={"app": "agent"},
                    ownerReferences=owner("DaemonSet", "agent"),
                ),
                "spec": {
                    "nodeName": node,
                    "hostNetwork": True,
                    "containers": [
                        container(
                            "agent",
                            "agent:2",
                            [{"containerPort": 9100, "hostPort": 9100, "protocol": "TCP"}],
                        )
                    ],
                },
                "status": status(host, host, ["agent"]),
            }
        )
    out.append(
        {
            "metadata": meta("debug", "shop", labels={"run": "debug"}),
            "spec": {"nodeName": "node-a", "containers": [container("debug", "busybox", [])]},
            "status": status(DEBUG, NODE_A, ["debug"]),
        }
    )
    out.append(
        {
            "metadata": meta(
                "etcd-node-a",
                "kube-system",
                labels={"component": "etcd"},
                ownerReferences=owner("Node", "node-a", "v1"),
            ),
            "spec": {"nodeName": "node-a", "hostNetwork": True, "containers": []},
            "status": {"phase": "Running", "podIP": NODE_A, "podIPs": [{"ip": NODE_A}]},
        }
    )
    return out


def replicasets() -> list[Obj]:
    return [
        {
            "metadata": meta(
                f"frontend-{HASH}",
                "shop",
                labels={"app": "frontend", "pod-template-hash": HASH},
                ownerReferences=owner("Deployment", "frontend"),
            ),
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "frontend"}}},
        }
    ]


def deployments() -> list[Obj]:
    return [
        {
            "metadata": meta("frontend", "shop", labels={"app": "frontend", "tier": "web"}),
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "frontend"}}},
        }
    ]


def statefulsets() -> list[Obj]:
    return [
        {
            "metadata": meta("db", "shop", labels={"app": "db"}),
            "spec": {"selector": {"matchLabels": {"app": "db"}}, "serviceName": "db"},
        }
    ]


def daemonsets() -> list[Obj]:
    return [
        {
            "metadata": meta("agent", "kube-system"),
            "spec": {"selector": {"matchLabels": {"app": "agent"}}},
        }
    ]


def jobs() -> list[Obj]:
    return [
        {
            "metadata": meta(
                "backup-29400000", "shop", ownerReferences=owner("CronJob", "backup", "batch/v1")
            ),
            "spec": {"selector": {"matchLabels": {"job-name": "backup-29400000"}}},
        }
    ]


def cronjobs() -> list[Obj]:
    return [{"metadata": meta("backup", "shop"), "spec": {"schedule": "0 3 * * *"}}]


def services() -> list[Obj]:
    return [
        {
            "metadata": meta("db", "shop"),
            "spec": {
                "type": "ClusterIP",
                "clusterIP": DB_VIP,
                "clusterIPs": [DB_VIP],
                "selector": {"app": "db"},
                "ports": [{"name": "pg", "port": 5432, "protocol": "TCP", "targetPort": "pg"}],
            },
            "status": {"loadBalancer": {}},
        },
        {
            "metadata": meta("frontend", "shop"),
            "spec": {
                "type": "NodePort",
                "clusterIP": FRONTEND_VIP,
                "clusterIPs": [FRONTEND_VIP],
                "externalIPs": [EXTERNAL_IP],
                "selector": {"app": "frontend"},
                "ports": [
                    {
                        "name": "http",
                        "port": 80,
                        "protocol": "TCP",
                        "targetPort": 8080,
                        "nodePort": 30080,
                    }
                ],
            },
            "status": {"loadBalancer": {}},
        },
        {
            "metadata": meta("web-lb", "shop"),
            "spec": {
                "type": "LoadBalancer",
                "clusterIP": LB_VIP,
                "clusterIPs": [LB_VIP],
                "selector": {"app": "frontend"},
                "ports": [{"port": 443, "protocol": "TCP", "targetPort": 8080, "nodePort": 31443}],
            },
            "status": {"loadBalancer": {"ingress": [{"ip": LB_INGRESS, "ipMode": "VIP"}]}},
        },
        {
            "metadata": meta("db-headless", "shop"),
            "spec": {
                "clusterIP": "None",
                "clusterIPs": ["None"],
                "selector": {"app": "db"},
                "ports": [{"port": 5432, "protocol": "TCP", "targetPort": 5432}],
            },
            "status": {"loadBalancer": {}},
        },
    ]


def endpoint(ip: str, pod: str, node: str, ready: bool = True) -> Obj:
    return {
        "addresses": [ip],
        "conditions": {"ready": ready, "serving": ready, "terminating": False},
        "nodeName": node,
        "targetRef": {"kind": "Pod", "name": pod, "namespace": "shop", "uid": f"uid-shop-{pod}"},
    }


def endpointslices() -> list[Obj]:
    fe = [
        endpoint(FRONTEND_1, f"frontend-{HASH}-x7k2p", "node-a"),
        endpoint(FRONTEND_2, f"frontend-{HASH}-q9m4z", "node-b"),
    ]

    def slice_(name: str, service: str, ports: list[Obj], eps: list[Obj]) -> Obj:
        return {
            "metadata": meta(
                name,
                "shop",
                labels={
                    "kubernetes.io/service-name": service,
                    "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
                },
                ownerReferences=owner("Service", service, "v1"),
            ),
            "addressType": "IPv4",
            "ports": ports,
            "endpoints": eps,
        }

    return [
        slice_(
            "db-abcde",
            "db",
            [{"name": "pg", "port": 5432, "protocol": "TCP"}],
            [endpoint(DB_0, "db-0", "node-b")],
        ),
        slice_(
            "db-headless-fghij",
            "db-headless",
            [{"name": "", "port": 5432, "protocol": "TCP"}],
            [endpoint(DB_0, "db-0", "node-b")],
        ),
        slice_(
            "frontend-klmno", "frontend", [{"name": "http", "port": 8080, "protocol": "TCP"}], fe
        ),
        slice_("web-lb-pqrst", "web-lb", [{"name": "", "port": 8080, "protocol": "TCP"}], fe),
    ]


def networkpolicies() -> list[Obj]:
    return [
        {
            "metadata": meta("db-from-frontend", "shop"),
            "spec": {
                "podSelector": {"matchLabels": {"app": "db"}},
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "from": [{"podSelector": {"matchLabels": {"app": "frontend"}}}],
                        "ports": [{"port": 5432, "protocol": "TCP"}],
                    }
                ],
            },
        }
    ]


def ingresses() -> list[Obj]:
    return [
        {
            "metadata": meta("shop", "shop"),
            "spec": {
                "rules": [
                    {
                        "host": "shop.example.com",
                        "http": {
                            "paths": [
                                {
                                    "path": "/",
                                    "pathType": "Prefix",
                                    "backend": {
                                        "service": {"name": "frontend", "port": {"number": 80}}
                                    },
                                }
                            ]
                        },
                    }
                ]
            },
        }
    ]


def adminnetworkpolicies() -> list[Obj]:
    return [
        {
            "metadata": meta("deny-metadata"),
            "spec": {
                "priority": 10,
                "subject": {"namespaces": {}},
                "egress": [
                    {
                        "name": "no-imds",
                        "action": "Deny",
                        "to": [{"networks": ["169.254.169.254/32"]}],
                    }
                ],
            },
        }
    ]


def baselineadminnetworkpolicies() -> list[Obj]:
    return [
        {
            "metadata": meta("default"),
            "spec": {
                "subject": {"namespaces": {"matchLabels": {"team": "shop"}}},
                "ingress": [
                    {
                        "name": "deny-other-ns",
                        "action": "Deny",
                        "from": [{"namespaces": {"matchLabels": {"team": "other"}}}],
                    }
                ],
            },
        }
    ]


def servicecidrs() -> list[Obj]:
    return [{"metadata": meta("kubernetes"), "spec": {"cidrs": ["10.96.0.0/16"]}}]


#: resource -> (apiVersion, kind, items) as the API serves them, by the URL path of its list.
def resources() -> dict[str, tuple[str, str, list[Obj]]]:
    return {
        "/api/v1/namespaces": ("v1", "Namespace", namespaces()),
        "/api/v1/nodes": ("v1", "Node", nodes()),
        "/api/v1/pods": ("v1", "Pod", pods()),
        "/api/v1/services": ("v1", "Service", services()),
        "/apis/apps/v1/replicasets": ("apps/v1", "ReplicaSet", replicasets()),
        "/apis/apps/v1/deployments": ("apps/v1", "Deployment", deployments()),
        "/apis/apps/v1/statefulsets": ("apps/v1", "StatefulSet", statefulsets()),
        "/apis/apps/v1/daemonsets": ("apps/v1", "DaemonSet", daemonsets()),
        "/apis/batch/v1/jobs": ("batch/v1", "Job", jobs()),
        "/apis/batch/v1/cronjobs": ("batch/v1", "CronJob", cronjobs()),
        "/apis/discovery.k8s.io/v1/endpointslices": (
            "discovery.k8s.io/v1",
            "EndpointSlice",
            endpointslices(),
        ),
        "/apis/networking.k8s.io/v1/networkpolicies": (
            "networking.k8s.io/v1",
            "NetworkPolicy",
            networkpolicies(),
        ),
        "/apis/networking.k8s.io/v1/ingresses": ("networking.k8s.io/v1", "Ingress", ingresses()),
        "/apis/networking.k8s.io/v1/servicecidrs": (
            "networking.k8s.io/v1",
            "ServiceCIDR",
            servicecidrs(),
        ),
        "/apis/policy.networking.k8s.io/v1alpha1/adminnetworkpolicies": (
            "policy.networking.k8s.io/v1alpha1",
            "AdminNetworkPolicy",
            adminnetworkpolicies(),
        ),
        "/apis/policy.networking.k8s.io/v1alpha1/baselineadminnetworkpolicies": (
            "policy.networking.k8s.io/v1alpha1",
            "BaselineAdminNetworkPolicy",
            baselineadminnetworkpolicies(),
        ),
    }


def objects() -> list[Obj]:
    """Every object with its kind and apiVersion, as ``kubectl get -o json`` prints items."""
    return [
        {"apiVersion": api, "kind": kind, **item}
        for api, kind, items in resources().values()
        for item in items
    ]

"""What the policy engine reasons about: a cluster's workloads and its network policies.

Typed, immutable views of the Kubernetes objects that matter for connectivity: namespaces,
workloads (pods grouped by their owner, as netpol-analyzer groups them), services, ingress
backends, NetworkPolicies (networking.k8s.io/v1), AdminNetworkPolicies and the
BaselineAdminNetworkPolicy (policy.networking.k8s.io/v1alpha1). The loader
(:mod:`topomap.policy.loader`) builds these from manifests; the engine
(:mod:`topomap.policy.engine`) evaluates them. No I/O here.

Protocols are upper case as in the Kubernetes API (``TCP``, ``UDP``, ``SCTP``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Proto = Literal["TCP", "UDP", "SCTP"]
PROTOCOLS: tuple[Proto, ...] = ("SCTP", "TCP", "UDP")  # netpol-analyzer's print order
Operator = Literal["In", "NotIn", "Exists", "DoesNotExist"]
Action = Literal["Allow", "Deny", "Pass"]


@dataclass(frozen=True, slots=True)
class Requirement:
    """One ``matchExpressions`` entry."""

    key: str
    operator: Operator
    values: frozenset[str] = frozenset()
    written: tuple[str, ...] = field(default=(), compare=False, hash=False)
    """The values in manifest order, for printing as netpol-analyzer does."""


@dataclass(frozen=True, slots=True)
class LabelSelector:
    """A label selector; the empty selector matches everything."""

    match_labels: tuple[tuple[str, str], ...] = ()
    match_expressions: tuple[Requirement, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        for key, value in self.match_labels:
            if labels.get(key) != value:
                return False
        for req in self.match_expressions:
            present = key_in = req.key in labels
            if req.operator == "In":
                ok = key_in and labels[req.key] in req.values
            elif req.operator == "NotIn":
                ok = not present or labels[req.key] not in req.values
            elif req.operator == "Exists":
                ok = present
            else:
                ok = not present
            if not ok:
                return False
        return True

    @property
    def is_empty(self) -> bool:
        return not self.match_labels and not self.match_expressions


@dataclass(frozen=True, slots=True)
class IPBlock:
    """``ipBlock``: a CIDR minus exceptions (IPv4 only in the engine, like netpol-analyzer)."""

    cidr: str
    excepts: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PortSpec:
    """A NetworkPolicy port: a number, a range (``end_port``), a name, or all ports."""

    protocol: Proto = "TCP"
    port: int | str | None = None
    end_port: int | None = None


@dataclass(frozen=True, slots=True)
class NPPeer:
    """A ``from``/``to`` entry: an ipBlock, or namespace and/or pod selectors.

    ``namespace_selector`` None means the policy's own namespace; ``pod_selector`` None means
    all pods (of the selected namespaces).
    """

    ip_block: IPBlock | None = None
    namespace_selector: LabelSelector | None = None
    pod_selector: LabelSelector | None = None


@dataclass(frozen=True, slots=True)
class NPRule:
    """An ingress or egress rule; ``peers`` None or empty means every peer, no ports all ports."""

    peers: tuple[NPPeer, ...] = ()
    ports: tuple[PortSpec, ...] = ()
    index: int = 0


@dataclass(frozen=True, slots=True)
class NetworkPolicy:
    """A networking.k8s.io/v1 NetworkPolicy, with ``policyTypes`` resolved."""

    namespace: str
    name: str
    pod_selector: LabelSelector
    ingress: tuple[NPRule, ...] = ()
    egress: tuple[NPRule, ...] = ()
    affects_ingress: bool = True
    affects_egress: bool = False


@dataclass(frozen=True, slots=True)
class AdminPeer:
    """An ANP/BANP peer: ``namespaces``, ``pods`` (namespace + pod selector) or ``networks``."""

    kind: Literal["namespaces", "pods", "networks", "nodes"]
    namespace_selector: LabelSelector = LabelSelector()
    pod_selector: LabelSelector = LabelSelector()
    networks: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AdminPort:
    """An ANP/BANP port: ``portNumber``, ``portRange`` or ``namedPort``."""

    protocol: Proto = "TCP"
    start: int | None = None
    end: int | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class AdminRule:
    """An ANP/BANP rule, in the order written (the first match wins)."""

    name: str
    action: Action
    peers: tuple[AdminPeer, ...]
    ports: tuple[AdminPort, ...] | None = None  # None: all ports


@dataclass(frozen=True, slots=True)
class AdminPolicy:
    """An AdminNetworkPolicy, or (``baseline``) the BaselineAdminNetworkPolicy ``default``."""

    name: str
    subject_namespaces: LabelSelector
    subject_pods: LabelSelector | None  # None when the subject is ``namespaces``
    ingress: tuple[AdminRule, ...] = ()
    egress: tuple[AdminRule, ...] = ()
    priority: int = 0
    baseline: bool = False

    @property
    def kind(self) -> str:
        return "BaselineAdminNetworkPolicy" if self.baseline else "AdminNetworkPolicy"


@dataclass(frozen=True, slots=True)
class Namespace:
    name: str
    labels: dict[str, str] = field(default_factory=dict, hash=False, compare=True)


@dataclass(frozen=True, slots=True)
class Workload:
    """Pods that share an owner: what netpol-analyzer names ``ns/name[Kind]``."""

    namespace: str
    name: str
    kind: str
    labels: dict[str, str] = field(default_factory=dict, hash=False)
    named_ports: dict[str, tuple[Proto, int]] = field(default_factory=dict, hash=False)

    @property
    def display(self) -> str:
        return f"{self.namespace}/{self.name}[{self.kind}]"


@dataclass(frozen=True, slots=True)
class ServicePort:
    port: int
    target_port: int | str | None
    protocol: Proto = "TCP"
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Service:
    namespace: str
    name: str
    selector: dict[str, str] = field(default_factory=dict, hash=False)
    ports: tuple[ServicePort, ...] = ()


@dataclass(frozen=True, slots=True)
class IngressBackend:
    """A Service an Ingress or OpenShift Route sends traffic to (port: number, name or all)."""

    namespace: str
    service: str
    port: int | str | None = None
    source_kind: Literal["Ingress", "Route"] = "Ingress"
    source_name: str = ""


@dataclass
class Cluster:
    """Everything read from one set of manifests."""

    namespaces: dict[str, Namespace] = field(default_factory=dict)
    workloads: list[Workload] = field(default_factory=list)
    policies: list[NetworkPolicy] = field(default_factory=list)
    admin_policies: list[AdminPolicy] = field(default_factory=list)
    baseline: AdminPolicy | None = None
    services: list[Service] = field(default_factory=list)
    ingress_backends: list[IngressBackend] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

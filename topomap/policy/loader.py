"""Read Kubernetes manifests into a :class:`~topomap.policy.objects.Cluster`.

This module owns everything between files on disk and the typed policy objects: finding the
``.yaml``/``.yml``/``.json`` files (directories are read recursively, in sorted order),
splitting YAML streams into documents, unpacking ``List`` kinds, and turning Namespaces,
workloads, NetworkPolicies, AdminNetworkPolicies, the BaselineAdminNetworkPolicy, Services,
Ingresses and OpenShift Routes into objects, validated on the way. It follows netpol-analyzer's
reader (k8s cli-runtime ``resource.Builder``); the file reading itself is :mod:`topomap.manifests`:

* Documents that are not Kubernetes objects are skipped with a warning; kinds that play no part
  in connectivity are ignored silently. Objects without a namespace are in ``default``.
* A workload is what netpol-analyzer prints as ``ns/name[Kind]``: a controller object by its own
  name and kind, a Pod by its controlling owner (not rolled up further, so a ReplicaSet stays a
  ReplicaSet), or by its own name with kind ``Pod`` when it has no owner. Pods of one owner are
  one workload.
* Namespaces always carry ``kubernetes.io/metadata.name``; namespaces that workloads or
  NetworkPolicies use but that no manifest defines are created with just that label.

Unreadable files and invalid policy content raise :class:`~topomap.errors.InputError` with one
line naming the file and then either the line (syntax) or the object and field path (content),
for example ``netpols.yaml: NetworkPolicy default/np1: spec.ingress[0].ports[1].protocol:
'TCPX' is not TCP, UDP or SCTP``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from topomap.errors import InputError
from topomap.manifests import Doc as _Doc
from topomap.manifests import Where, read_documents
from topomap.manifests import describe as _describe
from topomap.manifests import get as _get
from topomap.policy.objects import (
    Action,
    AdminPeer,
    AdminPolicy,
    AdminPort,
    AdminRule,
    Cluster,
    IngressBackend,
    IPBlock,
    LabelSelector,
    Namespace,
    NetworkPolicy,
    NPPeer,
    NPRule,
    Operator,
    PortSpec,
    Proto,
    Requirement,
    Service,
    ServicePort,
    Workload,
)

__all__ = ["NS_NAME_LABEL", "LoadedCluster", "load_cluster"]

#: The label the API server puts on every namespace (and the loader does too).
NS_NAME_LABEL = "kubernetes.io/metadata.name"

#: Controller kinds and where their pod template is.
_TEMPLATE_PATHS: dict[str, tuple[str, ...]] = {
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "ReplicationController": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}
_PROTOCOLS: dict[str, Proto] = {"TCP": "TCP", "UDP": "UDP", "SCTP": "SCTP"}
_OPERATORS: dict[str, Operator] = {
    "In": "In",
    "NotIn": "NotIn",
    "Exists": "Exists",
    "DoesNotExist": "DoesNotExist",
}
_ACTIONS: dict[str, Action] = {"Allow": "Allow", "Deny": "Deny", "Pass": "Pass"}
_MIN_PORT, _MAX_PORT = 1, 65535
_MIN_PRIORITY, _MAX_PRIORITY = 0, 1000


@dataclass
class LoadedCluster(Cluster):
    """A :class:`Cluster` plus what :class:`~topomap.policy.objects.Workload` cannot hold yet.

    ``container_ports`` maps ``Workload.display`` to every container port of the workload's pod
    template (named or not), as ``(protocol, port)`` in manifest order. netpol-analyzer lets the
    ingress controller reach a numeric Service target port only when it is one of these.
    """

    container_ports: dict[str, tuple[tuple[Proto, int], ...]] = field(default_factory=dict)


def load_cluster(paths: Sequence[str | Path], *, keep_going: bool = False) -> LoadedCluster:
    """Read manifests from files and directories (recursively) into one cluster.

    With ``keep_going``, a YAML/JSON syntax error does not raise: like netpol-analyzer's CLI,
    the documents before it are kept, the rest of that file is skipped and a warning says so.
    Invalid object content raises :class:`InputError` either way.
    """
    builder = _Builder()
    for doc in read_documents(paths, builder.cluster.warnings, keep_going=keep_going):
        builder.add(doc)
    return builder.finish()


def cluster_from_documents(docs: Iterable[_Doc]) -> LoadedCluster:
    """The cluster described by already-read objects (each with the file and line it came from)."""
    builder = _Builder()
    for doc in docs:
        builder.add(doc)
    return builder.finish()


# ---------------------------------------------------------------------------------------------
# Typed access to policy fields


class _Where(Where):
    """:class:`~topomap.manifests.Where` plus the policy-specific fields."""

    def protocol(self, value: Any, path: str) -> Proto:
        if value is None:
            return "TCP"
        if isinstance(value, str) and value in _PROTOCOLS:
            return _PROTOCOLS[value]
        self.fail(path, f"{value!r} is not TCP, UDP or SCTP")

    def selector(self, value: Any, path: str) -> LabelSelector | None:
        """A LabelSelector; None when absent (or null), which NetworkPolicy peers tell apart."""
        raw = self.mapping(value, path)
        if raw is None:
            return None
        labels = self.labels(raw.get("matchLabels"), f"{path}.matchLabels")
        requirements: list[Requirement] = []
        for index, item in enumerate(
            self.seq(raw.get("matchExpressions"), f"{path}.matchExpressions") or []
        ):
            at = f"{path}.matchExpressions[{index}]"
            expr = self.need_mapping(item, at)
            key = self.need_text(expr.get("key"), f"{at}.key")
            op_raw = expr.get("operator")
            if not isinstance(op_raw, str) or op_raw not in _OPERATORS:
                self.fail(f"{at}.operator", f"{op_raw!r} is not In, NotIn, Exists or DoesNotExist")
            operator = _OPERATORS[op_raw]
            values: list[str] = []
            for vi, val in enumerate(self.seq(expr.get("values"), f"{at}.values") or []):
                got = self.text(val, f"{at}.values[{vi}]")
                if got is None:
                    self.fail(f"{at}.values[{vi}]", "expected a string, found null")
                values.append(got)
            if operator in ("In", "NotIn") and not values:
                self.fail(f"{at}.values", f"must be non-empty when operator is {operator}")
            if operator in ("Exists", "DoesNotExist") and values:
                self.fail(f"{at}.values", f"must be empty when operator is {operator}")
            requirements.append(Requirement(key, operator, frozenset(values), tuple(values)))
        return LabelSelector(tuple(sorted(labels.items())), tuple(requirements))

    def cidr(self, value: Any, path: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
        text = self.need_text(value, path)
        if "/" not in text:
            self.fail(path, f"{text!r} is not a CIDR (address/prefix-length)")
        try:
            return ipaddress.ip_network(text, strict=False)
        except ValueError:
            self.fail(path, f"{text!r} is not a valid CIDR")


# ---------------------------------------------------------------------------------------------
# Objects


@dataclass(slots=True)
class _Entry:
    """A workload as first seen, and where."""

    workload: Workload
    ports: tuple[tuple[Proto, int], ...]
    file: str


@dataclass
class _Builder:
    cluster: LoadedCluster = field(default_factory=LoadedCluster)
    namespace_files: dict[str, str] = field(default_factory=dict)
    workloads: dict[str, _Entry] = field(default_factory=dict)
    policy_files: dict[tuple[str, str], str] = field(default_factory=dict)
    admin_files: dict[str, str] = field(default_factory=dict)
    baseline_file: str = ""

    def add(self, doc: _Doc) -> None:
        kind = doc.obj["kind"]
        if kind == "Namespace":
            self.namespace(doc)
        elif kind == "Pod":
            self.pod(doc)
        elif kind in _TEMPLATE_PATHS:
            self.controller(doc, kind)
        elif kind == "NetworkPolicy":
            self.network_policy(doc)
        elif kind == "AdminNetworkPolicy":
            self.admin_policy(doc, baseline=False)
        elif kind == "BaselineAdminNetworkPolicy":
            self.admin_policy(doc, baseline=True)
        elif kind == "Service":
            self.service(doc)
        elif kind == "Ingress":
            self.ingress(doc)
        elif kind == "Route":
            self.route(doc)

    def finish(self) -> LoadedCluster:
        cluster = self.cluster
        used = {entry.workload.namespace for entry in self.workloads.values()}
        used.update(policy.namespace for policy in cluster.policies)
        for name in used - cluster.namespaces.keys():
            cluster.namespaces[name] = Namespace(name, {NS_NAME_LABEL: name})
        cluster.namespaces = dict(sorted(cluster.namespaces.items()))
        entries = sorted(self.workloads.values(), key=lambda e: e.workload.display)
        cluster.workloads = [entry.workload for entry in entries]
        cluster.container_ports = {entry.workload.display: entry.ports for entry in entries}
        cluster.admin_policies.sort(key=lambda policy: policy.priority)
        for before, after in zip(cluster.admin_policies, cluster.admin_policies[1:], strict=False):
            if before.priority == after.priority:
                raise InputError(
                    f"{self.admin_files[after.name]}: AdminNetworkPolicy {after.name}: "
                    f"spec.priority: {after.priority} is also the priority of "
                    f"AdminNetworkPolicy {before.name} ({self.admin_files[before.name]}); "
                    "two AdminNetworkPolicies with the same priority conflict"
                )
        return cluster

    # -- identity ---------------------------------------------------------------------------

    @staticmethod
    def _name(doc: _Doc) -> str:
        kind = doc.obj["kind"]
        name = _get(doc.obj, "metadata", "name")
        if not isinstance(name, str) or not name:
            raise InputError(f"{doc.file}: {kind} at line {doc.line}: metadata.name: missing")
        return name

    @staticmethod
    def _namespace(doc: _Doc) -> str:
        namespace = _get(doc.obj, "metadata", "namespace")
        if namespace is None or namespace == "":
            return "default"
        if not isinstance(namespace, str):
            raise InputError(
                f"{doc.file}: {doc.obj['kind']} at line {doc.line}: metadata.namespace: "
                f"expected a string, found {_describe(namespace)}"
            )
        return namespace

    # -- namespaces and workloads -----------------------------------------------------------

    def namespace(self, doc: _Doc) -> None:
        name = self._name(doc)
        where = _Where(doc.file, f"Namespace {name}")
        if name in self.namespace_files:
            where.fail("metadata.name", f"defined twice (also in {self.namespace_files[name]})")
        labels = where.labels(_get(doc.obj, "metadata", "labels"), "metadata.labels")
        labels.setdefault(NS_NAME_LABEL, name)
        self.namespace_files[name] = doc.file
        self.cluster.namespaces[name] = Namespace(name, labels)

    def controller(self, doc: _Doc, kind: str) -> None:
        name, namespace = self._name(doc), self._namespace(doc)
        where = _Where(doc.file, f"{kind} {namespace}/{name}")
        path = _TEMPLATE_PATHS[kind]
        template = where.mapping(_get(doc.obj, *path), ".".join(path)) or {}
        prefix = ".".join(path)
        labels = where.labels(_get(template, "metadata", "labels"), f"{prefix}.metadata.labels")
        pod_spec = where.mapping(template.get("spec"), f"{prefix}.spec") or {}
        workload = Workload(namespace, name, kind, labels)
        self._add_workload(where, workload, pod_spec, f"{prefix}.spec", doc.file, from_pod=False)

    def pod(self, doc: _Doc) -> None:
        pod_name, namespace = self._name(doc), self._namespace(doc)
        where = _Where(doc.file, f"Pod {namespace}/{pod_name}")
        labels = where.labels(_get(doc.obj, "metadata", "labels"), "metadata.labels")
        name, kind = pod_name, "Pod"
        owners = where.seq(_get(doc.obj, "metadata", "ownerReferences"), "metadata.ownerReferences")
        for index, ref in enumerate(owners or []):
            owner = where.need_mapping(ref, f"metadata.ownerReferences[{index}]")
            if owner.get("controller") is not True:
                continue
            owner_kind = where.text(owner.get("kind"), f"metadata.ownerReferences[{index}].kind")
            if owner_kind != "Node":  # a static pod's mirror: no workload owns it
                # netpol-analyzer: an owner without a kind still names the workload; kind "Pod".
                path = f"metadata.ownerReferences[{index}].name"
                name = where.text(owner.get("name"), path) or pod_name
                kind = owner_kind or "Pod"
            break
        pod_spec = where.mapping(_get(doc.obj, "spec"), "spec") or {}
        workload = Workload(namespace, name, kind, labels)
        self._add_workload(where, workload, pod_spec, "spec", doc.file, from_pod=True)

    def _add_workload(
        self,
        where: _Where,
        workload: Workload,
        pod_spec: dict[str, Any],
        at: str,
        file: str,
        *,
        from_pod: bool,
    ) -> None:
        """Record a workload; a later pod of the same owner only checks its labels."""
        ports: list[tuple[Proto, int]] = []
        for ci, item in enumerate(where.seq(pod_spec.get("containers"), f"{at}.containers") or []):
            cpath = f"{at}.containers[{ci}]"
            container = where.need_mapping(item, cpath)
            for pi, raw in enumerate(where.seq(container.get("ports"), f"{cpath}.ports") or []):
                ppath = f"{cpath}.ports[{pi}]"
                port = where.need_mapping(raw, ppath)
                if port.get("containerPort") is None:  # netpol-analyzer reads it as port 0
                    self.cluster.warnings.append(
                        f"{file}: {where.header}: {ppath}.containerPort: missing; port ignored"
                    )
                    continue
                number = where.port(port.get("containerPort"), f"{ppath}.containerPort")
                protocol = where.protocol(port.get("protocol"), f"{ppath}.protocol")
                ports.append((protocol, number))
                port_name = where.text(port.get("name"), f"{ppath}.name")
                if port_name:  # the first container port of a name wins, as upstream
                    workload.named_ports.setdefault(port_name, (protocol, number))
        key = workload.display
        first = self.workloads.get(key)
        if first is None:
            self.workloads[key] = _Entry(workload, tuple(ports), file)
        elif from_pod:
            if first.workload.labels != workload.labels:
                self.cluster.warnings.append(
                    f"{file}: {where.header}: its labels differ from those of another pod of "
                    f"workload {key} ({first.file}); the first pod's labels are used"
                )
        else:
            self.cluster.warnings.append(
                f"{file}: {where.header}: workload {key} is already defined in {first.file}; "
                "this definition is ignored"
            )

    # -- NetworkPolicy ----------------------------------------------------------------------

    def network_policy(self, doc: _Doc) -> None:
        name, namespace = self._name(doc), self._namespace(doc)
        where = _Where(doc.file, f"NetworkPolicy {namespace}/{name}")
        if (namespace, name) in self.policy_files:
            where.fail(
                "metadata.name", f"defined twice (also in {self.policy_files[namespace, name]})"
            )
        spec = where.mapping(doc.obj.get("spec"), "spec") or {}
        pod_selector = where.selector(spec.get("podSelector"), "spec.podSelector")
        ingress = self._np_rules(where, spec, "ingress", "from")
        egress = self._np_rules(where, spec, "egress", "to")
        types = where.seq(spec.get("policyTypes"), "spec.policyTypes")
        if types:
            for index, value in enumerate(types):
                if value not in ("Ingress", "Egress"):
                    where.fail(f"spec.policyTypes[{index}]", f"{value!r} is not Ingress or Egress")
            affects_ingress, affects_egress = "Ingress" in types, "Egress" in types
        else:  # as the API server defaults it, and netpol-analyzer reads it
            affects_ingress, affects_egress = True, bool(egress)
        self.policy_files[namespace, name] = doc.file
        self.cluster.policies.append(
            NetworkPolicy(
                namespace=namespace,
                name=name,
                pod_selector=pod_selector or LabelSelector(),
                ingress=ingress,
                egress=egress,
                affects_ingress=affects_ingress,
                affects_egress=affects_egress,
            )
        )

    def _np_rules(
        self, where: _Where, spec: dict[str, Any], direction: str, peers_key: str
    ) -> tuple[NPRule, ...]:
        rules: list[NPRule] = []
        for index, item in enumerate(where.seq(spec.get(direction), f"spec.{direction}") or []):
            at = f"spec.{direction}[{index}]"
            rule = where.mapping(item, at) or {}
            raw_peers = where.seq(rule.get(peers_key), f"{at}.{peers_key}") or []
            raw_ports = where.seq(rule.get("ports"), f"{at}.ports") or []
            peers = [
                self._np_peer(where, peer, f"{at}.{peers_key}[{pi}]")
                for pi, peer in enumerate(raw_peers)
            ]
            ports = [
                self._np_port(where, port, f"{at}.ports[{pi}]") for pi, port in enumerate(raw_ports)
            ]
            rules.append(NPRule(tuple(peers), tuple(ports), index))
        return tuple(rules)

    def _np_peer(self, where: _Where, value: Any, at: str) -> NPPeer:
        peer = where.mapping(value, at) or {}
        raw_block = where.mapping(peer.get("ipBlock"), f"{at}.ipBlock")
        namespaces = where.selector(peer.get("namespaceSelector"), f"{at}.namespaceSelector")
        pods = where.selector(peer.get("podSelector"), f"{at}.podSelector")
        if raw_block is None and namespaces is None and pods is None:
            where.fail(at, "empty peer: set ipBlock, namespaceSelector or podSelector")
        if raw_block is not None and (namespaces is not None or pods is not None):
            where.fail(at, "cannot have both ipBlock and podSelector/namespaceSelector set")
        block = None if raw_block is None else self._ip_block(where, raw_block, f"{at}.ipBlock")
        return NPPeer(ip_block=block, namespace_selector=namespaces, pod_selector=pods)

    def _ip_block(self, where: _Where, raw: dict[str, Any], at: str) -> IPBlock:
        network = where.cidr(raw.get("cidr"), f"{at}.cidr")
        excepts: list[str] = []
        for index, value in enumerate(where.seq(raw.get("except"), f"{at}.except") or []):
            hole = where.cidr(value, f"{at}.except[{index}]")
            if (
                hole.version != network.version
                or not hole.subnet_of(network)  # type: ignore[arg-type]  # same version here
                or hole.prefixlen <= network.prefixlen
            ):
                where.fail(
                    f"{at}.except[{index}]", f"{value!r} is not strictly within cidr {network}"
                )
            excepts.append(str(hole))
        if network.version == 6:
            self.cluster.warnings.append(
                f"{where.file}: {where.header}: {at}.cidr: IPv6 addresses are not supported; "
                "this ipBlock matches no peer"
            )
        return IPBlock(str(network), tuple(excepts))

    @staticmethod
    def _np_port(where: _Where, value: Any, at: str) -> PortSpec:
        raw = where.mapping(value, at) or {}
        protocol = where.protocol(raw.get("protocol"), f"{at}.protocol")
        port = raw.get("port")
        end_port = where.integer(raw.get("endPort"), f"{at}.endPort")
        if port is None:
            if end_port is not None:
                where.fail(f"{at}.endPort", "may only be set together with a numeric port")
            return PortSpec(protocol)
        if isinstance(port, str):
            if not port:
                where.fail(f"{at}.port", "empty port name")
            if port.isdigit():
                where.fail(f"{at}.port", f"{port!r} is a string; a port number is written unquoted")
            if end_port is not None:
                where.fail(f"{at}.endPort", "may not be set when port is a name")
            return PortSpec(protocol, port)
        number = where.port(port, f"{at}.port")
        if end_port is not None:
            where.port(end_port, f"{at}.endPort")
            if end_port < number:
                where.fail(f"{at}.endPort", f"{end_port} is less than port {number}")
        return PortSpec(protocol, number, end_port)

    # -- AdminNetworkPolicy / BaselineAdminNetworkPolicy -------------------------------------

    def admin_policy(self, doc: _Doc, *, baseline: bool) -> None:
        kind = doc.obj["kind"]
        name = self._name(doc)
        where = _Where(doc.file, f"{kind} {name}")
        if baseline:
            if name != "default":
                where.fail("metadata.name", "a BaselineAdminNetworkPolicy must be named 'default'")
            if self.baseline_file:
                where.fail(
                    "metadata.name",
                    "only one BaselineAdminNetworkPolicy may be given "
                    f"(also in {self.baseline_file})",
                )
        elif name in self.admin_files:
            where.fail("metadata.name", f"defined twice (also in {self.admin_files[name]})")
        spec = where.need_mapping(doc.obj.get("spec"), "spec")
        priority = 0
        if not baseline:
            got = where.integer(spec.get("priority"), "spec.priority")
            if got is None:
                where.fail("spec.priority", "missing")
            if not _MIN_PRIORITY <= got <= _MAX_PRIORITY:
                where.fail(
                    "spec.priority", f"{got} is not between {_MIN_PRIORITY} and {_MAX_PRIORITY}"
                )
            priority = got
        subject = where.need_mapping(spec.get("subject"), "spec.subject")
        subject_namespaces, subject_pods = self._subject(where, subject)
        policy = AdminPolicy(
            name=name,
            subject_namespaces=subject_namespaces,
            subject_pods=subject_pods,
            ingress=self._admin_rules(where, spec, "ingress", baseline),
            egress=self._admin_rules(where, spec, "egress", baseline),
            priority=priority,
            baseline=baseline,
        )
        if baseline:
            self.baseline_file = doc.file
            self.cluster.baseline = policy
        else:
            self.admin_files[name] = doc.file
            self.cluster.admin_policies.append(policy)

    @staticmethod
    def _subject(
        where: _Where, subject: dict[str, Any]
    ) -> tuple[LabelSelector, LabelSelector | None]:
        namespaces = where.selector(subject.get("namespaces"), "spec.subject.namespaces")
        raw_pods = where.mapping(subject.get("pods"), "spec.subject.pods")
        if (namespaces is None) == (raw_pods is None):
            where.fail("spec.subject", "exactly one of namespaces or pods must be set")
        if namespaces is not None:
            return namespaces, None
        assert raw_pods is not None
        return _pods_field(where, raw_pods, "spec.subject.pods")

    def _admin_rules(
        self, where: _Where, spec: dict[str, Any], direction: str, baseline: bool
    ) -> tuple[AdminRule, ...]:
        peers_key = "from" if direction == "ingress" else "to"
        rules: list[AdminRule] = []
        for index, item in enumerate(where.seq(spec.get(direction), f"spec.{direction}") or []):
            at = f"spec.{direction}[{index}]"
            rule = where.need_mapping(item, at)
            rule_name = where.text(rule.get("name"), f"{at}.name") or ""
            action = rule.get("action")
            allowed = ("Allow", "Deny") if baseline else ("Allow", "Deny", "Pass")
            if not isinstance(action, str) or action not in allowed:
                names = " or ".join([", ".join(allowed[:-1]), allowed[-1]])
                where.fail(f"{at}.action", f"{action!r} is not {names}")
            raw_peers = where.seq(rule.get(peers_key), f"{at}.{peers_key}")
            if not raw_peers:
                where.fail(f"{at}.{peers_key}", "must be set and hold at least one peer")
            peers = tuple(
                self._admin_peer(where, peer, f"{at}.{peers_key}[{pi}]", direction == "egress")
                for pi, peer in enumerate(raw_peers)
            )
            raw_ports = where.seq(rule.get("ports"), f"{at}.ports")
            ports = (
                None
                if raw_ports is None
                else tuple(
                    _admin_port(where, port, f"{at}.ports[{pi}]")
                    for pi, port in enumerate(raw_ports)
                )
            )
            rules.append(AdminRule(rule_name, _ACTIONS[action], peers, ports))
        return tuple(rules)

    def _admin_peer(self, where: _Where, value: Any, at: str, egress: bool) -> AdminPeer:
        peer = where.need_mapping(value, at)
        allowed = ("namespaces", "pods", "nodes", "networks") if egress else ("namespaces", "pods")
        present = [key for key in allowed if peer.get(key) is not None]
        if len(present) != 1:
            names = " or ".join([", ".join(allowed[:-1]), allowed[-1]])
            where.fail(at, f"exactly one of {names} must be set")
        key = present[0]
        if key == "namespaces":
            selector = where.selector(peer["namespaces"], f"{at}.namespaces")
            assert selector is not None
            return AdminPeer("namespaces", namespace_selector=selector)
        if key == "pods":
            raw = where.need_mapping(peer["pods"], f"{at}.pods")
            namespaces, pods = _pods_field(where, raw, f"{at}.pods")
            return AdminPeer("pods", namespace_selector=namespaces, pod_selector=pods)
        if key == "nodes":
            selector = where.selector(peer["nodes"], f"{at}.nodes")
            assert selector is not None
            self.cluster.warnings.append(
                f"{where.file}: {where.header}: {at}.nodes: Nodes field of an "
                "AdminNetworkPolicyEgressPeer is not supported; it matches no peer"
            )
            return AdminPeer("nodes", namespace_selector=selector)
        networks: list[str] = []
        for index, item in enumerate(where.seq(peer["networks"], f"{at}.networks") or []):
            network = where.cidr(item, f"{at}.networks[{index}]")
            if network.version == 6:
                self.cluster.warnings.append(
                    f"{where.file}: {where.header}: {at}.networks[{index}]: IPv6 addresses are "
                    f"not supported; {item} is ignored"
                )
                continue
            networks.append(str(network))
        return AdminPeer("networks", networks=tuple(networks))

    # -- Service, Ingress, Route -------------------------------------------------------------

    def service(self, doc: _Doc) -> None:
        name, namespace = self._name(doc), self._namespace(doc)
        where = _Where(doc.file, f"Service {namespace}/{name}")
        spec = where.mapping(doc.obj.get("spec"), "spec") or {}
        if spec.get("selector") is None:
            self.cluster.warnings.append(
                f"{doc.file}: {where.header}: has no selector; ignored (Services without "
                "selectors are not supported)"
            )
            return
        selector = where.labels(spec.get("selector"), "spec.selector")
        ports: list[ServicePort] = []
        for index, item in enumerate(where.seq(spec.get("ports"), "spec.ports") or []):
            at = f"spec.ports[{index}]"
            raw = where.need_mapping(item, at)
            target = raw.get("targetPort")
            if isinstance(target, bool) or not isinstance(target, int | str | None):
                where.fail(
                    f"{at}.targetPort", f"expected a number or a name, found {_describe(target)}"
                )
            ports.append(
                ServicePort(
                    port=where.port(raw.get("port"), f"{at}.port"),
                    target_port=target or None,  # 0 or "": unset, the port itself
                    protocol=where.protocol(raw.get("protocol"), f"{at}.protocol"),
                    name=where.text(raw.get("name"), f"{at}.name") or None,
                )
            )
        self.cluster.services.append(Service(namespace, name, selector, tuple(ports)))

    def _backend(self, backend: IngressBackend) -> None:
        if backend not in self.cluster.ingress_backends:
            self.cluster.ingress_backends.append(backend)

    def ingress(self, doc: _Doc) -> None:
        name, namespace = self._name(doc), self._namespace(doc)
        where = _Where(doc.file, f"Ingress {namespace}/{name}")
        spec = where.mapping(doc.obj.get("spec"), "spec") or {}
        backends: list[tuple[str, Any]] = []
        default = where.mapping(spec.get("defaultBackend"), "spec.defaultBackend")
        if default is not None:
            backends.append(("spec.defaultBackend", default))
        for ri, item in enumerate(where.seq(spec.get("rules"), "spec.rules") or []):
            rule = where.mapping(item, f"spec.rules[{ri}]") or {}
            http = where.mapping(rule.get("http"), f"spec.rules[{ri}].http") or {}
            paths = where.seq(http.get("paths"), f"spec.rules[{ri}].http.paths") or []
            for pi, path in enumerate(paths):
                at = f"spec.rules[{ri}].http.paths[{pi}]"
                backends.append((f"{at}.backend", _get(where.need_mapping(path, at), "backend")))
        for at, raw in backends:
            backend = where.mapping(raw, at) or {}
            service = where.mapping(backend.get("service"), f"{at}.service")
            if service is None:
                self.cluster.warnings.append(
                    f"{doc.file}: {where.header}: {at}: no service backend; ignored"
                )
                continue
            svc_name = where.need_text(service.get("name"), f"{at}.service.name")
            port = where.mapping(service.get("port"), f"{at}.service.port") or {}
            port_name = where.text(port.get("name"), f"{at}.service.port.name")
            number = where.integer(port.get("number"), f"{at}.service.port.number")
            value: int | str | None = port_name or number or None
            self._backend(IngressBackend(namespace, svc_name, value, "Ingress", name))

    def route(self, doc: _Doc) -> None:
        name, namespace = self._name(doc), self._namespace(doc)
        where = _Where(doc.file, f"Route {namespace}/{name}")
        spec = where.mapping(doc.obj.get("spec"), "spec") or {}
        port = where.mapping(spec.get("port"), "spec.port") or {}
        target = port.get("targetPort")
        if isinstance(target, bool) or not isinstance(target, int | str | None):
            where.fail(
                "spec.port.targetPort", f"expected a number or a name, found {_describe(target)}"
            )
        targets = [("spec.to", spec.get("to"))]
        alternates = where.seq(spec.get("alternateBackends"), "spec.alternateBackends") or []
        targets += [(f"spec.alternateBackends[{i}]", alt) for i, alt in enumerate(alternates)]
        for at, raw in targets:
            ref = where.mapping(raw, at) or {}
            kind = where.text(ref.get("kind"), f"{at}.kind")
            if kind not in (None, "", "Service"):
                self.cluster.warnings.append(
                    f"{doc.file}: {where.header}: {at}: target kind {kind} is not supported; "
                    "ignored"
                )
                continue
            svc_name = where.need_text(ref.get("name"), f"{at}.name")
            port_ref = target if target != "" else None
            self._backend(IngressBackend(namespace, svc_name, port_ref, "Route", name))


def _pods_field(where: _Where, raw: dict[str, Any], at: str) -> tuple[LabelSelector, LabelSelector]:
    """An ANP ``pods`` field: a namespace and a pod selector (absent ones match everything)."""
    namespaces = where.selector(raw.get("namespaceSelector"), f"{at}.namespaceSelector")
    pods = where.selector(raw.get("podSelector"), f"{at}.podSelector")
    return namespaces or LabelSelector(), pods or LabelSelector()


def _admin_port(where: _Where, value: Any, at: str) -> AdminPort:
    raw = where.need_mapping(value, at)
    present = [key for key in ("portNumber", "portRange", "namedPort") if raw.get(key) is not None]
    if len(present) != 1:
        where.fail(at, "exactly one of portNumber, portRange or namedPort must be set")
    key = present[0]
    if key == "namedPort":
        return AdminPort(name=where.need_text(raw["namedPort"], f"{at}.namedPort"))
    spec = where.need_mapping(raw[key], f"{at}.{key}")
    protocol = where.protocol(spec.get("protocol"), f"{at}.{key}.protocol")
    if key == "portNumber":
        number = where.port(spec.get("port"), f"{at}.portNumber.port")
        return AdminPort(protocol, number, number)
    start = where.integer(spec.get("start"), f"{at}.portRange.start")
    end = where.integer(spec.get("end"), f"{at}.portRange.end")
    if start is None or end is None:
        where.fail(f"{at}.portRange", "start and end must both be set")
    if not _MIN_PORT <= start <= end <= _MAX_PORT:
        where.fail(
            f"{at}.portRange",
            f"{start}-{end} is not a port range (start and end in {_MIN_PORT}-{_MAX_PORT}, "
            "end not less than start)",
        )
    return AdminPort(protocol, start, end)

"""Kubernetes API objects -> Snapshot parts: the one converter behind live and offline input.

The live collector (``collectors/kubernetes.py``) and the offline reader
(:mod:`topomap.kube_offline`, ``topomap graph --k8s``) both hand this module the objects as the
API returns them in JSON (``kubectl get -o json|yaml`` prints the same), so the same objects give
the same Snapshot parts whichever way they arrived. What becomes what:

* Namespace -> :class:`model.Namespace` (``kubernetes.io/metadata.name`` always set);
* Node -> :class:`model.Host` (InternalIP/ExternalIP addresses, labels, podCIDRs, machine id);
* Pod -> :class:`model.Pod` with containers (runtime ids without the ``containerd://`` prefix,
  declared ports, host ports), IPs, host network, lifetime, and the workload at the top of its
  owner chain: ReplicaSet -> Deployment, Job -> CronJob; StatefulSet, DaemonSet and
  ReplicationController own their pods directly; a bare pod (or a static pod's mirror) has none.
  Without the ReplicaSet object, a ReplicaSet named ``<name>-<pod-template-hash>`` is taken as
  Deployment ``<name>``, as the Deployment controller names them;
* Deployment, StatefulSet, DaemonSet, CronJob, and ReplicaSets, Jobs and ReplicationControllers
  that nothing owns -> :class:`model.Workload`; owners that pods name but no object describes
  are workloads too;
* Service + its EndpointSlices -> :class:`model.Service` with ports, type, NodePorts,
  externalIPs, load balancer ingress and ready/not-ready backends;
* ServiceCIDR -> the cluster's service ranges; nodes' podCIDRs -> its pod ranges;
* NetworkPolicy, AdminNetworkPolicy, BaselineAdminNetworkPolicy, Ingress (and OpenShift Route)
  -> ``policy_objects``, verbatim but for ``metadata.managedFields``.

Other kinds are counted and ignored. Output lists are sorted, so input order never matters.
Invalid content raises :class:`~topomap.errors.InputError` naming the file, the object and the
field. Pure: dicts in, model objects out; imports only the model, errors,
:mod:`topomap.manifests` and :mod:`topomap.gcpause` (collectors may import it).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from topomap import model
from topomap.gcpause import paused_gc
from topomap.manifests import Doc, Where, describe, get

__all__ = ["POLICY_KINDS", "Doc", "KubeParts", "convert", "strip_object"]

NS_NAME_LABEL = "kubernetes.io/metadata.name"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
POD_TEMPLATE_HASH = "pod-template-hash"

#: Kinds kept verbatim in ``Snapshot.policy_objects``.
POLICY_KINDS = frozenset(
    {"NetworkPolicy", "AdminNetworkPolicy", "BaselineAdminNetworkPolicy", "Ingress", "Route"}
)
#: Controller kinds that are workloads in their own right (top of an owner chain).
_TOP_KINDS: frozenset[str] = frozenset({"Deployment", "StatefulSet", "DaemonSet", "CronJob"})
#: Controller kinds that are workloads only when nothing owns them.
_OWNED_KINDS: frozenset[str] = frozenset({"ReplicaSet", "Job", "ReplicationController"})
_WORKLOAD_KINDS: dict[str, model.WorkloadKind] = {
    "Deployment": "Deployment",
    "StatefulSet": "StatefulSet",
    "DaemonSet": "DaemonSet",
    "Job": "Job",
    "CronJob": "CronJob",
    "ReplicaSet": "ReplicaSet",
    "ReplicationController": "ReplicationController",
}
_PROTOCOLS: dict[str, model.Protocol] = {"TCP": "tcp", "UDP": "udp", "SCTP": "sctp"}
_SERVICE_TYPES: dict[str, model.ServiceType] = {
    "ClusterIP": "ClusterIP",
    "NodePort": "NodePort",
    "LoadBalancer": "LoadBalancer",
    "ExternalName": "ExternalName",
}
_RUNTIME_PREFIXES = ("containerd://", "docker://", "cri-o://", "crio://", "podman://")
_NODE_ADDRESS_TYPES = ("InternalIP", "ExternalIP")


@dataclass
class KubeParts:
    """What a set of Kubernetes objects contributes to a Snapshot."""

    namespaces: list[model.Namespace] = field(default_factory=list)
    hosts: list[model.Host] = field(default_factory=list)
    pods: list[model.Pod] = field(default_factory=list)
    workloads: list[model.Workload] = field(default_factory=list)
    services: list[model.Service] = field(default_factory=list)
    cluster: model.ClusterInfo = field(default_factory=model.ClusterInfo)
    policy_objects: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    """Objects read, by kind (``ignored`` for kinds that play no part)."""
    warnings: list[str] = field(default_factory=list)
    """Objects skipped, in words (duplicates, slices of unknown services)."""


def strip_object(obj: dict[str, Any]) -> dict[str, Any]:
    """The object without ``metadata.managedFields`` (server bookkeeping, often most of it)."""
    metadata = obj.get("metadata")
    if isinstance(metadata, dict) and "managedFields" in metadata:
        metadata = {k: v for k, v in metadata.items() if k != "managedFields"}
        return {**obj, "metadata": metadata}
    return obj


class _Where(Where):
    def time(self, value: Any, path: str) -> datetime | None:
        if value is None or value == "":
            return None
        if isinstance(value, datetime):  # an unquoted timestamp in hand-written YAML
            return value if value.tzinfo else value.replace(tzinfo=UTC)
        if not isinstance(value, str):
            self.fail(path, f"expected an RFC 3339 time, found {describe(value)}")
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            self.fail(path, f"expected an RFC 3339 time, found {value!r}")
        if parsed.tzinfo is None:
            self.fail(path, f"time {value!r} has no UTC offset")
        return parsed.astimezone(UTC)

    def protocol(self, value: Any, path: str) -> model.Protocol:
        if value is None:
            return "tcp"
        if isinstance(value, str) and value in _PROTOCOLS:
            return _PROTOCOLS[value]
        self.fail(path, f"{value!r} is not TCP, UDP or SCTP")

    def strings(self, value: Any, path: str) -> tuple[str, ...]:
        out: list[str] = []
        for index, item in enumerate(self.seq(value, path) or []):
            text = self.text(item, f"{path}[{index}]")
            if text:
                out.append(text)
        return tuple(out)


@dataclass(frozen=True, slots=True)
class _Object:
    """A document with its identity read and checked."""

    doc: Doc
    kind: str
    namespace: str  # "" for cluster-scoped objects
    name: str
    where: _Where

    @property
    def obj(self) -> dict[str, Any]:
        return self.doc.obj


def _identify(doc: Doc) -> _Object:
    kind = doc.obj["kind"]
    at = _Where(doc.file, f"{kind} at line {doc.line}")
    metadata = at.mapping(doc.obj.get("metadata"), "metadata") or {}
    name = at.need_text(metadata.get("name"), "metadata.name")
    namespace = at.text(metadata.get("namespace"), "metadata.namespace") or ""
    shown = f"{namespace}/{name}" if namespace else name
    return _Object(doc, kind, namespace, name, _Where(doc.file, f"{kind} {shown}"))


_CLUSTER_SCOPED = frozenset(
    {"Namespace", "Node", "ServiceCIDR", "AdminNetworkPolicy", "BaselineAdminNetworkPolicy"}
)


def convert(docs: Iterable[Doc], *, cluster_name: str | None = None) -> KubeParts:
    """Convert Kubernetes objects (each with where it was read) into Snapshot parts.

    Parameters
    ----------
    docs
        Objects with ``kind`` and ``apiVersion`` set, as :func:`topomap.manifests.read_documents`
        yields them from files or the live collector builds them from list responses.
    cluster_name
        Recorded as ``ClusterInfo.name``.

    Raises
    ------
    InputError
        An object's content is not what the Kubernetes API would return, with the file, object
        and field path.
    """
    with paused_gc():  # many small objects, no cycles: see topomap.gcpause
        return _convert(docs, cluster_name)


def _convert(docs: Iterable[Doc], cluster_name: str | None) -> KubeParts:
    parts = KubeParts()
    by_kind: dict[str, dict[tuple[str, str], _Object]] = {}
    seen_in: dict[tuple[str, str, str], str] = {}
    counts: Counter[str] = Counter()
    for doc in docs:
        item = _identify(doc)
        namespace = item.namespace
        if not namespace and item.kind not in _CLUSTER_SCOPED:
            namespace = "default"  # as kubectl apply puts a manifest without one
            item = _Object(doc, item.kind, namespace, item.name, item.where)
        key = (item.kind, namespace, item.name)
        if key in seen_in:
            parts.warnings.append(
                f"{doc.file}: {item.where.header}: also read from {seen_in[key]}; "
                "the first one is used"
            )
            continue
        seen_in[key] = doc.file
        by_kind.setdefault(item.kind, {})[(namespace, item.name)] = item
    known = {
        "Namespace",
        "Node",
        "Pod",
        "Service",
        "EndpointSlice",
        "ServiceCIDR",
        *POLICY_KINDS,
        *_TOP_KINDS,
        *_OWNED_KINDS,
    }
    for kind, items in by_kind.items():
        counts[kind if kind in known else "ignored"] += len(items)
    parts.counts = dict(sorted(counts.items()))

    def objects(kind: str) -> list[_Object]:
        found = by_kind.get(kind, {})
        return [found[key] for key in sorted(found)]

    parts.namespaces = [_namespace(o) for o in objects("Namespace")]
    parts.hosts = [_node(o) for o in objects("Node")]
    owners = _Owners(by_kind)
    parts.pods = [_pod(o, owners) for o in objects("Pod")]
    parts.workloads = _workloads(by_kind, parts.pods)
    slices = _slices_by_service(objects("EndpointSlice"), by_kind.get("Service", {}), parts)
    parts.services = [
        _service(o, slices.get((o.namespace, o.name), [])) for o in objects("Service")
    ]
    parts.policy_objects = [
        _policy_object(o) for kind in sorted(POLICY_KINDS) for o in objects(kind)
    ]
    service_cidrs: set[str] = set()
    for o in objects("ServiceCIDR"):
        spec = o.where.mapping(o.obj.get("spec"), "spec") or {}
        service_cidrs.update(o.where.strings(spec.get("cidrs"), "spec.cidrs"))
    parts.cluster = model.ClusterInfo(
        name=cluster_name,
        pod_cidrs=tuple(sorted({c for h in parts.hosts for c in h.pod_cidrs})),
        service_cidrs=tuple(sorted(service_cidrs)),
    )
    return parts


# ---------------------------------------------------------------------------------------------
# Namespaces, nodes


def _namespace(o: _Object) -> model.Namespace:
    labels = o.where.labels(get(o.obj, "metadata", "labels"), "metadata.labels")
    labels.setdefault(NS_NAME_LABEL, o.name)
    return model.Namespace(name=o.name, labels=labels)


def _node(o: _Object) -> model.Host:
    w = o.where
    spec = w.mapping(o.obj.get("spec"), "spec") or {}
    status = w.mapping(o.obj.get("status"), "status") or {}
    cidrs = w.strings(spec.get("podCIDRs"), "spec.podCIDRs")
    if not cidrs:
        single = w.text(spec.get("podCIDR"), "spec.podCIDR")
        cidrs = (single,) if single else ()
    ips: list[str] = []
    for index, item in enumerate(w.seq(status.get("addresses"), "status.addresses") or []):
        at = f"status.addresses[{index}]"
        address = w.need_mapping(item, at)
        if w.text(address.get("type"), f"{at}.type") in _NODE_ADDRESS_TYPES:
            ip = w.need_text(address.get("address"), f"{at}.address")
            if ip not in ips:
                ips.append(ip)
    info = w.mapping(status.get("nodeInfo"), "status.nodeInfo") or {}
    return model.Host(
        name=o.name,
        ips=tuple(ips),
        machine_id=w.text(info.get("machineID"), "status.nodeInfo.machineID") or None,
        labels=w.labels(get(o.obj, "metadata", "labels"), "metadata.labels"),
        pod_cidrs=tuple(sorted(set(cidrs))),
    )


# ---------------------------------------------------------------------------------------------
# Owner chains and workloads


def _controller(o: _Object) -> tuple[str, str] | None:
    """The ``(kind, name)`` of the object's controlling owner reference, if any."""
    w = o.where
    refs = w.seq(get(o.obj, "metadata", "ownerReferences"), "metadata.ownerReferences")
    for index, item in enumerate(refs or []):
        at = f"metadata.ownerReferences[{index}]"
        ref = w.need_mapping(item, at)
        if ref.get("controller") is not True:
            continue
        kind = w.need_text(ref.get("kind"), f"{at}.kind")
        return kind, w.need_text(ref.get("name"), f"{at}.name")
    return None


class _Owners:
    """Resolves an owner reference to the workload at the top of its chain."""

    def __init__(self, by_kind: dict[str, dict[tuple[str, str], _Object]]) -> None:
        self.replicasets = by_kind.get("ReplicaSet", {})
        self.jobs = by_kind.get("Job", {})

    def top(self, namespace: str, kind: str, name: str, labels: dict[str, str]) -> model.ObjectRef:
        if kind == "ReplicaSet":
            rs = self.replicasets.get((namespace, name))
            if rs is not None:
                parent = _controller(rs)
                if parent is not None and parent[0] == "Deployment":
                    return model.ObjectRef(kind="Deployment", name=parent[1])
                return model.ObjectRef(kind=kind, name=name)
            suffix = labels.get(POD_TEMPLATE_HASH)
            if suffix and name.endswith(f"-{suffix}") and len(name) > len(suffix) + 1:
                return model.ObjectRef(kind="Deployment", name=name[: -len(suffix) - 1])
        elif kind == "Job":
            job = self.jobs.get((namespace, name))
            parent = _controller(job) if job is not None else None
            if parent is not None and parent[0] == "CronJob":
                return model.ObjectRef(kind="CronJob", name=parent[1])
        return model.ObjectRef(kind=kind, name=name)


def _workloads(
    by_kind: dict[str, dict[tuple[str, str], _Object]], pods: list[model.Pod]
) -> list[model.Workload]:
    found: dict[tuple[str, str, str], model.Workload] = {}
    for kind in (*_TOP_KINDS, *_OWNED_KINDS):
        for (namespace, name), o in by_kind.get(kind, {}).items():
            if kind in _OWNED_KINDS and _controller(o) is not None:
                continue  # a Deployment's ReplicaSet, a CronJob's Job: not a workload itself
            w = o.where
            spec = w.mapping(o.obj.get("spec"), "spec") or {}
            selector = w.mapping(spec.get("selector"), "spec.selector") or {}
            if kind == "ReplicationController":  # a plain map, not a LabelSelector
                match = w.labels(selector, "spec.selector")
            else:
                match = w.labels(selector.get("matchLabels"), "spec.selector.matchLabels")
            found[(namespace, kind, name)] = model.Workload(
                namespace=namespace,
                kind=_WORKLOAD_KINDS[kind],
                name=name,
                labels=w.labels(get(o.obj, "metadata", "labels"), "metadata.labels"),
                selector=match,
            )
    for pod in pods:  # owners named by pods only (their objects were not read)
        ref = pod.workload
        if ref is None or ref.kind not in _WORKLOAD_KINDS:
            continue
        key = (pod.namespace, ref.kind, ref.name)
        if key not in found:
            found[key] = model.Workload(
                namespace=pod.namespace, kind=_WORKLOAD_KINDS[ref.kind], name=ref.name
            )
    return [found[key] for key in sorted(found)]


# ---------------------------------------------------------------------------------------------
# Pods


def _runtime_id(raw: str | None) -> str | None:
    if not raw:
        return None
    for prefix in _RUNTIME_PREFIXES:
        if raw.startswith(prefix):
            return raw[len(prefix) :]
    return raw.partition("://")[2] or raw


def _pod(o: _Object, owners: _Owners) -> model.Pod:
    w = o.where
    metadata = w.mapping(o.obj.get("metadata"), "metadata") or {}
    spec = w.mapping(o.obj.get("spec"), "spec") or {}
    status = w.mapping(o.obj.get("status"), "status") or {}
    labels = w.labels(metadata.get("labels"), "metadata.labels")
    owner = _controller(o)
    workload = None
    if owner is not None and owner[0] != "Node":  # a static pod's mirror: nothing owns it
        workload = owners.top(o.namespace, owner[0], owner[1], labels)
    ips: list[str] = []
    for index, item in enumerate(w.seq(status.get("podIPs"), "status.podIPs") or []):
        entry = w.need_mapping(item, f"status.podIPs[{index}]")
        ip = w.need_text(entry.get("ip"), f"status.podIPs[{index}].ip")
        if ip not in ips:
            ips.append(ip)
    if not ips:
        single = w.text(status.get("podIP"), "status.podIP")
        if single:
            ips.append(single)
    statuses: dict[str, dict[str, Any]] = {}
    finished: list[datetime] = []
    for key in ("initContainerStatuses", "containerStatuses"):
        for index, item in enumerate(w.seq(status.get(key), f"status.{key}") or []):
            at = f"status.{key}[{index}]"
            entry = w.need_mapping(item, at)
            statuses[w.need_text(entry.get("name"), f"{at}.name")] = entry
            terminated = get(entry, "state", "terminated")
            if isinstance(terminated, dict):
                end = w.time(terminated.get("finishedAt"), f"{at}.state.terminated.finishedAt")
                if end is not None:
                    finished.append(end)
    containers: list[model.PodContainer] = []
    for key in ("initContainers", "containers"):
        for index, item in enumerate(w.seq(spec.get(key), f"spec.{key}") or []):
            containers.append(_container(w, item, f"spec.{key}[{index}]", statuses))
    phase = w.text(status.get("phase"), "status.phase")
    ended = w.time(metadata.get("deletionTimestamp"), "metadata.deletionTimestamp")
    if ended is None and phase in ("Succeeded", "Failed") and finished:
        ended = max(finished)
    return model.Pod(
        namespace=o.namespace,
        name=o.name,
        uid=w.text(metadata.get("uid"), "metadata.uid") or None,
        node=w.text(spec.get("nodeName"), "spec.nodeName") or None,
        ips=tuple(ips),
        host_network=spec.get("hostNetwork") is True,
        labels=labels,
        workload=workload,
        containers=tuple(containers),
        phase=phase or None,
        created=w.time(metadata.get("creationTimestamp"), "metadata.creationTimestamp"),
        ended=ended,
    )


def _container(
    w: _Where, value: Any, at: str, statuses: dict[str, dict[str, Any]]
) -> model.PodContainer:
    raw = w.need_mapping(value, at)
    name = w.need_text(raw.get("name"), f"{at}.name")
    ports: list[model.ContainerPort] = []
    for index, item in enumerate(w.seq(raw.get("ports"), f"{at}.ports") or []):
        ppath = f"{at}.ports[{index}]"
        port = w.need_mapping(item, ppath)
        host_port = w.integer(port.get("hostPort"), f"{ppath}.hostPort")
        ports.append(
            model.ContainerPort(
                port=w.port(port.get("containerPort"), f"{ppath}.containerPort"),
                protocol=w.protocol(port.get("protocol"), f"{ppath}.protocol"),
                name=w.text(port.get("name"), f"{ppath}.name") or None,
                host_port=w.port(host_port, f"{ppath}.hostPort") if host_port else None,
            )
        )
    status = statuses.get(name, {})
    return model.PodContainer(
        name=name,
        container_id=_runtime_id(w.text(status.get("containerID"), f"{at} status containerID")),
        image=w.text(raw.get("image"), f"{at}.image") or None,
        ports=tuple(ports),
    )


# ---------------------------------------------------------------------------------------------
# Services and EndpointSlices


def _slices_by_service(
    slices: list[_Object], services: dict[tuple[str, str], _Object], parts: KubeParts
) -> dict[tuple[str, str], list[model.ServiceEndpoint]]:
    out: dict[tuple[str, str], dict[tuple[str, str | None], model.ServiceEndpoint]] = {}
    for o in slices:
        w = o.where
        labels = w.labels(get(o.obj, "metadata", "labels"), "metadata.labels")
        service = labels.get(SERVICE_NAME_LABEL)
        if not service:
            continue  # a slice no Service manages (custom endpoints): no service to attach to
        if (o.namespace, service) not in services:
            parts.warnings.append(
                f"{o.doc.file}: {w.header}: Service {o.namespace}/{service} was not read; "
                "its endpoints are left out"
            )
            continue
        if w.text(o.obj.get("addressType"), "addressType") == "FQDN":
            continue  # host names, not addresses: nothing to join a flow on
        ports: list[model.EndpointPort] = []
        for index, item in enumerate(w.seq(o.obj.get("ports"), "ports") or []):
            at = f"ports[{index}]"
            raw = w.need_mapping(item, at)
            number = w.integer(raw.get("port"), f"{at}.port")
            if number is None:  # "all ports" (a Service without ports): nothing to map
                continue
            ports.append(
                model.EndpointPort(
                    port=w.port(number, f"{at}.port"),
                    protocol=w.protocol(raw.get("protocol"), f"{at}.protocol"),
                    name=w.text(raw.get("name"), f"{at}.name") or None,
                )
            )
        ports.sort(key=lambda p: (p.name or "", p.protocol, p.port))
        found = out.setdefault((o.namespace, service), {})
        for index, item in enumerate(w.seq(o.obj.get("endpoints"), "endpoints") or []):
            at = f"endpoints[{index}]"
            raw = w.need_mapping(item, at)
            conditions = w.mapping(raw.get("conditions"), f"{at}.conditions") or {}
            ready = conditions.get("ready") is not False  # unset means ready (API docs)
            target = w.mapping(raw.get("targetRef"), f"{at}.targetRef") or {}
            pod = None
            if target.get("kind") == "Pod":
                pod = w.text(target.get("name"), f"{at}.targetRef.name") or None
            node = w.text(raw.get("nodeName"), f"{at}.nodeName") or None
            for ip in w.strings(raw.get("addresses"), f"{at}.addresses"):
                endpoint = model.ServiceEndpoint(
                    ip=ip, pod=pod, ready=ready, node=node, ports=tuple(ports)
                )
                previous = found.get((ip, pod))
                if previous is None or (endpoint.ready and not previous.ready):
                    found[(ip, pod)] = endpoint
                elif previous.ports != endpoint.ports:  # one backend in two slices (ports)
                    merged = tuple(sorted(set(previous.ports) | set(endpoint.ports), key=_port_key))
                    found[(ip, pod)] = model.ServiceEndpoint(
                        ip=ip, pod=pod, ready=previous.ready, node=node, ports=merged
                    )
    return {key: [eps[k] for k in sorted(eps, key=str)] for key, eps in out.items()}


def _port_key(port: model.EndpointPort) -> tuple[str, str, int]:
    return (port.name or "", port.protocol, port.port)


def _service(o: _Object, endpoints: list[model.ServiceEndpoint]) -> model.Service:
    w = o.where
    spec = w.mapping(o.obj.get("spec"), "spec") or {}
    status = w.mapping(o.obj.get("status"), "status") or {}
    raw_type = w.text(spec.get("type"), "spec.type") or "ClusterIP"
    if raw_type not in _SERVICE_TYPES:
        w.fail(
            "spec.type", f"{raw_type!r} is not ClusterIP, NodePort, LoadBalancer or ExternalName"
        )
    cluster_ips = w.strings(spec.get("clusterIPs"), "spec.clusterIPs")
    if not cluster_ips:
        single = w.text(spec.get("clusterIP"), "spec.clusterIP")
        cluster_ips = (single,) if single else ()
    cluster_ips = tuple(ip for ip in cluster_ips if ip != "None")  # "None": headless
    ports: list[model.ServicePort] = []
    for index, item in enumerate(w.seq(spec.get("ports"), "spec.ports") or []):
        at = f"spec.ports[{index}]"
        raw = w.need_mapping(item, at)
        target = raw.get("targetPort")
        if isinstance(target, bool) or not isinstance(target, int | str | None):
            w.fail(f"{at}.targetPort", f"expected a number or a name, found {describe(target)}")
        node_port = w.integer(raw.get("nodePort"), f"{at}.nodePort")
        ports.append(
            model.ServicePort(
                port=w.port(raw.get("port"), f"{at}.port"),
                protocol=w.protocol(raw.get("protocol"), f"{at}.protocol"),
                name=w.text(raw.get("name"), f"{at}.name") or None,
                target_port=target if target not in (None, "", 0) else None,
                node_port=w.port(node_port, f"{at}.nodePort") if node_port else None,
            )
        )
    ingress: list[str] = []
    lb = w.mapping(status.get("loadBalancer"), "status.loadBalancer") or {}
    for index, item in enumerate(w.seq(lb.get("ingress"), "status.loadBalancer.ingress") or []):
        at = f"status.loadBalancer.ingress[{index}]"
        entry = w.need_mapping(item, at)
        address = w.text(entry.get("ip"), f"{at}.ip") or w.text(entry.get("hostname"), at)
        if address and address not in ingress:
            ingress.append(address)
    return model.Service(
        namespace=o.namespace,
        name=o.name,
        type=_SERVICE_TYPES[raw_type],
        cluster_ips=cluster_ips,
        ports=tuple(ports),
        selector=w.labels(spec.get("selector"), "spec.selector"),
        external_ips=w.strings(spec.get("externalIPs"), "spec.externalIPs"),
        load_balancer_ips=tuple(ingress),
        endpoints=tuple(endpoints),
    )


def _policy_object(o: _Object) -> dict[str, Any]:
    obj = strip_object(o.obj)
    if o.kind not in _CLUSTER_SCOPED and not get(obj, "metadata", "namespace"):
        obj = {**obj, "metadata": {**obj["metadata"], "namespace": o.namespace}}
    return obj

"""The cluster API collector: lists the Kubernetes objects topomap joins flows to.

Uses the official ``kubernetes`` client with a kubeconfig (``kubeconfig`` path, else the usual
``KUBECONFIG`` list of files, else ``~/.kube/config``; ``context``, else the current context)
or, with ``in_cluster`` (or when no kubeconfig exists and ``KUBERNETES_SERVICE_HOST`` is set, as
in every pod), the pod's service account: the client's own in-cluster loader reads
``KUBERNETES_SERVICE_HOST``/``KUBERNETES_SERVICE_PORT``, the bearer token and the cluster CA
from ``service_account_dir`` (:data:`SERVICE_ACCOUNT_DIR`), re-reads the token as the kubelet
rotates it, and every request is HTTPS verified against that CA. What is missing for it (an
environment variable, the token or the CA file) is named in one line.

Lists namespaces, nodes, pods, services, EndpointSlices, the controllers of pods' owner chains
(ReplicaSets, Deployments, StatefulSets, DaemonSets, Jobs, CronJobs), NetworkPolicies,
Ingresses, and, where the API serves them, ServiceCIDRs, AdminNetworkPolicies and
BaselineAdminNetworkPolicies. Only ``list`` is used (``deploy/rbac.yaml`` grants exactly
:data:`RESOURCES`).

Each list is paged (``limit``/``continue``) with a timeout per request. 429 and 5xx answers
are retried with exponential backoff (honouring ``Retry-After``); a 410 on a stale continue
token restarts that list. A 401 stops the collector (the credentials are wrong, nothing can be
read); a 403 on one resource is recorded (a warning naming the verb, resource and API group with
the RBAC rule that would grant it, and a :class:`topomap.model.UnreadableResource` in the
snapshot's cluster info, so no analysis mistakes "could not read" for "none exist") and the
other resources are still read. The objects are converted by :mod:`topomap.kube`, the converter
offline manifests go through too.
"""

from __future__ import annotations

import dataclasses
import os
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import orjson
import yaml

from topomap import __version__, kube, model
from topomap.errors import CollectorFailed, CollectorUnavailable

from .base import CollectorContext
from .merge import Observation

#: Where the kubelet mounts a pod's service account: ``token``, ``ca.crt``, ``namespace``.
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"

#: Seconds between two full lists of the cluster during ``--duration`` (besides the first and
#: the last): often enough to see short-lived pods, rarely enough to spare the API server.
RELIST = 60.0

#: Statuses worth retrying: the server is busy or briefly unwell.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Resource:
    """A resource the collector lists (cluster-wide)."""

    group: str
    """API group; ``""`` is the core group."""
    version: str
    plural: str
    optional: bool = False
    """Served only by some clusters (a CRD, a newer API): a 404 means "none here"."""

    @property
    def path(self) -> str:
        if self.group:
            return f"/apis/{self.group}/{self.version}/{self.plural}"
        return f"/api/{self.version}/{self.plural}"

    @property
    def shown(self) -> str:
        """``networkpolicies.networking.k8s.io``, or ``pods`` for the core group."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def rule(self, verb: str = "list") -> str:
        """The RBAC rule that grants ``verb`` on this resource, as a ClusterRole writes it."""
        return f'{{apiGroups: ["{self.group}"], resources: ["{self.plural}"], verbs: ["{verb}"]}}'


#: Everything the collector lists, in order. ``deploy/rbac.yaml`` grants exactly these.
RESOURCES: tuple[Resource, ...] = (
    Resource("", "v1", "namespaces"),
    Resource("", "v1", "nodes"),
    Resource("", "v1", "pods"),
    Resource("", "v1", "services"),
    Resource("discovery.k8s.io", "v1", "endpointslices"),
    Resource("apps", "v1", "replicasets"),
    Resource("apps", "v1", "deployments"),
    Resource("apps", "v1", "statefulsets"),
    Resource("apps", "v1", "daemonsets"),
    Resource("batch", "v1", "jobs"),
    Resource("batch", "v1", "cronjobs"),
    Resource("networking.k8s.io", "v1", "networkpolicies"),
    Resource("networking.k8s.io", "v1", "ingresses"),
    Resource("networking.k8s.io", "v1", "servicecidrs", optional=True),
    Resource("policy.networking.k8s.io", "v1alpha1", "adminnetworkpolicies", optional=True),
    Resource("policy.networking.k8s.io", "v1alpha1", "baselineadminnetworkpolicies", optional=True),
)

_CORE_LISTS = {
    "namespaces": "list_namespace",
    "nodes": "list_node",
    "pods": "list_pod_for_all_namespaces",
    "services": "list_service_for_all_namespaces",
}


class Unreadable(Exception):
    """One resource could not be read; the others can still be."""

    def __init__(self, resource: Resource, status: int | None, reason: str) -> None:
        super().__init__(reason)
        self.entry = model.UnreadableResource(
            resource=resource.plural, group=resource.group, status=status, reason=reason
        )


class NotServed(Exception):
    """The API server does not serve an optional resource (404)."""


def _message(exc: Any) -> str:
    """The ``message`` of a Kubernetes Status body, else the HTTP reason; one line, short."""
    body = getattr(exc, "body", None)
    try:
        text = orjson.loads(body).get("message") if body else None
    except (orjson.JSONDecodeError, AttributeError):
        text = None
    text = text or getattr(exc, "reason", None) or str(exc)
    return " ".join(str(text).split())[:256]


def _certificate_error(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    """The certificate verification failure somewhere inside a transport error, if any.

    urllib3 wraps it (``MaxRetryError(reason=SSLError(SSLCertVerificationError))``); follow
    every link rather than rely on one nesting.
    """
    todo: list[BaseException] = [exc]
    seen: set[int] = set()
    while todo:
        error = todo.pop()
        if id(error) in seen:
            continue
        seen.add(id(error))
        if isinstance(error, ssl.SSLCertVerificationError):
            return error
        for link in (getattr(error, "reason", None), error.__cause__, error.__context__):
            if isinstance(link, BaseException):
                todo.append(link)
        todo.extend(arg for arg in error.args if isinstance(arg, BaseException))
    return None


def _ends_with_newline(path: str) -> bool:
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        if handle.tell() == 0:
            return False
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) in (b"\n", b"\r")


def current_context(paths: str) -> str | None:
    """kubectl's current context of a KUBECONFIG list: the first file that sets one wins.

    (The Python client's merger lets the last file win; kubectl, and users, expect the first.)
    """
    for path in paths.split(os.pathsep):
        try:
            with open(os.path.expanduser(path), encoding="utf-8") as handle:
                document = yaml.safe_load(handle)
        except (OSError, yaml.YAMLError):
            continue  # missing files in the list are skipped, as kubectl does
        if isinstance(document, dict) and document.get("current-context"):
            return str(document["current-context"])
    return None


class KubernetesCollector:
    """Lists the cluster's objects through the API server."""

    name: ClassVar[str] = "kubernetes"
    version: ClassVar[str] = __version__

    def __init__(
        self,
        *,
        kubeconfig: str | None = None,
        context: str | None = None,
        in_cluster: bool = False,
        page_size: int = 500,
        timeout: float = 30.0,
        retries: int = 5,
        backoff: float = 0.5,
        max_restarts: int = 3,
        sleep: Callable[[float], None] = time.sleep,
        service_account_dir: str = SERVICE_ACCOUNT_DIR,
        relist: float = RELIST,
    ) -> None:
        self.kubeconfig = kubeconfig
        self.context = context
        self.in_cluster = in_cluster
        self.service_account_dir = service_account_dir
        self.relist = relist
        self.page_size = page_size
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_restarts = max_restarts
        self.sleep = sleep
        self._client: Any = None
        self.cluster_name: str | None = None
        self.server: str = ""
        # For the messages of a 401 and of a TLS failure: whose credentials the requests carry,
        # which CA verifies the server, and what to check.
        self.credentials = ""
        self.credentials_hint = ""
        self.trust = ""
        self.trust_hint = ""

    # -- configuration ----------------------------------------------------------------------

    def check(self) -> None:
        try:
            import kubernetes.client
            import kubernetes.config
            from kubernetes.config.config_exception import ConfigException
        except ImportError as exc:  # pragma: no cover - a dependency of topomap
            raise CollectorUnavailable(
                "kubernetes: the 'kubernetes' Python package is missing; pip install kubernetes"
            ) from exc
        client: Any = kubernetes.client  # typed loosely: its stubs differ between versions
        config: Any = kubernetes.config
        configuration = client.Configuration()
        if self.in_cluster:
            self._load_in_cluster(configuration, "--in-cluster")
        elif (
            not self.kubeconfig
            and not os.environ.get("KUBECONFIG")
            and not os.path.exists(os.path.expanduser("~/.kube/config"))
            and os.environ.get("KUBERNETES_SERVICE_HOST")
        ):
            self._load_in_cluster(
                configuration, "in-cluster (KUBERNETES_SERVICE_HOST is set, no kubeconfig)"
            )
        else:
            try:
                path = self.kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
                contexts, active = config.list_kube_config_contexts(config_file=path)
                name = self.context or current_context(path) or (active or {}).get("name")
                if name and name not in {c["name"] for c in contexts or []}:
                    raise CollectorUnavailable(
                        f"kubernetes: context {name!r} is not in {path}; "
                        f"known: {', '.join(sorted(c['name'] for c in contexts or []))}"
                    )
                config.load_kube_config(
                    config_file=path, context=name, client_configuration=configuration
                )
            except (ConfigException, OSError) as exc:
                raise CollectorUnavailable(
                    f"kubernetes: no usable cluster configuration ({' '.join(str(exc).split())}); "
                    "pass --kubeconfig/--context, set KUBECONFIG, or run in a pod with a "
                    "service account"
                ) from exc
            self.cluster_name = name
            self.credentials = f"the token or client certificate of context {name!r}"
            self.credentials_hint = "refresh it (e.g. log in again) and retry"
            self.trust = f"the certificate authority of context {name!r}"
            self.trust_hint = "the context's server and certificate-authority must be one cluster's"
        configuration.retries = 0  # retries are ours, with backoff and Retry-After
        self.server = configuration.host
        self._client = client.ApiClient(configuration)

    def _load_in_cluster(self, configuration: Any, why: str) -> None:
        """The pod's service account through the client's own in-cluster loader; anything
        missing for it is named (the variable, or the file with its path)."""
        import kubernetes.config.incluster_config
        from kubernetes.config.config_exception import ConfigException

        incluster: Any = kubernetes.config.incluster_config  # typed loosely, as in check()
        for variable in (incluster.SERVICE_HOST_ENV_NAME, incluster.SERVICE_PORT_ENV_NAME):
            if not os.environ.get(variable):
                raise CollectorUnavailable(
                    f"kubernetes: {why}: {variable} is not set (Kubernetes sets it in every "
                    "pod); outside a pod use --kubeconfig/--context"
                )
        token = os.path.join(self.service_account_dir, "token")
        ca = os.path.join(self.service_account_dir, "ca.crt")
        for path, what, hint in (
            (token, "service account token", "is automountServiceAccountToken false?"),
            (ca, "cluster CA certificate", "the service account volume holds it next to token"),
        ):
            if not os.path.isfile(path):
                raise CollectorUnavailable(f"kubernetes: {why}: no {what} at {path} ({hint})")
        try:
            loader = incluster.InClusterConfigLoader(token_filename=token, cert_filename=ca)
            loader.load_and_set(configuration)
        except ConfigException as exc:
            raise CollectorUnavailable(
                f"kubernetes: {why}: the service account in {self.service_account_dir} is not "
                f"usable: {' '.join(str(exc).split())}"
            ) from exc
        except OSError as exc:
            raise CollectorUnavailable(
                f"kubernetes: {why}: cannot read {exc.filename or self.service_account_dir}: "
                f"{exc.strerror or exc}"
            ) from exc
        if _ends_with_newline(token):  # the client puts the file as it is into a header
            raise CollectorUnavailable(
                f"kubernetes: {why}: the token in {token} ends with a line break, which no HTTP "
                "header may carry; write the token without one (kubelet-projected tokens have "
                "none)"
            )
        try:  # a CA file that holds no certificate would otherwise fail every request alike
            ssl.create_default_context(cafile=ca)
        except ssl.SSLError as exc:
            raise CollectorUnavailable(
                f"kubernetes: {why}: {ca} holds no usable CA certificate ({exc.reason or exc})"
            ) from exc
        self.cluster_name = self.context or "in-cluster"
        self.credentials = f"the service account token in {token}"
        self.credentials_hint = (
            "check that the pod's service account exists (deploy/rbac.yaml) and its token "
            "is this cluster's"
        )
        self.trust = f"the CA in {ca}"
        self.trust_hint = (
            "KUBERNETES_SERVICE_HOST/PORT must point at the API server of the cluster "
            "whose CA that is"
        )

    def _refuse_unverified(self, exc: BaseException, resource: Resource) -> None:
        """A server whose certificate does not verify: retrying cannot help, so stop."""
        error = _certificate_error(exc)
        if error is not None:
            reason = error.verify_message or error.reason or str(error)
            raise CollectorUnavailable(
                f"kubernetes: TLS verification of {self.server} failed listing "
                f"{resource.shown}: its certificate does not verify with {self.trust} "
                f"(certificate verify failed: {reason}); {self.trust_hint}"
            ) from exc

    # -- listing ----------------------------------------------------------------------------

    def _request(self, resource: Resource, token: str | None) -> dict[str, Any]:
        import kubernetes.client

        client: Any = kubernetes.client
        kwargs: dict[str, Any] = {
            "limit": self.page_size,
            "_preload_content": False,
            "_request_timeout": self.timeout,
        }
        if token:
            kwargs["_continue"] = token
        if resource.group:
            api = client.CustomObjectsApi(self._client)
            response = api.list_cluster_custom_object(
                resource.group, resource.version, resource.plural, **kwargs
            )
        else:
            core = client.CoreV1Api(self._client)
            response = getattr(core, _CORE_LISTS[resource.plural])(**kwargs)
        document: dict[str, Any] = orjson.loads(response.data)
        return document

    def _page(self, resource: Resource, token: str | None) -> dict[str, Any]:
        """One page, retried on 429/5xx and transport errors with exponential backoff."""
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        attempt = 0
        while True:
            try:
                return self._request(resource, token)
            except ApiException as exc:
                status = exc.status
                if status == 401:
                    raise CollectorUnavailable(
                        f"kubernetes: {self.server} rejected the credentials (HTTP 401 "
                        f"Unauthorized) listing {resource.shown}: {self.credentials} is "
                        f"invalid or expired; {self.credentials_hint}"
                    ) from exc
                if status == 403:
                    raise Unreadable(
                        resource,
                        403,
                        f"forbidden: cannot list {resource.plural} in API group "
                        f'"{resource.group}" at the cluster scope; grant it with the '
                        f"ClusterRole rule {resource.rule()} (deploy/rbac.yaml); "
                        f"the server said: {_message(exc)}",
                    ) from exc
                if status == 404:
                    raise NotServed(resource.shown) from exc
                if status == 410:
                    raise  # the caller restarts the list
                if status not in RETRY_STATUSES or attempt >= self.retries:
                    raise Unreadable(
                        resource,
                        status,
                        f"HTTP {status} after {attempt + 1} tries: {_message(exc)}",
                    ) from exc
                delay = self.backoff * 2**attempt
                headers = getattr(exc, "headers", None) or {}
                retry_after = headers.get("Retry-After") if hasattr(headers, "get") else None
                if retry_after and str(retry_after).isdigit():
                    delay = max(delay, min(float(retry_after), 60.0))
            except (HTTPError, OSError) as exc:
                self._refuse_unverified(exc, resource)
                if attempt >= self.retries:
                    raise CollectorFailed(
                        f"kubernetes: cannot reach {self.server} listing {resource.shown} after "
                        f"{attempt + 1} tries: {' '.join(str(exc).split())[:200]}"
                    ) from exc
                delay = self.backoff * 2**attempt
            attempt += 1
            self.sleep(delay)

    def list_all(self, resource: Resource, ctx: CollectorContext) -> list[kube.Doc]:
        """Every object of ``resource``, page by page; a 410 mid-list starts it again."""
        from kubernetes.client.exceptions import ApiException

        restarts = 0
        while True:
            docs: list[kube.Doc] = []
            token: str | None = None
            try:
                while True:
                    page = self._page(resource, token)
                    api_version = page.get("apiVersion") or (
                        f"{resource.group}/{resource.version}" if resource.group else "v1"
                    )
                    kind = str(page.get("kind") or "").removesuffix("List")
                    for item in page.get("items") or []:
                        obj = {"kind": kind, "apiVersion": api_version, **item}
                        docs.append(kube.Doc(f"{self.server}{resource.path}", len(docs) + 1, obj))
                    token = (page.get("metadata") or {}).get("continue") or None
                    if not token:
                        return docs
            except ApiException as exc:
                if exc.status != 410 or restarts >= self.max_restarts:
                    raise Unreadable(
                        resource, exc.status, f"HTTP {exc.status}: {_message(exc)}"
                    ) from exc
                restarts += 1
                ctx.skipped[f"{resource.shown}: list restarted (continue token expired)"] += 1

    def collect(self, ctx: CollectorContext) -> Iterator[Observation]:
        # With a duration the cluster is listed at the start, every `relist` seconds (at least
        # the poll interval) and at the end, so objects that came and went in the window (a
        # Job's pods, a rollout's old ReplicaSet) are still there to attribute traffic to. The
        # latest version of each object (kind, namespace, name) wins; a resource that was
        # unreadable in any list stays a blind spot.
        objects: dict[tuple[str, str, str], kube.Doc] = {}
        unreadable: dict[tuple[str, str], model.UnreadableResource] = {}
        lists = dataclasses.replace(ctx, interval=max(ctx.interval, self.relist))
        for _ in lists.polls():
            for doc in self._list_everything(ctx, unreadable):
                metadata = doc.obj.get("metadata") or {}
                key = (
                    str(doc.obj.get("kind")),
                    str(metadata.get("namespace") or ""),
                    str(metadata.get("name") or ""),
                )
                objects.pop(key, None)  # re-inserted: the dict keeps the latest list's order
                objects[key] = doc
        parts = kube.convert(objects.values(), cluster_name=self.cluster_name)
        for warning in parts.warnings:
            ctx.warn(warning)
        yield from parts.namespaces
        yield from parts.hosts
        yield from parts.workloads
        yield from parts.pods
        yield from parts.services
        yield from parts.policy_objects
        info = parts.cluster
        yield model.ClusterInfo(
            name=info.name,
            pod_cidrs=info.pod_cidrs,
            service_cidrs=info.service_cidrs,
            node_cidrs=info.node_cidrs,
            unreadable=tuple(unreadable.values()),
        )

    def _list_everything(
        self, ctx: CollectorContext, unreadable: dict[tuple[str, str], model.UnreadableResource]
    ) -> list[kube.Doc]:
        """One list of every resource; what cannot be read is recorded (once per resource)."""
        docs: list[kube.Doc] = []
        for resource in RESOURCES:
            try:
                docs.extend(self.list_all(resource, ctx))
            except NotServed:
                if not resource.optional and (resource.group, resource.plural) not in unreadable:
                    unreadable[resource.group, resource.plural] = model.UnreadableResource(
                        resource=resource.plural,
                        group=resource.group,
                        status=404,
                        reason=f"{resource.path} is not served by {self.server}",
                    )
                    ctx.warn(f"{resource.shown}: not served (HTTP 404)")
            except Unreadable as exc:
                if (resource.group, resource.plural) not in unreadable:
                    unreadable[resource.group, resource.plural] = exc.entry
                    ctx.warn(f"{resource.shown}: {exc.entry.reason}")
                    ctx.skipped[f"{resource.shown}: unreadable (HTTP {exc.entry.status})"] += 1
        return docs

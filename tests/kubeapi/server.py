"""A stand-in Kubernetes API server: real HTTP on 127.0.0.1, list JSON from fixtures, faults.

The real ``kubernetes`` client talks to it over a socket through a kubeconfig it writes, or
through a pod's service-account files (``token``, ``ca.crt``) it writes for the in-cluster
configuration; nothing in the client is patched. Plain HTTP by default; with ``tls`` (a CA and
a server certificate for 127.0.0.1 from :mod:`tests.kubeapi.pki`) it speaks HTTPS only, as
kube-apiserver does, and the client verifies it against that CA. It serves ``GET`` on the list
paths of the resources it is given (``/api/v1/pods``, ``/apis/apps/v1/replicasets``, ...),
answering as kube-apiserver does:

* ``limit``/``continue`` paging with opaque continue tokens and ``remainingItemCount``;
* bearer-token authentication (a wrong token gets a 401 Status; the scheme is matched without
  regard to case, as kube-apiserver's bearer-token authenticator does: the Python client's
  in-cluster loader sends ``bearer <token>``);
* faults injected on demand, each for a number of requests: any status (403 with the real
  "forbidden" message, 410 "Expired" on a continue token, 429 with ``Retry-After``, 500);
* 404 for resources it does not serve (a CRD that is not installed).

Every request is logged (method, path, query) so tests can check what the collector asked for
against the RBAC manifest.
"""

from __future__ import annotations

import base64
import shutil
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
import yaml

from .pki import ServerTLS

TOKEN = "stand-in-token"
RESOURCE_VERSION = "48213"


@dataclass
class Fault:
    """Answer ``status`` to the next ``times`` requests for ``path`` that match ``when``."""

    path: str
    status: int
    times: int = 1
    when: str = "any"  # "any", "first" (no continue token) or "continue" (a continue token)
    retry_after: int | None = None


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    status: int


@dataclass
class KubeAPI:
    """The server's state: what it serves, what it will fail, what it was asked."""

    resources: dict[str, tuple[str, str, list[dict[str, Any]]]]
    token: str = TOKEN
    faults: list[Fault] = field(default_factory=list)
    log: list[Request] = field(default_factory=list)
    url: str = ""
    ca: Path | None = None
    """The CA certificate that signed the server's certificate (TLS mode only)."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(
        self,
        path: str,
        status: int,
        *,
        times: int = 1,
        when: str = "any",
        retry_after: int | None = None,
    ) -> None:
        with self.lock:
            self.faults.append(Fault(path, status, times, when, retry_after))

    def requests(self, path: str | None = None) -> list[Request]:
        with self.lock:
            return [r for r in self.log if path is None or r.path == path]

    def write_kubeconfig(
        self, path: Path, *, context: str = "lab", token: str | None = None
    ) -> Path:
        """A kubeconfig with one cluster, user and context pointing at this server (entries
        named after the context, so several files can be merged through KUBECONFIG)."""
        cluster: dict[str, str] = {"server": self.url}
        if self.ca is not None:
            cluster["certificate-authority"] = str(self.ca)
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": f"{context}-cluster", "cluster": cluster}],
            "users": [{"name": f"{context}-user", "user": {"token": token or self.token}}],
            "contexts": [
                {
                    "name": context,
                    "context": {"cluster": f"{context}-cluster", "user": f"{context}-user"},
                }
            ],
            "current-context": context,
        }
        path.write_text(yaml.safe_dump(config))
        return path

    def write_service_account(
        self, directory: Path, *, token: str | None = None, ca: Path | None = None
    ) -> Path:
        """What the kubelet mounts in a pod at /var/run/secrets/kubernetes.io/serviceaccount:
        ``token`` (no trailing newline, as a projected token) and ``ca.crt`` (this server's CA,
        or ``ca``), plus ``namespace``."""
        source = ca or self.ca
        if source is None:
            raise ValueError("a service account needs a CA: serve with tls=...")
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "token").write_text(token or self.token)
        shutil.copyfile(source, directory / "ca.crt")
        (directory / "namespace").write_text("topomap")
        return directory

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    # -- answering ------------------------------------------------------------------------

    def take_fault(self, path: str, has_continue: bool) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.path != path or fault.times <= 0:
                    continue
                if fault.when == "first" and has_continue:
                    continue
                if fault.when == "continue" and not has_continue:
                    continue
                fault.times -= 1
                return fault
        return None

    def answer(
        self, path: str, query: dict[str, str], auth: str | None
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        scheme, _, credentials = (auth or "").strip().partition(" ")
        if scheme.lower() != "bearer" or credentials != self.token:
            return 401, status(401, "Unauthorized", "Unauthorized"), {}
        if path not in self.resources:
            return (
                404,
                status(404, "NotFound", "the server could not find the requested resource"),
                {},
            )
        token = query.get("continue")
        fault = self.take_fault(path, bool(token))
        if fault is not None:
            return fault_answer(path, fault)
        api_version, kind, items = self.resources[path]
        start = 0
        if token:
            start = int(orjson.loads(base64.urlsafe_b64decode(token))["start"])
        limit = int(query.get("limit") or 0)
        end = len(items) if limit <= 0 else min(len(items), start + limit)
        metadata: dict[str, Any] = {"resourceVersion": RESOURCE_VERSION}
        if end < len(items):
            raw = orjson.dumps({"rv": RESOURCE_VERSION, "start": end})
            metadata["continue"] = base64.urlsafe_b64encode(raw).decode()
            metadata["remainingItemCount"] = len(items) - end
        body = {
            "kind": f"{kind}List",
            "apiVersion": api_version,
            "metadata": metadata,
            "items": items[start:end],
        }
        return 200, body, {}


def status(code: int, reason: str, message: str, **details: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        out["details"] = details
    return out


def _group_and_resource(path: str) -> tuple[str, str]:
    parts = path.strip("/").split("/")
    if parts[0] == "api":
        return "", parts[-1]
    return parts[1], parts[-1]


def fault_answer(path: str, fault: Fault) -> tuple[int, dict[str, Any], dict[str, str]]:
    group, resource = _group_and_resource(path)
    headers: dict[str, str] = {}
    if fault.status == 403:
        message = (
            f"{resource}{'.' + group if group else ''} is forbidden: User "
            f'"system:serviceaccount:topomap:topomap-collector" cannot list resource "{resource}" '
            f'in API group "{group}" at the cluster scope'
        )
        body = status(403, "Forbidden", message, group=group, kind=resource)
    elif fault.status == 410:
        body = status(
            410,
            "Expired",
            "The provided continue parameter is too old to display a consistent list result. "
            "You can start a new list without the continue parameter.",
        )
    elif fault.status == 429:
        body = status(429, "TooManyRequests", "Too many requests, please try again later.")
        headers["Retry-After"] = str(fault.retry_after if fault.retry_after is not None else 1)
    elif fault.status == 401:
        body = status(401, "Unauthorized", "Unauthorized")
    else:
        body = status(
            fault.status, "InternalError", "Internal error occurred: etcdserver: leader changed"
        )
    return fault.status, body, headers


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed ACK

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        api = self.server.api
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        code, body, headers = api.answer(parts.path, query, self.headers.get("Authorization"))
        with api.lock:
            api.log.append(Request("GET", parts.path, query, code))
        payload = orjson.dumps(body)
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        pass  # quiet: the log list records every request


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    api: KubeAPI


@contextmanager
def serve(
    resources: dict[str, tuple[str, str, list[dict[str, Any]]]], *, tls: ServerTLS | None = None
) -> Iterator[KubeAPI]:
    """Run a stand-in API server on 127.0.0.1 (a free port) for the duration of the block;
    HTTPS with ``tls``'s certificate when given."""
    server = _Server(("127.0.0.1", 0), _Handler)
    api = KubeAPI(resources=resources)
    server.api = api
    host, port = server.server_address[:2]
    api.url = f"http://{host}:{port}"
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls.cert, tls.key)
        # The handshake runs in accept(): a client that refuses the certificate makes accept()
        # raise an SSLError (an OSError), which socketserver drops; nothing is served to it.
        server.socket = context.wrap_socket(server.socket, server_side=True)
        api.url = f"https://{host}:{port}"
        api.ca = tls.ca
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="kubeapi", daemon=True
    )
    thread.start()
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

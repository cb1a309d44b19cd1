"""Which container (and Kubernetes pod) a process runs in, read from ``/proc/<pid>/cgroup``.

This module owns one pure parser, :func:`parse_cgroup`, and its result type
:class:`CgroupIdentity`. It does no I/O: a host collector reads the file and hands the text over.

What the parser understands:

* cgroup v2 (one ``0::/path`` line) and v1 (one ``N:controllers:/path`` line per hierarchy). Every
  line is decoded and the most informative one wins (container id, then pod uid, then runtime,
  then QoS); ties go to the ``pids``, ``memory``, ``cpu``, ``name=systemd`` and unified hierarchies,
  in that order.
* Both cgroup drivers. systemd: ``docker-<id>.scope``, ``cri-containerd-<id>.scope``,
  ``crio-<id>.scope``, ``libpod-<id>.scope`` and ``kubepods-<qos>-pod<uid>.slice`` (uid with ``_``
  for ``-``), also the v1 form ``<slice>:cri-containerd:<id>``. cgroupfs: ``/docker/<id>``,
  ``/kubepods/<qos>/pod<uid>/<id>``.
* QoS: a pod directly under ``kubepods`` (no ``burstable``/``besteffort`` level) is
  ``guaranteed``. QoS is only reported together with a pod uid.
* Nesting (docker-in-docker, kind nodes ``/docker/<node-id>/kubepods/...``): the innermost
  container id wins, and the runtime is the one named next to that id.

Decisions:

* A container id is exactly 64 lowercase hex characters; anything else is never reported as one.
* A bare id with no runtime marker (cgroupfs ``/kubepods/.../pod<uid>/<id>``) gives
  ``runtime=None``: the path does not say whether containerd, CRI-O or dockershim made it.
* A ``crio-conmon-<id>.scope`` or ``libpod-conmon-<id>.scope`` process is the container monitor,
  not the container: the result names the runtime (and the pod, if any) with
  ``container_id=None``, so the monitor's sockets are never attributed to the container.
* Host processes (``/init.scope``, ``/user.slice/...``, ``/system.slice/sshd.service``), the root
  ``/`` (also what a container with a private cgroup namespace sees) and unreadable input give
  ``None``. The parser never raises on malformed text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Runtime = Literal["docker", "containerd", "cri-o", "podman"]
QoS = Literal["guaranteed", "burstable", "besteffort"]

_HEX = frozenset("0123456789abcdef")
_QOS_LEVELS: dict[str, QoS] = {"burstable": "burstable", "besteffort": "besteffort"}
#: systemd scope prefixes: (prefix, runtime, is the container itself, not its monitor).
_SCOPE_PREFIXES: tuple[tuple[str, Runtime, bool], ...] = (
    ("crio-conmon-", "cri-o", False),
    ("libpod-conmon-", "podman", False),
    ("cri-containerd-", "containerd", True),
    ("crio-", "cri-o", True),
    ("libpod-", "podman", True),
    ("docker-", "docker", True),
)
#: cgroupfs parent directories that name the runtime of the bare id below them.
_PARENT_RUNTIMES: dict[str, Runtime] = {"docker": "docker"}
#: v1 hierarchies to prefer when lines tie, best first; "" is the v2 unified hierarchy.
_PREFERRED_CONTROLLERS = ("pids", "memory", "cpu", "name=systemd", "")


@dataclass(frozen=True, kw_only=True, slots=True)
class CgroupIdentity:
    """The container and pod a process belongs to, as far as its cgroup path tells."""

    container_id: str | None = None
    """Full container id, 64 lowercase hex characters; ``None`` for a monitor (conmon)."""
    runtime: Runtime | None = None
    """Runtime named in the path; ``None`` when the path names none (cgroupfs kubepods)."""
    pod_uid: str | None = None
    """Kubernetes pod uid with dashes (``_`` from systemd slice names turned back into ``-``)."""
    qos: QoS | None = None
    """Pod QoS class; set only when ``pod_uid`` is."""


def is_container_id(text: str) -> bool:
    """True for exactly 64 lowercase hex characters.

    >>> is_container_id("ab" * 32), is_container_id("AB" * 32), is_container_id("ab" * 31)
    (True, False, False)
    """
    return len(text) == 64 and all(c in _HEX for c in text)


def _is_pod_uid(text: str) -> bool:
    """A UUID in dashed lowercase form, or the 32-hex config hash kubelet gives static pods."""
    if len(text) == 32:
        return all(c in _HEX for c in text)
    groups = text.split("-")
    return [len(g) for g in groups] == [8, 4, 4, 4, 12] and all(
        c in _HEX for g in groups for c in g
    )


class _Walk:
    """What one cgroup path says, built component by component from the root down."""

    def __init__(self) -> None:
        self.container_id: str | None = None
        self.runtime: Runtime | None = None
        self.pod_uid: str | None = None
        self.qos: QoS | None = None
        self.in_kubepods = False
        self.qos_level: QoS | None = None
        self.parent = ""

    def result(self) -> CgroupIdentity | None:
        if self.container_id is None and self.runtime is None and self.pod_uid is None:
            return None
        return CgroupIdentity(
            container_id=self.container_id,
            runtime=self.runtime,
            pod_uid=self.pod_uid,
            qos=self.qos if self.pod_uid is not None else None,
        )

    def pod(self, uid: str) -> None:
        if _is_pod_uid(uid):
            self.pod_uid = uid
            self.qos = self.qos_level or "guaranteed"

    def container(self, cid: str, runtime: Runtime | None, is_container: bool) -> None:
        self.container_id = cid if is_container else None
        self.runtime = runtime

    def component(self, name: str) -> None:
        if ":" in name:  # v1 systemd driver: "kubepods-...-pod<uid>.slice:cri-containerd:<id>"
            parts = name.split(":")
            if len(parts) == 3:
                self.component(parts[0])
                self.component(f"{parts[1]}-{parts[2]}.scope")
            return
        if name.endswith(".slice"):
            self.slice(name.removesuffix(".slice"))
        elif name.endswith(".scope"):
            self.scope(name.removesuffix(".scope"))
        elif name == "kubepods":
            self.in_kubepods = True
        elif self.in_kubepods and name in _QOS_LEVELS:
            self.qos_level = _QOS_LEVELS[name]
        elif self.in_kubepods and name.startswith("pod"):
            self.pod(name.removeprefix("pod"))
        elif is_container_id(name):
            self.container(name, _PARENT_RUNTIMES.get(self.parent), True)
        else:
            self.scope(name)  # cgroupfs podman: "/libpod_parent/libpod-<id>"
        self.parent = name

    def slice(self, name: str) -> None:
        """``kubepods-burstable-pod<uid>.slice``, also with a prefix (kind: ``kubelet-``)."""
        tokens = name.split("-")
        if "kubepods" not in tokens:
            return
        self.in_kubepods = True
        for token in tokens[tokens.index("kubepods") + 1 :]:
            if token in _QOS_LEVELS:
                self.qos_level = _QOS_LEVELS[token]
            elif token.startswith("pod"):
                self.pod(token.removeprefix("pod").replace("_", "-"))

    def scope(self, name: str) -> None:
        for prefix, runtime, is_container in _SCOPE_PREFIXES:
            if name.startswith(prefix):
                cid = name.removeprefix(prefix)
                if is_container_id(cid):
                    self.container(cid, runtime, is_container)
                return


def _decode_path(path: str) -> CgroupIdentity | None:
    walk = _Walk()
    for name in path.split("/"):
        if name:
            walk.component(name)
    return walk.result()


def _score(identity: CgroupIdentity) -> tuple[bool, bool, bool, bool]:
    return (
        identity.container_id is not None,
        identity.pod_uid is not None,
        identity.runtime is not None,
        identity.qos is not None,
    )


def _controller_rank(controllers: str) -> int:
    names = controllers.split(",")
    ranks = [i for i, c in enumerate(_PREFERRED_CONTROLLERS) if c in names]
    return min(ranks, default=len(_PREFERRED_CONTROLLERS))


def parse_cgroup(text: str) -> CgroupIdentity | None:
    """The container/pod identity in the text of ``/proc/<pid>/cgroup``; ``None`` on the host.

    >>> parse_cgroup("0::/system.slice/docker-" + "ab" * 32 + ".scope").runtime
    'docker'
    >>> parse_cgroup("0::/init.scope") is None
    True
    """
    best: tuple[tuple[bool, bool, bool, bool], int, CgroupIdentity] | None = None
    for line in text.splitlines():
        parts = line.strip().split(":", 2)
        if len(parts) != 3 or not parts[0].isdigit() or not parts[2].startswith("/"):
            continue
        identity = _decode_path(parts[2])
        if identity is None:
            continue
        candidate = (_score(identity), -_controller_rank(parts[1]), identity)
        if best is None or candidate[:2] > best[:2]:
            best = candidate
    return best[2] if best is not None else None

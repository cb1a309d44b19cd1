"""A Kubernetes-like node made of real kernel parts, for the collector tests and benchmarks.

:class:`Lab` builds, with iproute2, nft and cgroupfs:

* a "node" network namespace with a bridge ``br0`` (10.244.1.1/24), IP forwarding and
  conntrack accounting on;
* four "pod" namespaces on that bridge in two Kubernetes namespaces (``shop/frontend``,
  ``shop/cart``, ``data/redis``, ``data/dns``), each with a /32 address routed through the
  node (as Calico and Cilium do), so every pod-to-pod packet crosses the node's conntrack;
* the ClusterIP Service ``shop/frontend`` (10.96.0.10:80 -> 8080) made with nft DNAT in the node
  namespace, laid out the way kube-proxy's nftables mode lays it out (a ``services`` verdict
  map, a ``service-...`` chain, an ``endpoint-...`` chain with the ``dnat``);
* an "external" namespace with 203.0.113.10 (TEST-NET-3, documentation range) routed through
  the node, where pod egress is masqueraded to the node's address as on a real node; it also
  answers on 169.254.169.254 (the cloud metadata address), routed there only inside the lab;
* the pods' processes placed in real cgroups with containerd-style kubepods paths
  (``kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid>.slice/
  cri-containerd-<id>.scope``);
* real traffic (``tests/lab/podproc.py``): HTTP through the Service, a long-lived TCP
  connection cart -> redis:6379, UDP request/response cart -> dns:5353, HTTP cart -> the
  external address and -> the metadata address, and on demand a short-lived connection
  cart -> frontend:9090 whose conntrack entry is deleted at once, so only conntrack events
  can have seen it.

Every address lives only inside namespaces the lab made; nothing is created in the caller's
namespace (veth pairs are made inside the lab namespaces). :meth:`Lab.down` removes everything
it made, and :func:`leftovers` lists anything of a lab still present, so a test can prove it.
Needs root (CI runs as root); :func:`unavailable` says why the lab cannot run here.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import select
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

PREFIX = "tmlab"
PODPROC = Path(__file__).with_name("podproc.py")
NODE_NAME = "lab-node"
NODE_GATEWAY = "10.244.1.1"
NODE_EXTERNAL_IP = "203.0.113.1"
EXTERNAL_IP = "203.0.113.10"
EXTERNAL_CIDR = "203.0.113.0/24"
#: The cloud metadata address, served by the "external" namespace and routed there only from
#: inside the lab namespaces.
METADATA_IP = "169.254.169.254"
#: The node's own address (on the node namespace's loopback), as its Node object says.
NODE_INTERNAL_IP = "172.20.0.10"
SERVICE_IP = "10.96.0.10"
POD_CIDR = "10.244.0.0/16"
SERVICE_CIDR = "10.96.0.0/16"
SHORT_LIVED_PORT = 9090


@dataclass(frozen=True)
class PodSpec:
    """One lab pod: where it lives, what it runs and who owns it."""

    namespace: str
    name: str
    ip: str
    workload_kind: Literal["Deployment", "StatefulSet", "DaemonSet"]
    workload: str
    command: tuple[str, ...]
    ports: tuple[tuple[str, int], ...] = ()
    uid: str = field(default_factory=lambda: str(uuid.uuid4()))
    container_id: str = field(default_factory=lambda: secrets.token_hex(32))

    @property
    def container(self) -> str:
        return self.name.rsplit("-", 2)[0]


def default_pods() -> list[PodSpec]:
    """The four pods, servers first (the client needs them up)."""
    return [
        PodSpec(
            "shop",
            "frontend-7d9f8b6c5-x2x4q",
            "10.244.1.10",
            "Deployment",
            "frontend",
            ("http", "8080", str(SHORT_LIVED_PORT)),
            (("tcp", 8080), ("tcp", SHORT_LIVED_PORT)),
        ),
        PodSpec(
            "data",
            "redis-0",
            "10.244.1.12",
            "StatefulSet",
            "redis",
            ("tcp-echo", "6379"),
            (("tcp", 6379),),
        ),
        PodSpec(
            "data",
            "dns-5c8d7",
            "10.244.1.13",
            "DaemonSet",
            "dns",
            ("udp-echo", "5353"),
            (("udp", 5353),),
        ),
        PodSpec(
            "shop",
            "cart-6b8f9d7c4-k8p2m",
            "10.244.1.11",
            "Deployment",
            "cart",
            (
                "client",
                f"http://{SERVICE_IP}/",
                "10.244.1.12:6379",
                "10.244.1.13:5353",
                f"http://{EXTERNAL_IP}/",
                f"http://{METADATA_IP}/latest/meta-data/",
            ),
        ),
    ]


def unavailable() -> str | None:
    """Why the lab cannot be built here, or ``None``."""
    if os.geteuid() != 0:
        return "the network-namespace lab needs root (CI runs as root)"
    for tool in ("ip", "nft", "conntrack"):
        if shutil.which(tool) is None:
            return f"the lab needs {tool!r} (apt install iproute2 nftables conntrack)"
    if cgroup_root() is None:
        return "the lab needs a writable cgroup hierarchy under /sys/fs/cgroup"
    return None


def cgroup_root() -> Path | None:
    """The cgroup v2 mount, else a v1 hierarchy that every process is in (pids, systemd)."""
    mounts: dict[str, Path] = {}
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _, right = line.partition(" - ")
        fstype, _, options = right.split(" ", 2)
        point = Path(left.split()[4])
        if fstype == "cgroup2":
            mounts.setdefault("v2", point)
        elif fstype == "cgroup":
            for option in options.split(","):
                if option in ("pids", "name=systemd"):
                    mounts.setdefault(option, point)
    for key in ("v2", "pids", "name=systemd"):
        if key in mounts and os.access(mounts[key], os.W_OK):
            return mounts[key]
    return None


def _run(*cmd: str, stdin: str | None = None) -> str:
    result = subprocess.run(cmd, input=stdin, text=True, capture_output=True, timeout=30)
    if result.returncode != 0:
        raise RuntimeError(f"lab: {' '.join(cmd)}: {result.stderr.strip() or result.returncode}")
    return result.stdout


def lab_namespaces(tag: str = "") -> list[str]:
    """Names of existing lab network namespaces (of one lab, or of any)."""
    names = [line.split()[0] for line in _run("ip", "netns", "list").splitlines() if line.strip()]
    return sorted(n for n in names if n.startswith(f"{PREFIX}{tag}"))


def leftovers(lab: Lab) -> list[str]:
    """Anything of ``lab`` still present: namespaces, cgroups, processes."""
    found = [f"netns {name}" for name in lab_namespaces(lab.tag)]
    found += [f"cgroup {path}" for path in lab.cgroup_dirs if path.exists()]
    found += [f"process {p.pid}" for p in lab.processes.values() if p.poll() is None]
    return found


class Lab:
    """One running lab; use :func:`running_lab` (or ``up()`` then always ``down()``)."""

    def __init__(self, tag: str | None = None) -> None:
        self.tag = tag or secrets.token_hex(3)
        self.node = f"{PREFIX}{self.tag}-node"
        self.external = f"{PREFIX}{self.tag}-ext"
        self.pods = default_pods()
        self.processes: dict[str, subprocess.Popen[str]] = {}
        self.cgroup_dirs: list[Path] = []
        """Cgroup directories of this lab's pods (each must be gone after :meth:`down`)."""
        self.shared_cgroup_dirs: list[Path] = []
        """Parents this lab made that another lab may be using too (removed when empty)."""
        self.namespaces: list[str] = []

    def pod_netns(self, pod: PodSpec) -> str:
        return f"{PREFIX}{self.tag}-{pod.name.split('-')[0]}"

    def pod(self, name: str) -> PodSpec:
        return next(p for p in self.pods if p.name.split("-")[0] == name)

    # --- building -------------------------------------------------------------------------

    def _netns(self, name: str) -> None:
        _run("ip", "netns", "add", name)
        self.namespaces.append(name)
        _run("ip", "-n", name, "link", "set", "lo", "up")

    def _sysctl(self, netns: str, *settings: str) -> None:
        _run("ip", "netns", "exec", netns, "sysctl", "-q", "-w", *settings)

    def up(self) -> None:
        """Build the topology and start the traffic; raises (after partial setup) on failure."""
        self._netns(self.node)
        _run("ip", "-n", self.node, "link", "add", "br0", "type", "bridge")
        _run("ip", "-n", self.node, "addr", "add", f"{NODE_GATEWAY}/24", "dev", "br0")
        _run("ip", "-n", self.node, "link", "set", "br0", "up")
        _run("ip", "-n", self.node, "addr", "add", f"{NODE_INTERNAL_IP}/32", "dev", "lo")
        self._sysctl(
            self.node,
            "net.ipv4.ip_forward=1",
            "net.ipv4.conf.all.send_redirects=0",
            "net.ipv4.conf.br0.send_redirects=0",
        )
        with contextlib.suppress(RuntimeError):  # per-netns on recent kernels; global before
            self._sysctl(self.node, "net.netfilter.nf_conntrack_acct=1")
        for index, pod in enumerate(self.pods):
            self._pod_network(index, pod)
        self._external_network()
        _run("ip", "netns", "exec", self.node, "nft", "-f", "-", stdin=self.nft_rules())
        self._start(self.external, "external", ("http", "80"), cgroup=None)
        for pod in self.pods:
            self._start(self.pod_netns(pod), pod.name, pod.command, cgroup=pod)

    def _pod_network(self, index: int, pod: PodSpec) -> None:
        netns = self.pod_netns(pod)
        self._netns(netns)
        host_end = f"vp{index}"
        _run(
            "ip",
            "-n",
            self.node,
            "link",
            "add",
            host_end,
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            netns,
        )
        _run("ip", "-n", self.node, "link", "set", host_end, "master", "br0", "up")
        _run("ip", "-n", netns, "addr", "add", f"{pod.ip}/32", "dev", "eth0")
        _run("ip", "-n", netns, "link", "set", "eth0", "up")
        _run("ip", "-n", netns, "route", "add", NODE_GATEWAY, "dev", "eth0")
        _run("ip", "-n", netns, "route", "add", "default", "via", NODE_GATEWAY, "dev", "eth0")

    def _external_network(self) -> None:
        self._netns(self.external)
        _run(
            "ip",
            "-n",
            self.node,
            "link",
            "add",
            "vext",
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            self.external,
        )
        _run("ip", "-n", self.node, "addr", "add", f"{NODE_EXTERNAL_IP}/24", "dev", "vext")
        _run("ip", "-n", self.node, "link", "set", "vext", "up")
        _run("ip", "-n", self.external, "addr", "add", f"{EXTERNAL_IP}/24", "dev", "eth0")
        _run("ip", "-n", self.external, "link", "set", "eth0", "up")
        _run("ip", "-n", self.external, "route", "add", "default", "via", NODE_EXTERNAL_IP)
        _run("ip", "-n", self.external, "addr", "add", f"{METADATA_IP}/32", "dev", "lo")
        _run("ip", "-n", self.node, "route", "add", METADATA_IP, "via", EXTERNAL_IP)

    def nft_rules(self) -> str:
        """kube-proxy's nftables layout for one ClusterIP service, plus egress masquerade."""
        frontend = self.pod("frontend")
        svc = "service-4KAQ2SJL-shop/frontend/tcp/http"
        ep = f"endpoint-5QBNJ7YB-shop/frontend/tcp/http__{frontend.ip}/8080"
        return f"""
table ip kube-proxy {{
    comment "rules for kube-proxy (topomap lab)"
    map service-ips {{
        type ipv4_addr . inet_proto . inet_service : verdict
        comment "ClusterIP, ExternalIP and LoadBalancer IP traffic"
    }}
    chain mark-for-masquerade {{
        mark set mark or 0x4000
    }}
    chain masquerading {{
        mark and 0x4000 == 0 return
        mark set mark xor 0x4000
        masquerade fully-random
    }}
    chain services {{
        ip daddr . meta l4proto . th dport vmap @service-ips
    }}
    chain nat-prerouting {{
        type nat hook prerouting priority dstnat; policy accept;
        jump services
    }}
    chain nat-output {{
        type nat hook output priority -100; policy accept;
        jump services
    }}
    chain nat-postrouting {{
        type nat hook postrouting priority srcnat; policy accept;
        jump masquerading
    }}
    chain {svc} {{
        ip daddr {SERVICE_IP} tcp dport 80 ip saddr != {POD_CIDR} jump mark-for-masquerade
        numgen random mod 1 vmap {{ 0 : goto {ep} }}
    }}
    chain {ep} {{
        ip saddr {frontend.ip} jump mark-for-masquerade
        meta l4proto tcp dnat to {frontend.ip}:8080
    }}
}}
add element ip kube-proxy service-ips {{ {SERVICE_IP} . tcp . 80 : goto {svc} }}
table ip lab-egress {{
    chain postrouting {{
        type nat hook postrouting priority srcnat + 10; policy accept;
        ip saddr {POD_CIDR} ip daddr != {POD_CIDR} oifname "vext" masquerade
    }}
}}
"""

    def _cgroup(self, pod: PodSpec) -> Path:
        root = cgroup_root()
        assert root is not None
        uid = pod.uid.replace("-", "_")
        parts = [
            "kubepods.slice",
            "kubepods-burstable.slice",
            f"kubepods-burstable-pod{uid}.slice",
            f"cri-containerd-{pod.container_id}.scope",
        ]
        path = root
        for depth, part in enumerate(parts):
            path = path / part
            if not path.exists():
                path.mkdir()
                # The two kubepods parents are shared with any other lab running at the
                # same time (another test session); the pod's own directories are not.
                (self.cgroup_dirs if depth >= 2 else self.shared_cgroup_dirs).append(path)
        return path

    def _start(
        self, netns: str, name: str, command: tuple[str, ...], *, cgroup: PodSpec | None
    ) -> None:
        process = subprocess.Popen(
            ["ip", "netns", "exec", netns, sys.executable, str(PODPROC), *command],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.processes[name] = process
        if cgroup is not None:
            (self._cgroup(cgroup) / "cgroup.procs").write_text(str(process.pid))
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 20)
        line = process.stdout.readline() if ready else ""
        if line.strip() != "ready":
            process.kill()
            _, err = process.communicate(timeout=5)
            raise RuntimeError(f"lab: {name} did not start: {err.strip()[-500:]}")

    # --- using ----------------------------------------------------------------------------

    def short_lived_connection(self) -> int:
        """cart -> frontend:9090, one request, closed, and its conntrack entry deleted at once.

        Returns the client port. Afterwards no conntrack dump can show it: only the NEW and
        DESTROY events saw it.
        """
        cart, frontend = self.pod("cart"), self.pod("frontend")
        code = (
            "import socket;"
            f"s=socket.create_connection(('{frontend.ip}',{SHORT_LIVED_PORT}),timeout=5);"
            "s.sendall(b'GET / HTTP/1.0\\r\\n\\r\\n');"
            "[None for _ in iter(lambda: s.recv(4096), b'')];"
            "print(s.getsockname()[1]);s.close()"
        )
        port = int(_run("ip", "netns", "exec", self.pod_netns(cart), sys.executable, "-c", code))
        _run(
            "ip",
            "netns",
            "exec",
            self.node,
            "conntrack",
            "-D",
            "-p",
            "tcp",
            "--orig-src",
            cart.ip,
            "--orig-dst",
            frontend.ip,
            "--orig-port-src",
            str(port),
            "--orig-port-dst",
            str(SHORT_LIVED_PORT),
        )
        return port

    def conntrack_list(self) -> str:
        """``conntrack -L`` of the node namespace."""
        return _run("ip", "netns", "exec", self.node, "conntrack", "-L")

    # --- tearing down ---------------------------------------------------------------------

    def down(self) -> list[str]:
        """Remove everything; returns what could not be removed (empty when all is gone)."""
        problems: list[str] = []
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.communicate(timeout=10)
        for path in reversed(self.cgroup_dirs):
            for attempt in range(50):  # a killed process leaves its cgroup a moment later
                try:
                    path.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError as exc:
                    if attempt == 49:
                        problems.append(f"cgroup {path}: {exc.strerror}")
                    time.sleep(0.05)
        for path in reversed(self.shared_cgroup_dirs):
            in_use = path.exists() and any(child.is_dir() for child in path.iterdir())
            if not in_use:  # else another lab's pods are below it: that lab removes it
                with contextlib.suppress(FileNotFoundError):
                    path.rmdir()
        for name in reversed(self.namespaces):
            try:
                _run("ip", "netns", "del", name)
            except RuntimeError as exc:
                problems.append(str(exc))
        return problems


def running_lab() -> contextlib.AbstractContextManager[Lab]:
    """A new lab that is always torn down, also when the body (or ``up``) fails."""
    return running_lab_of(Lab())


@contextlib.contextmanager
def running_lab_of(lab: Lab) -> Iterator[Lab]:
    """Bring ``lab`` up for the body and always tear it down, also when ``up`` fails."""
    try:
        lab.up()
        yield lab
    finally:
        problems = lab.down()
        if problems:
            raise RuntimeError("lab teardown left: " + "; ".join(problems))

"""parse_cgroup against real /proc/<pid>/cgroup shapes from each runtime and cgroup driver."""

from __future__ import annotations

import re

import pytest

from collectors.cgroup import CgroupIdentity, QoS, Runtime, is_container_id, parse_cgroup

ID_A = "77e675714b473661c791f21c2427797b7edaa07f53aabc4cada930e10366a100"
ID_B = "fc824a4eeddab27fbd53a25d243469c255243ed5c7f19c3b31f0ce756f807dcd"
ID_C = "1ff3ad09b72330ac85cbb1c093a6c3e34e6b898d508b0f7bb5b23a068fc910f9"
ID_D = "ab533d1dc1c17d2b5c102c62850bd3785b6fd5cd8542291d5f3d65bd5231b549"
ID_E = "646f140035bf0580fa5d9981f1736ac86629b0276c60e08eea8a40bd7645290b"
ID_F = "5dab2697f0be4433d0d9d7f9d80a59df5432f7b86d7efd79f150a6da6cb78d24"
NODE = "909272d5d60a0c5eaedf4729fa16704c446f95ae71d42bb7670a2dad577741dc"

UID_1 = "e8f06ac2-ff4d-4c1c-b343-51e767a4255b"
UID_2 = "7fdf514c-6d9f-41aa-b693-814cf87cd6be"
UID_3 = "6158bec5-f4ce-4904-bc77-9d3fc75d0c69"
UID_4 = "735ab77a-8d26-4d55-b79a-558da115ac8c"
STATIC_UID = "3277af1983f20eda629a395334349fb2"  # kubelet config hash of a static pod


def sd(uid: str) -> str:
    """A pod uid as systemd slice names spell it."""
    return uid.replace("-", "_")


def v1(path: str) -> str:
    """A cgroup v1 file (hybrid, as on Ubuntu 20.04): every hierarchy, the same path."""
    lines = [
        f"12:pids:{path}",
        f"11:memory:{path}",
        f"10:cpu,cpuacct:{path}",
        f"9:devices:{path}",
        f"8:blkio:{path}",
        f"7:net_cls,net_prio:{path}",
        "6:rdma:/",
        f"5:freezer:{path}",
        f"4:perf_event:{path}",
        f"3:hugetlb:{path}",
        f"2:cpuset:{path}",
        f"1:name=systemd:{path}",
        f"0::{path}",
    ]
    return "\n".join(lines) + "\n"


def v2(path: str) -> str:
    return f"0::{path}\n"


def ident(
    cid: str | None = None,
    runtime: Runtime | None = None,
    pod: str | None = None,
    qos: QoS | None = None,
) -> CgroupIdentity:
    return CgroupIdentity(container_id=cid, runtime=runtime, pod_uid=pod, qos=qos)


KP = "/kubepods.slice"
KP_BU = f"{KP}/kubepods-burstable.slice"
KP_BE = f"{KP}/kubepods-besteffort.slice"
USER = "/user.slice/user-1000.slice/user@1000.service"

CASES: list[tuple[str, str, CgroupIdentity | None]] = [
    ("docker cgroupfs v1", v1(f"/docker/{ID_A}"), ident(ID_A, "docker")),
    ("docker systemd v2", v2(f"/system.slice/docker-{ID_A}.scope"), ident(ID_A, "docker")),
    ("docker systemd v1", v1(f"/system.slice/docker-{ID_B}.scope"), ident(ID_B, "docker")),
    (
        "containerd kubelet systemd v2 guaranteed",
        v2(f"{KP}/kubepods-pod{sd(UID_1)}.slice/cri-containerd-{ID_B}.scope"),
        ident(ID_B, "containerd", UID_1, "guaranteed"),
    ),
    (
        "containerd kubelet systemd v2 burstable",
        v2(f"{KP_BU}/kubepods-burstable-pod{sd(UID_2)}.slice/cri-containerd-{ID_C}.scope"),
        ident(ID_C, "containerd", UID_2, "burstable"),
    ),
    (
        "containerd kubelet systemd v2 besteffort",
        v2(f"{KP_BE}/kubepods-besteffort-pod{sd(UID_3)}.slice/cri-containerd-{ID_D}.scope"),
        ident(ID_D, "containerd", UID_3, "besteffort"),
    ),
    (
        "containerd kubelet systemd v2 pause (pod slice only)",
        v2(f"{KP_BU}/kubepods-burstable-pod{sd(UID_2)}.slice"),
        ident(None, None, UID_2, "burstable"),
    ),
    (
        "containerd kubelet systemd v1 colon form",
        v1(
            f"/system.slice/containerd.service/kubepods-burstable-pod{sd(UID_4)}.slice"
            f":cri-containerd:{ID_E}"
        ),
        ident(ID_E, "containerd", UID_4, "burstable"),
    ),
    (
        "containerd cgroupfs v1 burstable",
        v1(f"/kubepods/burstable/pod{UID_1}/{ID_A}"),
        ident(ID_A, None, UID_1, "burstable"),
    ),
    (
        "containerd cgroupfs v1 guaranteed",
        v1(f"/kubepods/pod{UID_2}/{ID_B}"),
        ident(ID_B, None, UID_2, "guaranteed"),
    ),
    (
        "static pod (config-hash uid) systemd v2",
        v2(f"{KP_BU}/kubepods-burstable-pod{STATIC_UID}.slice/cri-containerd-{ID_C}.scope"),
        ident(ID_C, "containerd", STATIC_UID, "burstable"),
    ),
    (
        "k3s cgroupfs v1 besteffort",
        v1(f"/kubepods/besteffort/pod{UID_3}/{ID_C}"),
        ident(ID_C, None, UID_3, "besteffort"),
    ),
    (
        "cri-o systemd v2",
        v2(f"{KP_BU}/kubepods-burstable-pod{sd(UID_4)}.slice/crio-{ID_D}.scope"),
        ident(ID_D, "cri-o", UID_4, "burstable"),
    ),
    (
        "cri-o systemd v2 with container sub-cgroup",
        v2(f"{KP}/kubepods-pod{sd(UID_1)}.slice/crio-{ID_E}.scope/container"),
        ident(ID_E, "cri-o", UID_1, "guaranteed"),
    ),
    (
        "cri-o conmon is the monitor, not the container",
        v2(f"{KP_BE}/kubepods-besteffort-pod{sd(UID_4)}.slice/crio-conmon-{ID_D}.scope"),
        ident(None, "cri-o", UID_4, "besteffort"),
    ),
    (
        "podman rootful systemd v2",
        v2(f"/machine.slice/libpod-{ID_E}.scope/container"),
        ident(ID_E, "podman"),
    ),
    (
        "podman rootless systemd v2",
        v2(f"{USER}/user.slice/libpod-{ID_F}.scope"),
        ident(ID_F, "podman"),
    ),
    (
        "podman conmon",
        v2(f"/machine.slice/libpod-conmon-{ID_F}.scope"),
        ident(None, "podman"),
    ),
    ("podman cgroupfs v1", v1(f"/libpod_parent/libpod-{ID_A}"), ident(ID_A, "podman")),
    (
        "kind node cgroupfs v1 (nested)",
        v1(f"/docker/{NODE}/kubepods/burstable/pod{UID_2}/{ID_B}"),
        ident(ID_B, None, UID_2, "burstable"),
    ),
    (
        "kind node systemd v2 (nested)",
        v2(
            f"/system.slice/docker-{NODE}.scope/kubelet.slice/kubelet-kubepods.slice"
            f"/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod{sd(UID_3)}.slice"
            f"/cri-containerd-{ID_C}.scope"
        ),
        ident(ID_C, "containerd", UID_3, "besteffort"),
    ),
    ("kind node itself", v1(f"/docker/{NODE}"), ident(NODE, "docker")),
    ("docker-in-docker", v1(f"/docker/{NODE}/docker/{ID_D}"), ident(ID_D, "docker")),
    (
        "docker-in-docker systemd v2",
        v2(f"/system.slice/docker-{NODE}.scope/docker/{ID_E}"),
        ident(ID_E, "docker"),
    ),
    (
        "v1 pids line wins over a stale root line",
        f"12:pids:/docker/{ID_F}\n1:name=systemd:/\n0::/\n",
        ident(ID_F, "docker"),
    ),
    ("host init", v2("/init.scope"), None),
    ("host user session", v2(f"{USER}/app.slice/dbus.service"), None),
    ("host sshd", v2("/system.slice/sshd.service"), None),
    ("host user session v1", v1("/user.slice/user-1000.slice/session-3.scope"), None),
    ("host containerd daemon", v2("/system.slice/containerd.service"), None),
    ("root (or private cgroup namespace)", v2("/"), None),
    ("empty", "", None),
    ("blank lines", "\n\n  \n", None),
    ("malformed lines", "garbage\n::\nx:y:z\n0:/docker\n:::::\n", None),
    ("short id", v2("/docker/77e675714b47"), None),
    ("uppercase id", v2(f"/docker/{ID_A.upper()}"), None),
    ("65-hex id", v2(f"/docker/{ID_A}0"), None),
    ("non-hex 64 chars", v2(f"/system.slice/docker-{'g' * 64}.scope"), None),
    ("bad pod uid", v2(f"{KP}/kubepods-podnot_a_uid.slice"), None),
    ("binary noise", "\x00\xff:\ud800:/\x00\n", None),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_parse_cgroup(text: str, expected: CgroupIdentity | None) -> None:
    assert parse_cgroup(text) == expected


HEX64 = re.compile(r"(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])")


@pytest.mark.parametrize(("name", "text"), [c[:2] for c in CASES], ids=[c[0] for c in CASES])
def test_container_id_is_the_innermost_id_in_the_path(name: str, text: str) -> None:
    result = parse_cgroup(text)
    innermost = {ids[-1] for line in text.splitlines() if (ids := HEX64.findall(line))}
    if result is None or result.container_id is None:
        # No id reported: either the path embeds none, or it is a conmon monitor's scope.
        assert not innermost or "conmon" in text, name
    else:
        assert is_container_id(result.container_id)
        assert innermost == {result.container_id}, name


def test_cases_cover_every_runtime_and_qos() -> None:
    results = [c[2] for c in CASES if c[2] is not None]
    assert {r.runtime for r in results} >= {"docker", "containerd", "cri-o", "podman", None}
    assert {r.qos for r in results} >= {"guaranteed", "burstable", "besteffort"}
    assert len(CASES) >= 20

"""The lab leaves nothing behind: no namespace, veth, nft table, cgroup or process."""

from __future__ import annotations

import pytest

from tests.lab import netlab


@pytest.fixture(autouse=True)
def _needs_lab() -> None:
    why = netlab.unavailable()
    if why:
        pytest.skip(why)


def _all_links() -> str:
    return netlab._run("ip", "-o", "link", "show")


def test_teardown_removes_everything_also_when_the_test_fails() -> None:
    links_before = _all_links()
    lab = None
    with pytest.raises(RuntimeError, match="planted failure"):
        with netlab.running_lab() as lab:
            assert netlab.lab_namespaces(lab.tag) == sorted(lab.namespaces)
            assert len(lab.namespaces) == 6  # node, four pods, external
            assert all(path.exists() for path in lab.cgroup_dirs)
            assert "kube-proxy" in netlab._run(
                "ip", "netns", "exec", lab.node, "nft", "list", "tables"
            )
            raise RuntimeError("planted failure")
    assert lab is not None
    assert netlab.leftovers(lab) == []
    # The veth pairs and nft tables lived only inside the lab namespaces, so they went with
    # them; the caller's namespace never saw a lab link.
    assert "vp0" not in _all_links() and "vext" not in _all_links()
    assert _all_links().count("\n") == links_before.count("\n")


def test_a_failed_setup_is_torn_down_too(monkeypatch: pytest.MonkeyPatch) -> None:
    lab = netlab.Lab()
    monkeypatch.setattr(lab, "nft_rules", lambda: "this is not nft syntax\n")
    with pytest.raises(RuntimeError, match="nft -f -"):
        with netlab.running_lab_of(lab):
            raise AssertionError("never reached")
    assert netlab.leftovers(lab) == []

"""Fixtures shared across the test tree."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.kubeapi import cluster, pki, server


@pytest.fixture
def kube_api() -> Iterator[server.KubeAPI]:
    """A stand-in Kubernetes API server on 127.0.0.1 serving :mod:`tests.kubeapi.cluster`."""
    with server.serve(cluster.resources()) as api:
        yield api


@pytest.fixture(scope="session")
def kube_tls(tmp_path_factory: pytest.TempPathFactory) -> pki.ServerTLS:
    """A cluster CA and a server certificate for 127.0.0.1, made once per test session."""
    return pki.write_server_tls(tmp_path_factory.mktemp("kube-pki"))


@pytest.fixture
def kube_api_tls(kube_tls: pki.ServerTLS) -> Iterator[server.KubeAPI]:
    """The stand-in API server speaking HTTPS only, with the certificate of ``kube_tls``."""
    with server.serve(cluster.resources(), tls=kube_tls) as api:
        yield api

"""Fixtures shared across the test tree."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.kubeapi import cluster, server


@pytest.fixture
def kube_api() -> Iterator[server.KubeAPI]:
    """A stand-in Kubernetes API server on 127.0.0.1 serving :mod:`tests.kubeapi.cluster`."""
    with server.serve(cluster.resources()) as api:
        yield api

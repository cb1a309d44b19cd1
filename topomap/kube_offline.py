"""Kubernetes objects from files as a Snapshot: what ``topomap graph --k8s PATH...`` reads.

An auditor given only manifests and snapshots must get the graph that live collection would
give. The files (``kubectl get ... -o json`` or ``-o yaml`` output, ``List`` kinds,
multi-document YAML, directories read recursively) are read by :mod:`topomap.manifests` and
converted by :mod:`topomap.kube`, the converter the live collector uses, into one Snapshot with
source ``cluster`` and observer :data:`OBSERVER`. Its window is the one of the snapshots it is
joined with (the objects are taken to describe the cluster during that window), its id is
derived from the files' digests, and each file is listed as an input with its sha256, so the
graph JSON names every file it was built from.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from pathlib import Path

from topomap import __version__, kube, manifests, model, snapshot_io
from topomap.errors import InputError

__all__ = ["OBSERVER", "load_manifests"]

#: The observer of a snapshot read from manifest files.
OBSERVER = "k8s-manifests"
_IDS = uuid.uuid5(uuid.NAMESPACE_URL, "https://topomap.dev/k8s-manifests")


def load_manifests(
    paths: Sequence[str | Path], *, window: model.Window
) -> tuple[model.Snapshot, list[snapshot_io.LoadedSnapshot]]:
    """Read Kubernetes objects from ``paths`` into one cluster Snapshot.

    Returns
    -------
    (snapshot, inputs)
        The snapshot, and one :class:`~topomap.snapshot_io.LoadedSnapshot` per file read (its
        path and sha256, all pointing at that snapshot) for the graph JSON's ``inputs``.

    Raises
    ------
    InputError
        A missing path, an unreadable file, a syntax error (with the line) or invalid object
        content (with the object and field), or no Kubernetes object in any of the files.
    """
    warnings: list[str] = []
    docs: list[manifests.Doc] = []
    digests: list[tuple[str, str]] = []
    for path in manifests.list_files(paths, warnings):
        try:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError as exc:
            raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from exc
        digests.append((str(path), digest))
        docs.extend(manifests.file_documents(path, warnings))
    if not docs:
        shown = ", ".join(str(p) for p in paths)
        raise InputError(f"{shown}: no Kubernetes objects found (expected kubectl JSON or YAML)")
    parts = kube.convert(docs)
    notes = (*warnings, *parts.warnings)
    run = model.CollectorRun(
        name="kubernetes",
        version=__version__,
        status="partial" if notes else "ok",
        counts=parts.counts,
        warnings=notes,
    )
    key = "\n".join(f"{digest} {Path(p).as_posix()}" for p, digest in digests)
    snapshot = model.Snapshot(
        snapshot_id=str(uuid.uuid5(_IDS, key)),
        source="cluster",
        observer=OBSERVER,
        window=window,
        collectors=(run,),
        cluster=parts.cluster,
        hosts=tuple(parts.hosts),
        namespaces=tuple(parts.namespaces),
        pods=tuple(parts.pods),
        workloads=tuple(parts.workloads),
        services=tuple(parts.services),
        policy_objects=tuple(parts.policy_objects),
    )
    inputs = [snapshot_io.LoadedSnapshot(p, digest, snapshot) for p, digest in digests]
    return snapshot, inputs

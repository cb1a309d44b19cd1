"""Snapshot files: round trips, validation errors with JSON pointers, versions, atomic writes."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest

from tests import factories as f
from topomap import model, snapshot_io
from topomap.errors import InputError, SchemaVersionError

DOCS = Path(__file__).resolve().parent.parent / "docs"


def rich_snapshot() -> model.Snapshot:
    cid = "c" * 64
    return f.snapshot(
        "node-a",
        collectors=[
            model.CollectorRun(
                name="procnet",
                version="0.1.0",
                status="partial",
                counts={"processes": 1},
                skipped={"process exited mid-scan": 2},
                warnings=("netns 4026532999 unreadable",),
            )
        ],
        cluster=model.ClusterInfo(pod_cidrs=("10.244.0.0/16",)),
        hosts=[model.Host(name="node-a", ips=("10.0.1.10", "fe80::1"))],
        processes=[
            model.Process(
                host="node-a",
                pid=7,
                start_ticks=99,
                comm="app",
                cmdline=("app", "--port", "80"),
                uid=0,
                container_id=cid,
                start_time=f.at(-5),
            )
        ],
        containers=[model.Container(id=cid, host="node-a", runtime="containerd")],
        pods=[
            f.pod(
                "web-1",
                "10.244.0.5",
                containers=(
                    model.PodContainer(
                        name="web",
                        container_id=cid,
                        ports=(model.ContainerPort(port=80, name="http"),),
                    ),
                ),
            )
        ],
        services=[f.service("web", "10.96.0.3", 80, 8080)],
        listeners=[f.listener("node-a", 80, 7, 99)],
        connections=[
            f.conn(
                "10.244.0.9",
                40000,
                "10.96.0.3",
                80,
                reply=("10.244.0.5", 8080, "10.244.0.9", 40000),
                counters=(3, 300, 2, 900),
                state="ESTABLISHED",
            )
        ],
        dns=[
            model.DnsAnswer(
                name="api.stripe.com",
                addresses=("54.187.174.169",),
                ttl=60,
                time=f.at(1),
                observed_by="capture",
            )
        ],
    )


def write(tmp_path: Path, document: Any, name: str = "snap.json") -> Path:
    path = tmp_path / name
    path.write_bytes(orjson.dumps(document))
    return path


def test_round_trip(tmp_path: Path) -> None:
    snap = rich_snapshot()
    path = tmp_path / "s.json"
    snapshot_io.dump_snapshot(snap, path)
    assert snapshot_io.load_snapshot(path).snapshot == snap


def test_round_trip_gzip(tmp_path: Path) -> None:
    snap = rich_snapshot()
    path = tmp_path / "s.json.gz"
    snapshot_io.dump_snapshot(snap, path)
    assert path.read_bytes()[:2] == b"\x1f\x8b"
    loaded = snapshot_io.load_snapshot(path)
    assert loaded.snapshot == snap
    assert len(loaded.sha256) == 64


def test_dump_is_deterministic() -> None:
    assert snapshot_io.dumps_snapshot(rich_snapshot()) == snapshot_io.dumps_snapshot(
        rich_snapshot()
    )


def test_truncated_file(tmp_path: Path) -> None:
    path = tmp_path / "cut.json"
    path.write_bytes(snapshot_io.dumps_snapshot(rich_snapshot())[:500])
    with pytest.raises(InputError, match=r"cut\.json: invalid JSON at line 1 column \d+"):
        snapshot_io.load_snapshot(path)


def test_truncated_gzip(tmp_path: Path) -> None:
    path = tmp_path / "cut.json.gz"
    path.write_bytes(gzip.compress(snapshot_io.dumps_snapshot(rich_snapshot()))[:200])
    with pytest.raises(InputError, match=r"cut\.json\.gz: corrupt or truncated gzip"):
        snapshot_io.load_snapshot(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nope\.json: cannot read"):
        snapshot_io.load_snapshot(tmp_path / "nope.json")


@pytest.mark.parametrize(
    "mutate, pointer, problem",
    [
        (
            lambda d: d["connections"][0]["original"].update(dport="80"),
            "/connections/0/original/dport",
            "expected integer, found string '80'",
        ),
        (
            lambda d: d["connections"][0].update(protocol="tcpp"),
            "/connections/0/protocol",
            "expected one of",
        ),
        (
            lambda d: d["connections"][0]["original"].update(sport=70000),
            "/connections/0/original/sport",
            "outside [0, 65535]",
        ),
        (
            lambda d: d["window"].update(start="2026-11-28T10:00:00"),
            "/window/start",
            "has no UTC offset",
        ),
        (lambda d: d["window"].update(end="yesterday"), "/window/end", "expected RFC 3339"),
        (lambda d: d["pods"][0]["labels"].update(app=3), "/pods/0/labels/app", "expected string"),
        (
            lambda d: d["pods"][0]["containers"][0]["ports"][0].update(prot="tcp"),
            "/pods/0/containers/0/ports/0/prot",
            "unknown field 'prot'",
        ),
        (lambda d: d["processes"][0].pop("pid"), "/processes/0", "missing required field 'pid'"),
        (lambda d: d.update(hosts={}), "/hosts", "expected array, found object"),
        (
            lambda d: d["processes"][0].update(uid=True),
            "/processes/0/uid",
            "expected integer, found boolean",
        ),
    ],
)
def test_invalid_field_names_file_and_pointer(
    tmp_path: Path, mutate: Any, pointer: str, problem: str
) -> None:
    document = orjson.loads(snapshot_io.dumps_snapshot(rich_snapshot()))
    mutate(document)
    path = write(tmp_path, document)
    with pytest.raises(InputError) as info:
        snapshot_io.load_snapshot(path)
    message = str(info.value)
    assert message.startswith(f"{path}: {pointer}: "), message
    assert problem in message
    assert "\n" not in message
    # The published JSON Schema rejects the same document.
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, snapshot_io.snapshot_schema())


def test_newer_version_is_refused_with_upgrade_hint(tmp_path: Path) -> None:
    document = orjson.loads(snapshot_io.dumps_snapshot(rich_snapshot()))
    document["schema_version"] = model.SCHEMA_VERSION + 1
    with pytest.raises(SchemaVersionError, match="newer than the supported.*upgrade topomap"):
        snapshot_io.load_snapshot(write(tmp_path, document))


@pytest.mark.parametrize("version", [None, 0, "1", -3])
def test_bad_version(tmp_path: Path, version: Any) -> None:
    document = orjson.loads(snapshot_io.dumps_snapshot(rich_snapshot()))
    document["schema_version"] = version
    with pytest.raises(InputError, match="/schema_version: expected a positive integer"):
        snapshot_io.load_snapshot(write(tmp_path, document))


def test_older_versions_migrate_step_by_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pretend the current format is 3, reached from 1 by two steps that rename fields."""
    current = orjson.loads(snapshot_io.dumps_snapshot(rich_snapshot()))
    old = dict(current, schema_version=1, observed_from=current["observer"])
    del old["observer"]
    applied: list[int] = []

    def v1_to_v2(doc: dict[str, Any]) -> dict[str, Any]:
        applied.append(1)
        doc = dict(doc, schema_version=2, observer=doc["observed_from"])
        del doc["observed_from"]
        return doc

    def v2_to_v3(doc: dict[str, Any]) -> dict[str, Any]:
        applied.append(2)
        return dict(doc, schema_version=3)

    monkeypatch.setattr(model, "SCHEMA_VERSION", 3)
    monkeypatch.setattr(snapshot_io, "MIGRATIONS", {1: v1_to_v2, 2: v2_to_v3})
    loaded = snapshot_io.load_snapshot(write(tmp_path, old)).snapshot
    assert applied == [1, 2]
    assert loaded.observer == "node-a"
    assert loaded.schema_version == 3


def test_broken_migration_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    document = orjson.loads(snapshot_io.dumps_snapshot(rich_snapshot()))
    monkeypatch.setattr(model, "SCHEMA_VERSION", 2)
    monkeypatch.setattr(snapshot_io, "MIGRATIONS", {1: lambda doc: doc})
    with pytest.raises(SchemaVersionError, match="did not produce version 2"):
        snapshot_io.load_snapshot(write(tmp_path, document))


def test_valid_snapshot_passes_published_schema() -> None:
    document = orjson.loads(snapshot_io.dumps_snapshot(rich_snapshot()))
    jsonschema.Draft202012Validator.check_schema(snapshot_io.snapshot_schema())
    jsonschema.validate(document, snapshot_io.snapshot_schema())


def test_published_schema_is_current() -> None:
    """docs/snapshot.schema.json is generated from the model; regenerate with
    ``topomap schema snapshot -o docs/snapshot.schema.json``."""
    published = orjson.loads((DOCS / "snapshot.schema.json").read_bytes())
    assert published == snapshot_io.snapshot_schema()


def test_schema_describes_every_field() -> None:
    schema = snapshot_io.snapshot_schema()
    for name, definition in schema["$defs"].items():
        for field_name, prop in definition["properties"].items():
            assert prop.get("description"), f"{name}.{field_name} has no docstring"


def test_atomic_write_keeps_old_file_on_failure(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    snapshot_io.dump_snapshot(rich_snapshot(), path)
    before = path.read_bytes()

    with pytest.raises(TypeError):
        snapshot_io.write_atomic(path, "not bytes")  # type: ignore[arg-type]
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["s.json"]

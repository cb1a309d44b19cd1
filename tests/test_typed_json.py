"""The generated fast decoder and the precise one agree: same values, same errors and pointers."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.test_snapshot_io import rich_snapshot
from topomap import cli, findings, model, snapshot_io, typed_json
from topomap.analysis import policy_file

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def documents() -> list[dict[str, Any]]:
    docs = [orjson.loads(snapshot_io.dumps_snapshot(rich_snapshot()))]
    docs += [orjson.loads(p.read_bytes()) for p in sorted(SAMPLES.glob("shop/*.json"))]
    return docs


DOCUMENTS = documents()


def outcome(decode: typed_json.Decoder, document: Any) -> tuple[str, Any]:
    try:
        return ("value", decode(document))
    except typed_json.DecodeError as exc:
        return ("error", (exc.pointer, exc.message))


def precise(cls: type) -> typed_json.Decoder:
    return typed_json._compile_dataclass(cls, {})


def test_valid_documents_decode_the_same_both_ways() -> None:
    assert len(DOCUMENTS) >= 3, "the samples are missing: run samples/build.py"
    fast = typed_json.decoder_for(model.Snapshot)
    for document in DOCUMENTS:
        assert fast(document) == precise(model.Snapshot)(document)
    assert fast(DOCUMENTS[0]) == rich_snapshot()


def _containers(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to an object or array inside ``value``."""
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, dict | list):
                found += _containers(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, dict | list):
                found += _containers(item, (*path, index))
    return found


JSON_VALUE_LIST: list[Any] = [
    None,
    0,
    -1,
    2**70,
    1.5,
    True,
    "",
    "x",
    "tcp",
    "2026-11-29T08:00:00Z",
    "2026-11-29T08:00:00",
    "2026-02-30T08:00:00Z",
    [],
    ["a"],
    {},
    {"name": "x"},
]
JSON_VALUES = st.sampled_from(JSON_VALUE_LIST)


def fresh(value: Any) -> Any:
    """A copy of a drawn value: the same list put in two places would become one object."""
    return copy.deepcopy(value)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mangled_documents_fail_or_pass_the_same_both_ways(data: st.DataObject) -> None:
    document = copy.deepcopy(data.draw(st.sampled_from(DOCUMENTS)))
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        path = data.draw(st.sampled_from(_containers(document)))
        target = document
        for step in path:
            target = target[step]
        if isinstance(target, dict):
            action = data.draw(st.sampled_from(["delete", "add", "set"]))
            if action == "add" or not target:
                key = data.draw(st.sampled_from(["extra", "name", "pid"]))
                target[key] = fresh(data.draw(JSON_VALUES))
            elif action == "delete":
                del target[data.draw(st.sampled_from(sorted(target)))]
            else:
                target[data.draw(st.sampled_from(sorted(target)))] = fresh(data.draw(JSON_VALUES))
        elif target:
            index = data.draw(st.integers(min_value=0, max_value=len(target) - 1))
            target[index] = fresh(data.draw(JSON_VALUES))
        else:
            target.append(fresh(data.draw(JSON_VALUES)))
    fast = outcome(typed_json.decoder_for(model.Snapshot), document)
    assert fast == outcome(precise(model.Snapshot), document)


@pytest.mark.parametrize(
    "document",
    [
        {"version": 1},
        {"version": 1, "boundary": {"cidrs": ["10.0.0.0/8"]}, "unknown": 1},
        {"version": 1, "suppressions": [{"rule": "TM-X", "owner": 5}]},
    ],
)
def test_policy_file_documents_agree(document: dict[str, Any]) -> None:
    fast = outcome(typed_json.decoder_for(policy_file.PolicyFile), document)
    assert fast == outcome(precise(policy_file.PolicyFile), document)


def test_the_sample_policy_file_decodes_the_same_both_ways() -> None:
    document = yaml.safe_load((SAMPLES / "topomap.yaml").read_text())
    fast = outcome(typed_json.decoder_for(policy_file.PolicyFile), document)
    assert fast[0] == "value"
    assert fast == outcome(precise(policy_file.PolicyFile), document)


def test_reports_decode_the_same_both_ways(tmp_path: Path) -> None:
    """A real report (the samples' review), and the same report with one finding broken."""
    out = tmp_path / "report.json"
    result = CliRunner().invoke(
        cli.cli,
        [
            "analyze",
            *map(str, sorted(SAMPLES.glob("shop/*.json"))),
            "--policy",
            str(SAMPLES / "topomap.yaml"),
            "--format",
            "json",
            "-o",
            str(out),
        ],
    )
    assert out.exists(), result.output
    document = orjson.loads(out.read_bytes())
    assert document["findings"]
    fast = outcome(typed_json.decoder_for(findings.Report), document)
    assert fast[0] == "value"
    assert fast == outcome(precise(findings.Report), document)
    document["findings"][-1]["severity"] = "urgent"
    fast = outcome(typed_json.decoder_for(findings.Report), document)
    assert fast[0] == "error"
    assert fast == outcome(precise(findings.Report), document)


def _places(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside ``value`` (object members and array items)."""
    found = []
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, item in items:
        found.append((*path, key))
        if isinstance(item, dict | list):
            found += _places(item, (*path, key))
    return found


def test_every_single_change_of_a_document_fails_or_passes_the_same_both_ways() -> None:
    """Each value of a small document replaced by each kind of JSON value, each member
    deleted, an unknown member added to each object: exhaustive, where the property test
    above samples."""
    original = DOCUMENTS[0]
    fast, slow = typed_json.decoder_for(model.Snapshot), precise(model.Snapshot)
    checked = errors = 0
    for path in _places(original):
        for change in [*JSON_VALUE_LIST, "delete", "add"]:
            document = copy.deepcopy(original)
            parent = document
            for step in path[:-1]:
                parent = parent[step]
            if change == "delete":
                if not isinstance(parent, dict):
                    continue
                del parent[path[-1]]
            elif change == "add":
                if not isinstance(parent[path[-1]], dict):
                    continue
                parent[path[-1]]["unexpected"] = 1
            else:
                parent[path[-1]] = fresh(change)
            got = outcome(fast, document)
            assert got == outcome(slow, document), path
            checked += 1
            errors += got[0] == "error"
    assert checked > 1000 and errors > checked // 2

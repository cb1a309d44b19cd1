"""``topomap diff`` and ``topomap baseline``: thin click commands over :mod:`topomap.diff`.

``diff BASELINE CURRENT`` loads both sides (:mod:`topomap.diff.sides`), compares them
(:mod:`topomap.diff.compare`) and renders the result; ``--fail-on-new`` exits 3.
``baseline approve`` writes an approved baseline (:mod:`topomap.baseline`), ``baseline verify``
checks one. Registered on the main group by :func:`register`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from topomap import baseline, export, findings, graph, snapshot_io, views
from topomap.diff import compare, render, sides
from topomap.errors import InputError
from topomap.files import emit, snapshot_files


def _fail_on(values: tuple[str, ...]) -> list[compare.FailOn]:
    chosen: list[compare.FailOn] = []
    for value in values:
        for item in value.split(","):
            item = item.strip()
            if item not in compare.FAIL_ON:
                raise click.BadParameter(
                    f"{item!r}: choose from {', '.join(compare.FAIL_ON)}",
                    param_hint="--fail-on-new",
                )
            chosen.append(item)
    return chosen


@click.command("diff")
@click.argument("baseline_side", metavar="BASELINE")
@click.argument("current_side", metavar="CURRENT")
@click.option(
    "--view",
    type=click.Choice(views.VIEWS),
    default="workload",
    show_default=True,
    help="Level to compare at.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(render.FORMATS),
    default="json",
    show_default=True,
    help="json (docs/diff.md), text (a review, grouped by namespace) or markdown (a PR comment).",
)
@click.option("--baseline-findings", metavar="FILE", help="Findings report for the baseline.")
@click.option("--current-findings", metavar="FILE", help="Findings report for the current side.")
@click.option(
    "--fail-on-new",
    "fail_on_new",
    multiple=True,
    metavar="edges|external|findings",
    help="Exit 3 when something of this kind is new (repeat or comma-separate).",
)
@click.option("-o", "--output", default="-", show_default=True, metavar="FILE")
@click.pass_context
def diff_command(
    ctx: click.Context,
    baseline_side: str,
    current_side: str,
    view: str,
    fmt: str,
    baseline_findings: str | None,
    current_findings: str | None,
    fail_on_new: tuple[str, ...],
    output: str,
) -> None:
    """What changed from BASELINE to CURRENT: nodes, edges, ports, external peers, findings.

    Each side is a snapshot file or directory, a graph JSON file, a baseline file (from
    `topomap baseline approve`), or a window of the history store, store:PATH@START..END
    (docs/diff.md). Pod name suffixes, container ids, pids, client ports and replica counts
    are normalised away.
    """
    fail_on = _fail_on(fail_on_new)
    before = sides.load_side(baseline_side, view=view, findings_path=baseline_findings)
    after = sides.load_side(current_side, view=view, findings_path=current_findings)
    result = compare.compare(before.side, after.side, before.findings, after.findings)
    emit(render.RENDERERS[fmt](result, before.info, after.info), output)
    hits = result.reached(fail_on)
    if hits:
        click.echo(f"topomap: --fail-on-new reached: {'; '.join(hits)}", err=True)
        ctx.exit(3)


@click.group("baseline")
def baseline_group() -> None:
    """Approved baselines: the evidence of a periodic network review."""


@baseline_group.command("approve")
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@click.option("--by", "approved_by", required=True, help="Who approves (name, role).")
@click.option("--note", required=True, help="Why: the review this approval records.")
@click.option(
    "--view",
    type=click.Choice(views.VIEWS),
    default=None,
    help="View of the approved graph [default: workload for snapshots, a graph's own view].",
)
@click.option("--findings", "findings_path", metavar="FILE", help="Findings report to approve.")
@click.option("--at", "at", metavar="TIME", help="Approval time (UTC ISO 8601) [default: now].")
@click.option("-o", "--output", default="-", show_default=True, metavar="FILE")
def approve_command(
    inputs: tuple[str, ...],
    approved_by: str,
    note: str,
    view: str | None,
    findings_path: str | None,
    at: str | None,
    output: str,
) -> None:
    """Record who approved the graph of INPUT (snapshots, or one graph JSON), when and why.

    The baseline file holds the graph with its content sha256, the approval and, with
    --findings, the findings report; `topomap diff BASELINE.json CURRENT` shows the approval.
    """
    when = datetime.now(UTC) if at is None else _time(at)
    document = _graph_document(inputs, view)
    report = findings.load_report(findings_path) if findings_path else None
    emit(
        baseline.dumps_baseline(
            document, approved_by=approved_by, note=note, approved_at=when, report=report
        ),
        output,
    )


def _time(text: str) -> datetime:
    return datetime.fromtimestamp(sides.parse_time(text, what="--at"), UTC)


def _graph_document(inputs: tuple[str, ...], view: str | None) -> dict[str, object]:
    if len(inputs) == 1 and Path(inputs[0]).is_file():
        document, _ = snapshot_io.read_json(inputs[0])
        if isinstance(document, dict) and isinstance(document.get("topomap"), dict):
            g = export.graph_from_document(document, origin=inputs[0])
            own = g.graph.get("view")
            if view is not None and view != own:
                raise InputError(f"{inputs[0]}: the graph is at the {own} view, not {view}")
            return document
    loaded = [snapshot_io.load_snapshot(p) for p in snapshot_files(inputs)]
    projected = views.project(graph.build_graph(s.snapshot for s in loaded), view or "workload")
    return export.graph_document(projected, loaded)


@baseline_group.command("verify")
@click.argument("files", nargs=-1, required=True, metavar="BASELINE...")
def verify_command(files: tuple[str, ...]) -> None:
    """Check baseline files: graph digest, approval digest, findings digest."""
    for path in files:
        base = baseline.load_baseline(path)
        count = len(base.findings.findings) if base.findings else 0
        click.echo(
            f"{path}: ok: approved by {base.approved_by} at {base.approved_at}: {base.note!r}; "
            f"{base.view} view, {base.graph.number_of_nodes()} nodes, "
            f"{base.graph.number_of_edges()} edges, graph sha256 {base.graph_sha256}; "
            f"{count} findings"
        )


def register(group: click.Group) -> None:
    """Add ``diff`` and ``baseline`` to the main command group."""
    group.add_command(diff_command)
    group.add_command(baseline_group)

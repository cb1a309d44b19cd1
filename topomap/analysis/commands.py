"""The ``topomap analyze`` and ``topomap init-policy`` verbs (registered by topomap.cli).

``analyze`` loads snapshots (files or directories), the policy file and optional Kubernetes
manifests, runs the rules and writes the findings as text (default), JSON (the findings report,
``docs/findings.md``), Markdown or SARIF. ``--fail-on SEVERITY`` exits 3 when an active
(unsuppressed, or suppressed by an expired entry) finding reaches that severity.
"""

from __future__ import annotations

import hashlib
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import click

from topomap import __version__, export, files, snapshot_io, views
from topomap.analysis import context as context_module
from topomap.analysis import render
from topomap.analysis.advise import advise, dumps_policies
from topomap.analysis.analyze import analyze
from topomap.analysis.init_policy import initial_policy
from topomap.analysis.policy_file import PolicyFile, load_policy_file
from topomap.analysis.rules import RULE_IDS
from topomap.findings import (
    SEVERITIES,
    SEVERITY_RANK,
    Report,
    ReportMeta,
    dumps_report,
    make_report,
)
from topomap.gcpause import paused_gc

FORMATS = ("text", "json", "markdown", "sarif")


def _expand(paths: tuple[str, ...]) -> list[snapshot_io.LoadedSnapshot]:
    return [snapshot_io.load_snapshot(p) for p in files.snapshot_files(paths)]


_write = files.emit


def _context(
    loaded: list[snapshot_io.LoadedSnapshot],
    policy_path: str | Path | None,
    manifests: tuple[str, ...],
) -> context_module.Context:
    """The analysis context of loaded snapshots, the policy file (if any) and manifests."""
    policy = load_policy_file(policy_path, known_rules=RULE_IDS) if policy_path else PolicyFile()
    return context_module.build_context([s.snapshot for s in loaded], policy, manifests=manifests)


def run_analysis(
    loaded: list[snapshot_io.LoadedSnapshot],
    policy_path: str | Path | None,
    *,
    manifests: tuple[str, ...] = (),
    today: date,
) -> Report:
    """The findings report for loaded snapshots, a policy file and optional manifests.

    The cyclic garbage collector is paused meanwhile: the analysis makes millions of acyclic
    objects, and without the collector's full passes over them the graph digest and the
    report take a tenth of the time (benchmarks/analyze.py).
    """
    with paused_gc():
        return _run_analysis(loaded, policy_path, manifests, today)


def _run_analysis(
    loaded: list[snapshot_io.LoadedSnapshot],
    policy_path: str | Path | None,
    manifests: tuple[str, ...],
    today: date,
) -> Report:
    ctx = _context(loaded, policy_path, manifests)
    findings = analyze(ctx, today=today)
    window = ctx.graph.graph.get("window") or {}
    workload_graph = views.project(ctx.graph, "workload")
    notes = tuple(f"policies unreadable: {r}" for r in ctx.policies_unreadable)
    if not ctx.has_kubernetes:
        notes += ("no Kubernetes data in the inputs: policy rules were not evaluated",)
    meta = ReportMeta(
        tool_version=__version__,
        graph_sha256=export.content_digest(export.content_of(workload_graph)),
        policy_sha256=hashlib.sha256(Path(policy_path).read_bytes()).hexdigest()
        if policy_path
        else None,
        window={k: str(v) for k, v in window.items()} if isinstance(window, dict) else {},
        notes=notes,
    )
    return make_report(findings, meta)


@click.command("analyze")
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@click.option(
    "--policy",
    "policy_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="The policy file (topomap.yaml); without it nothing is allowed or declared.",
)
@click.option(
    "--k8s",
    "manifests",
    multiple=True,
    type=click.Path(exists=True),
    help="Kubernetes manifests (files or directories) with the policies to judge by.",
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option(
    "--fail-on",
    type=click.Choice(SEVERITIES),
    default=None,
    help="Exit 3 when an active finding reaches this severity.",
)
@click.option(
    "--today",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="Judge suppression expiry as of this date (default: today, UTC).",
)
@click.option("-o", "--output", default="-", show_default=True, metavar="FILE")
def analyze_command(
    inputs: tuple[str, ...],
    policy_path: str | None,
    manifests: tuple[str, ...],
    fmt: str,
    fail_on: str | None,
    today: datetime | None,
    output: str,
) -> None:
    """Judge the observed traffic against the policy file and the cluster's policies (CC6.6).

    INPUT are snapshot files or directories of them.
    """
    day: date = today.date() if today else datetime.now(UTC).date()
    report = run_analysis(_expand(inputs), policy_path, manifests=manifests, today=day)
    if fmt == "json":
        _write(dumps_report(report), output)
    elif fmt == "sarif":
        _write(render.render_sarif(report), output)
    elif fmt == "markdown":
        _write(render.render_markdown(report).encode(), output)
    else:
        _write(render.render_text(report).encode(), output)
    if fail_on is not None:
        threshold = SEVERITY_RANK[fail_on]
        reached = [
            f for f in report.findings if f.active and SEVERITY_RANK[f.severity] >= threshold
        ]
        if reached:
            click.echo(f"topomap: {len(reached)} active findings at or above {fail_on}", err=True)
            sys.exit(3)


@click.command("init-policy")
@click.argument("inputs", nargs=-1, required=True, metavar="SNAPSHOT...")
@click.option("-o", "--output", default="-", show_default=True, metavar="FILE")
def init_policy_command(inputs: tuple[str, ...], output: str) -> None:
    """Write a starting topomap.yaml from observed snapshots.

    Every external peer seen is listed for review as a commented-out allowed_egress entry, and
    every exposure as a commented-out entry point: nothing is allowed silently.
    """
    loaded = _expand(inputs)
    text = initial_policy([s.snapshot for s in loaded])
    _write(text.encode(), output)


@click.command("advise")
@click.argument("inputs", nargs=-1, required=True, metavar="SNAPSHOT...")
@click.option(
    "--policy",
    "policy_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="The policy file: its allowed_egress decides which external egress to allow.",
)
@click.option(
    "--k8s",
    "manifests",
    multiple=True,
    type=click.Path(exists=True),
    help="Kubernetes manifests (namespaces with labels, workloads).",
)
@click.option("-o", "--output", default="-", show_default=True, metavar="FILE")
def advise_command(
    inputs: tuple[str, ...], policy_path: str | None, manifests: tuple[str, ...], output: str
) -> None:
    """Least-privilege NetworkPolicies (YAML, one per workload) allowing exactly the observed
    traffic inside the boundary and the approved external egress; the rest is denied."""
    ctx = _context(_expand(inputs), policy_path, manifests)
    _write(dumps_policies(advise(ctx)).encode(), output)

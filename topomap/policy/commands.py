"""``topomap policy``: NetworkPolicy connectivity from manifests, netpol-analyzer-compatible.

``policy list DIR...`` prints the connectivity list (txt, json, csv, md, dot) with the same
focus options as netpol-analyzer's ``list``; ``policy diff DIR1 DIR2`` what changed between
two sets of manifests. Thin click commands over :mod:`topomap.policy`.
"""

from __future__ import annotations

from typing import TextIO

import click

from topomap.policy import connlist, diff, engine, loader, render
from topomap.policy import explain as explain_module
from topomap.policy import exposure as exposure_module


def _split(value: str | None) -> list[str] | None:
    return [v for v in value.split(",") if v] if value else None


@click.group("policy")
def policy() -> None:
    """Connectivity that Kubernetes network policies allow, from manifests."""


@policy.command("list")
@click.argument("dirs", nargs=-1, required=True, type=click.Path(exists=True), metavar="DIR...")
@click.option(
    "--format", "fmt", type=click.Choice(render.FORMATS), default="txt", show_default=True
)
@click.option(
    "--focus-workload",
    help="Only connections of these workloads (name or ns/name, "
    "comma-separated; 'ingress-controller' for Ingress/Route traffic).",
)
@click.option(
    "--focus-direction",
    type=click.Choice(["ingress", "egress"]),
    help="With --focus-workload: only its incoming or outgoing connections.",
)
@click.option("--focus-workload-peer", help="With --focus-workload: only with these peers.")
@click.option("--focus-conn", metavar="PROTO-PORT", help="Only pairs allowing this, e.g. tcp-80.")
@click.option(
    "--exposure",
    is_flag=True,
    help="Also report what the policies expose to peers the manifests do not contain "
    "(any namespace or pod their selectors could match).",
)
@click.option(
    "--explain",
    is_flag=True,
    help="Say which policies and rules allow or deny each "
    "connection, and which pairs only the system default allows (txt only).",
)
@click.option(
    "--explain-only",
    type=click.Choice(["allow", "deny"]),
    help="With --explain: only allowed, or only denied, connections.",
)
@click.option("-o", "--output", type=click.File("w"), default="-", help="Write to a file.")
def list_command(
    dirs: tuple[str, ...],
    fmt: str,
    focus_workload: str | None,
    focus_direction: str | None,
    focus_workload_peer: str | None,
    focus_conn: str | None,
    exposure: bool,
    explain: bool,
    explain_only: str | None,
    output: TextIO,
) -> None:
    """Every workload pair (and IP block) with the connections the policies allow.

    Reads DIR recursively (YAML or JSON, several documents per file, List kinds): workloads,
    Namespaces, Services, Ingresses/Routes, NetworkPolicies, AdminNetworkPolicies and the
    BaselineAdminNetworkPolicy. The txt output matches netpol-analyzer's `list` byte for byte.
    """
    if (focus_direction or focus_workload_peer) and not focus_workload:
        raise click.UsageError("--focus-direction and --focus-workload-peer need --focus-workload")
    if explain_only and not explain:
        raise click.UsageError("--explain-only needs --explain")
    if explain and fmt != "txt":
        raise click.UsageError("--explain prints txt only")
    if explain and exposure:
        raise click.UsageError("--explain with --exposure is not supported yet")
    cluster = loader.load_cluster(list(dirs))
    if explain:
        _explain(
            cluster,
            focus_workload,
            focus_direction,
            focus_workload_peer,
            focus_conn,
            explain_only,
            output,
        )
        return
    exposure_engine = exposure_module.ExposureEngine(cluster) if exposure else None
    lines = connlist.connlist(exposure_engine or engine.PolicyEngine(cluster))
    focus = _split(focus_workload)
    if focus:
        lines = connlist.focus(
            lines, focus, direction=focus_direction, peers=_split(focus_workload_peer)
        )
    if focus_conn:
        protocol, _, port = focus_conn.partition("-")
        if protocol.upper() not in ("TCP", "UDP", "SCTP") or not port.isdigit():
            raise click.BadParameter(
                f"{focus_conn!r}: expected PROTO-PORT, e.g. tcp-80", param_hint="--focus-conn"
            )
        lines = connlist.focus_conn(lines, protocol, int(port))
    if exposure_engine is not None:
        conn = (protocol, int(port)) if focus_conn else None
        report = exposure_module.analyze(
            exposure_engine, lines, focus=focus, direction=focus_direction, focus_conn=conn
        )
        text = exposure_module.render(fmt, report)
    elif focus_conn:
        text = (
            connlist.render_focus_conn_txt(lines, protocol, int(port))
            if fmt == "txt"
            else render.render(fmt, lines, conn_column=False)
        )
    else:
        text = render.render(fmt, lines, workloads=[] if focus else cluster.workloads)
    output.write(text if text.endswith("\n") or not text else text + "\n")
    for warning in cluster.warnings:
        click.echo(f"topomap: warning: {warning}", err=True)


def _explain(
    cluster: loader.LoadedCluster,
    workloads: str | None,
    direction: str | None,
    peers: str | None,
    conn: str | None,
    only: str | None,
    output: TextIO,
) -> None:
    try:
        focus_conn = explain_module.Focus.parse_conn(conn) if conn else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--focus-conn") from exc
    focus = explain_module.Focus(
        workloads=tuple(_split(workloads) or ()),
        peers=tuple(_split(peers) or ()),
        direction=direction,  # type: ignore[arg-type]
        conn=focus_conn,
    )
    only_kind: explain_module.ExplainOnly | None = only  # type: ignore[assignment]
    text = explain_module.render_explain(
        engine.PolicyEngine(cluster), explain_only=only_kind, focus=focus
    )
    output.write(text)
    for warning in cluster.warnings:
        click.echo(f"topomap: warning: {warning}", err=True)


@policy.command("diff")
@click.argument("dir1", type=click.Path(exists=True))
@click.argument("dir2", type=click.Path(exists=True))
@click.option(
    "--format", "fmt", type=click.Choice(sorted(diff.RENDERERS)), default="txt", show_default=True
)
@click.option("-o", "--output", type=click.File("w"), default="-", help="Write to a file.")
def diff_command(dir1: str, dir2: str, fmt: str, output: TextIO) -> None:
    """What connectivity changed from the manifests in DIR1 to those in DIR2.

    Lines are `changed`, `added` or `removed` relative to DIR1, with the connections on each
    side; compatible with netpol-analyzer's `diff` (empty output when nothing changed). Read
    errors in a file skip the rest of that file with a warning, as netpol-analyzer does.
    """
    clusters = [loader.load_cluster([d], keep_going=True) for d in (dir1, dir2)]
    lines = diff.connectivity_diff(*(engine.PolicyEngine(c) for c in clusters))
    output.write(diff.RENDERERS[fmt](lines, ("dir1", "dir2")))
    for cluster, name in zip(clusters, (dir1, dir2), strict=True):
        for warning in cluster.warnings:
            click.echo(f"topomap: warning: {name}: {warning}", err=True)

"""The ``topomap`` command: thin verbs over the core, and the exit-code contract.

Exit codes: 0 ok; 1 bad input or environment (one line on stderr, a traceback only with
``-v``); 2 usage error; 3 a ``--fail-on`` threshold was reached. Every command writes JSON to
stdout by default, ``-o FILE`` writes a file atomically (``-o -`` is stdout), and
``--format text`` is for people. Command bodies stay short: the work lives in the core modules.
"""

from __future__ import annotations

import sys
import tempfile
import traceback
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import orjson

from topomap import (
    __version__,
    collect_cli,
    export,
    files,
    graph,
    kube_offline,
    model,
    snapshot_io,
    summary,
    views,
)
from topomap.analysis import commands as analysis_commands
from topomap.analysis import render
from topomap.analysis.policy_file import policy_schema
from topomap.diff import commands as diff_commands
from topomap.errors import InputError, TopomapError
from topomap.findings import dumps_report
from topomap.policy import commands as policy_commands
from topomap.store import commands as store_commands
from topomap.web import commands as web_commands

_state = {"verbose": False}


def _output_option(func: Any) -> Any:
    return click.option(
        "-o",
        "--output",
        default="-",
        show_default=True,
        metavar="FILE",
        help="Write to FILE (atomically) instead of stdout; '-' is stdout.",
    )(func)


_emit = files.emit
expand_inputs = files.snapshot_files


def load_snapshots(paths: Sequence[str]) -> list[snapshot_io.LoadedSnapshot]:
    """Load every snapshot named by ``paths`` (files or directories)."""
    return [snapshot_io.load_snapshot(p) for p in expand_inputs(paths)]


def with_manifests(
    loaded: list[snapshot_io.LoadedSnapshot], k8s: Sequence[str]
) -> tuple[list[model.Snapshot], list[snapshot_io.LoadedSnapshot]]:
    """The snapshots plus the Kubernetes objects in ``k8s`` files as one more (over their
    window), and every input file for provenance."""
    snapshots = [item.snapshot for item in loaded]
    if not k8s:
        return snapshots, loaded
    window = model.Window(
        start=min(s.window.start for s in snapshots), end=max(s.window.end for s in snapshots)
    )
    cluster, files = kube_offline.load_manifests(k8s, window=window)
    return [*snapshots, cluster], [*loaded, *files]


@click.group(
    context_settings={"auto_envvar_prefix": "TOPOMAP", "help_option_names": ["-h", "--help"]}
)
@click.version_option(__version__, prog_name="topomap")
@click.option("-v", "--verbose", is_flag=True, help="Show tracebacks for errors.")
def cli(verbose: bool) -> None:
    """Map who talks to whom, and check the system boundary (SOC 2 CC6.6).

    Collect snapshots on hosts and from the cluster API, then build, diff and analyse them
    anywhere: everything after collection works on files.
    """
    _state["verbose"] = verbose


@cli.command("graph")
@click.argument("snapshots", nargs=-1, required=True, metavar="SNAPSHOT...")
@click.option(
    "--view",
    type=click.Choice(views.VIEWS),
    default="process",
    show_default=True,
    help="Level of detail: nodes are grouped and edges summed at this level.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "text"]),
    default="json",
    show_default=True,
    help="json: graph JSON (docs/graph-json.md); text: a summary.",
)
@click.option(
    "--k8s",
    "k8s",
    multiple=True,
    metavar="PATH",
    help="Kubernetes objects from files or directories of 'kubectl get -o json|yaml' output "
    "(docs/kubernetes.md), joined as live collection would; repeat for more paths.",
)
@_output_option
def graph_command(
    snapshots: tuple[str, ...], view: str, fmt: str, k8s: tuple[str, ...], output: str
) -> None:
    """Merge SNAPSHOT files (or directories of them) into one graph and write graph JSON.

    The output is deterministic: the same inputs give byte-identical files, so two exports
    can be compared with any diff tool and their content_sha256 checked by an auditor.
    """
    snaps, inputs = with_manifests(load_snapshots(snapshots), k8s)
    projected = views.project(graph.build_graph(snaps), view)
    if fmt == "text":
        _emit(summary.render_text(summary.summarize(projected)), output)
    else:
        _emit(export.dumps_graph_json(projected, inputs), output)


@cli.command("validate")
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
def validate_command(files: tuple[str, ...]) -> None:
    """Check snapshot or graph JSON files: schema, version, and graph content digests.

    Prints one line per file; the first invalid file stops with exit code 1 and says where.
    """
    for path in expand_inputs(files):
        document, digest = snapshot_io.read_json(path)
        if isinstance(document, dict) and "topomap" in document:
            g = export.graph_from_document(document, origin=str(path))
            click.echo(
                f"{path}: ok: graph JSON, view {g.graph.get('view')}, "
                f"{g.number_of_nodes()} nodes, {g.number_of_edges()} edges, "
                f"content sha256 verified"
            )
        else:
            snap = snapshot_io.snapshot_from_document(document, origin=str(path))
            click.echo(
                f"{path}: ok: snapshot {snap.snapshot_id} ({snap.source}, "
                f"{snap.observer}), {len(snap.connections)} connections, sha256 {digest}"
            )


@cli.command("schema")
@click.argument("kind", type=click.Choice(["snapshot", "policy"]), default="snapshot")
@_output_option
def schema_command(kind: str, output: str) -> None:
    """Print the JSON Schema of the snapshot format (docs/snapshot.schema.json) or of the
    policy file topomap.yaml (docs/policy-file.schema.json)."""
    schema = snapshot_io.snapshot_schema() if kind == "snapshot" else policy_schema()
    _emit(orjson.dumps(schema, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE), output)


samples_dir = web_commands.samples_dir


@cli.command("demo")
@click.option(
    "--samples",
    "directory",
    type=click.Path(file_okay=False),
    default=None,
    help="Snapshot directory to use instead of the bundled samples/shop.",
)
@click.option(
    "--summary",
    "summary_only",
    is_flag=True,
    help="Print the summary and exit instead of serving the map.",
)
@web_commands.server_options
def demo_command(directory: str | None, summary_only: bool, **options: Any) -> None:
    """Show the bundled demo shop (no cluster, no root needed): a summary, the boundary
    review against samples/topomap.yaml, then the map with the findings.

    Serves the interactive map on 127.0.0.1:8050 until Ctrl-C (see `topomap serve`).
    """
    where = Path(directory) if directory else samples_dir()
    if not where.is_dir():
        raise InputError(
            f"{where}: samples not found; run from a source checkout or pass --samples DIR"
        )
    loaded = load_snapshots([str(where)])
    projected = views.project(graph.build_graph(s.snapshot for s in loaded), options["view"])
    click.echo(f"topomap demo: {len(loaded)} snapshots from {where}")
    click.echo(summary.render_text(summary.summarize(projected)), nl=False)
    policy = where.parent / "topomap.yaml"
    report = None
    if policy.is_file():
        click.echo(f"\nboundary review (topomap analyze {where} --policy {policy}):")
        report = analysis_commands.run_analysis(loaded, policy, today=datetime.now(UTC).date())
        click.echo(render.render_text(report), nl=False)
    if summary_only:
        return
    with tempfile.TemporaryDirectory(prefix="topomap-demo-") as tmp:
        if report is not None and not options.get("findings_file"):
            options["findings_file"] = str(Path(tmp) / "findings.json")
            snapshot_io.write_atomic(options["findings_file"], dumps_report(report))
        web_commands.serve_map([str(where)], **options)


cli.add_command(policy_commands.policy)
cli.add_command(collect_cli.collect_command)
cli.add_command(analysis_commands.analyze_command)
cli.add_command(analysis_commands.init_policy_command)
policy_commands.policy.add_command(analysis_commands.advise_command)
cli.add_command(web_commands.serve)
diff_commands.register(cli)
store_commands.register(cli)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: run the CLI and turn errors into the documented exit codes."""
    try:
        result = cli.main(
            args=list(argv) if argv is not None else None,
            prog_name="topomap",
            standalone_mode=False,
        )
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("topomap: aborted", err=True)
        sys.exit(1)
    except TopomapError as exc:
        if _state["verbose"]:
            traceback.print_exc()
        click.echo(f"topomap: error: {exc}", err=True)
        sys.exit(1)
    except BrokenPipeError:
        sys.exit(1)
    sys.exit(result if isinstance(result, int) else 0)

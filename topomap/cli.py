"""The ``topomap`` command: thin verbs over the core, and the exit-code contract.

Exit codes: 0 ok; 1 bad input or environment (one line on stderr, a traceback only with
``-v``); 2 usage error; 3 a ``--fail-on`` threshold was reached. Every command writes JSON to
stdout by default, ``-o FILE`` writes a file atomically (``-o -`` is stdout), and
``--format text`` is for people. Command bodies stay short: the work lives in the core modules.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import click
import orjson

from topomap import __version__, export, graph, snapshot_io, summary, views
from topomap.diff import commands as diff_commands
from topomap.errors import InputError, TopomapError
from topomap.policy import commands as policy_commands
from topomap.store import commands as store_commands

_state = {"verbose": False}

SNAPSHOT_SUFFIXES = (".json", ".json.gz")


def _output_option(func: Any) -> Any:
    return click.option(
        "-o",
        "--output",
        default="-",
        show_default=True,
        metavar="FILE",
        help="Write to FILE (atomically) instead of stdout; '-' is stdout.",
    )(func)


def _emit(data: bytes | str, output: str) -> None:
    payload = data.encode() if isinstance(data, str) else data
    if output == "-":
        sys.stdout.buffer.write(payload)
        sys.stdout.flush()
        return
    try:
        snapshot_io.write_atomic(output, payload)
    except OSError as exc:
        raise InputError(f"{output}: cannot write: {exc.strerror or exc}") from exc


def expand_inputs(paths: Iterable[str]) -> list[Path]:
    """Files as given; directories expanded to their snapshot files, recursively and sorted."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            inside = sorted(
                p for p in path.rglob("*") if p.is_file() and p.name.endswith(SNAPSHOT_SUFFIXES)
            )
            if not inside:
                raise InputError(f"{raw}: directory holds no *.json or *.json.gz snapshot")
            found.extend(inside)
        elif path.exists():
            found.append(path)
        else:
            raise InputError(f"{raw}: no such file or directory")
    return found


def load_snapshots(paths: Sequence[str]) -> list[snapshot_io.LoadedSnapshot]:
    """Load every snapshot named by ``paths`` (files or directories)."""
    return [snapshot_io.load_snapshot(p) for p in expand_inputs(paths)]


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
@_output_option
def graph_command(snapshots: tuple[str, ...], view: str, fmt: str, output: str) -> None:
    """Merge SNAPSHOT files (or directories of them) into one graph and write graph JSON.

    The output is deterministic: the same inputs give byte-identical files, so two exports
    can be compared with any diff tool and their content_sha256 checked by an auditor.
    """
    loaded = load_snapshots(snapshots)
    projected = views.project(graph.build_graph(s.snapshot for s in loaded), view)
    if fmt == "text":
        _emit(summary.render_text(summary.summarize(projected)), output)
    else:
        _emit(export.dumps_graph_json(projected, loaded), output)


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
@click.argument("kind", type=click.Choice(["snapshot"]), default="snapshot")
@_output_option
def schema_command(kind: str, output: str) -> None:
    """Print the JSON Schema of the snapshot format (the one in docs/snapshot.schema.json)."""
    schema = snapshot_io.snapshot_schema()
    _emit(orjson.dumps(schema, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE), output)


def samples_dir() -> Path:
    """The bundled samples/shop directory of a source checkout."""
    return Path(__file__).resolve().parent.parent / "samples" / "shop"


@cli.command("demo")
@click.option(
    "--samples",
    "directory",
    type=click.Path(file_okay=False),
    default=None,
    help="Snapshot directory to use instead of the bundled samples/shop.",
)
@click.option("--view", type=click.Choice(views.VIEWS), default="workload", show_default=True)
def demo_command(directory: str | None, view: str) -> None:
    """Show what topomap makes of the bundled demo shop (no cluster, no root needed)."""
    where = Path(directory) if directory else samples_dir()
    if not where.is_dir():
        raise InputError(
            f"{where}: samples not found; run from a source checkout or pass --samples DIR"
        )
    loaded = load_snapshots([str(where)])
    projected = views.project(graph.build_graph(s.snapshot for s in loaded), view)
    click.echo(f"topomap demo: {len(loaded)} snapshots from {where}")
    click.echo(summary.render_text(summary.summarize(projected)), nl=False)


cli.add_command(policy_commands.policy)
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

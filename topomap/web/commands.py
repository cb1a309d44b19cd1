"""``topomap serve`` and the launcher ``topomap demo`` and ``python app.py`` share.

The web modules (and dash) are imported only when a map is actually served, so the other
verbs start fast. Serving beyond loopback needs credentials (:mod:`topomap.web.auth`); the
server prints its URL and runs until Ctrl-C.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from topomap import views

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8050


def samples_dir() -> Path:
    """The bundled samples/shop directory of a source checkout."""
    return Path(__file__).resolve().parent.parent.parent / "samples" / "shop"


def server_options(func: Any) -> Any:
    """--host, --port, --view, --findings, --baseline and the credential files."""
    options = [
        click.option(
            "--host",
            default=DEFAULT_HOST,
            show_default=True,
            help="Address to bind; anything but loopback needs a token or basic auth.",
        ),
        click.option(
            "--port",
            type=click.IntRange(0, 65535),
            default=DEFAULT_PORT,
            show_default=True,
            help="TCP port.",
        ),
        click.option(
            "--view",
            type=click.Choice(views.VIEWS),
            default="workload",
            show_default=True,
            help="View to open on.",
        ),
        click.option(
            "--findings",
            "findings_file",
            type=click.Path(dir_okay=False),
            default=None,
            help="Findings report (topomap analyze -o FILE) to list.",
        ),
        click.option(
            "--baseline",
            "baseline_file",
            type=click.Path(dir_okay=False),
            default=None,
            help="Baseline for the diff overlay: graph JSON or an approved baseline file.",
        ),
        click.option(
            "--token-file",
            type=click.Path(dir_okay=False),
            default=None,
            help="File whose first line is the access token (else $TOPOMAP_TOKEN).",
        ),
        click.option(
            "--basic-auth-file",
            type=click.Path(dir_okay=False),
            default=None,
            help="File whose first line is user:password (else $TOPOMAP_BASIC_AUTH).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def serve_map(
    inputs: Sequence[str],
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    view: str = "workload",
    findings_file: str | None = None,
    baseline_file: str | None = None,
    token_file: str | None = None,
    basic_auth_file: str | None = None,
) -> None:
    """Load the inputs, build the app and serve it until Ctrl-C."""
    from topomap.web import auth

    creds = auth.credentials(token_file=token_file, basic_auth_file=basic_auth_file)
    refused = auth.refusal(host, creds)
    if refused:
        raise click.UsageError(refused)
    from topomap import cli
    from topomap.web import app, source

    files = [spec for spec in inputs if not source.is_store(spec)]
    loaded = source.load_source(
        [*cli.expand_inputs(files), *(spec for spec in inputs if source.is_store(spec))],
        findings_file=findings_file,
        baseline_file=baseline_file,
    )
    dash_app = app.create_app(loaded, view=view, credentials=creds)
    shown = f"[{host}]" if ":" in host else host
    if creds.token:
        click.echo("authentication: token (open the URL once with ?token=<token>)")
    elif creds.basic:
        click.echo("authentication: basic auth")
    click.echo(f"topomap map of {loaded.description}: http://{shown}:{port}/ (Ctrl-C to stop)")
    try:
        dash_app.run(host=host, port=port, debug=False)
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        raise click.ClickException(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from exc


@click.command("serve")
@click.argument("inputs", nargs=-1, metavar="INPUT...")
@server_options
def serve(inputs: tuple[str, ...], **options: Any) -> None:
    """Serve the interactive map of INPUT snapshots (files or directories), of one graph
    JSON file, or of one history store window (store:PATH@START..END, as topomap diff takes
    it); without INPUT, the bundled samples/shop.

    Opens on 127.0.0.1:8050. Binding any other address needs a token or basic auth.
    """
    serve_map(inputs or [str(samples_dir())], **options)

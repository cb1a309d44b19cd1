"""``create_app(source)``: the Dash app of the map, and ``run`` to serve it.

The page is built per load from the scene cache (:mod:`topomap.web.scene`), so the first map
comes with the page. Every scene of the opening view, with the layout and diff overlay of the
one shown, is warmed before the server starts accepting requests. Dash serves its own scripts
from installed packages only; the assets folder points at a directory that does not exist, so
no URL maps to a file of ours.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import dash
import flask

from topomap.web import auth, callbacks, page, query
from topomap.web import scene as sc
from topomap.web.source import MapSource

#: No such directory: Dash's assets route then serves nothing.
_NO_ASSETS = str(Path(__file__).resolve().parent / "no-assets")


def first_key(source: MapSource, view: str | None) -> sc.SceneKey:
    """The scene to open on: ``view`` if the source has it, else its coarsest-but-one view."""
    if view is not None and view in source.views:
        return sc.SceneKey(view)
    for candidate in ("workload", "namespace", "host"):
        if candidate in source.views:
            return sc.SceneKey(candidate)
    return sc.SceneKey(source.views[0])


def create_app(
    source: MapSource,
    *,
    view: str | None = "workload",
    credentials: auth.Credentials | None = None,
) -> dash.Dash:
    """The Dash app showing ``source``, opening at ``view``."""
    app = dash.Dash(
        __name__,
        title="topomap",
        assets_folder=_NO_ASSETS,
        serve_locally=True,
        update_title=None,  # type: ignore[arg-type]
    )
    app.index_string = page.INDEX
    key = first_key(source, view)
    # warm the opening scene: its layout and, with a baseline, its diff overlay
    query.elements(query.choose(sc.CACHE, source, key, query.Filters()), overlay=True)

    def layout() -> Any:
        return page.build(source, key)

    app.layout = layout
    callbacks.register(app, source)
    server: flask.Flask = app.server
    auth.install(server, credentials or auth.Credentials())

    @server.before_request
    def start_timer() -> None:
        flask.g.topomap_started = time.perf_counter()

    @server.after_request
    def server_timing(response: flask.Response) -> flask.Response:
        started = flask.g.get("topomap_started")
        if started is not None:
            elapsed = (time.perf_counter() - started) * 1000
            response.headers["Server-Timing"] = f"app;dur={elapsed:.1f}"
        return response

    return app

"""Dash entry point: ``python app.py [SNAPSHOT...] [--host H] [--port P] [--view V]``.

Serves the map of the given snapshots (files or directories; the bundled samples/shop when
none are given) on 127.0.0.1:8050 by default. WSGI servers can use ``server`` after calling
:func:`build` themselves; this file only wires the CLI to :func:`topomap.webapp.create_app`.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from topomap import cli, graph, views, webapp


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the topomap map.")
    parser.add_argument("inputs", nargs="*", help="snapshot files or directories")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8050)
    parser.add_argument("--view", choices=views.VIEWS, default="workload")
    args = parser.parse_args(argv)
    if args.host not in ("127.0.0.1", "::1", "localhost"):
        # Serving beyond loopback needs authentication, which the map does not have yet.
        parser.error(f"--host {args.host}: only loopback is allowed until the map has auth")
    loaded = cli.load_snapshots(args.inputs or [str(cli.samples_dir())])
    app = webapp.create_app(graph.build_graph(s.snapshot for s in loaded), view=args.view)
    app.run(host=args.host, port=args.port, debug=False)


if __name__ == "__main__":
    main()

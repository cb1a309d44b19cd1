"""Dash entry point: ``python app.py [INPUT...] [--host H] [--port P] [--view V] ...``.

The same map as ``topomap serve``: snapshot files or directories, one graph JSON file, or a
history store window (``store:PATH@START..END``), the bundled samples/shop when none are given,
on 127.0.0.1:8050 by default; every option of ``topomap serve --help`` applies. This file only
hands its arguments to that command.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from topomap import cli


def main(argv: Sequence[str] | None = None) -> None:
    cli.main(["serve", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    main()

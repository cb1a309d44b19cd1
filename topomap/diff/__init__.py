"""``topomap diff``: what changed between an approved baseline and now.

:mod:`~topomap.diff.normalize` reduces a graph to identities that survive redeploys,
:mod:`~topomap.diff.compare` compares two of them (and their findings),
:mod:`~topomap.diff.render` writes the result, :mod:`~topomap.diff.sides` loads a side from
snapshots, graph JSON, a baseline file or a store window, and :mod:`~topomap.diff.commands`
is the CLI. ``docs/diff.md`` is the user guide.
"""

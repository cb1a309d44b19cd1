"""Observers, one module per source, each behind the small interface in :mod:`collectors.base`.

Collectors import only :mod:`topomap.model` and :mod:`topomap.errors`; the CLI wires them in.
Parsing is kept apart from I/O: :mod:`collectors.cgroup` (and the socket and conntrack table
parsers) are pure functions over the text the kernel exposes, tested without root.
"""

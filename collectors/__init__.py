"""Observers, one module per source, each behind the small interface in :mod:`collectors.base`.

Collectors import only :mod:`topomap.model` and :mod:`topomap.errors`; the CLI wires them in.
``REGISTRY`` lists them explicitly (no scanning): a name maps to its class.
"""

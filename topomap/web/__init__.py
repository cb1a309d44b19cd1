"""The interactive map (``topomap serve``, ``python app.py``, ``topomap demo``).

Only the modules that build the page (:mod:`~topomap.web.app`, :mod:`~topomap.web.page`,
:mod:`~topomap.web.callbacks`, :mod:`~topomap.web.panels`) import dash. The rest is plain
Python over the core and is tested without a browser: :mod:`~topomap.web.source` loads the
inputs, :mod:`~topomap.web.scene` projects, places and indexes one view (cached by input
digest), :mod:`~topomap.web.query` applies search and filters, :mod:`~topomap.web.details`
describes a node or an edge, :mod:`~topomap.web.overlay` compares with a baseline,
:mod:`~topomap.web.auth` guards a server bound beyond loopback, and
:mod:`~topomap.web.commands` is the CLI. Importing this package loads no dash.
"""

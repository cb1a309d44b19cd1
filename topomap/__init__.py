"""topomap: who talks to whom, and does the system boundary hold (SOC 2 CC6.6).

The package is the pure core (model, zones, graph, views, export) plus the CLI that wires the
collectors in. Nothing here needs a cluster or root; it runs on Snapshot files anywhere.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]

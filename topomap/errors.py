"""The error tree every caller can rely on.

Messages say where the problem is (file, line or JSON pointer, field), what was expected and what
to do. The CLI turns any :class:`TopomapError` into one line on stderr and exit code 1.
"""


class TopomapError(Exception):
    """Base of every error topomap raises on purpose."""


class InputError(TopomapError):
    """An input file (snapshot, graph JSON, policy) is unreadable or invalid."""


class SchemaVersionError(InputError):
    """A file was written by a newer topomap than this one, or has an unknown version."""


class CollectorError(TopomapError):
    """A collector could not observe what it was asked to."""


class CollectorUnavailable(CollectorError):
    """Permanent for this run: missing privilege, module or kernel feature."""


class CollectorFailed(CollectorError):
    """Transient: the source answered with an error that a retry may not repeat."""

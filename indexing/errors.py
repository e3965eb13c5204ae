"""Errors raised by the indexing layer for problems a user can fix."""


class IndexingError(ValueError):
    """A bad argument or a missing, damaged or incompatible index on disk.

    The message names the problem and, where there is one, the way out; the
    CLI prints it without a traceback.
    """

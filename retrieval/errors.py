"""Errors raised by the learning layer for problems a user can fix."""

from sklearn.exceptions import NotFittedError

__all__ = ["RetrievalError", "CorpusError", "TrainingError", "NotFittedError"]


class RetrievalError(ValueError):
    """A bad input, option or state that the user can fix.

    The message names the bad value and the valid choices; the CLI prints it
    without a traceback.
    """


class CorpusError(RetrievalError):
    """The corpus cannot be read: missing path, unknown format, wrong fields."""


class TrainingError(RetrievalError):
    """Training could not produce a usable model (for example the loss became NaN)."""

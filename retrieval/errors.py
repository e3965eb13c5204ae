"""Errors raised by the learning layer for problems a user can fix."""

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


class NotFittedError(RetrievalError, AttributeError):
    """A method that needs a fitted or loaded object was called before ``fit`` or ``load``.

    An AttributeError too, as scikit-learn's is, so ``hasattr``-style checks keep working.
    """

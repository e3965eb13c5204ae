"""What a front end (the CLI, the HTTP API, the search page) asks of a text query: its mode and weight, checked
together.

``TextIndex.search`` checks each value on its own; the front ends check them
together first, so that a weight that would be silently ignored (``alpha`` in
semantic or lexical mode) is refused, and so that they know which mode will
answer before it does (``similar_to`` returns a plain list that does not say).
"""

from __future__ import annotations

from retrieval.errors import RetrievalError
from retrieval.text.fusion import check_alpha, check_mode
from retrieval.text.search import BUILT_WITHOUT, NO_LEXICAL, resolve_mode


class ModeUnavailable(RetrievalError):
    """The index cannot answer in the mode asked for (a bundle written before the lexical index existed)."""


def semantic_only(index) -> str | None:
    """Why ``index`` answers in semantic mode only (None: it has a lexical side).

    The index's own note tells a bundle that predates the lexical index from one built with
    ``--no-lexical`` (rebuilding that one as it was would not help).
    """
    if index.lexical_ is not None:
        return None
    return index.load_note_ or (BUILT_WITHOUT if not index.config.lexical.enabled else NO_LEXICAL)


def query_mode(index, mode: str | None = None, alpha: float | None = None, rerank: int = 0) -> str:
    """The mode ``index`` answers a query in, given what the user asked for.

    Parameters
    ----------
    index : TextIndex
    mode : {"hybrid", "semantic", "lexical"}, optional
        None: the index's default (hybrid where it has a lexical side, semantic otherwise or with ``rerank``).
    alpha : float, optional
        Hybrid search's weight of the codes, in [0, 1].
    rerank : int
        Candidates re-ranked by TF-IDF cosine (semantic mode only).

    Returns
    -------
    str
        The mode to pass on to ``search`` or ``similar_to``.

    Raises
    ------
    ModeUnavailable
        Hybrid or lexical asked of an index without a lexical side.
    RetrievalError
        An unknown mode, an ``alpha`` outside [0, 1], ``rerank`` with hybrid or lexical, or
        ``alpha`` with a mode that has nothing to weigh.
    """
    if mode is not None:
        check_mode(mode)
        if mode != "semantic" and index.lexical_ is None:
            raise ModeUnavailable(semantic_only(index))
    check_alpha(alpha)
    resolved = resolve_mode(index, mode, rerank)
    if alpha is not None and resolved != "hybrid":
        if index.lexical_ is None:
            raise ModeUnavailable(semantic_only(index))
        why = " (rerank re-orders the codes' candidates, so it implies semantic)" if rerank and mode is None else ""
        raise RetrievalError(
            f"alpha weighs the codes against BM25 in hybrid mode; it has nothing to weigh in {resolved} mode{why}"
        )
    return resolved


__all__ = ["BUILT_WITHOUT", "ModeUnavailable", "query_mode", "semantic_only"]

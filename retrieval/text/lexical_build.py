"""The lexical (BM25) side of a text build, whichever engine encoded the documents.

``TextIndex.fit`` fills the builder in the pass that encodes the documents. The
Spark engine and ``retrieval index`` read the corpus once more on the driver
(``from_corpus``), checked document for document against the ids that the codes
came with, so that the lexical rows are the index's rows. Every build then
weighs the two sides on its training sample the same way (``TextIndex.weigh``).
"""

from __future__ import annotations

from retrieval.errors import RetrievalError
from retrieval.runtime.analysis import Analyzer
from retrieval.runtime.lexical import LexicalIndex
from retrieval.runtime.lexical_builder import LexicalBuilder

_EXAMPLES = 3


class CorpusMismatch(RetrievalError):
    """The corpus read for the lexical side does not hold the indexed documents in their order."""


def analyzer_of(config) -> Analyzer:
    """The analyzer ``config`` asks for (the vectorizer's stop words: scikit-learn's list, for ``english``)."""
    from retrieval.text.coverage import stop_words

    return Analyzer(config.tfidf.lowercase, stop_words(config.tfidf.stop_words), config.lexical.stemmer)


def builder(config, analyzer: Analyzer | None = None) -> LexicalBuilder | None:
    """A builder of the lexical index ``config`` asks for (None: the config keeps none).

    ``analyzer`` (by default the config's, see ``analyzer_of``) saves importing scikit-learn where it is recorded.
    """
    lexical = config.lexical
    if not lexical.enabled:
        return None
    return LexicalBuilder(analyzer or analyzer_of(config), lexical.k1, lexical.b, lexical.pair_weight)


def from_corpus(config, source, doc_ids, on_progress=None, analyzer: Analyzer | None = None) -> LexicalIndex | None:
    """The lexical index of ``source`` (a stream, read once) whose documents must be ``doc_ids``, in that order.

    None when ``config`` keeps no lexical index (the corpus is not read). A corpus holding other
    documents, or the same in another order, is a ``CorpusMismatch`` naming the first difference.
    """
    from retrieval.text.stream import chunks

    building = builder(config, analyzer)
    if building is None:
        return None
    doc_ids = list(doc_ids)
    at = 0
    for chunk in chunks(source, on_progress=on_progress):
        expected = doc_ids[at : at + len(chunk)]
        if chunk.doc_ids != expected:
            raise _mismatch(source, doc_ids, at, chunk.doc_ids, expected)
        building.add(chunk.texts)
        at += len(chunk)
    if at != len(doc_ids):
        raise CorpusMismatch(
            f"{_where(source)} holds {at:,} documents and the codes {len(doc_ids):,} (the next "
            f"indexed id is {doc_ids[at]!r}): it is not the corpus they were made from; "
            "nothing was written"
        )
    return building.finish()


def _where(source) -> str:
    return f"the corpus {getattr(source, 'path', '(in memory)')}"


def _mismatch(source, doc_ids, at: int, found: list, expected: list) -> CorpusMismatch:
    first = next((i for i, (got, want) in enumerate(zip(found, expected)) if got != want), None)
    if first is None:  # the same documents so far, and the corpus goes on after the indexed ones
        return CorpusMismatch(
            f"{_where(source)} holds more than the {len(doc_ids):,} documents of the codes (its "
            f"document {at + len(expected) + 1:,} is {found[len(expected)]!r}): it is not the corpus "
            "they were made from; nothing was written"
        )
    got, indexed = found[first], set(doc_ids)
    unknown = [doc_id for doc_id in found if doc_id not in indexed][:_EXAMPLES]
    why = (
        f"it holds ids the codes do not have (e.g. {', '.join(map(repr, unknown))})"
        if unknown
        else f"the codes have {got!r} as their document {doc_ids.index(got) + 1:,}"
    )
    return CorpusMismatch(
        f"{_where(source)} does not hold the documents of the codes, in their order: its document "
        f"{at + first + 1:,} is {got!r} where the codes have {expected[first]!r}; {why}; "
        "nothing was written"
    )

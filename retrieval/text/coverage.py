"""How much of new text the saved vocabulary covers: a sign that an index wants rebuilding."""

from __future__ import annotations

from retrieval.runtime.tfidf import TfidfTransform


def stop_words(setting) -> frozenset:
    """The stop words the vectorizer dropped (scikit-learn's English list, imported only here)."""
    if setting != "english":
        return frozenset()
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS)


def word_coverage(texts, transform: TfidfTransform, dropped: frozenset) -> tuple[int, int]:
    """(distinct words, distinct words outside the vocabulary) over ``texts``.

    A word is a token of two or more characters that is not a stop word: what the vectorizer could have
    kept. Counted per document, then summed, so a rare new word in many documents counts often.
    """
    words = unknown = 0
    for text in texts:
        tokens = {t.decode() if isinstance(t, bytes) else t for t in transform._tokens(text)}
        tokens = {t for t in tokens if len(t) > 1 and t not in dropped}
        words += len(tokens)
        unknown += sum(1 for t in tokens if t not in transform.columns)
    return words, unknown

"""A text index's three query modes: ``semantic`` (the codes), ``lexical`` (BM25) and ``hybrid`` (both, fused).

``TextIndex.search`` and ``similar_to`` call these; they need numpy, scipy
and FAISS only. See ``retrieval.text.fusion`` for how the two sides meet.
"""

from __future__ import annotations

import numpy as np

from indexing import Hits
from retrieval.code_index import Hit
from retrieval.errors import RetrievalError
from retrieval.text.fusion import MODES, check_alpha, check_mode, fuse, lowest_score, normalised

NO_LEXICAL = (
    "this index was built before the lexical (BM25) index existed, so it answers in semantic mode "
    "only; rebuild it to enable hybrid and lexical search"
)
BUILT_WITHOUT = (
    "this index was built with --no-lexical, so it answers in semantic mode only; rebuild it "
    "without --no-lexical to enable hybrid and lexical search"
)
# a text of up to this many words is analysed for BM25 before its TF-IDF row is made: if its weight on the codes
# is 0 (by default, up to SHORT_TERMS distinct terms), it needs neither that row nor a code
FEW_WORDS = 30


class HitList(list):
    """The hits of one query, best first, with how many of its terms the index knows and the mode that answered.

    ``known_terms`` = 0 means the query held only stop words or unknown
    terms: nothing can match it, and the list is empty.
    """

    def __init__(self, hits=(), known_terms: int | None = None, mode: str | None = None):
        super().__init__(hits)
        self.known_terms, self.mode = known_terms, mode


def resolve_mode(index, mode, rerank: int = 0) -> str:
    """The mode a query runs in: ``mode``, or hybrid where the index has a lexical side (semantic otherwise,
    and always with ``rerank``, which re-orders the codes' candidates)."""
    if mode is None:
        return "semantic" if rerank or index.lexical_ is None else "hybrid"
    check_mode(mode)
    if mode != "semantic" and index.lexical_ is None:
        raise RetrievalError(index.load_note_ or NO_LEXICAL)
    if mode != "semantic" and rerank:
        raise RetrievalError("rerank re-orders the codes' candidates by TF-IDF cosine: it goes with mode semantic")
    return mode


def search_texts(index, texts: list, k: int, rerank: int, mode: str, alpha) -> list[HitList]:
    """``TextIndex.search`` after its checks: one HitList per text."""
    check_alpha(alpha)
    if mode == "semantic":
        X = index.features(texts)
        return _semantic(index, X, index.transform_.known_terms(X), k, rerank)
    lexical = index.live_lexical()
    results: list = [None] * len(texts)
    term_ids, words, weights = {}, {}, {}

    def analyse(i: int) -> None:
        term_ids[i] = lexical.term_ids(texts[i])
        words[i] = lexical.word_count(term_ids[i])
        weights[i] = _weight(index, words[i], alpha)

    for i, text in enumerate(texts):  # a few words are analysed first: those that weigh nothing on the codes
        if mode == "lexical" or len(text.split()) <= FEW_WORDS:
            analyse(i)
            if mode == "lexical" or weights[i] <= 0:  # BM25's alone, without a TF-IDF row or a code (each costs more)
                results[i] = _bm25_alone(index, lexical, term_ids[i], k, mode, weights[i], None, words[i])
    pending = np.array([i for i in range(len(texts)) if results[i] is None], dtype=np.int64)
    if not len(pending):
        return results
    X = index.features([texts[i] for i in pending])
    known = np.zeros(len(texts), dtype=np.int64)
    known[pending] = index.transform_.known_terms(X)
    rows = np.flatnonzero(known[pending])  # rows of X with a known term: a code each
    coded = pending[rows]
    codes = index.faiss_codes(index.encoder_.encode(X[rows] if len(rows) < len(pending) else X)) if len(rows) else None
    slot = {int(i): j for j, i in enumerate(coded)}
    alone = [
        i for i in coded.tolist() if (weights[i] >= 1 if i in weights else _codes_alone(index, int(known[i]), alpha))
    ]
    if alone:  # whole documents, by default: one FAISS search for all of them, and no text analysis
        for i, hits in zip(alone, index.search_codes(codes[[slot[i] for i in alone]], k)):
            fused = normalised(np.array([hit.score for hit in hits], np.float32), lowest_score(index.index_.metric))
            results[i] = HitList(
                [hit._replace(score=float(f), semantic=hit.score) for hit, f in zip(hits, fused)], int(known[i]), mode
            )
    rest = [i for i in pending.tolist() if results[i] is None]
    depth = max(index.config.lexical.depth, k)
    for i in rest:
        if i not in term_ids:
            analyse(i)
    # the codes propose candidates only where they weigh something: BM25 alone ranks the rest
    asked = [slot[i] for i in rest if i in slot and weights[i] > 0]
    found = index.index_.search(codes[asked], depth) if asked else None
    proposed = {j: (found.positions[row], found.scores[row]) for row, j in enumerate(asked)}
    for i in rest:
        j, weight = slot.get(i), weights[i]
        n_known = max(words[i], int(known[i]))
        if j is None or weight <= 0:  # BM25 alone ranks it
            results[i] = _bm25_alone(
                index, lexical, term_ids[i], k, mode, weight, codes[j] if j is not None else None, n_known
            )
            continue
        fused = _fused(index, codes[j], proposed[j], lexical, term_ids[i], depth, weight)
        results[i] = HitList(
            _hits(index, fused.positions[:k], fused.scores[:k], fused.semantic[:k], fused.lexical[:k]), n_known, mode
        )
    return results


def _weight(index, words: int, alpha) -> float:
    """The codes' weight for a query of ``words`` distinct words: ``alpha``, or the index's for that length."""
    return alpha if alpha is not None else index.fusion_.alpha(words)


def _bm25_alone(index, lexical, term_ids, k: int, mode: str, weight: float, code, n_known: int) -> HitList:
    """A query's hits by BM25 alone: in lexical mode, or hybrid where the codes weigh nothing (their scores are
    given where the query has a ``code``) or the query has no TF-IDF term."""
    positions, scores, _ = lexical.ranked(term_ids, k)
    semantic = index.index_.scores_at(code, positions) if code is not None else None
    fused = scores
    if mode == "hybrid" and len(scores):  # normalised(scores, 0.0) times BM25's weight: the first is the best
        fused = (scores * np.float32(1 / scores[0]) if scores[0] > 0 else np.ones_like(scores)) * np.float32(1 - weight)
    return HitList(_hits(index, positions, fused, semantic, scores), n_known, mode)


def _codes_alone(index, tfidf_terms: int, alpha) -> bool:
    """Whether the codes alone rank a hybrid query, known from its TF-IDF terms (no lexical analysis needed):
    a weight of 1 asked for, or by default a query long enough for ``alpha_long`` = 1 (the lexical side
    knows at least as many of its terms as the TF-IDF vocabulary does)."""
    if alpha is not None:
        return alpha >= 1
    weights = index.fusion_
    return weights.alpha_long >= 1 and tfidf_terms >= weights.long_terms


def pool_of(index, code, proposed, lexical, term_ids, depth: int, skip: int | None = None):
    """A hybrid query's candidates, the union of each side's top ``depth`` (the codes' from ``proposed``, FAISS's
    row of positions and scores for ``code``, -1 where it found none; BM25's from ``lexical`` for the query's
    ``term_ids``; never the position ``skip``), and each side's raw score of them (semantic None without a
    ``code``). FAISS's own scores are kept: only BM25's other candidates have their codes read back."""
    if code is None:
        semantic_top, semantic_scores = np.empty(0, np.int64), np.empty(0, np.float32)
    else:
        positions, scores = proposed
        keep = (positions >= 0) if skip is None else (positions >= 0) & (positions != skip)
        semantic_top, semantic_scores = positions[keep].astype(np.int64), scores[keep]
    lexical_top, top_scores, at_scores = lexical.ranked(term_ids, depth + (skip is not None), at=semantic_top)
    if skip is not None:
        keep = lexical_top != skip
        lexical_top, top_scores = lexical_top[keep][:depth], top_scores[keep][:depth]
    pool, first = np.unique(np.concatenate([semantic_top, lexical_top]), return_index=True)
    bm25 = np.concatenate([at_scores, top_scores])[first]
    if code is None:
        return pool, None, bm25
    semantic = np.empty(len(pool), np.float32)
    scored = first < len(semantic_top)  # FAISS scored these already
    semantic[scored] = semantic_scores[first[scored]]
    semantic[~scored] = index.index_.scores_at(code, pool[~scored])
    return pool, semantic, bm25


def _fused(index, code, proposed, lexical, term_ids, depth: int, alpha: float, skip: int | None = None):
    pool, semantic, bm25 = pool_of(index, code, proposed, lexical, term_ids, depth, skip)
    return fuse(pool, semantic, bm25, alpha, lowest_score(index.index_.metric))


def _hits(index, positions, scores, semantic, lexical) -> list:
    """Hits of positions (best first), each with its fused score and its sides' scores (None where unused)."""
    positions = np.asarray(positions, dtype=np.int64)
    doc_ids, shown, unused = index.index_.id_map.ids(positions), index.shown_rows(), [None] * len(positions)
    return [
        Hit(doc_id, score, *shown[position], s, b)
        for doc_id, score, position, s, b in zip(
            doc_ids,
            np.asarray(scores, np.float32).tolist(),
            positions.tolist(),
            unused if semantic is None else np.asarray(semantic).tolist(),
            unused if lexical is None else np.asarray(lexical).tolist(),
        )
    ]


def _semantic(index, X, known, k: int, rerank: int) -> list[HitList]:
    results = [HitList(known_terms=int(n), mode="semantic") for n in known]
    rows = np.flatnonzero(known)  # a query with no known term matches nothing
    if not len(rows):
        return results
    X = X[rows] if len(rows) < X.shape[0] else X
    codes = index.encoder_.encode(X)
    if not rerank:
        found = index.search_codes(codes, k)
    else:
        shortlist = max(int(rerank), k)
        found = index._hits(rerank_hits(index, index.index_.search(index.faiss_codes(codes), shortlist), X), k=k)
    for row, hits in zip(rows, found):  # the codes' own score is the score, unless TF-IDF cosine re-ranked
        results[row].extend(hits if rerank else [hit._replace(semantic=hit.score) for hit in hits])
    return results


def rerank_hits(index, hits: Hits, X) -> Hits:
    """Re-order each query's candidates by TF-IDF cosine with its row of ``X`` (n_queries, n_features)."""
    positions = np.where(hits.positions >= 0, hits.positions, 0)
    cosines = np.stack([(index._tfidf_at(row) @ X[i].T).toarray().ravel() for i, row in enumerate(positions)]).astype(
        np.float32
    )
    cosines[hits.positions < 0] = -np.inf
    order = np.argsort(-cosines, axis=1, kind="stable")
    positions = np.take_along_axis(hits.positions, order, axis=1)
    return Hits(
        scores=np.take_along_axis(cosines, order, axis=1),
        positions=positions,
        doc_ids=index.index_.id_map.ids(positions),
    )


def similar_doc(index, doc_id: str, k: int, mode: str, alpha) -> list:
    """The ``k`` documents most like an indexed one in ``mode`` (hybrid or lexical), itself left out.

    The document's lexical query is its terms as its TF-IDF row holds them (the index keeps no text).
    """
    check_alpha(alpha)
    position = index.index_.id_map.position(doc_id)
    lexical = index.live_lexical()
    term_ids = index.lexical_terms_of(position)
    depth = max(index.config.lexical.depth, k)
    if mode == "lexical":
        positions, scores, _ = lexical.ranked(term_ids, k + 1)
        keep = positions != position
        positions, scores = positions[keep][:k], scores[keep][:k]
        return _hits(index, positions, scores, None, scores)
    code = index.index_.reconstruct(doc_id)
    found = index.index_.search(code, depth + 1)
    fused = _fused(
        index,
        code,
        (found.positions[0], found.scores[0]),
        lexical,
        term_ids,
        depth,
        _weight(index, lexical.word_count(term_ids), alpha),
        skip=position,
    )
    return _hits(index, fused.positions[:k], fused.scores[:k], fused.semantic[:k], fused.lexical[:k])


__all__ = [
    "BUILT_WITHOUT",
    "HitList",
    "MODES",
    "NO_LEXICAL",
    "pool_of",
    "rerank_hits",
    "resolve_mode",
    "search_texts",
    "similar_doc",
]

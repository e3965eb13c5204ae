"""Choosing hybrid search's weights at build time, on the corpus itself, without asking for labels.

Short queries: a seeded sample of documents each asks for itself with a
pseudo-query drawn from it: its title where it has one of its own, else a
span of ``SPAN_WORDS`` consecutive words. ``alpha_short`` is the weight of the
grid with the highest MRR@10 over them.

Whole documents are ranked by the codes alone (``alpha_long`` = 1), which
the label protocol of ``bench/corpora.py`` measures best: choosing it by
same-label precision of the corpus's own documents as queries did not carry
over to held-out queries (see ``ALPHA_LONG``).

Ties go to the larger weight (more of the codes). Each side's candidates and
raw scores are found once per query; every weight of the grid then only
re-sorts them.
"""

from __future__ import annotations

import numpy as np

from retrieval.text.fusion import FusionWeights, fuse, lowest_score
from retrieval.text.search import pool_of

GRID = tuple(round(step / 10, 1) for step in range(11))
SPAN_WORDS = 6
SHORT_QUERIES = 400
# Whole documents are ranked by the codes alone: on 20 Newsgroups a weight chosen by same-label P@10 of the
# training documents (0.7) lost 0.012 P@100 to the codes alone on the held-out queries (0.615 against 0.627).
ALPHA_LONG = 1.0
# When the pseudo-queries cannot tell the weights apart: the real short queries of the known-item tasks
# (bench/known_item.py) did best between 0.1 and 0.3.
DEFAULT_ALPHA_SHORT = 0.2


def pseudo_query(text: str, title: str, doc_id: str, rng: np.random.Generator) -> str:
    """A short query a document should answer: its own title, else a seeded span of its words ('' if too short)."""
    if title and title != doc_id and len(title.split()) >= 2:
        return title
    words = text.split()
    if len(words) < 2 * SPAN_WORDS:
        return ""
    start = int(rng.integers(0, len(words) - SPAN_WORDS + 1))
    return " ".join(words[start : start + SPAN_WORDS])


def _pools(index, texts, depth: int):
    """Per text: (candidate positions, raw semantic scores or None, raw BM25 scores, distinct terms)."""
    lexical = index.live_lexical()
    X = index.features(texts)
    known = index.transform_.known_terms(X)
    coded = np.flatnonzero(known)
    codes = index.faiss_codes(index.encoder_.encode(X[coded])) if len(coded) else None
    proposed = index.index_.search(codes, depth) if len(coded) else None
    slot = {int(row): j for j, row in enumerate(coded)}
    for i, text in enumerate(texts):
        term_ids = lexical.term_ids(text)
        j = slot.get(i)
        found = (proposed.positions[j], proposed.scores[j]) if j is not None else None
        yield (
            *pool_of(index, codes[j] if j is not None else None, found, lexical, term_ids, depth),
            lexical.word_count(term_ids),
        )


def informative(figures: dict) -> bool:
    """Whether the figures tell the weights apart at all (not so when no pseudo-query was ever found)."""
    return bool(figures) and max(figures.values()) > min(figures.values())


def _best(figures: dict) -> float:
    """The weight with the best figure; ties go to the larger weight."""
    best = max(figures.values())
    return max(alpha for alpha, value in figures.items() if value >= best - 1e-12)


def short_query_mrr(index, queries, targets, depth: int) -> dict:
    """MRR@10 of each weight of ``GRID`` over ``queries`` whose answers are the positions ``targets``."""
    lowest = lowest_score(index.index_.metric)
    reciprocal = {alpha: 0.0 for alpha in GRID}
    for (pool, semantic, lexical, _), target in zip(_pools(index, queries, depth), targets):
        for alpha in GRID:
            ranked = fuse(
                pool,
                semantic if semantic is not None else np.zeros(len(pool), np.float32),
                lexical,
                alpha,
                lowest,
                has_semantic=semantic is not None,
            ).positions[:10]
            hit = np.flatnonzero(ranked == target)
            reciprocal[alpha] += 1.0 / (hit[0] + 1) if len(hit) else 0.0
    return {alpha: total / max(len(targets), 1) for alpha, total in reciprocal.items()}


def choose_weights(index, corpus, seed: int) -> tuple[FusionWeights, dict]:
    """The fusion weights for ``index``, measured on ``corpus`` (the documents it was trained on, all indexed),
    and the figures of every weight of the grid.

    A weight set at build (``config.lexical.alpha``) is used for every query length instead.
    """
    config = index.config.lexical
    if config.alpha != -1:
        return FusionWeights(config.alpha, config.alpha, chosen_by="set at build (--alpha)"), {}
    rng = np.random.default_rng(seed)
    picks = rng.permutation(len(corpus))
    id_map = index.index_.id_map
    queries, targets = [], []
    for i in picks[:SHORT_QUERIES].tolist():
        query = pseudo_query(corpus.texts[i], corpus.titles[i], corpus.doc_ids[i], rng)
        if query:
            queries.append(query)
            targets.append(id_map.position(corpus.doc_ids[i]))
    mrr = short_query_mrr(index, queries, targets, config.depth) if queries else {}
    alpha_short = _best(mrr) if informative(mrr) else DEFAULT_ALPHA_SHORT
    how = (
        f"short: MRR@10 of {len(queries)} pseudo-queries (titles or {SPAN_WORDS}-word spans)"
        if informative(mrr)
        else f"short: the default {DEFAULT_ALPHA_SHORT} (pseudo-queries told the weights apart not at all)"
    )
    how += "; whole documents: the codes alone"
    figures = {"short_mrr_at_10": {str(a): round(v, 4) for a, v in mrr.items()}}
    return FusionWeights(alpha_short, ALPHA_LONG, chosen_by=how), figures

"""Hybrid search: the codes' candidates and BM25's, fused by a convex combination of normalised scores.

Candidates are the union of each side's top ``depth``; both scores are then
known exactly for every candidate (the codes' by the stored code, BM25's from
the query's postings). Scores are normalised per query as Bruch, Gai and
Ingber's theoretical min-max ("An Analysis of Fusion Functions for Hybrid
Retrieval", TOIS 2023): from the metric's lowest possible score (BM25 0,
cosine -1, the fraction of agreeing bits 0) to the query's best. The fused
score is ``alpha * codes + (1 - alpha) * bm25``.

``alpha`` depends on the query's length: a few words lean on BM25, a whole
document on the codes. ``FusionWeights`` holds the two ends, chosen at build
time on the corpus itself (``retrieval.text.weights``), and interpolates
between them on the log of the number of distinct query terms.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from retrieval.errors import RetrievalError

MODES = ("hybrid", "semantic", "lexical")
# up to SHORT_TERMS distinct terms: alpha_short; from LONG_TERMS: alpha_long. With 10 and 40, R8's test documents
# as queries lost 0.0066 P@100 to the codes alone (a third of them have fewer than 40 terms); with 5 and 15,
# 0.0009, and the known-item tasks (queries of 2 to 10 words) moved by -0.0002 to +0.0026 MRR@10
SHORT_TERMS, LONG_TERMS = 5, 15


def check_mode(mode) -> None:
    if mode not in MODES:
        raise RetrievalError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")


def check_alpha(alpha) -> None:
    """``alpha`` (the codes' weight) must be None (the index's own) or a number in [0, 1]."""
    if alpha is None:
        return
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 <= alpha <= 1:
        raise RetrievalError(f"alpha must be a weight in [0, 1] (1 = codes only, 0 = BM25 only); got {alpha!r}")


@dataclass(frozen=True)
class FusionWeights:
    """The codes' weight for short and long queries, and how it was chosen (written into the manifest)."""

    alpha_short: float
    alpha_long: float
    chosen_by: str = "default"
    short_terms: int = SHORT_TERMS
    long_terms: int = LONG_TERMS

    def __post_init__(self):
        for alpha in (self.alpha_short, self.alpha_long):
            check_alpha(alpha)
            if alpha is None:
                raise RetrievalError("a fusion weight is missing (null)")
        terms = (self.short_terms, self.long_terms)
        if not all(isinstance(t, int) and not isinstance(t, bool) for t in terms) or not 0 < terms[0] < terms[1]:
            raise RetrievalError(f"short_terms and long_terms must be whole numbers with 0 < short < long; got {terms}")
        if not isinstance(self.chosen_by, str):
            raise RetrievalError(f"chosen_by must be text; got {self.chosen_by!r}")

    def alpha(self, n_terms: int) -> float:
        """The weight for a query of ``n_terms`` distinct terms."""
        if n_terms <= self.short_terms:
            return self.alpha_short
        if n_terms >= self.long_terms:
            return self.alpha_long
        share = math.log(n_terms / self.short_terms) / math.log(self.long_terms / self.short_terms)
        return self.alpha_short + share * (self.alpha_long - self.alpha_short)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data) -> "FusionWeights":
        try:
            return cls(
                **{
                    key: data[key]
                    for key in ("alpha_short", "alpha_long", "chosen_by", "short_terms", "long_terms")
                    if key in data
                }
            )
        except (TypeError, RetrievalError) as err:
            raise RetrievalError(f"the manifest's fusion weights are malformed ({err})") from None


@dataclass(frozen=True)
class Fused:
    """One query's fused candidates, best first: positions, fused scores and each side's raw score."""

    positions: np.ndarray  # (n,) int64
    scores: np.ndarray  # (n,) float32, the fused score
    semantic: np.ndarray  # (n,) float32, the codes' score (cosine, -squared distance or agreeing bits)
    lexical: np.ndarray  # (n,) float32, BM25 (0 when no term is shared)


def normalised(scores: np.ndarray, lowest: float | None) -> np.ndarray:
    """Theoretical min-max: ``lowest`` (None: the smallest here) maps to 0 and the best score to 1."""
    if not len(scores):
        return scores.astype(np.float32)
    low = float(scores.min()) if lowest is None else lowest
    span = float(scores.max()) - low
    return ((scores - low) / span).astype(np.float32) if span > 0 else np.ones_like(scores, dtype=np.float32)


def candidates(semantic_top: np.ndarray, lexical_top: np.ndarray) -> np.ndarray:
    """The union of both sides' proposals, int64, increasing."""
    return np.union1d(semantic_top.astype(np.int64), lexical_top.astype(np.int64))


def fuse(positions, semantic, lexical, alpha: float, lowest: float | None, has_semantic: bool = True) -> Fused:
    """Rank candidate ``positions`` by ``alpha`` * normalised codes + (1 - alpha) * normalised BM25.

    ``semantic`` and ``lexical`` are each candidate's raw scores; ``lowest`` the codes' lowest possible
    score (None: the lowest among the candidates). Without a semantic side (the query shares no term with
    the codes' vocabulary) BM25 alone orders them.
    """
    semantic_part = normalised(semantic, lowest) if has_semantic else np.zeros(len(positions), np.float32)
    lexical_part = (
        normalised(lexical, 0.0) if len(lexical) and lexical.max() > 0 else np.zeros(len(positions), np.float32)
    )
    scores = (np.float32(alpha) * semantic_part + np.float32(1 - alpha) * lexical_part).astype(np.float32)
    order = np.lexsort((positions, -scores))  # ties: the earlier document first
    return Fused(positions[order], scores[order], semantic[order].astype(np.float32), lexical[order].astype(np.float32))


def lowest_score(metric: str) -> float | None:
    """The lowest score a metric can give: cosine -1, agreeing bits 0; l2 has none (the candidates' lowest)."""
    return {"cosine": -1.0, "hamming": 0.0}.get(metric)

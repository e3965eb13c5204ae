"""The shapes of requests and answers, for validation and for the OpenAPI docs at ``/docs``."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

Mode = Literal["hybrid", "semantic", "lexical"]
MODE_HELP = (
    "hybrid (the codes and BM25, fused), semantic (the codes alone) or lexical (BM25 alone); by default "
    "hybrid, or semantic for an index built without a lexical index or with rerank. Hybrid or lexical asked "
    "of such an index is a 409."
)
ALPHA_HELP = (
    "Hybrid mode's weight of the codes in [0, 1] (1 = codes only, 0 = BM25 only); by default the index's "
    "own, chosen at build for the query's length. Only with mode hybrid."
)


def _whole(value):
    """``40.0`` as ``40``: JSON Schema's integer is any whole number, however written; the rest is checked strictly."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        return int(value)
    return value


WholeNumber = Annotated[int, BeforeValidator(_whole)]


class BatchRequest(BaseModel):
    """``POST /search``: several queries encoded as one batch."""

    model_config = ConfigDict(extra="forbid", strict=True)

    queries: list[str] = Field(
        description="Query texts, at most --max-batch of them.",
        examples=[["nasa launched the space shuttle", "my hard drive will not boot"]],
    )
    k: WholeNumber = Field(10, description="Hits per query, 1 to --max-k.")
    rerank: WholeNumber = Field(0, description="Re-rank the codes' first N candidates by TF-IDF cosine (0 = off).")
    mode: Mode | None = Field(None, description=MODE_HELP)
    alpha: float | None = Field(None, ge=0, le=1, description=ALPHA_HELP)
    index: str | None = Field(None, description="Which served index (default: the first).")


class HitModel(BaseModel):
    id: str
    score: float = Field(
        description="Higher is more similar. Semantic mode: cosine for float codes, the fraction "
        "of equal bits for binary ones, TF-IDF cosine with rerank; lexical: BM25; "
        "hybrid: the fused score in [0, 1]."
    )
    title: str
    label: str | None
    snippet: str
    semantic_score: float | None = Field(
        description="Hybrid and semantic modes: the codes' own score of the hit "
        "(null in lexical mode, with rerank, and where the query has no "
        "term the codes know)."
    )
    lexical_score: float | None = Field(description="Hybrid and lexical modes: BM25 (0 where no term is shared).")


class SearchResponse(BaseModel):
    query: str
    known_terms: int = Field(description="Query terms the index knows; 0 means nothing can match.")
    mode: Mode = Field(description="The mode that answered.")
    hits: list[HitModel]


class BatchResponse(BaseModel):
    results: list[SearchResponse]


class SimilarResponse(BaseModel):
    id: str = Field(description="The document whose neighbours these are (left out of the hits).")
    mode: Mode = Field(description="The mode that answered.")
    hits: list[HitModel]


class DocumentResponse(BaseModel):
    id: str
    title: str
    label: str | None
    snippet: str


class HealthResponse(BaseModel):
    status: str = Field(description="ok; or degraded while a rebuilt directory cannot be loaded (see reload_error).")
    index: str
    generation: str = Field(description="Identifies the loaded build; changes when the directory is rebuilt.")
    documents: int
    loaded_at: float = Field(description="When this generation was loaded (Unix time).")
    reload_error: str | None = Field(
        description="Why a rebuilt directory could not be loaded (the previous "
        "generation goes on answering; it is tried again after 1, 2, 4 … "
        "60 s); without the API key, paths are replaced by the index name."
    )


class ErrorResponse(BaseModel):
    error: str = Field(description="What was wrong, in one line.")

"""The shapes of requests and answers, for validation and for the OpenAPI docs at ``/docs``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class BatchRequest(BaseModel):
    """``POST /search``: several queries encoded as one batch."""

    model_config = ConfigDict(extra="forbid", strict=True)

    queries: list[str] = Field(description="Query texts, at most --max-batch of them.",
                               examples=[["nasa launched the space shuttle", "my hard drive will not boot"]])
    k: int = Field(10, description="Hits per query, 1 to --max-k.")
    rerank: int = Field(0, description="Re-rank the codes' first N candidates by TF-IDF cosine (0 = off).")
    index: str | None = Field(None, description="Which served index (default: the first).")


class HitModel(BaseModel):
    id: str
    score: float = Field(description="Higher is more similar: cosine for float codes, the fraction of equal "
                                     "bits for binary ones, TF-IDF cosine with rerank.")
    title: str
    label: str | None
    snippet: str


class SearchResponse(BaseModel):
    query: str
    known_terms: int = Field(description="Query terms the vocabulary knows; 0 means nothing can match.")
    hits: list[HitModel]


class BatchResponse(BaseModel):
    results: list[SearchResponse]


class SimilarResponse(BaseModel):
    id: str = Field(description="The document whose neighbours these are (left out of the hits).")
    hits: list[HitModel]


class DocumentResponse(BaseModel):
    id: str
    title: str
    label: str | None
    snippet: str


class HealthResponse(BaseModel):
    status: str
    index: str
    generation: str = Field(description="Identifies the loaded build; changes when the directory is rebuilt.")
    documents: int
    loaded_at: float = Field(description="When this generation was loaded (Unix time).")
    reload_error: str | None = Field(description="Why a rebuilt directory could not be loaded (the previous "
                                                 "generation goes on answering).")


class ErrorResponse(BaseModel):
    error: str = Field(description="What was wrong, in one line.")

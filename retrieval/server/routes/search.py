"""Search by text (one query or a batch), by an indexed document, and a document's metadata."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from retrieval.code_index import query_json
from retrieval.server.body import parse_batch
from retrieval.server.errors import ApiError, json_list_response, json_response, validation_message
from retrieval.server.schemas import (
    ALPHA_HELP,
    MODE_HELP,
    BatchRequest,
    BatchResponse,
    DocumentResponse,
    ErrorResponse,
    Mode,
    SearchResponse,
    SimilarResponse,
)
from retrieval.server.state import ServedIndexes, document_meta, headers_for, served

router = APIRouter(tags=["search"])
ERRORS = {status: {"model": ErrorResponse} for status in (400, 401, 404, 409, 413, 414, 415, 431)}
IndexParam = Query(None, description="Which served index (default: the first).")
KParam = Query(10, description="Hits to return, 1 to --max-k.")
RerankParam = Query(0, description="Re-rank the codes' first N candidates by TF-IDF cosine (0 = off).")
ModeParam = Query(None, description=MODE_HELP)
AlphaParam = Query(None, ge=0, le=1, description=ALPHA_HELP)
BATCH_BODY = {
    "requestBody": {"required": True, "content": {"application/json": {"schema": BatchRequest.model_json_schema()}}}
}


@router.get("/search", response_model=SearchResponse, responses=ERRORS)
async def search(
    q: str | None = Query(None, description="The query text."),
    k: int = KParam,
    rerank: int = RerankParam,
    mode: Mode | None = ModeParam,
    alpha: float | None = AlphaParam,
    index: str | None = IndexParam,
    state: ServedIndexes = Depends(served),
):
    """The documents most similar to the text ``q``, best first, and the mode that answered."""
    state.check_query(q, limit=state.get_query_bytes)
    state.check_k(k)
    state.check_rerank(rerank)
    live, generation = state.generation(index)
    mode = state.mode_for(generation, mode, alpha, rerank)
    hits = generation.index.search([q], k, rerank=rerank, mode=mode, alpha=alpha)[0]
    return json_response(query_json(q, hits), headers=headers_for(live, generation))


@router.post("/search", response_model=BatchResponse, responses=ERRORS, openapi_extra=BATCH_BODY)
async def search_batch(request: Request, state: ServedIndexes = Depends(served)):
    """Several queries, encoded as one batch: ``{"queries": [...], "k": 10}`` (and optionally ``mode``, ``alpha``)."""
    payload = await parse_batch(
        request, state.config.max_body_bytes, state.config.max_batch, state.config.max_query_bytes
    )
    try:
        batch = BatchRequest.model_validate(payload)
    except ValidationError as err:
        raise ApiError(
            400, f'the body does not fit {{"queries": ["..."], "k": 10}}: {validation_message(err.errors())}'
        ) from None
    if not batch.queries:
        raise ApiError(400, "queries is empty: give at least one query text")
    for number, text in enumerate(batch.queries):
        state.check_query(text, f"queries[{number}]")
    state.check_k(batch.k)
    state.check_rerank(batch.rerank)
    live, generation = state.generation(batch.index)
    mode = state.mode_for(generation, batch.mode, batch.alpha, batch.rerank)

    def answer():
        found = generation.index.search(batch.queries, batch.k, batch.rerank, mode, batch.alpha)
        results = (query_json(text, hits) for text, hits in zip(batch.queries, found))
        return json_list_response("results", results, headers=headers_for(live, generation))

    # a batch, its answer and the answer's JSON (megabytes for 64 queries of 100 hits) take milliseconds: off
    # the event loop, so that /health and single queries keep flowing
    return await run_in_threadpool(answer)


@router.get("/similar/{doc_id:path}", response_model=SimilarResponse, responses=ERRORS)
async def similar(
    doc_id: str,
    k: int = KParam,
    rerank: int = RerankParam,
    mode: Mode | None = ModeParam,
    alpha: float | None = AlphaParam,
    index: str | None = IndexParam,
    state: ServedIndexes = Depends(served),
):
    """The documents most similar to the indexed document ``doc_id``, which is left out, and the mode that answered."""
    state.check_k(k)
    state.check_rerank(rerank)
    live, generation = state.generation(index)
    document_meta(generation, doc_id)  # a 404 for an unknown id
    mode = state.mode_for(generation, mode, alpha, rerank)
    hits = generation.index.similar_to(doc_id, k, rerank=rerank, mode=mode, alpha=alpha)
    body = {"id": doc_id, "mode": mode, "hits": [hit.to_json() for hit in hits]}
    return json_response(body, headers=headers_for(live, generation))


@router.get("/documents/{doc_id:path}", response_model=DocumentResponse, responses=ERRORS)
async def document(doc_id: str, index: str | None = IndexParam, state: ServedIndexes = Depends(served)):
    """What the index keeps of a document: its title, label and snippet."""
    live, generation = state.generation(index)
    meta = document_meta(generation, doc_id)
    body = {"id": doc_id, "title": meta["title"], "label": meta.get("label"), "snippet": meta["snippet"]}
    return json_response(body, headers=headers_for(live, generation))

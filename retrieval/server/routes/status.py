"""What the server holds: ``/info`` (the manifest, as ``retrieval info --json``) and ``/health``."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request

from retrieval.server.errors import json_response
from retrieval.server.openapi import limits
from retrieval.server.schemas import ErrorResponse, HealthResponse
from retrieval.server.state import ServedIndexes, headers_for, served

router = APIRouter(tags=["status"])
IndexParam = Query(None, description="Which served index (default: the first).")


@router.get("/info", responses={404: {"model": ErrorResponse}})
async def info(index: str | None = IndexParam, state: ServedIndexes = Depends(served)):
    """The index's manifest: its config, sizes, files and checksums, as ``retrieval info --json`` prints it; and
    ``server_limits``, every limit this server puts on a request."""
    live, generation = state.generation(index)
    body = {**generation.index.manifest_, "server_limits": limits(state.config)}
    return json_response(body, headers=headers_for(live, generation))


@router.get("/health", response_model=HealthResponse, responses={404: {"model": ErrorResponse}})
async def health(request: Request, index: str | None = IndexParam, state: ServedIndexes = Depends(served)):
    """200 while the server answers, with the generation of the index that answers: status ``ok``, or
    ``degraded`` while a rebuilt directory cannot be loaded (``reload_error`` says why; it is retried)."""
    with_paths = state.config.api_key is None or getattr(request.state, "keyed", False)
    live, generation = state.generation(index, reveal=with_paths)
    body = {
        "status": "degraded" if live.reload_error else "ok",
        "index": live.name,
        "generation": generation.id,
        "documents": len(generation.index.index_),
        "loaded_at": round(generation.loaded_at, 3),
        "reload_error": live.shown_error(with_paths),
    }
    return json_response(body, headers=headers_for(live, generation))

"""What the server holds: ``/info`` (the manifest, as ``retrieval info --json``) and ``/health``."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from retrieval.server.errors import json_response
from retrieval.server.schemas import ErrorResponse, HealthResponse
from retrieval.server.state import Served, headers_for, served

router = APIRouter(tags=["status"])
IndexParam = Query(None, description="Which served index (default: the first).")


@router.get("/info", responses={404: {"model": ErrorResponse}})
async def info(index: str | None = IndexParam, state: Served = Depends(served)):
    """The index's manifest: its config, sizes, files and checksums, as ``retrieval info --json`` prints it."""
    live, generation = state.generation(index)
    return json_response(generation.index.manifest_, headers=headers_for(live, generation))


@router.get("/health", response_model=HealthResponse, responses={404: {"model": ErrorResponse}})
async def health(index: str | None = IndexParam, state: Served = Depends(served)):
    """200 while the server answers, with the generation of the index that answers."""
    live, generation = state.generation(index)
    body = {"status": "ok", "index": live.name, "generation": generation.id, "documents": len(generation.index.index_),
            "loaded_at": round(generation.loaded_at, 3), "reload_error": live.reload_error}
    return json_response(body, headers=headers_for(live, generation))

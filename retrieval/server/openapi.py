"""The OpenAPI description with this server's limits in it, so that generated clients and fuzzers see them.

The routes are declared once for every server, but ``--max-k``, ``--max-batch``
and the other limits are each server's own: they are written into the schema
when it is first asked for (``minLength``, ``maximum``, ``maxItems``, …).
"""

from __future__ import annotations

import copy

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from retrieval.config import ServeConfig
from retrieval.server.body import MAX_DEPTH, structure_limit
from retrieval.server.protocol import MAX_HEADER_BYTES, MAX_HEADERS, MAX_URL_BYTES
from retrieval.server.state import GET_QUERY_BYTES, NONBLANK


def limits(config: ServeConfig) -> dict:
    """Every limit the server enforces on a request, by name (in ``/info`` and the README)."""
    return {
        "max_k": config.max_k,
        "max_rerank": config.max_rerank,
        "max_query_bytes": config.max_query_bytes,
        "max_get_query_bytes": min(config.max_query_bytes, GET_QUERY_BYTES),
        "max_batch": config.max_batch,
        "max_body_bytes": config.max_body_bytes,
        "max_body_structure_bytes": structure_limit(config.max_batch),
        "max_body_depth": MAX_DEPTH,
        "max_url_bytes": MAX_URL_BYTES,
        "max_header_bytes": MAX_HEADER_BYTES,
        "max_headers": MAX_HEADERS,
    }


def _query_text(max_bytes: int) -> dict:
    # maxLength counts characters, the limit UTF-8 bytes: a longer string is always refused, a shorter one may be
    return {"type": "string", "minLength": 1, "maxLength": max_bytes, "pattern": NONBLANK}


def _constrain(schema: dict, name: str, config: ServeConfig) -> None:
    if name == "k":
        schema.update(minimum=1, maximum=config.max_k)
    elif name == "rerank":
        schema.update(minimum=0, maximum=config.max_rerank)


def with_limits(document: dict, config: ServeConfig) -> dict:
    """A copy of ``document`` (an OpenAPI dict) with ``config``'s limits on every parameter and the batch body."""
    document = copy.deepcopy(document)  # its schemas may be the routes' own dicts, shared by every app
    for path, operations in document.get("paths", {}).items():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                _constrain(parameter["schema"], parameter["name"], config)
                if path == "/search" and parameter["name"] == "q":
                    parameter["required"] = True
                    text = _query_text(min(config.max_query_bytes, GET_QUERY_BYTES))
                    parameter["schema"] = {**text, "description": parameter["schema"].get("description")}
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            if body and "queries" in body.get("properties", {}):
                properties = body["properties"]
                properties["queries"].update(
                    minItems=1, maxItems=config.max_batch, items=_query_text(config.max_query_bytes)
                )
                for name, schema in properties.items():
                    _constrain(schema, name, config)
    return document


def install(app: FastAPI, config: ServeConfig) -> None:
    """Make ``app.openapi()`` (and ``/openapi.json``) return the description with ``config``'s limits."""

    def openapi() -> dict:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            app.openapi_schema = with_limits(document, config)
        return app.openapi_schema

    app.openapi = openapi

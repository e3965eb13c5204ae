"""Every failure as a JSON ``{"error": "..."}`` that names the problem: 4xx for the request, never a traceback."""

from __future__ import annotations

import json
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import Match

log = logging.getLogger("retrieval.server")


class ApiError(Exception):
    """A request the server refuses: an HTTP status and a message for the client."""

    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers


def json_response(payload, status: int = 200, headers: dict | None = None) -> Response:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def json_list_response(key: str, items, headers: dict | None = None) -> Response:
    """``{key: items}`` as JSON, each item serialised on its own: json.dumps holds the GIL for the whole of one
    call, and a batch's answer is megabytes (a thread serialising it would keep /health waiting)."""
    parts = [json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode() for item in items]
    body = b"".join([b'{"', key.encode(), b'":[', b",".join(parts), b"]}"])
    return Response(body, media_type="application/json", headers=headers)


def error_response(status: int, message: str, headers: dict | None = None) -> Response:
    return json_response({"error": message}, status, headers)


SHOWN_ERRORS = 3  # a body of many bad items is refused with a few of its errors, not an echo of all of them
SHOWN_INPUT = 80  # characters of a refused value quoted back


def validation_message(errors, located: bool = False) -> str:
    """Pydantic's errors as one line: ``k: Input should be a valid integer (got 'ten')``, the first
    ``SHOWN_ERRORS`` of them and how many more there are.

    ``located``: FastAPI's errors, whose location starts with where the value was (query, path, body).
    """
    parts = []
    for error in errors[:SHOWN_ERRORS]:
        loc = tuple(error.get("loc", ()))[1 if located else 0 :]
        where = ".".join(str(part) for part in loc)
        got = ""
        if "input" in error and not isinstance(error["input"], (dict, list)):
            got = repr(error["input"])
            got = f" (got {got[:SHOWN_INPUT] + '…' if len(got) > SHOWN_INPUT else got})"
        parts.append(f"{where or 'request'}: {error.get('msg', 'invalid')}{got}")
    if len(errors) > SHOWN_ERRORS:
        parts.append(f"and {len(errors) - SHOWN_ERRORS:,} more")
    return "; ".join(parts)


def allowed_methods(app, scope) -> list[str]:
    """Every method some route of ``app`` takes on ``scope``'s path (HEAD wherever GET: the guard answers it)."""

    def takes(method: str) -> bool:
        probe = {**scope, "method": "GET" if method == "HEAD" else method}
        return any(route.matches(probe)[0] == Match.FULL for route in app.router.routes)

    return [method for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE") if takes(method)]


def install(app: FastAPI) -> None:
    """Route every exception to a JSON error; unknown failures are logged and answered 500 without detail."""

    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError):
        return error_response(error.status, error.message, error.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError):
        return error_response(400, validation_message(error.errors(), located=True))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException):
        if error.status_code == 405:
            # Starlette's Allow names the methods of the first route on the path, not of every route there
            allow = {"Allow": ", ".join(allowed_methods(request.app, request.scope))}
            if request.method == "OPTIONS":
                return Response(status_code=204, headers=allow)
            return error_response(
                405,
                f"{request.method} is not allowed on {request.url.path}; it takes {allow['Allow']} (see /docs)",
                allow,
            )
        message = str(error.detail)
        if error.status_code == 404:
            message = f"no such endpoint: {request.method} {request.url.path} (see /docs)"
        return error_response(error.status_code, message, getattr(error, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception):
        log.exception("internal error answering %s %s", request.method, request.url.path)
        return error_response(500, "internal error; the server's log has the details")

"""Checks made before any route runs: the protocol's limits (``retrieval.server.protocol``), the URL is UTF-8, and
the API key when one is set; HEAD answered as GET without the body (probes and link checkers send it to the read
endpoints); and every answer, an error too, stamped with the index generation."""

from __future__ import annotations

import base64
import hmac
import re
from urllib.parse import unquote_to_bytes

from retrieval.server.errors import error_response

OPEN_PATHS = ("/health",)  # answered without the key, for load balancers and probes
_QUERY_SEPARATORS = re.compile(rb"[&=;]")


def url_problem(scope) -> str | None:
    """Why the path or query string is not UTF-8 once percent-decoded, or None."""
    try:
        unquote_to_bytes(scope.get("raw_path") or scope["path"].encode()).decode("utf-8")
        for part in _QUERY_SEPARATORS.split(scope.get("query_string", b"")):
            unquote_to_bytes(part.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        return "the URL holds bytes that are not UTF-8; percent-encode the query text as UTF-8"
    return None


def presented_key(headers: dict) -> bytes | None:
    """The key from ``X-API-Key``, ``Authorization: Bearer KEY`` or Basic auth (any user name, the key as password)."""
    if b"x-api-key" in headers:
        return headers[b"x-api-key"]
    scheme, _, value = headers.get(b"authorization", b"").partition(b" ")
    if scheme.lower() == b"bearer":
        return value.strip()
    if scheme.lower() == b"basic":
        try:
            return base64.b64decode(value.strip(), validate=True).partition(b":")[2]
        except ValueError:
            return None
    return None


class Guard:
    """ASGI middleware: refuse what the protocol marked (414, 431), a non-UTF-8 URL (400) and, with ``api_key``,
    a request without it (401); add ``stamp(scope)``'s headers to every answer that lacks them."""

    def __init__(self, app, api_key: str | None, stamp=None):
        self.app = app
        self.key = api_key.encode() if api_key else None
        self.stamp = stamp

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if self.stamp is not None:
            send = _stamped(send, lambda: self.stamp(scope))
        refused = scope.get("state", {}).get("refused")
        if refused:
            return await error_response(*refused)(scope, receive, send)
        problem = url_problem(scope)
        if problem:
            return await error_response(400, problem)(scope, receive, send)
        if self.key is not None:
            given = presented_key(dict(scope["headers"]))
            # compare_digest takes the same time wherever the strings differ
            keyed = given is not None and hmac.compare_digest(given, self.key)
            scope.setdefault("state", {})["keyed"] = keyed  # what an open path may show (request.state.keyed)
            if not keyed and scope["path"] not in OPEN_PATHS:
                message = "this server needs an API key: send it as X-API-Key or Authorization: Bearer"
                if given is not None:
                    message = "the API key is wrong"
                headers = {"WWW-Authenticate": 'Basic realm="retrieval", charset="UTF-8"'}
                return await error_response(401, message, headers)(scope, receive, send)
        if scope["method"] == "HEAD":
            return await self.app({**scope, "method": "GET"}, receive, _headers_only(send))
        return await self.app(scope, receive, send)


def _stamped(send, headers):
    """``send`` that adds ``headers()`` to a response's start unless the route set them; called only then, so a
    search, whose route sets them, pays nothing for it."""

    async def stamping(message):
        if message["type"] == "http.response.start":
            present = {name.lower() for name, _ in message.get("headers", [])}
            if b"x-index-generation" in present:
                return await send(message)
            extra = [(name, value) for name, value in headers() if name not in present]
            if extra:
                message = {**message, "headers": [*message.get("headers", []), *extra]}
        await send(message)

    return stamping


def _headers_only(send):
    """``send`` that passes a response's start (status, headers, Content-Length) and drops its body."""

    async def passing(message):
        if message["type"] == "http.response.body":
            if message.get("more_body", False):
                return
            message = {"type": "http.response.body", "body": b"", "more_body": False}
        await send(message)

    return passing

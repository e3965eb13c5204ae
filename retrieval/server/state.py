"""What every route shares: the served indexes, the limits, and the checks of request values."""

from __future__ import annotations

import re
from urllib.parse import unquote_to_bytes

from fastapi import Request

from retrieval.config import ServeConfig
from retrieval.server.errors import ApiError
from retrieval.server.live import Generation, LiveIndex

GENERATION_HEADER = "X-Index-Generation"
GET_QUERY_BYTES = 60_000  # below the protocol's 65,535-byte URL, with room for the other parameters
# a query holds at least one character that is not white space (str.isspace), spelt out rather than as \S,
# whose meaning differs between regex engines (Python's takes U+0085 and U+001C as space, JavaScript's does not)
NONBLANK = r"[^\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
_NONBLANK = re.compile(NONBLANK)


class ServedIndexes:
    """The live indexes by name (the first is the default) and the server's config."""

    def __init__(self, indexes: dict[str, LiveIndex], config: ServeConfig):
        if not indexes:
            raise ValueError("serve at least one index")
        self.indexes, self.config = indexes, config
        self.default = next(iter(indexes))

    def live(self, name: str | None, reveal: bool = True) -> LiveIndex:
        """The index called ``name`` (None: the default); 404 if there is none, naming the served ones when
        ``reveal`` (not to a client without the key)."""
        if name is None or name == "":
            return self.indexes[self.default]
        try:
            return self.indexes[name]
        except KeyError:
            served = f"; this server has {', '.join(map(repr, self.indexes))}" if reveal else ""
            raise ApiError(404, f"no index named {name!r}{served}") from None

    def generation(self, name: str | None, reveal: bool = True) -> tuple[LiveIndex, Generation]:
        live = self.live(name, reveal)
        return live, live.current  # read once: the whole answer comes from this generation

    def stamp(self, scope) -> list[tuple[bytes, bytes]]:
        """The generation headers of the index a request names in its query string (the default if it names
        none, or none that is served), for answers whose route did not set them: errors, pages, the docs."""
        name = None
        for part in scope.get("query_string", b"").split(b"&"):
            key, _, value = part.partition(b"=")
            if key == b"index":
                name = unquote_to_bytes(value.replace(b"+", b" ")).decode("utf-8", "replace")
        live = self.indexes.get(name) or self.indexes[self.default]
        return [(GENERATION_HEADER.lower().encode(), live.current.id.encode()), (b"x-index-name", live.name.encode())]

    def check_k(self, k: int) -> None:
        if k < 1 or k > self.config.max_k:
            raise ApiError(400, f"k must be from 1 to {self.config.max_k} (the server's --max-k); got {k}")

    def check_rerank(self, rerank: int) -> None:
        if rerank < 0 or rerank > self.config.max_rerank:
            raise ApiError(
                400,
                f"rerank must be from 0 (off) to {self.config.max_rerank} (the server's --max-rerank); got {rerank}",
            )

    @staticmethod
    def mode_for(generation: Generation, mode: str | None, alpha: float | None, rerank: int = 0) -> str:
        """The mode ``generation`` answers in: 400 for a bad mode, alpha or mix of them; 409 for hybrid or
        lexical asked of an index built before the lexical index existed (a rebuild, not the request, fixes it)."""
        from retrieval.errors import RetrievalError
        from retrieval.text.query_mode import ModeUnavailable, query_mode

        try:
            return query_mode(generation.index, mode, alpha, rerank)
        except ModeUnavailable as err:
            raise ApiError(409, str(err)) from None
        except RetrievalError as err:
            raise ApiError(400, str(err)) from None

    @property
    def get_query_bytes(self) -> int:
        """The longest ``q`` of a ``GET``: what a URL has room for (longer text goes in a ``POST`` body)."""
        return min(self.config.max_query_bytes, GET_QUERY_BYTES)

    def check_query(self, text: str | None, what: str = "q", limit: int | None = None) -> str:
        if text is None:
            raise ApiError(400, f"{what} is missing: give the query text, e.g. /search?q=space+shuttle")
        if not _NONBLANK.search(text):  # the schema's pattern, so that both call the same texts empty
            raise ApiError(400, f"{what} is empty: give the query text")
        try:
            size = len(text.encode("utf-8"))
        except UnicodeEncodeError:  # a lone surrogate, which JSON's \ud800 escapes can carry
            raise ApiError(400, f"{what} is not valid Unicode (it holds a lone surrogate)") from None
        if limit is not None and limit < self.config.max_query_bytes and size > limit:
            raise ApiError(
                414,
                f"{what} is {size:,} bytes; a URL has room for {limit:,}: send longer text as "
                'POST /search with {"queries": ["..."]}',
            )
        if size > self.config.max_query_bytes:
            raise ApiError(
                413,
                f"{what} is {size:,} bytes; the limit is {self.config.max_query_bytes:,} "
                "(the server's --max-query-bytes)",
            )
        return text


def document_meta(generation: Generation, doc_id: str) -> dict:
    """What ``generation`` keeps of ``doc_id`` (title, snippet, label); 404 if it holds no such document."""
    id_map = generation.index.index_.id_map
    if doc_id not in id_map:
        raise ApiError(404, f"no document with id {doc_id!r} in this index")
    return generation.index.metadata_[id_map.position(doc_id)]


async def served(request: Request) -> ServedIndexes:  # async: a plain def would run in the thread pool
    return request.app.state.served


def headers_for(live: LiveIndex, generation: Generation) -> dict:
    return {GENERATION_HEADER: generation.id, "X-Index-Name": live.name}

"""What every route shares: the served indexes, the limits, and the checks of request values."""

from __future__ import annotations

from fastapi import Request

from retrieval.config import ServeConfig
from retrieval.server.errors import ApiError
from retrieval.server.live import Generation, LiveIndex

GENERATION_HEADER = "X-Index-Generation"


class Served:
    """The live indexes by name (the first is the default) and the server's config."""

    def __init__(self, indexes: dict[str, LiveIndex], config: ServeConfig):
        if not indexes:
            raise ValueError("serve at least one index")
        self.indexes, self.config = indexes, config
        self.default = next(iter(indexes))

    def live(self, name: str | None) -> LiveIndex:
        """The index called ``name`` (None: the default); 404 naming the served ones if there is none."""
        if name is None or name == "":
            return self.indexes[self.default]
        try:
            return self.indexes[name]
        except KeyError:
            raise ApiError(404, f"no index named {name!r}; this server has {', '.join(map(repr, self.indexes))}") from None

    def generation(self, name: str | None) -> tuple[LiveIndex, Generation]:
        live = self.live(name)
        return live, live.current  # read once: the whole answer comes from this generation

    def check_k(self, k: int) -> None:
        if k < 1 or k > self.config.max_k:
            raise ApiError(400, f"k must be from 1 to {self.config.max_k} (the server's --max-k); got {k}")

    def check_rerank(self, rerank: int) -> None:
        if rerank < 0 or rerank > self.config.max_rerank:
            raise ApiError(400, f"rerank must be from 0 (off) to {self.config.max_rerank} (the server's "
                                f"--max-rerank); got {rerank}")

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

    def check_query(self, text: str | None, what: str = "q") -> str:
        if text is None:
            raise ApiError(400, f"{what} is missing: give the query text, e.g. /search?q=space+shuttle")
        if not text.strip():
            raise ApiError(400, f"{what} is empty: give the query text")
        try:
            size = len(text.encode("utf-8"))
        except UnicodeEncodeError:  # a lone surrogate, which JSON's \ud800 escapes can carry
            raise ApiError(400, f"{what} is not valid Unicode (it holds a lone surrogate)") from None
        if size > self.config.max_query_bytes:
            raise ApiError(413, f"{what} is {size:,} bytes; the limit is {self.config.max_query_bytes:,} "
                                "(the server's --max-query-bytes)")
        return text


def document_meta(generation: Generation, doc_id: str) -> dict:
    """What ``generation`` keeps of ``doc_id`` (title, snippet, label); 404 if it holds no such document."""
    id_map = generation.index.index_.id_map
    if doc_id not in id_map:
        raise ApiError(404, f"no document with id {doc_id!r} in this index")
    return generation.index.metadata_[id_map.position(doc_id)]


async def served(request: Request) -> Served:  # async: a plain def would run in the thread pool
    return request.app.state.served


def headers_for(live: LiveIndex, generation: Generation) -> dict:
    return {GENERATION_HEADER: generation.id, "X-Index-Name": live.name}

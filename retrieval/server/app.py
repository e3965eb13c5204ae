"""The HTTP service: ``create_app`` puts the routers, the error handlers and the guard over live indexes.

Searching runs the numpy query path (``retrieval.runtime``): the server never
imports TensorFlow, Keras or scikit-learn.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from contextlib import asynccontextmanager

from fastapi import FastAPI

import retrieval
from retrieval.config import ServeConfig
from retrieval.server import errors, openapi
from retrieval.server.guard import Guard
from retrieval.server.live import LiveIndex, Watcher
from retrieval.server.routes import docs, page, search, status
from retrieval.server.state import ServedIndexes

SWITCH_INTERVAL = 0.001  # seconds
DESCRIPTION = """Semantic search over indexes built by `retrieval build`: TF-IDF, deep-autoencoder codes, FAISS.

Every answer carries `X-Index-Generation`, the build that answered; a rebuilt index directory is served
without a restart. Errors are `{"error": "..."}` with a 4xx status."""


def load_indexes(paths: Mapping[str, object]) -> dict[str, LiveIndex]:
    """Name -> directory, loaded (each raises IndexingError naming its problem)."""
    return {name: LiveIndex(name, path) for name, path in paths.items()}


def create_app(indexes: Mapping[str, LiveIndex], config: ServeConfig | None = None, watch: bool = True) -> FastAPI:
    """The ASGI app over loaded ``indexes`` (name -> LiveIndex; the first is the default).

    With ``watch``, a thread checks each directory every ``config.reload_interval``
    seconds while the app runs and loads a rebuilt one.
    """
    config = config or ServeConfig()
    served = ServedIndexes(dict(indexes), config)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # a batch searched in the thread pool hands the GIL back to the event loop after 1 ms rather than Python's
        # 5: /health and small queries wait less behind a large batch
        sys.setswitchinterval(SWITCH_INTERVAL)
        watcher = Watcher(served.indexes.values(), config.reload_interval).start() if watch else None
        try:
            yield
        finally:
            if watcher is not None:
                watcher.stop()

    app = FastAPI(
        title="retrieval",
        version=retrieval.__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.served = served
    errors.install(app)
    openapi.install(app, config)
    for module in (search, status, page, docs):
        app.include_router(module.router)
    app.add_middleware(Guard, api_key=config.api_key, stamp=served.stamp)
    return app

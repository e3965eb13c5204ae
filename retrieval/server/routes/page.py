"""The search page at ``/``: rendered on the server, so a search is a URL (``/?q=...``) and needs no build step."""

from __future__ import annotations

from html import escape
from importlib.resources import files
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query
from starlette.responses import HTMLResponse, Response

from retrieval.server.errors import ApiError
from retrieval.server.state import Served, document_meta, headers_for, served

router = APIRouter(include_in_schema=False)
STYLE = files("retrieval.server").joinpath("static/page.css").read_bytes()
PAGE_K = 10


def _link(**params) -> str:
    return "/?" + urlencode({name: value for name, value in params.items() if value not in (None, "")})


def _form(state: Served, q: str, index: str | None) -> str:
    choose = ""
    if len(state.indexes) > 1:
        options = "".join(f'<option value="{escape(name)}"{" selected" if name == index else ""}>{escape(name)}</option>'
                          for name in state.indexes)
        choose = f'<select name="index" aria-label="index">{options}</select>'
    return (f'<form method="get" action="/" role="search">'
            f'<input type="search" name="q" value="{escape(q)}" placeholder="Find documents about…" '
            f'aria-label="query" autofocus>{choose}<button type="submit">Search</button></form>')


def _hits(hits, index: str | None, k: int) -> str:
    rows = []
    for rank, hit in enumerate(hits, start=1):
        label = f'<span class="label">{escape(hit.label)}</span>' if hit.label else ""
        rows.append(
            f'<li class="hit"><span class="rank">{rank}</span><div>'
            f'<h2 class="title">{escape(hit.title)}</h2>'
            f'<div class="meta">{label}<span class="score" title="similarity">{hit.score:.3f}</span>'
            + (f'<span class="id">{escape(hit.doc_id)}</span>' if hit.title != hit.doc_id else "")
            + f'<a class="similar" href="{escape(_link(like=hit.doc_id, index=index, k=k))}">similar</a></div>'
            f'<p class="snippet">{escape(hit.snippet)}</p></div></li>'
        )
    return f'<ol class="hits">{"".join(rows)}</ol>'


def _message(text: str, error: bool = False) -> str:
    kind = "message error" if error else "message"
    return f'<p class="{kind}" role="{"alert" if error else "status"}">{escape(text)}</p>'


def _results(state: Served, generation, q: str, like: str | None, k: int, index: str | None) -> str:
    """The body under the form; raises ApiError for a bad request."""
    state.check_k(k)
    if like is not None:
        meta = document_meta(generation, like)
        hits = generation.index.similar_to(like, k)
        source = (f'<div class="source"><div class="summary">Documents similar to</div>'
                  f'<h2 class="title">{escape(meta["title"])}</h2><p class="snippet">{escape(meta["snippet"])}</p></div>')
        return source + _hits(hits, index, k)
    if not q.strip():
        return ""
    state.check_query(q)
    hits = generation.index.search([q], k)[0]
    if hits.known_terms == 0:
        return _message(f"No documents match “{q}”: none of its words is in this index's vocabulary "
                        "(only stop words or words it never saw). Try other words.")
    if not hits:
        return _message(f"No documents match “{q}”.")
    summary = f'<p class="summary">{len(hits)} most similar documents</p>'
    return summary + _hits(hits, index, k)


def render(title: str, form: str, body: str, about: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{escape(title)}</title><link rel="stylesheet" href="/static/page.css"></head><body><main>'
        f'<header><h1><a href="/">retrieval</a></h1><span class="about">{escape(about)}</span></header>'
        f'{form}<section id="results" aria-live="polite">{body}</section>'
        '<footer>Deep-autoencoder codes searched with FAISS · the JSON API is described at <a href="/docs">/docs</a>'
        '</footer></main></body></html>'
    )


@router.get("/", response_class=HTMLResponse)
async def page(q: str = Query(""), like: str | None = Query(None), k: str = Query(str(PAGE_K)),
               index: str | None = Query(None), state: Served = Depends(served)):
    status, headers, about = 200, {}, ""
    try:
        if not k.strip().isdigit():
            raise ApiError(400, f"k must be a whole number from 1 to {state.config.max_k}; got {k!r}")
        k = int(k)
        live, generation = state.generation(index)  # one generation for the whole page
        headers = headers_for(live, generation)
        documents = f"{len(generation.index.index_):,} documents"
        about = f"{live.name}: {documents}" if len(state.indexes) > 1 else documents
        body = _results(state, generation, q, like, k, index)
    except ApiError as error:
        status, body = error.status, _message(error.message, error=True)
    title = f"similar to {like} · retrieval" if like else f"{q} · retrieval" if q.strip() else "retrieval"
    return HTMLResponse(render(title, _form(state, q, index), body, about), status_code=status, headers=headers)


@router.get("/static/page.css")
async def style():
    return Response(STYLE, media_type="text/css", headers={"Cache-Control": "max-age=3600"})

"""The search page at ``/``: rendered on the server, so a search is a URL (``/?q=...``) and needs no build step."""

from __future__ import annotations

from html import escape
from importlib.resources import files
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query
from starlette.responses import HTMLResponse, Response

from retrieval.runtime.tfidf import TOKEN
from retrieval.server.errors import ApiError
from retrieval.server.state import ServedIndexes, document_meta, headers_for, served
from retrieval.text.fusion import MODES
from retrieval.text.query_mode import semantic_only

router = APIRouter(include_in_schema=False)
STYLE = files("retrieval.server").joinpath("static/page.css").read_bytes()
PAGE_K = 10
MODE_WORDS = {"hybrid": "hybrid (codes + BM25)", "semantic": "semantic (codes)", "lexical": "lexical (BM25)"}


def _link(**params) -> str:
    return "/?" + urlencode({name: value for name, value in params.items() if value not in (None, "")})


def _form(state: ServedIndexes, q: str, index: str | None, mode: str) -> str:
    choose = ""
    if len(state.indexes) > 1:
        options = "".join(
            f'<option value="{escape(name)}"{" selected" if name == index else ""}>{escape(name)}</option>'
            for name in state.indexes
        )
        choose = f'<select name="index" aria-label="index">{options}</select>'
    modes = "".join(
        f'<option value="{name}"{" selected" if name == mode else ""}>{MODE_WORDS[name]}</option>' for name in MODES
    )
    return (
        f'<form method="get" action="/" role="search">'
        f'<input type="search" name="q" value="{escape(q)}" placeholder="Find documents about…" '
        f'aria-label="query" autofocus><select name="mode" aria-label="mode">{modes}</select>{choose}'
        f'<button type="submit">Search</button></form>'
    )


def query_terms(index, q: str) -> frozenset:
    """The query's words that the index knows (lowercase): those a snippet may show, and so mark.

    Stop words and words outside both vocabularies are left out: they matched nothing.
    """
    words = {token.lower() for token in TOKEN.findall(q)}
    columns = index.transform_.columns
    known = {word for word in words if word in columns}
    if index.lexical_ is not None and words - known:
        rest = sorted(words - known)
        known |= {word for word, term in zip(rest, index.lexical_.term_ids_of(rest)) if term >= 0}
    return frozenset(known)


def highlight(text: str, terms) -> str:
    """``text`` as HTML, each whole-word, case-insensitive occurrence of ``terms`` (lowercase) in ``<mark>``.

    The raw text is split at its words and every piece escaped, so no piece of it becomes markup. (Escaping the
    whole text and then marking words in it would mark inside entities: a query for "amp" would split "&amp;".)
    """
    if not terms:
        return escape(text)
    parts, done = [], 0
    for word in TOKEN.finditer(text):  # the tokenizer's words: whole words, as the index matched them
        if word.group().lower() in terms:
            parts += [escape(text[done : word.start()]), f"<mark>{escape(word.group())}</mark>"]
            done = word.end()
    return "".join(parts) + escape(text[done:])


def _sides(hit) -> str:
    """A hybrid hit's own scores: the codes' and BM25's."""
    codes = "–" if hit.semantic is None else f"{hit.semantic:.3f}"
    bm25 = "–" if hit.lexical is None else f"{hit.lexical:.2f}"
    return f'<span class="sides" title="each side’s own score">codes {codes} · BM25 {bm25}</span>'


def _hits(hits, index: str | None, k: int, mode: str, link_mode: str | None, terms=frozenset()) -> str:
    """The hits as a list: ``mode`` answered them, ``link_mode`` (the one asked for) goes into each "similar"
    link, and ``terms`` are marked in the snippets."""
    rows = []
    for rank, hit in enumerate(hits, start=1):
        label = f'<span class="label">{escape(hit.label)}</span>' if hit.label else ""
        score = "fused score" if mode == "hybrid" else "BM25" if mode == "lexical" else "similarity"
        similar = _link(like=hit.doc_id, index=index, k=k, mode=link_mode)  # the page's k and mode go along
        rows.append(
            f'<li class="hit"><span class="rank">{rank}</span><div>'
            f'<h2 class="title">{escape(hit.title)}</h2>'
            f'<div class="meta">{label}<span class="score" title="{score}">{hit.score:.3f}</span>'
            + (_sides(hit) if mode == "hybrid" else "")
            + (f'<span class="id">{escape(hit.doc_id)}</span>' if hit.title != hit.doc_id else "")
            + f'<a class="similar" href="{escape(similar)}">similar</a></div>'
            f'<p class="snippet">{highlight(hit.snippet, terms)}</p></div></li>'
        )
    return f'<ol class="hits">{"".join(rows)}</ol>'


def _answered(mode: str, note: str | None) -> str:
    """Which mode answered, and (an index without a lexical side, no mode asked for) why that one."""
    return f'<span class="mode" data-mode="{mode}">{MODE_WORDS[mode]} search</span>' + (
        f'<span class="note">{escape(note)}</span>' if note else ""
    )


def _message(text: str, error: bool = False) -> str:
    kind = "message error" if error else "message"
    return f'<p class="{kind}" role="{"alert" if error else "status"}">{escape(text)}</p>'


def _results(
    state: ServedIndexes, generation, q: str, like: str | None, k: int, index: str | None, mode: str | None
) -> str:
    """The body under the form; raises ApiError for a bad request."""
    state.check_k(k)
    if like is None and not q.strip():
        return ""
    used = state.mode_for(generation, mode, None)
    answered = _answered(used, semantic_only(generation.index) if mode is None else None)
    if like is not None:
        meta = document_meta(generation, like)
        hits = generation.index.similar_to(like, k, mode=used)
        source = (
            f'<div class="source"><div class="summary">Documents similar to</div>'
            f'<h2 class="title">{escape(meta["title"])}</h2><p class="snippet">{escape(meta["snippet"])}</p></div>'
        )
        summary = f'<p class="summary">{len(hits)} most similar documents · {answered}</p>'
        return source + summary + _hits(hits, index, k, used, mode)
    state.check_query(q, limit=state.get_query_bytes)
    hits = generation.index.search([q], k, mode=used)[0]
    if hits.known_terms == 0:
        return _message(
            f"No documents match “{q}”: none of its words is in this index's vocabulary "
            "(only stop words or words it never saw). Try other words."
        )
    if not hits:
        return _message(f"No documents match “{q}”.")
    summary = f'<p class="summary">{len(hits)} most similar documents · {answered}</p>'
    return summary + _hits(hits, index, k, used, mode, query_terms(generation.index, q))


def render(title: str, form: str, body: str, about: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{escape(title)}</title><link rel="stylesheet" href="/static/page.css"></head><body><main>'
        f'<header><h1><a href="/">retrieval</a></h1><span class="about">{escape(about)}</span></header>'
        f'{form}<section id="results" aria-live="polite">{body}</section>'
        '<footer>Deep-autoencoder codes searched with FAISS · the JSON API is described at <a href="/docs">/docs</a>'
        "</footer></main></body></html>"
    )


@router.get("/", response_class=HTMLResponse)
async def page(
    q: str = Query(""),
    like: str | None = Query(None),
    k: str = Query(str(PAGE_K)),
    index: str | None = Query(None),
    mode: str | None = Query(None),
    state: ServedIndexes = Depends(served),
):
    status, headers, about = 200, {}, ""
    mode = mode or None  # a bare "mode=" is no mode: the index's default
    shown = mode if mode in MODES else "hybrid"  # what the selector shows until the index is known
    try:
        digits = k.strip()
        if not (digits.isascii() and digits.isdigit()) or len(digits) > 9:  # "²" is a digit to isdigit, not to int
            raise ApiError(400, f"k must be a whole number from 1 to {state.config.max_k}; got {k[:20]!r}")
        k = int(digits)
        live, generation = state.generation(index)  # one generation for the whole page
        headers = headers_for(live, generation)
        documents = f"{len(generation.index.index_):,} documents"
        about = f"{live.name}: {documents}" if len(state.indexes) > 1 else documents
        if mode is None and generation.index.lexical_ is None:
            shown = "semantic"  # all such an index answers in
        body = _results(state, generation, q, like, k, index, mode)
    except ApiError as error:
        status, body = error.status, _message(error.message, error=True)
    title = f"similar to {like} · retrieval" if like else f"{q} · retrieval" if q.strip() else "retrieval"
    return HTMLResponse(render(title, _form(state, q, index, shown), body, about), status_code=status, headers=headers)


@router.get("/static/page.css")
async def style():
    return Response(STYLE, media_type="text/css", headers={"Cache-Control": "max-age=3600"})

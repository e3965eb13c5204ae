"""``retrieval query``'s search options and its output: a table per query for people, a JSON line for machines."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

ModeOpt = Annotated[
    Optional[str],
    typer.Option(
        help="hybrid (the codes and BM25, fused), semantic (the codes alone) or lexical (BM25 alone) "
        "[hybrid; semantic for an index built without a lexical index, or with --rerank]."
    ),
]
AlphaOpt = Annotated[
    Optional[float],
    typer.Option(
        help="Hybrid mode's weight of the codes in [0, 1] (1 = codes only, 0 = BM25 only) "
        "[the index's, chosen at build "
        "for the query's length]."
    ),
]


def show_results(queries: list, results: list, like: bool, json_out: bool) -> int:
    """Print each query's hits (``results``: HitLists, which carry their mode); return how many matched nothing."""
    from retrieval.cli import display
    from retrieval.code_index import query_json

    unmatched = 0
    for name, hits in zip(queries, results):
        if getattr(hits, "known_terms", None) == 0:
            unmatched += 1
        if json_out:
            display.print_json(query_json(name, hits))
        else:
            title = f"like {name}" if like else display_query(name)
            display.out.print(display.hits_table(title, hits, getattr(hits, "mode", None)))
    return unmatched


def note_old_bundle(index, mode: str | None) -> None:
    """Say once, on stderr, why an index answers in semantic mode when no mode was asked for.

    Only then: a mode asked for is either answered or refused with the same words.
    """
    from retrieval.cli import display
    from retrieval.text.query_mode import semantic_only

    note = semantic_only(index)
    if mode is None and note:
        display.err.print(f"note: {note}", markup=False)


def note_unmatched(unmatched: int, queries: int) -> None:
    from retrieval.cli import display

    if unmatched:
        which = "the query has" if queries == 1 else f"{unmatched} of {queries} queries have"
        display.err.print(
            f"note: {which} no term the index knows (only stop words or words outside its "
            "vocabulary), so nothing matched"
        )


def display_query(text: str, chars: int = 70) -> str:
    from retrieval.code_index import snippet

    return repr(snippet(text, chars))

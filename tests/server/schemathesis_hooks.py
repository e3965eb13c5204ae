"""What the OpenAPI schema cannot say, told to schemathesis: which values go together (``SCHEMATHESIS_HOOKS``).

Each rule is in the parameters' descriptions and refused with a 400 naming it (tests/server/test_server.py checks
each): ``rerank`` re-orders the codes' candidates, so it goes with semantic mode; ``alpha`` weighs the codes
against BM25, so it goes with hybrid mode. Cases that break them are left out of the generated ones.
"""

from __future__ import annotations

import schemathesis


def consistent(values) -> bool:
    """Whether ``values`` (query parameters or a body) keep the rules above; values of the wrong type are kept."""
    if not isinstance(values, dict):
        return True
    mode, rerank, alpha = values.get("mode"), _number(values.get("rerank") or 0), values.get("alpha")
    if rerank is None or mode not in (None, "hybrid", "semantic", "lexical"):
        return True
    resolved = mode or ("semantic" if rerank else "hybrid")
    if rerank and resolved != "semantic":
        return False
    return alpha is None or resolved == "hybrid"


def _number(value):
    """A number, as a body holds it or a query string spells it (``"3"``); None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


@schemathesis.hook
def filter_query(ctx, query) -> bool:
    return consistent(query)


@schemathesis.hook
def filter_body(ctx, body) -> bool:
    return consistent(body)


@schemathesis.hook
def filter_case(ctx, case) -> bool:  # the coverage phase's cases pass through this hook, not the two above
    return consistent(case.query) and consistent(case.body)

"""A ``POST /search`` body read and parsed at a cost bounded before any work is done on it.

A body within the byte limit can still be costly to parse and validate: a
few megabytes of ``[0,0,0,…]`` are millions of Python objects and as many
validation errors, ``[[[[…`` is a recursion, and one character outside
Latin-1 makes the decoded text four bytes a character. So, before parsing:
each string must be no longer than a query can be as JSON, and the body's
*structure* (what is left once each string is replaced by ``""`` and white
space is dropped) must be small, as a batch's is (a few bytes per query),
and shallow; only then is it parsed, off the event loop when large, and the
number of queries checked before pydantic sees a single item. Each check
runs in C over the bytes (``count``, ``find``, ``translate``) or over the
small structure only.
"""

from __future__ import annotations

import json

from starlette.concurrency import run_in_threadpool

from retrieval.server.errors import ApiError

MAX_DEPTH = 8  # a batch is {"queries": [...]}: 2 levels
OFF_LOOP_BYTES = 64 * 1024  # parse bodies larger than this in the thread pool, not on the event loop
JSON_ESCAPE = 6  # a byte of a query written as JSON takes at most 6 (\u001f)
MAX_QUOTES = 65_536  # quote characters in a body, escaped or not: a batch of dialogue has thousands
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")


def structure_limit(max_batch: int) -> int:
    """Bytes of JSON outside strings a batch may hold: ``"",`` per query and room for every other field."""
    return 4 * max_batch + 1024


async def read_body(request, limit: int) -> bytes:
    """The request's body (413 past ``limit`` bytes, declared or streamed; 415 unless it is JSON)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json":
        raise ApiError(
            415, f"POST /search takes a JSON body (Content-Type: application/json); got {kind or 'no Content-Type'}"
        )
    declared = request.headers.get("content-length")
    if declared is not None and declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"the body is {int(declared):,} bytes; the limit is {limit:,}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"the body is over the limit of {limit:,} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _depth(skeleton: bytes) -> int:
    depth = deepest = 0
    for byte in skeleton:
        if byte in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        elif byte in b"]}":
            depth -= 1
    return deepest


def skeleton(body: bytes, max_bytes: int, max_string: int) -> bytes:
    """``body`` with each string as ``""`` and no white space, read up to the first ``max_bytes`` (or a little past
    them); 413 for a string longer than ``max_string`` bytes or more than ``MAX_QUOTES`` quotes, 400 for a string
    that does not end. Strings are skipped with ``bytes.find``, in C: a regex over one string of a million
    escapes holds hundreds of MB of backtracking state."""
    quotes = body.count(b'"')
    if quotes > MAX_QUOTES:
        raise ApiError(
            413,
            f"the body holds {quotes:,} quote characters; the limit is {MAX_QUOTES:,}: at most a "
            "few strings (the queries and a few fields) and the quotes within them",
        )
    out, position = bytearray(), 0
    while len(out) <= max_bytes:
        opening = body.find(b'"', position)
        out += body[position : opening if opening >= 0 else len(body)].translate(None, b" \t\n\r")
        if opening < 0:
            break
        closing = previous = opening
        while True:  # the next quote not escaped: one preceded by an even run of backslashes
            closing = body.find(b'"', closing + 1)
            if closing < 0:
                raise ApiError(400, f"the body is not valid JSON: a string opened at byte {opening:,} does not end")
            between = body[previous + 1 : closing]
            if (len(between) - len(between.rstrip(b"\\"))) % 2 == 0:
                break
            previous = closing
        if closing - opening - 1 > max_string:
            raise ApiError(
                413,
                f"the body holds a string of {closing - opening - 1:,} bytes; a query is at most "
                f"{max_string // JSON_ESCAPE:,} bytes (the server's --max-query-bytes), "
                f"{max_string:,} as JSON",
            )
        out += b'""'
        position = closing + 1
    return bytes(out)


def check_structure(body: bytes, max_bytes: int, max_batch: int, max_query_bytes: int) -> None:
    """Refuse ``body`` unless its JSON outside strings is at most ``max_bytes`` and ``MAX_DEPTH`` deep, and each
    string could be a query: 400 for nesting or a huge number, 413 for too many values or too long a string."""
    outside = skeleton(body, max_bytes, JSON_ESCAPE * max_query_bytes)
    deepest = _depth(outside[:max_bytes])  # over the limit, the nesting that matters shows in the first bytes
    if deepest > MAX_DEPTH:
        raise ApiError(
            400,
            f"the body is nested too deeply ({deepest}{'+' if len(outside) > max_bytes else ''} "
            f"levels; a batch needs 2, and at most {MAX_DEPTH} are read)",
        )
    if len(outside) <= max_bytes:
        return
    numbers = outside.translate(_DIGITS_AS_ZERO)
    start = numbers.find(b"0" * 256)
    if start >= 0:
        digits = len(numbers) - start - len(numbers[start:].lstrip(b"0"))
        raise ApiError(400, f"the body holds a number of {digits:,} digits; a batch's numbers are short")
    raise ApiError(
        413,
        f"the body holds over {max_bytes:,} bytes of JSON outside its strings (too many values); "
        f"the limit is {max_batch} queries (the server's --max-batch) and a few fields",
    )


def parse(body: bytes, max_batch: int, max_query_bytes: int):
    """The JSON value of ``body``, after ``check_structure``; 4xx naming what is wrong."""
    check_structure(body, structure_limit(max_batch), max_batch, max_query_bytes)
    try:
        return json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise ApiError(400, "the body is not UTF-8") from None
    except json.JSONDecodeError as err:
        raise ApiError(400, f"the body is not valid JSON: {err}") from None
    except ValueError:  # what json.loads raises besides a decoding error: an integer Python will not convert
        raise ApiError(400, "the body holds a number of more than 4,300 digits") from None


async def parse_batch(request, limit: int, max_batch: int, max_query_bytes: int):
    """The parsed body of a ``POST /search``, its cost bounded: 413 past ``limit`` bytes or ``max_batch``
    queries, 400 for too much structure, nesting, or a body that is not JSON."""
    body = await read_body(request, limit)
    if len(body) > OFF_LOOP_BYTES:  # parsing megabytes takes milliseconds: keep /health and small queries flowing
        payload = await run_in_threadpool(parse, body, max_batch, max_query_bytes)
    else:
        payload = parse(body, max_batch, max_query_bytes)
    queries = payload.get("queries") if isinstance(payload, dict) else None
    if isinstance(queries, list) and len(queries) > max_batch:
        raise ApiError(
            413, f"the batch holds {len(queries):,} queries; the limit is {max_batch} (the server's --max-batch)"
        )
    return payload

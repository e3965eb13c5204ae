"""Request cost bounded before work (issue 19, points 1 and 8): the body's structure, the count of queries and
of reported errors, the limits in the schema and /info, the generation on every answer, OPTIONS and Allow."""

from __future__ import annotations

import json
import time

import pytest
from fastapi.testclient import TestClient
from test_server import CLIENT_CONFIG as CONFIG  # the client fixture's limits
from test_server import KEY, client, indexes, keyed  # noqa: F401 (fixtures)

from retrieval.config import ServeConfig
from retrieval.server.app import create_app
from retrieval.server.body import MAX_DEPTH, structure_limit
from retrieval.server.state import NONBLANK

JSON = {"Content-Type": "application/json"}


def test_a_body_of_many_tiny_items_is_refused_before_parsing(client):
    # the landed release parsed and validated every item, echoing each error: 11 GB and a minute for a big one
    body = b'{"queries": [' + b",".join([b"1"] * 20000) + b"]}"
    started = time.perf_counter()
    response = client.post("/search", content=body, headers=JSON)
    assert response.status_code == 413 and "the limit is 4 queries" in response.json()["error"]
    assert len(response.content) < 300 and time.perf_counter() - started < 1


def test_more_queries_than_the_batch_takes_are_counted_before_validation(client):
    body = json.dumps({"queries": [1] * (CONFIG.max_batch + 1)}).encode()
    assert len(body) < structure_limit(CONFIG.max_batch)  # within the structure limit: the count refuses it
    response = client.post("/search", content=body, headers=JSON)
    assert response.status_code == 413 and "5 queries; the limit is 4" in response.json()["error"]


def test_at_most_three_validation_errors_are_reported(client):
    response = client.post("/search", json={"queries": [1, 2, 3, 4], "k": "x"})
    error = response.json()["error"]
    assert response.status_code == 400 and error.count("Input should be") == 3 and "and 2 more" in error


@pytest.mark.parametrize(
    "body, status, message",
    [
        (b'{"queries": ' + b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1) + b"}", 400, "nested too deeply"),
        (b"[" * 60_000, 400, "nested too deeply"),
        (b'{"queries": ["a"], "k": ' + b"7" * 3000 + b"}", 400, "a number of 3,000 digits"),
        (b'{"queries": ["' + b"x" * 6100 + b'"]}', 413, "a string of 6,100 bytes; a query is at most 1,000 bytes"),
        (
            b'{"queries": ["' + b'\\"' * 3_001 + b'"]}',
            413,
            "6,002 bytes; a query is at most 1,000 bytes (the server's --max-query-bytes), 6,000 as JSON",
        ),
        (b'"' * 70_000, 413, "70,000 quote characters"),
        (b'{"queries": ["a\\\\"], "k": 3, "x": "', 400, "a string opened at byte 34 does not end"),
    ],
)
def test_deep_or_huge_values_are_refused_before_parsing(client, body, status, message):
    response = client.post("/search", content=body, headers=JSON)
    assert response.status_code == status and message in response.json()["error"], response.text


@pytest.mark.parametrize("text", ['say \\"yes\\"', "a\\\\", 'back\\\\\\"slash', "\\u0436\\\\"])
def test_strings_with_escapes_are_read_whole(client, text):
    from retrieval.server.body import skeleton

    body = b'{"queries": ["' + text.encode() + b'", "b"], "k": 3}'
    assert skeleton(body, 1000, 1000) == b'{"":["",""],"":3}'
    assert json.loads(body)["queries"][0] == json.loads(f'"{text}"')


def test_long_strings_are_not_structure(client):
    # a body's texts do not count towards its structure: a full batch of the longest queries is searched
    queries = ["space shuttle " + "x" * (CONFIG.max_query_bytes - 20) for _ in range(CONFIG.max_batch)]
    response = client.post("/search", json={"queries": queries, "k": 3})
    assert response.status_code == 200 and len(response.json()["results"]) == CONFIG.max_batch


def test_a_large_body_is_parsed_off_the_event_loop(client, monkeypatch):
    from retrieval.server import body as body_module

    calls = []
    original = body_module.run_in_threadpool

    async def recording(function, *args):
        calls.append(function.__name__)
        return await original(function, *args)

    monkeypatch.setattr(body_module, "run_in_threadpool", recording)
    small = {"queries": ["space"], "k": 3}
    assert client.post("/search", json=small).status_code == 200 and calls == []
    large = json.dumps(small).encode() + b" " * body_module.OFF_LOOP_BYTES  # white space: large, yet valid
    assert client.post("/search", content=large, headers=JSON).status_code == 200 and calls == ["parse"]


def test_the_schema_states_every_limit(client):
    document = client.get("/openapi.json").json()
    search = {p["name"]: p for p in document["paths"]["/search"]["get"]["parameters"]}
    assert search["q"]["required"] is True
    assert {"minLength": 1, "maxLength": 1000, "pattern": NONBLANK}.items() <= search["q"]["schema"].items()
    assert (search["k"]["schema"]["minimum"], search["k"]["schema"]["maximum"]) == (1, CONFIG.max_k)
    assert (search["rerank"]["schema"]["minimum"], search["rerank"]["schema"]["maximum"]) == (0, 50)
    similar = {p["name"]: p for p in document["paths"]["/similar/{doc_id}"]["get"]["parameters"]}
    assert similar["k"]["schema"]["maximum"] == CONFIG.max_k
    body = document["paths"]["/search"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    queries = body["properties"]["queries"]
    assert (queries["minItems"], queries["maxItems"], queries["items"]["minLength"]) == (1, 4, 1)
    assert body["properties"]["k"]["maximum"] == CONFIG.max_k


def test_another_server_s_schema_has_its_own_limits(indexes, client):
    with TestClient(create_app(indexes, ServeConfig(max_k=7), watch=False)) as other:
        k = {p["name"]: p for p in other.get("/openapi.json").json()["paths"]["/search"]["get"]["parameters"]}["k"]
    assert k["schema"]["maximum"] == 7
    assert client.get("/openapi.json").json()["paths"]["/search"]["get"]["parameters"][1]["schema"]["maximum"] == 20


def test_a_blank_query_is_what_the_schema_pattern_calls_blank(client):
    import re
    import sys

    blank = [chr(c) for c in range(sys.maxunicode + 1) if re.search(NONBLANK, chr(c)) is None]
    assert blank == [chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()]
    for text in ("   ", "\x1c\u2028", "\t\n", "\x85"):
        assert client.get("/search", params={"q": text}).status_code == 400
    assert client.get("/search", params={"q": "\x85space"}).status_code == 200


@pytest.mark.parametrize(
    "method, url, status",
    [
        ("GET", "/search?k=0&q=space", 400),
        ("GET", "/nowhere", 404),
        ("DELETE", "/search", 405),
        ("GET", "/search?q=space&index=nope", 404),
        ("POST", "/search", 415),
        ("GET", "/docs", 200),
        ("GET", "/", 200),
        ("GET", "/search?q=space&index=second", 200),
    ],
)
def test_every_answer_names_the_generation(client, indexes, method, url, status):
    response = client.request(method, url)
    assert response.status_code == status
    assert response.headers["X-Index-Generation"] == indexes["default"].current.id
    expected = "second" if "index=second" in url else "default"
    assert response.headers["X-Index-Name"] == expected


def test_a_refused_key_names_the_generation_too(keyed, indexes):
    response = keyed.get("/search?q=space")
    assert response.status_code == 401 and response.headers["X-Index-Generation"] == indexes["default"].current.id


def test_health_of_an_unknown_index_lists_the_names_only_with_the_key(keyed):
    anonymous = keyed.get("/health?index=nope")
    assert anonymous.status_code == 404 and "second" not in anonymous.json()["error"]
    with_key = keyed.get("/health?index=nope", headers={"X-API-Key": KEY})
    assert with_key.status_code == 404 and "'second'" in with_key.json()["error"]


def test_options_and_405_list_every_method_of_the_path(client):
    options = client.options("/search")
    assert options.status_code == 204 and options.headers["Allow"] == "GET, HEAD, POST"
    wrong = client.put("/search")
    assert wrong.status_code == 405 and wrong.headers["Allow"] == "GET, HEAD, POST"
    assert "it takes GET, HEAD, POST" in wrong.json()["error"]
    assert client.options("/health").headers["Allow"] == "GET, HEAD"

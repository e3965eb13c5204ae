"""The HTTP API in-process (Starlette's TestClient): answers equal the library's, and every bad request is a 4xx."""

from __future__ import annotations

import base64
import json
import re

import pytest
from fastapi.testclient import TestClient

from retrieval.config import ServeConfig
from retrieval.errors import RetrievalError
from retrieval.server.app import create_app, load_indexes

KEY = "k" * 12 + "-secret-key"


@pytest.fixture(scope="module")
def indexes(bundle_dir):
    return load_indexes({"default": bundle_dir, "second": bundle_dir})


@pytest.fixture(scope="module")
def client(indexes):
    config = ServeConfig(max_k=20, max_query_bytes=1000, max_batch=4, max_rerank=50)
    with TestClient(create_app(indexes, config, watch=False)) as client:
        yield client


@pytest.fixture(scope="module")
def keyed(indexes):
    with TestClient(create_app(indexes, ServeConfig(api_key=KEY), watch=False)) as client:
        yield client


def test_get_search_equals_the_library(client, fitted, corpus):
    response = client.get("/search", params={"q": corpus.texts[3], "k": 5})
    assert response.status_code == 200
    body = response.json()
    expected = fitted.search([corpus.texts[3]], 5)[0]
    assert body["query"] == corpus.texts[3] and body["known_terms"] == expected.known_terms
    assert body["hits"] == json.loads(json.dumps([hit.to_json() for hit in expected]))
    assert set(body["hits"][0]) == {"id", "score", "title", "label", "snippet"}
    generation = client.get("/health").json()["generation"]
    assert response.headers["X-Index-Generation"] == generation and response.headers["X-Index-Name"] == "default"


def test_rerank_and_named_index(client, fitted, corpus):
    body = client.get("/search", params={"q": corpus.texts[5], "k": 3, "rerank": 20, "index": "second"}).json()
    assert [hit["id"] for hit in body["hits"]] == [hit.doc_id for hit in fitted.search([corpus.texts[5]], 3, rerank=20)[0]]


def test_post_search_is_one_batch(client, fitted, corpus):
    texts = corpus.texts[:3]
    response = client.post("/search", json={"queries": texts, "k": 4})
    assert response.status_code == 200
    results = response.json()["results"]
    expected = fitted.search(texts, 4)
    assert [r["query"] for r in results] == texts
    assert [[h["id"] for h in r["hits"]] for r in results] == [[h.doc_id for h in hits] for hits in expected]
    assert response.headers["X-Index-Generation"]


def test_similar_leaves_the_document_out(client, fitted, corpus):
    doc_id = corpus.doc_ids[7]
    body = client.get(f"/similar/{doc_id}", params={"k": 5}).json()
    assert body["id"] == doc_id and len(body["hits"]) == 5
    assert doc_id not in [hit["id"] for hit in body["hits"]]
    assert [hit["id"] for hit in body["hits"]] == [hit.doc_id for hit in fitted.similar_to(doc_id, 5)]


def test_document_and_info(client, corpus, bundle_dir):
    body = client.get(f"/documents/{corpus.doc_ids[2]}").json()
    assert body == {"id": corpus.doc_ids[2], "title": corpus.titles[2], "label": corpus.labels[2],
                    "snippet": body["snippet"]} and body["snippet"].startswith(corpus.texts[2][:40])
    from indexing import read_manifest

    assert client.get("/info").json() == read_manifest(bundle_dir)  # what `retrieval info --json` prints


def test_health_names_the_generation(client, corpus):
    body = client.get("/health").json()
    assert body["status"] == "ok" and body["documents"] == len(corpus) and len(body["generation"]) == 16
    assert body["reload_error"] is None


def test_unknown_words_match_nothing(client):
    body = client.get("/search", params={"q": "zzzunknown qqqwords"}).json()
    assert body["known_terms"] == 0 and body["hits"] == []


def test_openapi_docs_need_no_network(client):
    page = client.get("/docs").text
    assert "/docs/swagger-ui-bundle.js" in page and "https://" not in page.split("<script>")[0]
    assert client.get("/docs/swagger-ui-bundle.js").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/search", "/similar/{doc_id}", "/documents/{doc_id}", "/info", "/health"} <= set(paths)
    assert "requestBody" in paths["/search"]["post"]


BAD_GETS = [
    ("/search", 400, "q is missing"),
    ("/search?q=", 400, "q is empty"),
    ("/search?q=%20%20", 400, "q is empty"),
    ("/search?q=space&k=0", 400, r"k must be from 1 to 20"),
    ("/search?q=space&k=-3", 400, r"k must be from 1 to 20"),
    ("/search?q=space&k=21", 400, r"--max-k"),
    ("/search?q=space&k=ten", 400, r"k: .*integer.*'ten'"),
    ("/search?q=space&k=2.5", 400, r"k: .*integer"),
    ("/search?q=space&rerank=-1", 400, "rerank must be from 0"),
    ("/search?q=space&rerank=51", 400, "--max-rerank"),
    ("/search?q=" + "a" * 1001, 413, r"q is 1,001 bytes; the limit is 1,000"),
    ("/search?q=%FF%FE", 400, "not UTF-8"),
    ("/search?q=space&index=nope", 404, r"no index named 'nope'; this server has 'default', 'second'"),
    ("/similar/no-such-doc", 404, "no document with id 'no-such-doc'"),
    ("/similar/doc-0-000?k=0", 400, "k must be from 1"),
    ("/documents/no-such-doc", 404, "no document with id"),
    ("/documents/%C3%28", 400, "not UTF-8"),
    ("/info?index=nope", 404, "no index named"),
    ("/nowhere", 404, "no such endpoint: GET /nowhere"),
]


@pytest.mark.parametrize("url, status, message", BAD_GETS)
def test_bad_get_requests_are_4xx_with_a_json_error(client, url, status, message):
    response = client.get(url)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert set(response.json()) == {"error"}
    assert re.search(message, response.json()["error"]), response.json()


JSON = {"Content-Type": "application/json"}
BAD_POSTS = [
    (b"{not json", JSON, 400, "not valid JSON"),
    (b'{"queries": ["\xff\xfe"]}', JSON, 400, "not UTF-8"),
    (b'{"queries": ["space"]}', {"Content-Type": "text/plain"}, 415, "takes a JSON body .* got text/plain"),
    (b'{"queries": ["space"]}', {}, 415, "got no Content-Type"),
    (json.dumps({"queries": ["space"] * 5}).encode(), JSON, 413, r"5 queries; the limit is 4 \(the server's --max-batch\)"),
    (json.dumps({"queries": []}).encode(), JSON, 400, "queries is empty"),
    (json.dumps({"queries": "space"}).encode(), JSON, 400, r"queries: .*list"),
    (json.dumps({"queries": [3]}).encode(), JSON, 400, r"queries.0: .*string"),
    (json.dumps({"queries": ["space", ""]}).encode(), JSON, 400, r"queries\[1\] is empty"),
    (json.dumps({"queries": ["a" * 1001]}).encode(), JSON, 413, r"queries\[0\] is 1,001 bytes"),
    (b'{"queries": ["\\ud800 space"]}', JSON, 400, r"queries\[0\] is not valid Unicode"),
    (json.dumps({"queries": ["space"], "k": "3"}).encode(), JSON, 400, r"k: .*integer"),
    (json.dumps({"queries": ["space"], "k": 0}).encode(), JSON, 400, "k must be from 1"),
    (json.dumps({"queries": ["space"], "k": 99}).encode(), JSON, 400, "--max-k"),
    (json.dumps({"queries": ["space"], "index": "nope"}).encode(), JSON, 404, "no index named 'nope'"),
    (json.dumps({"queries": ["space"], "path": "/etc/passwd"}).encode(), JSON, 400, r"path: .*not permitted"),
    (json.dumps(["space"]).encode(), JSON, 400, "does not fit"),
    (b"x" * 40000, JSON, 413, "the limit is"),
]


@pytest.mark.parametrize("body, headers, status, message", BAD_POSTS)
def test_bad_post_requests_are_4xx_with_a_json_error(client, body, headers, status, message):
    response = client.post("/search", content=body, headers=headers)
    assert response.status_code == status, response.text
    assert re.search(message, response.json()["error"]), response.json()


def test_wrong_method_is_405(client):
    response = client.delete("/search")
    assert response.status_code == 405 and "DELETE is not allowed" in response.json()["error"]


def test_an_unexpected_failure_is_a_500_without_a_traceback(indexes, monkeypatch):
    app = create_app(indexes, watch=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        monkeypatch.setattr(indexes["default"].current.index, "search", lambda *a, **k: 1 / 0)
        response = client.get("/search", params={"q": "space"})
    assert response.status_code == 500 and response.json() == {"error": "internal error; the server's log has the details"}


def test_the_api_key(keyed, corpus):
    assert keyed.get("/health").status_code == 200  # open, for probes
    response = keyed.get("/search", params={"q": "space"})
    assert response.status_code == 401 and "needs an API key" in response.json()["error"]
    assert response.headers["WWW-Authenticate"].startswith("Basic")  # a browser asks for it
    assert keyed.get("/search", params={"q": "space"}, headers={"X-API-Key": "wrong" * 4}).json() == {
        "error": "the API key is wrong"}
    assert keyed.get("/", headers={"Authorization": "Bearer nope"}).status_code == 401
    for headers in ({"X-API-Key": KEY}, {"Authorization": f"Bearer {KEY}"},
                    {"Authorization": "Basic " + base64.b64encode(f"anyone:{KEY}".encode()).decode()}):
        assert keyed.get("/search", params={"q": corpus.texts[0]}, headers=headers).status_code == 200


@pytest.mark.parametrize("options, message", [
    (dict(host="0.0.0.0"), "give an --api-key"),
    (dict(host="192.168.1.5"), "lets other machines reach the index"),
    (dict(api_key="short"), "at least 16 characters"),
    (dict(port=0), "--port must be"),
    (dict(port=70000), "--port must be"),
    (dict(max_k=0), "--max-k must be positive"),
    (dict(max_batch=-1), "--max-batch must be positive"),
    (dict(reload_interval=0), "--reload-interval must be positive"),
])
def test_serve_config_is_checked(options, message):
    with pytest.raises(RetrievalError, match=message):
        ServeConfig(**options)


def test_serve_config_allows_other_hosts_with_a_key():
    assert ServeConfig(host="0.0.0.0", api_key=KEY).host == "0.0.0.0"
    assert ServeConfig(host="::1").host == "::1" and ServeConfig(host="localhost").host == "localhost"

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


CLIENT_CONFIG = ServeConfig(max_k=20, max_query_bytes=1000, max_batch=4, max_rerank=50)


@pytest.fixture(scope="module")
def client(indexes):
    with TestClient(create_app(indexes, CLIENT_CONFIG, watch=False)) as client:
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
    assert set(body["hits"][0]) == {"id", "score", "title", "label", "snippet", "semantic_score", "lexical_score"}
    assert body["mode"] == expected.mode == "hybrid"
    generation = client.get("/health").json()["generation"]
    assert response.headers["X-Index-Generation"] == generation and response.headers["X-Index-Name"] == "default"


def test_rerank_and_named_index(client, fitted, corpus):
    body = client.get("/search", params={"q": corpus.texts[5], "k": 3, "rerank": 20, "index": "second"}).json()
    assert [hit["id"] for hit in body["hits"]] == [
        hit.doc_id for hit in fitted.search([corpus.texts[5]], 3, rerank=20)[0]
    ]


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
    assert body == {
        "id": corpus.doc_ids[2],
        "title": corpus.titles[2],
        "label": corpus.labels[2],
        "snippet": body["snippet"],
    } and body["snippet"].startswith(corpus.texts[2][:40])
    from indexing import read_manifest

    info = client.get("/info").json()
    limits = info.pop("server_limits")
    assert info == read_manifest(bundle_dir)  # what `retrieval info --json` prints, and the server's limits
    assert limits["max_k"] == 20 and limits["max_batch"] == 4 and limits["max_body_bytes"] == 3 * 4 * 1000 + 65536


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
    ("/search?q=space&mode=fuzzy", 400, r"mode: Input should be 'hybrid', 'semantic' or 'lexical' \(got 'fuzzy'\)"),
    ("/search?q=space&mode=", 400, r"mode: Input should be 'hybrid'"),
    ("/search?q=space&alpha=1.5", 400, r"alpha: Input should be less than or equal to 1 \(got '1.5'\)"),
    ("/search?q=space&alpha=-0.1", 400, r"alpha: Input should be greater than or equal to 0"),
    ("/search?q=space&alpha=half", 400, r"alpha: .*number"),
    ("/search?q=space&alpha=nan", 400, r"alpha: "),
    (
        "/search?q=space&mode=lexical&alpha=0.5",
        400,
        "alpha weighs the codes against BM25 in hybrid mode; it has nothing to weigh in lexical mode",
    ),
    ("/search?q=space&mode=semantic&alpha=0.5", 400, "nothing to weigh in semantic mode"),
    ("/search?q=space&rerank=10&alpha=0.5", 400, "rerank re-orders the codes' candidates, so it implies semantic"),
    ("/search?q=space&mode=hybrid&rerank=10", 400, "it goes with mode semantic"),
    ("/similar/doc-0-000?mode=fuzzy", 400, r"mode: Input should be"),
    ("/similar/doc-0-000?alpha=2", 400, r"alpha: Input should be less than or equal to 1"),
    ("/similar/doc-0-000?mode=lexical&alpha=0.5", 400, "nothing to weigh in lexical mode"),
    ("/nowhere", 404, "no such endpoint: GET /nowhere"),
    ("/search?q=space&k=%C2%B2", 400, r"k: .*integer"),  # "²": a digit to str.isdigit, not to int
    ("/search?q=space&k=" + "9" * 5000, 400, r"k: .*integer"),
    ("/similar/doc-0-000?k=" + "9" * 5000, 400, r"k: .*integer"),
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
    (
        json.dumps({"queries": ["space"] * 5}).encode(),
        JSON,
        413,
        r"5 queries; the limit is 4 \(the server's --max-batch\)",
    ),
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
    (json.dumps({"queries": ["space"], "mode": "fuzzy"}).encode(), JSON, 400, r"mode: Input should be 'hybrid'"),
    (
        json.dumps({"queries": ["space"], "alpha": 1.5}).encode(),
        JSON,
        400,
        r"alpha: Input should be less than or equal to 1",
    ),
    (json.dumps({"queries": ["space"], "alpha": "0.5"}).encode(), JSON, 400, r"alpha: .*number"),
    (
        json.dumps({"queries": ["space"], "mode": "lexical", "alpha": 0.5}).encode(),
        JSON,
        400,
        "nothing to weigh in lexical mode",
    ),
    (json.dumps({"queries": ["space"], "mode": "lexical", "rerank": 5}).encode(), JSON, 400, "goes with mode semantic"),
    (b"x" * 40000, JSON, 413, "the limit is"),
    (b"[" * 5000 + b"]" * 5000, JSON, 400, "nested too deeply"),
    (b'{"queries": [' + b"[" * 5000 + b"]" * 5000 + b"]}", JSON, 400, "nested too deeply"),
    (b'{"queries": ["space"], "k": ' + b"9" * 5000 + b"}", JSON, 400, "a number of 5,000 digits"),
]


@pytest.mark.parametrize("body, headers, status, message", BAD_POSTS)
def test_bad_post_requests_are_4xx_with_a_json_error(client, body, headers, status, message):
    response = client.post("/search", content=body, headers=headers)
    assert response.status_code == status, response.text
    assert re.search(message, response.json()["error"]), response.json()


def test_head_answers_on_the_read_endpoints(client, corpus):
    for url in (
        "/health",
        "/info",
        "/search?q=space",
        f"/similar/{corpus.doc_ids[0]}",
        f"/documents/{corpus.doc_ids[0]}",
        "/?q=space",
    ):
        response = client.head(url)
        assert response.status_code == 200, url
        assert response.content == b""


@pytest.mark.parametrize("k", ["%C2%B2", "9" * 5000, "-1", "3.5"])
def test_the_page_refuses_a_k_that_is_not_a_small_whole_number(client, k):
    response = client.get(f"/?q=space&k={k}")
    assert response.status_code == 400 and "k must be a whole number from 1 to" in response.text


def test_wrong_method_is_405(client):
    response = client.delete("/search")
    assert response.status_code == 405 and "DELETE is not allowed" in response.json()["error"]


def test_an_unexpected_failure_is_a_500_without_a_traceback(indexes, monkeypatch):
    app = create_app(indexes, watch=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        monkeypatch.setattr(indexes["default"].current.index, "search", lambda *a, **k: 1 / 0)
        response = client.get("/search", params={"q": "space"})
    assert response.status_code == 500 and response.json() == {
        "error": "internal error; the server's log has the details"
    }


def test_the_api_key(keyed, corpus):
    assert keyed.get("/health").status_code == 200  # open, for probes
    response = keyed.get("/search", params={"q": "space"})
    assert response.status_code == 401 and "needs an API key" in response.json()["error"]
    assert response.headers["WWW-Authenticate"].startswith("Basic")  # a browser asks for it
    assert keyed.get("/search", params={"q": "space"}, headers={"X-API-Key": "wrong" * 4}).json() == {
        "error": "the API key is wrong"
    }
    assert keyed.get("/", headers={"Authorization": "Bearer nope"}).status_code == 401
    for headers in (
        {"X-API-Key": KEY},
        {"Authorization": f"Bearer {KEY}"},
        {"Authorization": "Basic " + base64.b64encode(f"anyone:{KEY}".encode()).decode()},
    ):
        assert keyed.get("/search", params={"q": corpus.texts[0]}, headers=headers).status_code == 200


@pytest.mark.parametrize(
    "options, message",
    [
        (dict(host="0.0.0.0"), "give a key in RETRIEVAL_API_KEY"),
        (dict(host="192.168.1.5"), "lets other machines reach the index"),
        (dict(api_key="short"), "at least 16 characters"),
        (dict(port=0), "--port must be"),
        (dict(port=70000), "--port must be"),
        (dict(max_k=0), "--max-k must be positive"),
        (dict(max_batch=-1), "--max-batch must be positive"),
        (dict(reload_interval=0), "--reload-interval must be positive"),
    ],
)
def test_serve_config_is_checked(options, message):
    with pytest.raises(RetrievalError, match=message):
        ServeConfig(**options)


def test_serve_config_allows_other_hosts_with_a_key():
    assert ServeConfig(host="0.0.0.0", api_key=KEY).host == "0.0.0.0"
    assert ServeConfig(host="::1").host == "::1" and ServeConfig(host="localhost").host == "localhost"


# --- modes, weights, and the search page's highlighting --------------------------------------------------

SHORT = "bfword1 bhword3 common2x"  # topic 1's words and a shared one: both sides have something to say


@pytest.mark.parametrize("mode", ["hybrid", "semantic", "lexical"])
def test_get_search_in_each_mode_equals_the_library(client, fitted, mode):
    body = client.get("/search", params={"q": SHORT, "k": 5, "mode": mode}).json()
    expected = fitted.search([SHORT], 5, mode=mode)[0]
    assert body["mode"] == mode and body["known_terms"] == expected.known_terms
    assert body["hits"] == json.loads(json.dumps([hit.to_json() for hit in expected]))
    sides = [(hit["semantic_score"] is not None, hit["lexical_score"] is not None) for hit in body["hits"]]
    assert set(sides) == {{"hybrid": (True, True), "semantic": (True, False), "lexical": (False, True)}[mode]}


def test_semantic_mode_is_the_codes_alone_as_before(client, fitted, corpus):
    body = client.get("/search", params={"q": corpus.texts[3], "k": 5, "mode": "semantic"}).json()
    codes = fitted.search_codes(fitted.encoder_.encode(fitted.features([corpus.texts[3]])), 5)[0]
    assert [(hit["id"], hit["score"]) for hit in body["hits"]] == [(hit.doc_id, round(hit.score, 6)) for hit in codes]


def test_alpha_reaches_the_fusion(client, fitted):
    for alpha in (0, 0.3, 1):
        body = client.get("/search", params={"q": SHORT, "k": 5, "alpha": alpha}).json()
        assert body["mode"] == "hybrid"
        assert body["hits"] == json.loads(json.dumps([h.to_json() for h in fitted.search([SHORT], 5, alpha=alpha)[0]]))
    bm25 = [hit["lexical_score"] for hit in client.get("/search", params={"q": SHORT, "alpha": 0}).json()["hits"]]
    assert bm25 == sorted(bm25, reverse=True)


def test_post_search_takes_a_mode_and_alpha(client, fitted, corpus):
    texts = [SHORT, corpus.texts[4]]
    for body, kwargs in (
        ({"mode": "lexical"}, dict(mode="lexical")),
        ({"alpha": 0.2}, dict(alpha=0.2)),
        ({"mode": "semantic", "rerank": 10}, dict(mode="semantic", rerank=10)),
    ):
        response = client.post("/search", json={"queries": texts, "k": 3, **body})
        assert response.status_code == 200, response.text
        expected = fitted.search(texts, 3, **kwargs)
        results = response.json()["results"]
        assert [r["mode"] for r in results] == [hits.mode for hits in expected]
        assert [r["hits"] for r in results] == [
            json.loads(json.dumps([h.to_json() for h in hits])) for hits in expected
        ]


@pytest.mark.parametrize("mode", ["hybrid", "semantic", "lexical"])
def test_similar_takes_a_mode(client, fitted, corpus, mode):
    doc_id = corpus.doc_ids[7]
    body = client.get(f"/similar/{doc_id}", params={"k": 5, "mode": mode}).json()
    assert body["id"] == doc_id and body["mode"] == mode and doc_id not in [hit["id"] for hit in body["hits"]]
    assert body["hits"] == json.loads(json.dumps([hit.to_json() for hit in fitted.similar_to(doc_id, 5, mode=mode)]))
    body = client.get(f"/similar/{doc_id}", params={"k": 5, "alpha": 0.5}).json()
    assert body["mode"] == "hybrid"
    assert [hit["id"] for hit in body["hits"]] == [hit.doc_id for hit in fitted.similar_to(doc_id, 5, alpha=0.5)]


def test_info_and_openapi_describe_the_modes(client, bundle_dir):
    info = client.get("/info").json()
    assert info["lexical"]["terms"] > 0 and {"k1", "b", "postings"} <= set(info["lexical"])
    assert {"alpha_short", "alpha_long", "chosen_by", "figures"} <= set(info["fusion"])
    schema = client.get("/openapi.json").json()
    parameters = {p["name"]: p for p in schema["paths"]["/search"]["get"]["parameters"]}
    assert "mode" in parameters and "alpha" in parameters
    assert "hybrid" in json.dumps(parameters["mode"]["schema"]) and "lexical" in json.dumps(
        parameters["mode"]["schema"]
    )
    assert {"mode", "alpha"} <= {p["name"] for p in schema["paths"]["/similar/{doc_id}"]["get"]["parameters"]}
    models = schema["components"]["schemas"]
    assert {"semantic_score", "lexical_score"} <= set(models["HitModel"]["properties"])
    assert "mode" in models["SearchResponse"]["properties"] and "mode" in models["SimilarResponse"]["properties"]
    body = schema["paths"]["/search"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert {"mode", "alpha"} <= set(body["properties"])
    assert "409" in schema["paths"]["/search"]["get"]["responses"]


@pytest.fixture(scope="module")
def old_client(tmp_path_factory, bundle_dir):
    from bundles import old_bundle

    old = old_bundle(bundle_dir, tmp_path_factory.mktemp("old") / "old")
    with TestClient(create_app(load_indexes({"old": old}), watch=False)) as client:
        yield client


NOTE = "built before the lexical (BM25) index existed, so it answers in semantic mode only"


def test_an_old_bundle_answers_semantic_and_refuses_the_rest(old_client, client, corpus):
    body = old_client.get("/search", params={"q": SHORT, "k": 3}).json()
    assert body["mode"] == "semantic"
    assert body["hits"] == client.get("/search", params={"q": SHORT, "k": 3, "mode": "semantic"}).json()["hits"]
    for url, params in (
        ("/search", {"q": SHORT, "mode": "hybrid"}),
        ("/search", {"q": SHORT, "mode": "lexical"}),
        ("/search", {"q": SHORT, "alpha": 0.5}),
        (f"/similar/{corpus.doc_ids[0]}", {"mode": "lexical"}),
    ):
        response = old_client.get(url, params=params)
        assert response.status_code == 409, response.text
        assert (
            NOTE in response.json()["error"]
            and "rebuild it to enable hybrid and lexical search" in response.json()["error"]
        )
    response = old_client.post("/search", json={"queries": [SHORT], "mode": "hybrid"})
    assert response.status_code == 409 and NOTE in response.json()["error"]
    assert "lexical" not in old_client.get("/info").json()
    page = old_client.get("/", params={"q": SHORT})
    assert page.status_code == 200 and NOTE in page.text and 'data-mode="semantic"' in page.text
    assert '<option value="semantic" selected>' in page.text
    page = old_client.get("/", params={"q": SHORT, "mode": "hybrid"})
    assert page.status_code == 409 and 'class="message error"' in page.text and NOTE in page.text


def test_the_page_has_a_mode_selector_kept_in_the_url(client):
    page = client.get("/").text
    assert '<select name="mode" aria-label="mode">' in page and '<option value="hybrid" selected>' in page
    page = client.get("/", params={"q": SHORT}).text
    assert 'data-mode="hybrid"' in page and "codes " in page and " · BM25 " in page  # each side's score
    page = client.get("/", params={"q": SHORT, "mode": "lexical", "k": 3}).text
    assert '<option value="lexical" selected>' in page and 'data-mode="lexical"' in page
    links = re.findall(r'<a class="similar" href="([^"]+)"', page)
    assert len(links) == 3 and all("mode=lexical" in link and "k=3" in link for link in links)
    similar = client.get("/" + links[0].replace("&amp;", "&")[1:]).text
    assert 'data-mode="lexical"' in similar and "Documents similar to" in similar
    response = client.get("/", params={"q": SHORT, "mode": "fuzzy"})
    assert (
        response.status_code == 400
        and "mode must be one of hybrid, semantic, lexical; got &#x27;fuzzy&#x27;" in response.text
    )


def test_the_page_marks_the_query_words(client, fitted):
    page = client.get("/", params={"q": "BFWORD1 the", "mode": "lexical", "k": 3}).text
    snippets = re.findall(r'<p class="snippet">(.*?)</p>', page)
    assert snippets and all("<mark>bfword1</mark>" in snippet for snippet in snippets)  # the hits contain it
    assert "<mark>the</mark>" not in page  # a stop word matched nothing: nothing to mark


def test_highlight_escapes_and_marks_whole_words():
    from retrieval.server.routes.page import highlight

    assert highlight("Space spaceship SPACE", {"space"}) == "<mark>Space</mark> spaceship <mark>SPACE</mark>"
    assert highlight('<script>alert("x")</script> & amp', {"script", "amp"}) == (
        "&lt;<mark>script</mark>&gt;alert(&quot;x&quot;)&lt;/<mark>script</mark>&gt; &amp; <mark>amp</mark>"
    )
    assert highlight("a &amp; b", set()) == "a &amp;amp; b"
    assert highlight("<b>x</b>", {"quot", "lt", "gt"}) == "&lt;b&gt;x&lt;/b&gt;"  # never inside an entity


def test_a_query_or_a_snippet_with_html_injects_nothing(tmp_path, bundle_dir):
    import shutil

    from retrieval.text.corpus import Corpus
    from retrieval.text.index import TextIndex

    path = tmp_path / "index"
    shutil.copytree(bundle_dir, path)
    text = "<script>alert('bfword1')</script> <img src=x onerror=alert(1)> bfword1 bfword1 & bhword3"
    TextIndex.load(path).add(Corpus(doc_ids=["html"], texts=[text], titles=["<b>bold</b> title"])).save(path)
    with TestClient(create_app(load_indexes({"default": path}), watch=False)) as client:
        page = client.get("/", params={"q": "<script>bfword1</script>", "mode": "lexical", "k": 3}).text
    assert "<script" not in page and "<img" not in page and "<b>" not in page
    assert 'value="&lt;script&gt;bfword1&lt;/script&gt;"' in page  # the box keeps the query, escaped
    assert '<h2 class="title">&lt;b&gt;bold&lt;/b&gt; title</h2>' in page
    assert (
        "&lt;<mark>script</mark>&gt;alert(&#x27;<mark>bfword1</mark>&#x27;)&lt;/<mark>script</mark>&gt; "
        "&lt;img src=x onerror=alert(1)&gt; <mark>bfword1</mark> <mark>bfword1</mark> &amp; bhword3"
    ) in page

"""A rebuild while 4 clients query continuously: 0 errors, whole-generation answers, the new one within a second."""

from __future__ import annotations

import json
import threading
import time
import urllib.parse

from conftest import TINY_CONFIG, make_corpus
from serving import fetch, fetch_json, serving

CLIENTS = 4
MAX_SECONDS = 60  # every client stops by then, whatever happens
NEW_GENERATION_WITHIN = 1.0


def _client(url, texts, stop, log, number):
    i = number
    deadline = time.monotonic() + MAX_SECONDS
    while not stop.is_set() and time.monotonic() < deadline:
        text = texts[i % len(texts)]
        i += CLIENTS
        sent = time.monotonic()
        try:
            status, headers, body = fetch(f"{url}/search?" + urllib.parse.urlencode({"q": text, "k": 5}))
            log.append((sent, text, status, headers.get("X-Index-Generation"), json.loads(body)))
        except Exception as error:  # noqa: BLE001 - every failure is counted, none may happen
            log.append((sent, text, None, None, repr(error)))


def test_a_rebuild_under_load_gives_whole_generations(tmp_path, fitted, corpus):
    from retrieval.text.index import TextIndex

    directory = tmp_path / "served"
    fitted.save(directory)
    texts = corpus.texts[::5]
    log, stop = [], threading.Event()
    with serving(directory, "--reload-interval", "0.1") as (url, process):
        first = fetch_json(url + "/health")[2]["generation"]
        threads = [threading.Thread(target=_client, args=(url, texts, stop, log, n)) for n in range(CLIENTS)]
        for thread in threads:
            thread.start()
        time.sleep(0.5)
        rebuilt = TextIndex(TINY_CONFIG).fit(make_corpus(20, seed=5, prefix="new"))  # trains while clients query
        rebuilt.save(directory)
        swapped = time.monotonic()
        time.sleep(NEW_GENERATION_WITHIN + 1.0)
        stop.set()
        for thread in threads:
            thread.join(timeout=MAX_SECONDS)
        second = fetch_json(url + "/health")[2]["generation"]

    expected = {first: fitted, second: rebuilt}
    errors = [entry for entry in log if entry[2] != 200]
    assert not errors, errors[:3]
    assert first != second and {entry[3] for entry in log} == {first, second}
    for _sent, text, _status, generation, body in log:  # each answer is the whole answer of its generation
        index = expected[generation]
        assert [hit["id"] for hit in body["hits"]] == [hit.doc_id for hit in index.search([text], 5)[0]]
    late = [entry for entry in log if entry[0] > swapped + NEW_GENERATION_WITHIN]
    assert late and all(entry[3] == second for entry in late)
    assert any(entry[0] < swapped and entry[3] == first for entry in log)

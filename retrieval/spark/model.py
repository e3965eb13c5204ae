"""The model directory beside the codes: what the driver trained, for the executors and the index step.

``CODES_DIR/model/`` holds ``vectorizer.json``, the exported encoder (``encoder.json``,
``encoder.npz``: what the executors run), the Keras encoder (``encoder.keras``, copied
into the bundle as it is) and ``model.json`` (the config, the training history, the
library versions that trained it, what reading the corpus found, where the corpus is
and how it was read, and the lexical side's analyzer, so that ``retrieval index`` can
read the corpus again for BM25 without scikit-learn). ``model.json`` is written last,
so a directory that has it is complete.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from retrieval.code_index import COMMON_FILES
from retrieval.config import BuildConfig
from retrieval.errors import RetrievalError
from retrieval.runtime.encoder import Encoder
from retrieval.runtime.tfidf import TfidfTransform

MODEL_DIR, CODES_DIR = "model", "codes"
FORMAT = 1
FILES = {
    "vectorizer": "vectorizer.json",
    "steps": COMMON_FILES["steps"],
    "weights": COMMON_FILES["weights"],
    "keras": COMMON_FILES["encoder"],
    "record": "model.json",
}


@dataclass
class Model:
    """A model directory, read and checked.

    Attributes
    ----------
    path : Path
    config : BuildConfig
    vectorizer : dict
    transform : TfidfTransform
    encoder : Encoder
    record : dict
        ``model.json``: ``config``, ``history``, ``library_versions``, ``documents``, ``corpus`` (the report),
        ``corpus_source`` (``path``, absolute; ``format``; ``fields``) and ``analyzer`` (with a lexical side);
        a directory written before the last two existed lacks them.
    """

    path: Path
    config: BuildConfig
    vectorizer: dict
    transform: TfidfTransform
    encoder: Encoder
    record: dict

    def file_bytes(self, role: str) -> bytes:
        return (self.path / FILES[role]).read_bytes()


def write_model(index, directory: Path, documents: int, corpus: dict, source=None) -> Path:
    """Write a trained TextIndex's model (before its documents are encoded) to ``directory``.

    ``corpus`` is what reading the corpus found; ``source`` (a CorpusSource) where it is and how it was read.
    """
    from retrieval.model.fit import library_versions  # the driver trained, so TensorFlow is loaded already
    from retrieval.text.lexical_build import analyzer_of

    directory.mkdir(parents=True, exist_ok=False)
    (directory / FILES["vectorizer"]).write_text(json.dumps(index.vectorizer_))
    (directory / FILES["steps"]).write_text(json.dumps(index.encoder_.spec()))
    (directory / FILES["weights"]).write_bytes(index.encoder_.npz_bytes())
    index._keras["encoder"].save(directory / FILES["keras"])  # keras_model() asks for a finished index
    record = {
        "format": FORMAT,
        "kind": index.KIND,
        "config": index.config.to_dict(),
        "history": index.history_,
        "library_versions": library_versions(),
        "documents": int(documents),
        "train_sample": len(index.sample_),
        "code_size": index.encoder_.code_size,
        "vocabulary_size": index.transform_.n_features,
        "corpus": corpus,
    }
    if source is not None:
        record["corpus_source"] = {
            "path": str(Path(source.path).resolve()),
            "format": source.fmt,
            "fields": asdict(source.fields),
        }
    if index.config.lexical.enabled:
        record["analyzer"] = analyzer_of(index.config).to_dict()
    (directory / FILES["record"]).write_text(json.dumps(record, indent=1) + "\n")
    return directory


def read_model(codes_dir) -> Model:
    """The model directory of ``codes_dir``, every file present and consistent, or an error naming what is not."""
    path = Path(codes_dir) / MODEL_DIR
    if not path.is_dir():
        raise RetrievalError(
            f"no model directory: {path} is missing (retrieval build --engine spark --codes "
            f"{codes_dir} writes it beside the codes)"
        )
    missing = [name for name in FILES.values() if not (path / name).is_file()]
    if missing:
        raise RetrievalError(f"the model directory {path} is incomplete: {', '.join(missing)} missing")
    try:
        record = json.loads((path / FILES["record"]).read_text())
        if record.get("format") != FORMAT or record.get("kind") != "text":
            raise RetrievalError(f"{path / FILES['record']} is not a text model of format {FORMAT}")
        config = BuildConfig.from_dict(record["config"])
        vectorizer = json.loads((path / FILES["vectorizer"]).read_text())
    except (ValueError, KeyError, TypeError) as err:
        raise RetrievalError(f"the model directory {path} is damaged ({err})") from None
    transform = TfidfTransform.from_dict(vectorizer)
    encoder = Encoder.from_bytes((path / FILES["steps"]).read_bytes(), (path / FILES["weights"]).read_bytes())
    if transform.n_features != encoder.input_dim:
        raise RetrievalError(
            f"the model directory {path} is inconsistent: the vectorizer has {transform.n_features} "
            f"terms, the encoder takes {encoder.input_dim}"
        )
    return Model(path, config, vectorizer, transform, encoder, record)


class KerasFile:
    """The saved Keras encoder as bytes: saving it copies the file, so indexing needs no TensorFlow.

    Stands where a trained Keras model would in an index's models; anything else asked of it
    loads the model (in safe mode) and asks that.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self._model = None

    def save(self, target) -> None:
        Path(target).write_bytes(self.path.read_bytes())

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        if self._model is None:
            from retrieval.model.fit import load_keras

            self._model = load_keras(self.path.read_bytes(), self.path.name)
        return getattr(self._model, name)

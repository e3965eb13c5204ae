"""The top-level configs written into every manifest: text builds, image builds, and the TF-IDF featurizer.

Notes
-----
``BuildConfig`` and ``ImageConfig`` share ``_Sections``: the dict round trip
(``from_dict`` ignores keys a newer version may add, so older code still
reads newer manifests), the CLI flag overrides, and the check that binary
codes are searched by Hamming distance. ``TfidfConfig`` is here rather than
with the model sections because only a text build has one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, is_dataclass, replace
from typing import get_type_hints

from retrieval.config.checks import (
    ANCHOR_KINDS,
    INDEX_KINDS,
    METRICS,
    OUTPUTS,
    SMOOTHED_NEEDS_NEIGHBOURS,
    STOP_WORDS,
    _choice,
    _positive,
)
from retrieval.config.model import AutoencoderConfig, NeighbourConfig, NoiseConfig, TrainConfig
from retrieval.errors import RetrievalError


@dataclass(frozen=True)
class TfidfConfig:
    """TF-IDF featurizer settings (scikit-learn ``TfidfVectorizer``).

    ``max_features`` keeps the most frequent terms; ``min_df`` drops terms in
    fewer documents; ``max_df`` (a fraction) drops near-ubiquitous ones. A
    small corpus is fitted with what it can bear: ``min_df`` at most one
    document in ten (so 1 under 20 documents), ``max_df`` 1.0 if it would
    allow less than one document; the featurizer records the values used.
    """

    max_features: int = 10000
    min_df: int = 2
    max_df: float = 0.5
    sublinear_tf: bool = True
    stop_words: str = "english"
    lowercase: bool = True

    def __post_init__(self):
        _positive("max_features", self.max_features)
        _positive("min_df", self.min_df)
        if not 0.0 < self.max_df <= 1.0:
            raise RetrievalError(f"max_df must be a fraction in (0, 1]; got {self.max_df!r}")
        _choice("stop_words", self.stop_words, STOP_WORDS)


@dataclass(frozen=True)
class IndexConfig:
    """Which FAISS index holds the codes (``indexing.ann.plan_index`` states the rule of ``auto``).

    ``nlist`` and ``nprobe`` (IVF) are chosen by size when 0; ``m`` and
    ``ef_search`` are HNSW's links per document and candidate list; ``pq`` is
    the bytes per code of an ``ivfpq`` index (0 = the most that fit);
    ``max_memory_mb`` a budget for the index in memory (0 = none), which
    ``auto`` meets by its choice and any other kind must fit.
    """

    kind: str = "auto"
    nlist: int = 0
    nprobe: int = 0
    m: int = 32
    ef_search: int = 64
    pq: int = 0
    max_memory_mb: int = 0

    def __post_init__(self):
        _choice("index", self.kind, INDEX_KINDS)
        for name in ("nlist", "nprobe", "pq", "max_memory_mb"):
            _positive(name, getattr(self, name), allow_zero=True)
        _positive("hnsw m", self.m)
        _positive("ef_search", self.ef_search)


@dataclass(frozen=True)
class LexicalConfig:
    """The lexical (BM25) index every text build keeps beside the codes, and how hybrid search fuses the two.

    ``k1`` and ``b`` are Okapi BM25's (Lucene's defaults); ``stemmer`` reduces words to their stems
    (Snowball's English) before they are indexed or looked up. ``alpha`` is the weight of the codes in hybrid
    search (1 = codes alone, 0 = BM25 alone); -1 chooses it at build time on the corpus itself (see
    ``retrieval.text.fusion``). ``depth`` is how many candidates each side proposes. ``pair_weight`` is what a
    short query's adjacent word pairs weigh beside its words (0 indexes no pairs; see
    ``retrieval.runtime.lexical``). ``enabled`` False
    builds no lexical index: search is semantic only, as before the lexical index existed.
    """

    enabled: bool = True
    k1: float = 1.2
    b: float = 0.75
    alpha: float = -1.0
    depth: int = 100
    stemmer: str = "english"
    # chosen on the four known-item tasks of bench/known_item.py: MRR@10 +0.008 on average over words alone
    pair_weight: float = 0.2

    def __post_init__(self):
        _choice("stemmer", self.stemmer, ("english", "none"))
        if (
            isinstance(self.pair_weight, bool)
            or not isinstance(self.pair_weight, (int, float))
            or not (0 <= self.pair_weight <= 1)
        ):
            raise RetrievalError(f"the word-pair weight must be a number in [0, 1]; got {self.pair_weight!r}")
        if isinstance(self.k1, bool) or not isinstance(self.k1, (int, float)) or self.k1 < 0:
            raise RetrievalError(f"bm25 k1 must be a non-negative number; got {self.k1!r}")
        if isinstance(self.b, bool) or not isinstance(self.b, (int, float)) or not 0 <= self.b <= 1:
            raise RetrievalError(f"bm25 b must be a number in [0, 1]; got {self.b!r}")
        if (
            isinstance(self.alpha, bool)
            or not isinstance(self.alpha, (int, float))
            or not (self.alpha == -1 or 0 <= self.alpha <= 1)
        ):
            raise RetrievalError(f"alpha must be a weight in [0, 1], or -1 to choose it at build; got {self.alpha!r}")
        _positive("depth", self.depth)


class _Sections:
    """Shared by the top-level configs: dict round trip, flag overrides, the metric check."""

    def _check_metric(self) -> None:
        """Binary codes are searched by Hamming distance (a default cosine becomes hamming)."""
        _choice("metric", self.metric, METRICS)
        binary = self.autoencoder.codes == "binary"
        if binary and self.metric == "cosine":
            object.__setattr__(self, "metric", "hamming")
        elif binary != (self.metric == "hamming"):
            raise RetrievalError(
                f"metric {self.metric!r} does not fit {self.autoencoder.codes} codes: binary codes use hamming, "
                f"float codes cosine or l2"
            )

    def to_dict(self) -> dict:
        return asdict(self)

    def epochs_for(self, n_rows: int) -> int:
        """How many epochs training ``n_rows`` rows takes, an anchored encoder's decoder warm-up included."""
        warmup, epochs = self.train.epochs_for(round(n_rows * (1 - self.train.validation_fraction)))
        return epochs + (warmup if self.autoencoder.anchor != "none" else 0)

    @classmethod
    def from_dict(cls, data: dict):
        """Rebuild from ``to_dict`` output, ignoring keys a newer version may add."""
        kwargs = {}
        for f in fields(cls):
            if f.name not in data:
                continue
            value = data[f.name]
            section = get_type_hints(cls)[f.name]
            if is_dataclass(section):
                known = {g.name for g in fields(section)}
                value = section(**{k: v for k, v in value.items() if k in known})
            kwargs[f.name] = value
        return cls(**kwargs)

    def override(self, metric=None, **sections):
        """A copy with the given fields replaced; ``None`` values leave a field as it is.

        ``sections`` maps a section name (``autoencoder``, ``train``, ...) to a
        dict of its fields. Choosing another ``output`` without a ``loss``
        brings the loss that suits it.
        """
        changes = {
            name: {k: v for k, v in (values or {}).items() if v is not None} for name, values in sections.items()
        }
        model = changes.get("autoencoder", {})
        output = model.get("output")
        if output in OUTPUTS and output != self.autoencoder.output and "loss" not in model:
            model["loss"] = OUTPUTS[output][0]
        kind = model.get("kind")
        if hasattr(self, "noise"):  # images: denoising means a noise kind, Gaussian 0.5 unless named
            if kind == "denoising" and changes.get("noise", {}).get("kind", self.noise.kind) == "none":
                changes.setdefault("noise", {}).update(kind="gaussian")
        elif kind in ("plain", "denoising") and "input_dropout" not in model:  # text: masking noise
            model["input_dropout"] = 0.0 if kind == "plain" else AutoencoderConfig.input_dropout
        anchorless = (kind is not None and kind not in ANCHOR_KINDS) or model.get("binarizer", "itq") != "itq"
        if anchorless and "anchor" not in model:  # the kinds whose code layer takes no anchor
            model["anchor"] = "none"
        train = changes.get("train", {})
        if "epochs" in train and "steps" not in train:  # asking for epochs means a budget of epochs
            train["steps"] = 0
        if metric is None and model.get("codes") == "float" and self.metric == "hamming":
            metric = "cosine"
        return replace(
            self,
            **{name: replace(getattr(self, name), **values) for name, values in changes.items()},
            metric=metric or self.metric,
        )


TEXT_TRAIN = dict(steps=600, max_epochs=8, warmup_steps=300, learning_rate=3e-4)  # measured in bench/corpora.py


@dataclass(frozen=True)
class BuildConfig(_Sections):
    """Everything a text index build needs; recorded in the manifest.

    The text defaults anchor the code on smoothed LSA, reconstruct
    neighbour-smoothed targets, and train for a budget of optimiser steps
    (at a learning rate low enough not to pull the codes far from the anchor)
    after a decoder warm-up (see ``retrieval.model.neighbours``).
    """

    tfidf: TfidfConfig = field(default_factory=TfidfConfig)
    autoencoder: AutoencoderConfig = field(default_factory=lambda: AutoencoderConfig(anchor="smoothed_lsa"))
    train: TrainConfig = field(default_factory=lambda: TrainConfig(**TEXT_TRAIN))
    neighbours: NeighbourConfig = field(default_factory=NeighbourConfig)
    metric: str = "cosine"
    index: IndexConfig = field(default_factory=IndexConfig)
    # Documents that fit the vocabulary and train the model (0 = all); every one is indexed. 20,000: on
    # 20 Newsgroups 10,000 and on 100,000 synthetic documents 10,000 and 20,000 kept P@100 within 0.01 of
    # training on all, over two seeds, and 5,000 did not (bench/sample_size.py); every labelled corpus of
    # the protocol has fewer documents, so it trains on all of them as before.
    train_sample: int = 20_000
    lexical: LexicalConfig = field(default_factory=LexicalConfig)

    def __post_init__(self):
        self._check_metric()
        _positive("train_sample", self.train_sample, allow_zero=True)
        if self.autoencoder.anchor == "smoothed_lsa" and self.neighbours.k == 0:
            raise RetrievalError(SMOOTHED_NEEDS_NEIGHBOURS)


@dataclass(frozen=True)
class ImageConfig(_Sections):
    """Everything an image index build needs; recorded in the manifest.

    ``model`` names the preset ``autoencoder`` was made from (see
    ``retrieval.images.data.image_model``); ``noise`` makes it a denoising one.
    """

    model: str = "lecture"
    autoencoder: AutoencoderConfig = field(
        default_factory=lambda: AutoencoderConfig(
            hidden=(),
            code_activation="relu",
            output="sigmoid",
            loss="binary_crossentropy",
            input_dropout=0.0,
            kind="plain",
            center_codes=False,
        )
    )
    train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=20, batch_size=256))
    noise: NoiseConfig = field(default_factory=NoiseConfig)
    metric: str = "cosine"
    index: IndexConfig = field(default_factory=IndexConfig)

    def __post_init__(self):
        self._check_metric()

"""The text pipeline: TF-IDF -> autoencoder codes -> FAISS, saved as one bundle."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from indexing import BundleReader, IndexingError, check_k
from retrieval.code_index import CodeIndex, Hit, snippet, stage_reporter
from retrieval.config import BuildConfig
from retrieval.errors import RetrievalError
from retrieval.runtime.lexical import FILES as LEXICAL_FILES
from retrieval.runtime.lexical import LexicalIndex
from retrieval.runtime.tfidf import TfidfTransform, load_csr, save_csr
from retrieval.text import lexical_build, lexical_bundle
from retrieval.text.corpus import Corpus
from retrieval.text.fusion import FusionWeights
from retrieval.text.search import (
    BUILT_WITHOUT,
    NO_LEXICAL,
    HitList,
    rerank_hits,
    resolve_mode,
    search_texts,
    similar_doc,
)

__all__ = ["CodeIndex", "Hit", "HitList", "TextIndex"]
_UNSET = object()  # the lexical index's live rows not yet set
TRANSFORM_CHUNK = 50_000  # texts featurised at once when building


def check_rerank(rerank) -> None:
    """``rerank`` must be a whole number of candidates, 0 for none."""
    if isinstance(rerank, bool) or not isinstance(rerank, (int, np.integer)) or rerank < 0:
        raise RetrievalError(f"rerank must be a whole number of candidates (0 = off); got {rerank!r}")


def _shortlist(rerank: int, k) -> int:
    """How many candidates the codes propose: N, and at least k."""
    return max(int(rerank), k) if isinstance(k, (int, np.integer)) and not isinstance(k, bool) else k


class TextIndex(CodeIndex):
    """Semantic document search: TF-IDF -> autoencoder codes -> FAISS.

    Parameters
    ----------
    config : BuildConfig

    Attributes
    ----------
    transform_ : retrieval.runtime.TfidfTransform
        Texts -> TF-IDF rows, for queries and the database alike.
    vectorizer_ : dict
        The saved vocabulary, idf and settings (``vectorizer.json``).
    (and those of CodeIndex)
    """

    KIND = "text"
    CONFIG = BuildConfig
    FILES = {"vectorizer": "vectorizer.json", "tfidf": "tfidf.npz"}
    _tfidf_by_position: tuple | None = None  # (the _rows it was made for, the TF-IDF rows per position)
    load_note_: str | None = None  # what a loaded bundle cannot do (say, hybrid search) and how to enable it
    lexical_: LexicalIndex | None = None  # BM25 over the stored rows; None in a bundle written before it existed
    fusion_: FusionWeights | None = None  # hybrid search's weights, chosen at build
    _lexical_rows: object = _UNSET  # the _rows the lexical index's live set was made for (_UNSET: none yet)
    _lexical_columns: np.ndarray | None = None  # each TF-IDF column's lexical term number

    def fit(
        self,
        corpus,
        on_stage: Callable[[str], None] | None = None,
        on_epoch: Callable[[int, dict], None] | None = None,
        on_progress: Callable[[int, float | None], None] | None = None,
    ) -> "TextIndex":
        """Learn features and codes from ``corpus`` and index every document.

        Parameters
        ----------
        corpus : Corpus, retrieval.text.stream.CorpusSource or path
            A source on disk is read as a stream, twice at most: once for the
            seeded training sample (``config.train_sample``; 0 = every document)
            and, when the sample leaves documents out, once more to featurise
            and encode every document a chunk at a time. Memory then grows with
            the sample and the index, not with the corpus.
        on_stage, on_epoch, on_progress : callable, optional
            ``on_stage(name)`` as each stage starts, ``on_epoch(epoch, logs)``
            after each training epoch, ``on_progress(documents, fraction)`` as
            a pass over the corpus goes (``fraction`` read so far, or None).

        Attributes set beyond CodeIndex's: ``sample_`` (the training sample, a Corpus,
        for the end-of-build check) and ``corpus_report_`` (what reading found).
        """
        from retrieval.text.stream import as_source

        started = time.perf_counter()
        stage = stage_reporter(on_stage)
        source = as_source(corpus)
        X, codes, n, plan = self.train_on_sample(source, on_stage, on_epoch, on_progress)
        lexical = lexical_build.builder(self.config)
        if len(self.sample_) == n:
            doc_ids, metadata = self.sample_.doc_ids, _metadata(self.sample_)
            if lexical is not None:
                lexical.add(self.sample_.texts)
        else:
            stage("encoding every document")
            codes, doc_ids, metadata, X = self._encode_stream(source, on_progress, lexical)
        stage("indexing")
        self.index_documents(codes, doc_ids, metadata, X, plan, lexical.finish() if lexical is not None else None)
        self.weigh(self.sample_, on_stage)
        self.corpus_report_ = source.report
        self.build_seconds_ = time.perf_counter() - started
        return self

    def train_on_sample(self, source, on_stage=None, on_epoch=None, on_progress=None):
        """The first half of a build: draw the seeded training sample, fit the vectorizer and train on it.

        Both engines call it (``fit`` here, ``retrieval.spark`` on its driver), so both train the
        same model on the same sample. Sets ``sample_``, ``vectorizer_``, ``transform_``,
        ``encoder_`` and ``history_``.

        Returns
        -------
        X : CSR matrix
            The sample's TF-IDF rows.
        codes : ndarray of shape (len(sample_), code_size), float32
        n : int
            Documents in the whole corpus.
        plan : indexing.ann.IndexPlan
            The index ``n`` documents get, checked before training so that bad settings fail early.
        """
        from retrieval.text.featurize import TfidfFeaturizer  # scikit-learn: for fitting only
        from retrieval.text.stream import as_source, sample

        stage = stage_reporter(on_stage)
        stage("reading")
        self.sample_, n = sample(as_source(source), self.config.train_sample, self.config.train.seed, on_progress)
        plan = self._plan(n)  # bad settings fail before training
        stage("vectorising")
        self.vectorizer_ = TfidfFeaturizer(self.config.tfidf).fit(self.sample_.texts).to_dict()
        self.transform_ = TfidfTransform.from_dict(self.vectorizer_)
        X = self._transform_in_chunks(self.sample_.texts)  # the same rows a query of the same text gets
        _, codes = self._fit_model(X, on_stage, on_epoch)
        return X, codes, n, plan

    def weigh(self, sample, on_stage=None, note: str = BUILT_WITHOUT) -> "TextIndex":
        """The end of every build, after ``index_documents``: hybrid search's weights, chosen on ``sample`` (the
        training sample, every document of it indexed), or without a lexical side the ``load_note_`` ``note``.

        Every engine calls it (``fit``; ``retrieval.spark`` and ``retrieval index``), so all choose the same weights.
        """
        from retrieval.text.weights import choose_weights

        self.load_note_ = None if self.lexical_ is not None else note
        if self.lexical_ is not None:
            stage_reporter(on_stage)("weighing the codes against BM25")
            self.fusion_, self.fusion_figures_ = choose_weights(self, sample, self.config.train.seed)
        return self

    def index_documents(
        self, codes: np.ndarray, doc_ids, metadata: list, tfidf, plan=None, lexical: LexicalIndex | None = None
    ) -> "TextIndex":
        """Index every document of a build, however it was encoded (here, or on Spark's executors).

        ``codes`` (n, code_size) float32 go into a new FAISS index of ``plan`` (by default, the one
        ``config.index`` asks for at n) under ``doc_ids``; ``metadata`` (n dicts) and ``tfidf``
        (CSR, n rows) are kept per document, in the same order, and so is ``lexical`` (their BM25 index) if given.
        """
        self.metadata_, self._tfidf, self.lexical_, self._lexical_rows = metadata, tfidf, lexical, _UNSET
        self._lexical_columns = None
        self.index_ = self._index_codes(codes, doc_ids, plan if plan is not None else self._plan(len(doc_ids)))
        return self

    def _encode_stream(self, source, on_progress, lexical=None):
        """Featurise and encode every document of ``source`` a chunk at a time, through the numpy runtime.

        Returns codes (n, code_size) float32, the ids, the metadata and the TF-IDF rows (CSR), in reading order.
        """
        from retrieval.text.stream import chunks

        codes, doc_ids, metadata, rows = [], [], [], []
        for chunk in chunks(source, on_progress=on_progress):
            X = self.transform_.transform(chunk.texts)
            codes.append(self._encode_rows(X))
            if lexical is not None:
                lexical.add(chunk.texts)
            doc_ids += chunk.doc_ids
            metadata += _metadata(chunk)
            rows.append(X)
        return np.concatenate(codes), doc_ids, metadata, sp.vstack(rows, format="csr")

    def _transform_in_chunks(self, texts) -> sp.csr_matrix:
        """TF-IDF rows of many texts, a chunk at a time: the tokens of a million documents at once would
        take gigabytes. The rows are the same as in one call."""
        if len(texts) <= TRANSFORM_CHUNK:
            return self.transform_.transform(texts)
        return sp.vstack(
            [
                self.transform_.transform(texts[start : start + TRANSFORM_CHUNK])
                for start in range(0, len(texts), TRANSFORM_CHUNK)
            ],
            format="csr",
        )

    # --- updates: no retraining; the stored vectorizer and encoder take the new documents ---------
    def add(self, corpus: Corpus, replace: bool = False) -> "TextIndex":
        """Encode ``corpus`` with the stored vectorizer and encoder and add it to the index.

        An id already in the index is an error unless ``replace``, which removes the old document
        first. ``updates_`` counts what came after the build, and how many of the new documents'
        words the vocabulary lacks (``info`` shows the share: a high one says rebuild).
        """
        from retrieval.text.coverage import stop_words, word_coverage

        self._check_fitted()
        if not len(corpus):
            raise RetrievalError("there are no documents to add")
        present = [doc_id for doc_id in corpus.doc_ids if doc_id in self.index_.id_map]
        if present and not replace:
            raise RetrievalError(
                f"{len(present)} of the documents are already in the index (e.g. "
                f"{', '.join(map(repr, present[:3]))}); pass --replace to replace them"
            )
        if present:
            self._drop(present)
        X = self._transform_in_chunks(corpus.texts)
        codes = self.faiss_codes(self._encode_rows(X))
        if present:  # the drop made a new, writable copy already: add to it rather than copy it again
            self.index_.add(codes, corpus.doc_ids)
        else:
            self.index_ = self.index_.plus(codes, corpus.doc_ids)
        tfidf = self.tfidf_  # per position, through the stored rows a removal left, before they are reset
        if self.lexical_ is not None:  # compacted like the other stored rows, then the new documents appended
            from retrieval.runtime.lexical_builder import LexicalBuilder, appended, compacted

            old = self.lexical_
            added = LexicalBuilder(old.analyzer, old.k1, old.b, old.pair_weight).add(corpus.texts)
            self.lexical_ = appended(compacted(old, self._rows), added.finish(avgdl=old.avgdl))
            self._lexical_rows, self._lexical_columns = _UNSET, None  # new rows, and a merged vocabulary
        self.metadata_ = self.metadata_ + _metadata(corpus)  # an addition compacts: stored rows are positions again
        self._tfidf = sp.vstack([tfidf, X], format="csr")
        words, unknown = word_coverage(corpus.texts, self.transform_, stop_words(self.config.tfidf.stop_words))
        self._count(added=len(corpus) - len(present), replaced=len(present), words=words, unknown_words=unknown)
        return self

    def remove(self, doc_ids) -> "TextIndex":
        """Remove documents by id; every id must be in the index, and at least one must remain."""
        self._check_fitted()
        doc_ids = list(dict.fromkeys(doc_ids))
        missing = [doc_id for doc_id in doc_ids if doc_id not in self.index_.id_map]
        if missing:
            raise RetrievalError(
                f"{len(missing)} of the ids are not in the index (e.g. "
                f"{', '.join(map(repr, missing[:3]))}); nothing was removed"
            )
        if len(doc_ids) >= len(self.index_):
            raise RetrievalError("that would remove every document; build a new index instead")
        self._drop(doc_ids)
        self._count(removed=len(doc_ids))
        return self

    def _drop(self, doc_ids) -> None:
        self.index_, kept = self.index_.without(doc_ids)
        self._keep(kept)  # the metadata and TF-IDF rows stay where they are stored (see CodeIndex._rows)

    def _count(self, **counts) -> None:
        updates = dict(getattr(self, "updates_", None) or {})
        for name, value in counts.items():
            updates[name] = updates.get(name, 0) + int(value)
        self.updates_ = updates

    def features(self, texts):
        """TF-IDF rows, CSR (n_texts, n_features) float32."""
        self._check_fitted()
        return self.transform_.transform(texts)

    def _signals(self, X, stage):
        model = self.config.autoencoder
        if model.anchor == "none" and not (self.config.neighbours.k and self.config.neighbours.weight):
            return None
        from retrieval.model.neighbours import corpus_signals  # scikit-learn: for training only

        stage("neighbours")
        return corpus_signals(X, self.config.neighbours, model.anchor, model.code_size, seed=self.config.train.seed)

    def _stored_features(self):
        return self.tfidf_

    def _share_features(self, other) -> None:
        other.vectorizer_, other.transform_, other._tfidf = self.vectorizer_, self.transform_, self.tfidf_

    @property
    def tfidf_(self):
        """The database's TF-IDF rows, CSR (n_documents, n_features) float32."""
        self._check_fitted()
        stored = self._stored_tfidf()
        if self._rows is None:
            return stored
        if self._tfidf_by_position is None or self._tfidf_by_position[0] is not self._rows:
            self._tfidf_by_position = (self._rows, stored[self._rows])
        return self._tfidf_by_position[1]

    def _stored_tfidf(self):
        """The stored TF-IDF rows (position = stored row unless ``_rows`` says otherwise)."""
        self._check_fitted()
        if self._tfidf is None:  # read from this index's own generation, checked, on first use
            self._tfidf = load_csr(self._reader.read_bytes(self.FILES["tfidf"]))
            self._check_stored(self._tfidf.shape[0], self.FILES["tfidf"])
        return self._tfidf

    def _tfidf_at(self, positions):
        """The TF-IDF rows of the documents at ``positions``, without gathering every row after a removal."""
        return self._stored_tfidf()[positions if self._rows is None else self._rows[positions]]

    def search(
        self, texts, k: int = 10, rerank: int = 0, mode: str | None = None, alpha: float | None = None
    ) -> list[HitList]:
        """The ``k`` most similar documents to each text, best first.

        Parameters
        ----------
        texts : str or sequence of str
        k : int
            Hits per text; a ``k`` larger than the index returns every document.
        rerank : int
            With N > 0 (semantic mode), the codes propose max(N, k) candidates
            and TF-IDF cosine orders them (semantic hashing's recipe); scores are then cosines.
        mode : {"hybrid", "semantic", "lexical"}, optional
            ``hybrid`` (the default where the index has a lexical side) fuses
            the codes' and BM25's candidates (``retrieval.text.fusion``);
            ``semantic`` uses the codes alone, ``lexical`` BM25 alone.
        alpha : float, optional
            Hybrid mode's weight of the codes, in [0, 1]; by default the
            index's own, chosen at build for the query's length.

        Returns
        -------
        list of HitList, one per text
            Each a list of ``Hit`` (with each side's own score in hybrid mode),
            with ``known_terms`` and ``mode``: a text with no known term gets an
            empty list and ``known_terms`` 0.
        """
        self._check_fitted()
        check_rerank(rerank)
        check_k(k)
        mode = resolve_mode(self, mode, rerank)
        texts = [texts] if isinstance(texts, str) else list(texts)
        if not texts:
            return []
        return search_texts(self, texts, k, rerank, mode, alpha)

    def similar_to(
        self, doc_id: str, k: int = 10, rerank: int = 0, mode: str | None = None, alpha: float | None = None
    ) -> list[Hit]:
        """The ``k`` documents most similar to an indexed one, excluding itself (the rest as in ``search``)."""
        self._check_fitted()
        check_rerank(rerank)
        check_k(k)
        mode = resolve_mode(self, mode, rerank)
        if mode != "semantic":
            return similar_doc(self, doc_id, k, mode, alpha)
        if not rerank:
            return super().similar_to(doc_id, k)
        X = self._tfidf_at(self.index_.id_map.position(doc_id))
        hits = self.index_.search(self.index_.reconstruct(doc_id), _shortlist(rerank, k) + 1)
        return self._hits(rerank_hits(self, hits, X), skip=doc_id, k=k)[0]

    def live_lexical(self) -> LexicalIndex:
        """The lexical index, its statistics over the documents now in the index (after any removals)."""
        if self.lexical_ is None:
            raise RetrievalError(NO_LEXICAL)
        if self._lexical_rows is not self._rows:
            self.lexical_.set_live(self._rows)
            self._lexical_rows = self._rows
        return self.lexical_

    def lexical_terms_of(self, position: int) -> np.ndarray:
        """The lexical term numbers of the document at ``position``, from its TF-IDF row (sorted, int64)."""
        if self._lexical_columns is None:
            self._lexical_columns = self.lexical_.term_ids_of(self.transform_.vocabulary)
        columns = self._lexical_columns[self._tfidf_at(position).indices]
        return np.unique(columns[columns >= 0])

    def manifest_body(self) -> dict:
        body = {**super().manifest_body(), "vocabulary_size": self.transform_.n_features}
        for key in ("lexical", "fusion", "lexical_note"):  # a loaded bundle's, carried: replaced by this one's
            body.pop(key, None)
        return {**body, **lexical_bundle.manifest_section(self)}

    def _save_files(self, staged: Path) -> dict:
        (staged / self.FILES["vectorizer"]).write_text(json.dumps(self.vectorizer_))
        linked = lexical_bundle.write(self, staged, self._linkable())
        if self._linkable():  # only removals since the load: the same stored rows, under the new rows.npy
            return {**linked, self.FILES["tfidf"]: self._reader.link_into(self.FILES["tfidf"], staged)}
        save_csr(staged / self.FILES["tfidf"], self.tfidf_)
        return linked

    def _load_files(self, reader: BundleReader) -> None:
        self._tfidf = None
        self.vectorizer_ = reader.read_json(self.FILES["vectorizer"])
        try:
            self.transform_ = TfidfTransform.from_dict(self.vectorizer_)
        except RetrievalError as err:
            raise IndexingError(f"{reader.path} is damaged: {err}") from None
        if self.transform_.n_features != self.encoder_.input_dim:
            raise IndexingError(f"{reader.path} is inconsistent: vectorizer and encoder widths differ")
        self.lexical_, self.fusion_, self.load_note_ = lexical_bundle.read(reader, self.manifest_)
        self._lexical_rows = _UNSET
        if self.lexical_ is not None:
            self._check_stored(self.lexical_.n_stored, LEXICAL_FILES["lengths"])


def _metadata(corpus: Corpus) -> list[dict]:
    """What search shows of each document: title, snippet, label."""
    labels = corpus.labels or [None] * len(corpus)
    return [
        {"title": title, "snippet": snippet(text), "label": label}
        for title, text, label in zip(corpus.titles, corpus.texts, labels)
    ]

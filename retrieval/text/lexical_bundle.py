"""The lexical half of a text bundle: its manifest section, its files (plain ``.npy``, mapped on load), and the
fusion weights chosen at build.

A bundle written before the lexical index existed has none of these files; it
loads with ``lexical_`` None and a one-line ``load_note_`` saying how to enable
hybrid search (a bundle written since records that note as ``lexical_note``).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from indexing import BundleReader, IndexingError
from retrieval.errors import RetrievalError
from retrieval.runtime.analysis import Analyzer
from retrieval.runtime.lexical import FILES, TF_FILE, LexicalIndex
from retrieval.runtime.lexical_builder import compacted, from_tf
from retrieval.text.fusion import FusionWeights
from retrieval.text.search import BUILT_WITHOUT, NO_LEXICAL


def manifest_section(index) -> dict:
    """``lexical`` (BM25's settings and size) and ``fusion`` (the weights, how they were chosen, the figures);
    without a lexical side, ``lexical_note`` (why not, and how to get one)."""
    if index.lexical_ is None:
        note = getattr(index, "load_note_", None)
        return {"lexical_note": note} if note else {}
    lexical = index.lexical_
    loaded = getattr(index, "manifest_", None) or {}
    figures = getattr(index, "fusion_figures_", None)
    if figures is None:  # a loaded index, updated: the figures its build measured
        figures = loaded.get("fusion", {}).get("figures", {})
    return {
        "lexical": {
            "k1": lexical.k1,
            "b": lexical.b,
            "avgdl": lexical.avgdl,
            "analyzer": lexical.analyzer.to_dict(),
            "pair_weight": lexical.pair_weight,
            "pair_terms": lexical.n_pairs,
            "terms": lexical.n_terms,
            "postings": int(len(lexical.rows)),
        },
        "fusion": {**index.fusion_.to_dict(), "figures": figures},
    }


def write(index, staged: Path, linkable: bool) -> dict:
    """Write the lexical files into ``staged``, or (``linkable``: removals only since the load) link the loaded
    generation's; returns what was linked, as ``BundleReader.link_into`` gives it."""
    if index.lexical_ is None:
        return {}
    if linkable and not index.lexical_.converted:
        return {name: index._reader.link_into(name, staged) for name in FILES.values()}
    # per stored row where the rest is linked (an older generation's impacts, computed at load), else per position
    arrays = index.lexical_.arrays() if linkable else compacted(index.lexical_, index._rows).arrays()
    for part, array in arrays.items():
        np.save(staged / FILES[part], np.ascontiguousarray(array), allow_pickle=False)
    return {}


def _check_settings(settings) -> None:
    """RetrievalError unless ``settings`` (the manifest's ``lexical``) holds usable BM25 parameters."""
    if not isinstance(settings, dict):
        raise RetrievalError(f"the manifest's lexical settings are not an object: {settings!r}")
    k1, b = settings.get("k1", 1.2), settings.get("b", 0.75)
    for name, value, high in (("k1", k1, math.inf), ("b", b, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= high:
            raise RetrievalError(f"the manifest's BM25 {name} must be a number in [0, {high}]; got {value!r}")


def read(reader: BundleReader, manifest: dict) -> tuple[LexicalIndex | None, FusionWeights | None, str | None]:
    """(the lexical index, mapped read-only; the fusion weights; a load note) of a loaded generation.

    A bundle written before impacts were stored holds term counts (``TF_FILE``): its impacts are computed at
    load, in memory (``LexicalIndex.converted`` says so; the next save writes them).
    """
    files = manifest["files"]
    old_format = TF_FILE in files and FILES["impact"] not in files
    if not all(name in files for part, name in FILES.items() if not (old_format and part == "impact")):
        built_without = manifest.get("config", {}).get("lexical", {}).get("enabled") is False
        return None, None, manifest.get("lexical_note") or (BUILT_WITHOUT if built_without else NO_LEXICAL)
    settings = manifest.get("lexical", {})
    try:
        _check_settings(settings)
        analyzer = settings.get("analyzer", {"lowercase": settings.get("lowercase", True), "stemmer": "none"})
        options = dict(
            k1=settings.get("k1", 1.2),
            b=settings.get("b", 0.75),
            analyzer=Analyzer(
                analyzer.get("lowercase", True), analyzer.get("stop_words", ()), analyzer.get("stemmer", "none")
            ),
            pair_weight=settings.get("pair_weight", 0.0),
        )
        if old_format:
            arrays = {part: reader.read_array(TF_FILE if part == "impact" else name) for part, name in FILES.items()}
            lexical = from_tf(*(arrays[part] for part in FILES), **options)
        else:
            arrays = {part: reader.read_array(name) for part, name in FILES.items()}
            lexical = LexicalIndex(**arrays, avgdl=settings.get("avgdl"), **options)
        return lexical, FusionWeights.from_dict(manifest.get("fusion", {})), None
    except RetrievalError as err:
        raise IndexingError(f"{reader.path} is damaged: {err}") from None

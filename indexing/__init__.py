"""FAISS search, id mapping and the saved index bundle; no Keras, no scikit-learn.

Names are imported on first use, so that ``from indexing.errors import
IndexingError`` (say, in a command's error handler) does not load FAISS.
"""

_EXPORTS = {
    "check_k": "indexing.base",
    "HAMMING": "indexing.binary",
    "BinaryIndex": "indexing.binary",
    "hamming_distances": "indexing.binary",
    "pack_bits": "indexing.binary",
    "read_index": "indexing.binary",
    "FORMAT_VERSION": "indexing.bundle",
    "read_manifest": "indexing.bundle",
    "staged_bundle": "indexing.bundle",
    "write_manifest": "indexing.bundle",
    "IndexingError": "indexing.errors",
    "IdMap": "indexing.idmap",
    "nearest_neighbours": "indexing.neighbours",
    "BundleReader": "indexing.reader",
    "METRICS": "indexing.vectors",
    "Hits": "indexing.vectors",
    "VectorIndex": "indexing.vectors",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'indexing' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value

"""FAISS search, id mapping and the saved index bundle; no Keras, no scikit-learn.

Names are imported on first use, so that ``from indexing.errors import
IndexingError`` (say, in a command's error handler) does not load FAISS.
"""

from indexing.lazy import lazy_exports

_EXPORTS = {
    "check_k": "indexing.base",
    "set_search_threads": "indexing.base",
    "HAMMING": "indexing.binary",
    "BinaryIndex": "indexing.binary",
    "hamming_distances": "indexing.binary",
    "pack_bits": "indexing.binary",
    "read_index": "indexing.binary",
    "FORMAT_VERSION": "indexing.bundle",
    "generation_of": "indexing.bundle",
    "read_manifest": "indexing.bundle",
    "staged_bundle": "indexing.bundle",
    "write_manifest": "indexing.bundle",
    "IndexingError": "indexing.errors",
    "IdMap": "indexing.idmap",
    "writer_lock": "indexing.lock",
    "nearest_neighbours": "indexing.neighbours",
    "BundleReader": "indexing.reader",
    "METRICS": "indexing.vectors",
    "Hits": "indexing.vectors",
    "VectorIndex": "indexing.vectors",
}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports("indexing", globals(), _EXPORTS)

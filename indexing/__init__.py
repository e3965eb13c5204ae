"""FAISS search, id mapping and the saved index bundle; no Keras, no scikit-learn."""

from indexing.bundle import FORMAT_VERSION, read_manifest, staged_bundle, write_manifest
from indexing.errors import IndexingError
from indexing.idmap import IdMap
from indexing.vectors import METRICS, Hits, VectorIndex

__all__ = [
    "FORMAT_VERSION",
    "METRICS",
    "Hits",
    "IdMap",
    "IndexingError",
    "VectorIndex",
    "read_manifest",
    "staged_bundle",
    "write_manifest",
]

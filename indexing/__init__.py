"""FAISS search, id mapping and the saved index bundle; no Keras, no scikit-learn."""

from indexing.binary import HAMMING, BinaryIndex, hamming_distances, pack_bits, read_index
from indexing.bundle import FORMAT_VERSION, read_manifest, staged_bundle, write_manifest
from indexing.errors import IndexingError
from indexing.idmap import IdMap
from indexing.neighbours import nearest_neighbours
from indexing.vectors import METRICS, Hits, VectorIndex

__all__ = [
    "HAMMING",
    "BinaryIndex",
    "FORMAT_VERSION",
    "METRICS",
    "Hits",
    "IdMap",
    "IndexingError",
    "VectorIndex",
    "hamming_distances",
    "nearest_neighbours",
    "pack_bits",
    "read_index",
    "read_manifest",
    "staged_bundle",
    "write_manifest",
]

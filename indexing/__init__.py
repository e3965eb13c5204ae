"""FAISS search, id mapping and the saved index bundle; no Keras, no scikit-learn."""

from indexing.base import check_k
from indexing.binary import HAMMING, BinaryIndex, hamming_distances, pack_bits, read_index
from indexing.bundle import FORMAT_VERSION, read_manifest, staged_bundle, write_manifest
from indexing.errors import IndexingError
from indexing.idmap import IdMap
from indexing.neighbours import nearest_neighbours
from indexing.reader import BundleReader
from indexing.vectors import METRICS, Hits, VectorIndex

__all__ = [
    "HAMMING",
    "BinaryIndex",
    "BundleReader",
    "FORMAT_VERSION",
    "METRICS",
    "Hits",
    "IdMap",
    "IndexingError",
    "VectorIndex",
    "check_k",
    "hamming_distances",
    "nearest_neighbours",
    "pack_bits",
    "read_index",
    "read_manifest",
    "staged_bundle",
    "write_manifest",
]

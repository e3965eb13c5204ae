"""Which FAISS index holds the codes: exact (flat) for small corpora, approximate (IVF, HNSW) for large ones.

The rule of ``kind="auto"``, after autofaiss: up to ``EXACT_UP_TO`` documents a
flat index (exact, and a query over 100,000 32-d codes is still about a
millisecond); above it an inverted file with about 4·√n lists, of which
``nprobe`` are scanned per query. IVF rather than HNSW for ``auto``: it trains
in seconds on a sample, keeps each code once (HNSW adds a graph of 2·M links
per document), and supports the removals that ``retrieval remove`` makes.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import faiss

from indexing.errors import IndexingError

KINDS = ("auto", "flat", "ivf", "hnsw")
EXACT_UP_TO = 100_000
TRAIN_PER_LIST = 39  # FAISS warns below 39 training points per list


@dataclass(frozen=True)
class IndexPlan:
    """A resolved index choice: ``kind`` is flat, ivf or hnsw, with its parameters (0 where unused)."""

    kind: str = "flat"
    nlist: int = 0
    nprobe: int = 0
    m: int = 0
    ef_search: int = 0

    def to_dict(self) -> dict:
        return {key: value for key, value in asdict(self).items() if value or key == "kind"}

    @property
    def exact(self) -> bool:
        return self.kind == "flat"


def default_nlist(n: int) -> int:
    """About 4·√n lists, a power of two, and few enough that each list trains on 39 points."""
    if n < 2 * TRAIN_PER_LIST:
        return 1
    target = 2 ** round(math.log2(4 * math.sqrt(n)))
    return int(max(1, min(target, n // TRAIN_PER_LIST)))


def default_nprobe(nlist: int) -> int:
    """Lists scanned per query: 1/64 of them, at least 8 (or all of a small index)."""
    return int(min(nlist, max(8, nlist // 64)))


def plan_index(kind: str, n: int, nlist: int = 0, nprobe: int = 0, m: int = 32, ef_search: int = 64) -> IndexPlan:
    """Resolve ``kind`` (auto, flat, ivf or hnsw) for ``n`` documents; 0 picks ``nlist`` / ``nprobe``."""
    if kind not in KINDS:
        raise IndexingError(f"unknown index kind {kind!r}; choose one of {', '.join(KINDS)}")
    for name, value in (("nlist", nlist), ("nprobe", nprobe), ("m", m), ("ef_search", ef_search)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise IndexingError(f"{name} must be a whole number (0 = chosen by size); got {value!r}")
    if kind == "auto":
        kind = "flat" if n <= EXACT_UP_TO else "ivf"
    if kind == "flat":
        return IndexPlan("flat")
    if kind == "hnsw":
        return IndexPlan("hnsw", m=m or 32, ef_search=ef_search or 64)
    lists = nlist or default_nlist(n)
    if lists > n:
        raise IndexingError(f"an IVF index of {lists} lists needs at least as many documents; it has {n} "
                            "(lower --nlist or use --index flat)")
    return IndexPlan("ivf", nlist=lists, nprobe=min(nprobe or default_nprobe(lists), lists))


def new_index(plan: IndexPlan, dim: int, binary: bool = False, inner_product: bool = True):
    """An empty FAISS index for float codes (in an ``IndexIDMap2``) or packed binary ones (in an
    ``IndexBinaryIDMap2``); an IVF one is untrained."""
    metric = faiss.METRIC_INNER_PRODUCT if inner_product else faiss.METRIC_L2
    if binary:
        flat, hnsw, ivf, wrap = (lambda: faiss.IndexBinaryFlat(dim), lambda: faiss.IndexBinaryHNSW(dim, plan.m),
                                 lambda q: faiss.IndexBinaryIVF(q, dim, plan.nlist), faiss.IndexBinaryIDMap2)
    else:
        flat = (lambda: faiss.IndexFlatIP(dim)) if inner_product else (lambda: faiss.IndexFlatL2(dim))
        hnsw, ivf, wrap = (lambda: faiss.IndexHNSWFlat(dim, plan.m, metric),
                           lambda q: faiss.IndexIVFFlat(q, dim, plan.nlist, metric), faiss.IndexIDMap2)
    if plan.kind == "flat":
        inner = flat()
    elif plan.kind == "hnsw":
        inner = hnsw()
        inner.hnsw.efSearch = plan.ef_search
    else:
        quantizer = flat()
        inner = ivf(quantizer)
        inner.own_fields = True
        quantizer.this.disown()
        inner.nprobe = plan.nprobe
    return wrap(inner)


def inner_index(raw):
    """The index inside the id map, as its own class (IndexIVFFlat, IndexHNSWFlat, IndexBinaryIVF, ...)."""
    inner = raw.index
    return faiss.downcast_IndexBinary(inner) if isinstance(raw, faiss.IndexBinaryIDMap2) else faiss.downcast_index(inner)


def describe(raw) -> IndexPlan:
    """The plan a FAISS index was built with, read back from the index itself."""
    inner = inner_index(raw)
    if hasattr(inner, "nprobe") and hasattr(inner, "nlist"):
        return IndexPlan("ivf", nlist=int(inner.nlist), nprobe=int(inner.nprobe))
    if hasattr(inner, "hnsw"):
        return IndexPlan("hnsw", m=int(inner.hnsw.nb_neighbors(1)), ef_search=int(inner.hnsw.efSearch))
    return IndexPlan("flat")


def set_search(raw, nprobe: int | None = None, ef_search: int | None = None) -> None:
    """Query-time effort: IVF lists scanned, or HNSW's candidate list; a setting the index lacks is an error."""
    inner = inner_index(raw)
    if nprobe is not None:
        if not hasattr(inner, "nprobe"):
            raise IndexingError("--nprobe applies to IVF indexes; this index is not one")
        if isinstance(nprobe, bool) or not isinstance(nprobe, int) or nprobe < 1:
            raise IndexingError(f"--nprobe must be a positive whole number; got {nprobe!r}")
        inner.nprobe = min(nprobe, int(inner.nlist))
    if ef_search is not None:
        if not hasattr(inner, "hnsw"):
            raise IndexingError("--ef-search applies to HNSW indexes; this index is not one")
        if isinstance(ef_search, bool) or not isinstance(ef_search, int) or ef_search < 1:
            raise IndexingError(f"--ef-search must be a positive whole number; got {ef_search!r}")
        inner.hnsw.efSearch = ef_search


def empty_copy(raw, dim: int, inner_product: bool = True):
    """An empty index of the same kind and settings as ``raw``, with an IVF's trained lists copied.

    Built anew rather than cloned: a memory-mapped index's codes are a read-only view, which FAISS
    aborts on when a clone of it is reset.
    """
    plan = describe(raw)
    new = new_index(plan, dim, isinstance(raw, faiss.IndexBinaryIDMap2), inner_product)
    if plan.kind == "ivf":
        source, target = inner_index(raw), inner_index(new)
        target.quantizer.add(source.quantizer.reconstruct_n(0, source.quantizer.ntotal))
        target.is_trained = new.is_trained = True  # the id map keeps its own copy of the flag
    prepare_for_reconstruction(new)
    return new


def prepare_for_reconstruction(raw) -> None:
    """IVF lists keep no order by id: give them a direct map, so stored codes can be read back."""
    inner = inner_index(raw)
    if hasattr(inner, "make_direct_map") and hasattr(inner, "nlist"):
        inner.make_direct_map()

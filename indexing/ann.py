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
import numpy as np

from indexing.errors import IndexingError

KINDS = ("auto", "flat", "ivf", "ivfpq", "hnsw")
EXACT_UP_TO = 100_000
ID_MAP_BYTES = 52  # per code: IndexIDMap2's id list (8) and its reverse hash map (measured, about 44)
IVF_ENTRY_BYTES = 16  # per code in an inverted file: its id in the list and its direct-map entry
PQ_TRAIN = 256 * 39  # codes an 8-bit product quantiser trains on without FAISS's warning
TRAIN_PER_LIST = 39  # FAISS warns below 39 training points per list


@dataclass(frozen=True)
class IndexPlan:
    """A resolved index choice: ``kind`` is flat, ivf, ivfpq or hnsw, with its parameters (0 where unused).

    ``pq`` is an IVF-PQ index's bytes per code (one 8-bit code per sub-vector).
    """

    kind: str = "flat"
    nlist: int = 0
    nprobe: int = 0
    m: int = 0
    ef_search: int = 0
    pq: int = 0

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


def plan_index(
    kind: str,
    n: int,
    nlist: int = 0,
    nprobe: int = 0,
    m: int = 32,
    ef_search: int = 64,
    pq: int = 0,
    dim: int = 0,
    binary: bool = False,
    max_bytes: int = 0,
) -> IndexPlan:
    """Resolve ``kind`` for ``n`` codes of ``dim`` (bits when ``binary``); 0 picks ``nlist`` / ``nprobe`` / ``pq``.

    ``auto``: exact (flat) up to ``EXACT_UP_TO`` codes, IVF above. With a budget ``max_bytes``
    (``index_bytes`` estimates each candidate), ``auto`` takes the first that fits of: flat (up to
    that size), IVF, then for float codes IVF-PQ with the most bytes per code that fit; another
    kind that does not fit is an error, before any training.
    """
    if kind not in KINDS:
        raise IndexingError(f"unknown index kind {kind!r}; choose one of {', '.join(KINDS)}")
    for name, value in (
        ("nlist", nlist),
        ("nprobe", nprobe),
        ("m", m),
        ("ef_search", ef_search),
        ("pq", pq),
        ("max_bytes", max_bytes),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise IndexingError(f"{name} must be a whole number (0 = chosen by size); got {value!r}")
    if kind == "auto":
        candidates = (["flat"] if n <= EXACT_UP_TO else []) + ["ivf"] + ([] if binary or n < PQ_TRAIN else ["ivfpq"])
        if not max_bytes:
            return _plan(candidates[0], n, nlist, nprobe, m, ef_search, pq, dim, binary, max_bytes)
        plans = [_plan(name, n, nlist, nprobe, m, ef_search, pq, dim, binary, max_bytes) for name in candidates]
        for plan in plans:
            if index_bytes(plan, n, dim, binary) <= max_bytes:
                return plan
        smallest = min(plans, key=lambda plan: index_bytes(plan, n, dim, binary))
        raise IndexingError(_over_budget(smallest, n, dim, binary, max_bytes, "the smallest index for them"))
    plan = _plan(kind, n, nlist, nprobe, m, ef_search, pq, dim, binary, max_bytes)
    if max_bytes and index_bytes(plan, n, dim, binary) > max_bytes:
        raise IndexingError(_over_budget(plan, n, dim, binary, max_bytes, f"a {kind} index"))
    return plan


def _plan(kind, n, nlist, nprobe, m, ef_search, pq, dim, binary, max_bytes) -> IndexPlan:
    if kind == "flat":
        return IndexPlan("flat")
    if kind == "hnsw":
        return IndexPlan("hnsw", m=m or 32, ef_search=ef_search or 64)
    lists = nlist or default_nlist(n)
    if lists > n:
        raise IndexingError(
            f"an IVF index of {lists} lists needs at least as many documents; it has {n} "
            "(lower --nlist or use --index flat)"
        )
    plan = IndexPlan("ivf", nlist=lists, nprobe=min(nprobe or default_nprobe(lists), lists))
    if kind == "ivf":
        return plan
    if binary:
        raise IndexingError("--index ivfpq compresses float codes; binary codes are compact already (use ivf)")
    if pq:
        if not dim or dim % pq:
            raise IndexingError(f"--pq must divide the code size {dim} (bytes per code, one per sub-vector); got {pq}")
        return IndexPlan("ivfpq", nlist=lists, nprobe=plan.nprobe, pq=pq)
    if n < PQ_TRAIN:
        raise IndexingError(
            f"an IVF-PQ index learns 256 centroids per sub-vector and needs at least {PQ_TRAIN:,} "
            f"documents; it has {n:,} (use --index ivf or flat)"
        )
    sizes = [size for size in range(dim, 0, -1) if dim % size == 0]  # most bytes first
    fitting = [
        size
        for size in sizes
        if not max_bytes or index_bytes(IndexPlan("ivfpq", nlist=lists, pq=size), n, dim, binary) <= max_bytes
    ]
    return IndexPlan("ivfpq", nlist=lists, nprobe=plan.nprobe, pq=(fitting or sizes[-1:] or [1])[0])


def index_bytes(plan: IndexPlan, n: int, dim: int, binary: bool = False) -> int:
    """An estimate of the memory an index of ``plan`` takes for ``n`` codes of ``dim`` floats (or bits).

    Per code: its bytes, the id map's list and reverse hash (``ID_MAP_BYTES``), and in an inverted
    file its id and direct-map entry; HNSW adds 2·M four-byte links; IVF adds its centroids, PQ its
    codebooks. (Measured: 180 MB for a million 32-d float codes in a flat index, 201 MB in IVF.)
    """
    code = dim // 8 if binary else 4 * dim
    per, fixed = code + ID_MAP_BYTES, 0
    if plan.kind in ("ivf", "ivfpq"):
        per += IVF_ENTRY_BYTES
        fixed += plan.nlist * code
    if plan.kind == "ivfpq":
        per += plan.pq - code
        fixed += 256 * 4 * dim
    if plan.kind == "hnsw":
        per += 2 * plan.m * 4 + 8
    return int(n * per + fixed)


def _over_budget(plan: IndexPlan, n: int, dim: int, binary: bool, max_bytes: int, what: str) -> str:
    mb = lambda value: f"{value / 2**20:,.0f} MB"  # noqa: E731
    unit = "bits" if binary else "floats"
    return (
        f"{what} ({plan.kind}{f', {plan.pq} B a code' if plan.pq else ''}) of {n:,} codes of "
        f"{dim} {unit} needs about {mb(index_bytes(plan, n, dim, binary))}, over --max-index-memory "
        f"{mb(max_bytes)}; raise the budget, or use smaller codes (--code-size, --bits)"
    )


def new_index(plan: IndexPlan, dim: int, binary: bool = False, inner_product: bool = True):
    """An empty FAISS index for float codes (in an ``IndexIDMap2``) or packed binary ones (in an
    ``IndexBinaryIDMap2``), made by FAISS's index factories; an IVF one is untrained."""
    if binary:
        spec = {"flat": "BFlat", "ivf": f"BIVF{plan.nlist}", "hnsw": f"BHNSW{plan.m}"}[plan.kind]
        inner = faiss.index_binary_factory(dim, spec)
        raw = faiss.IndexBinaryIDMap2(inner)
        inner.this.disown()  # the id map frees it (the binary factory has no "IDMap2," prefix)
        raw.own_fields = True
    else:
        spec = {
            "flat": "Flat",
            "ivf": f"IVF{plan.nlist},Flat",
            "ivfpq": f"IVF{plan.nlist},PQ{plan.pq}",
            "hnsw": f"HNSW{plan.m},Flat",
        }[plan.kind]
        metric = faiss.METRIC_INNER_PRODUCT if inner_product else faiss.METRIC_L2
        raw = faiss.index_factory(dim, f"IDMap2,{spec}", metric)
    inner = inner_index(raw)
    if plan.kind == "hnsw":
        inner.hnsw.efSearch = plan.ef_search
    elif plan.kind != "flat":
        inner.nprobe = plan.nprobe
    return raw


def inner_index(raw):
    """The index inside the id map, as its own class (IndexIVFFlat, IndexHNSWFlat, IndexBinaryIVF, ...)."""
    inner = raw.index
    return (
        faiss.downcast_IndexBinary(inner) if isinstance(raw, faiss.IndexBinaryIDMap2) else faiss.downcast_index(inner)
    )


def describe(raw) -> IndexPlan:
    """The plan a FAISS index was built with, read back from the index itself."""
    inner = inner_index(raw)
    if hasattr(inner, "pq") and hasattr(inner, "nlist"):
        return IndexPlan("ivfpq", nlist=int(inner.nlist), nprobe=int(inner.nprobe), pq=int(inner.pq.M))
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
    if plan.kind in ("ivf", "ivfpq"):
        source, target = inner_index(raw), inner_index(new)
        target.quantizer.add(source.quantizer.reconstruct_n(0, source.quantizer.ntotal))
        if plan.kind == "ivfpq":
            target.pq = source.pq  # the codebooks (a copy), then the tables PQ search precomputes from them
            target.precompute_table()
        target.is_trained = new.is_trained = True  # the id map keeps its own copy of the flag
    prepare_for_reconstruction(new)
    return new


def ivf_without(raw, keep: np.ndarray, dim: int, inner_product: bool = True):
    """A new IVF index (flat or PQ codes, or binary, in its id map) of the entries of ``raw`` whose position
    ``keep`` marks (all of them for a copy that codes are then added to).

    What a rebuild from the kept codes gives, without assigning any code to a list again (at a million
    documents that assignment is most of the cost), and PQ codes stay bit for bit rather than being
    encoded again from their lossy reconstruction: each entry stays in its list, in its order there,
    and is renumbered so that positions stay contiguous (position p becomes the number of kept positions
    below it). ``raw`` is only read, so it may be memory-mapped, read-only: its lists are copied, which
    FAISS's own ``remove_ids`` on a clone could not do (a clone of a mapped index shares its read-only
    codes). The direct map is rebuilt from the new lists, so stored codes can still be read back.
    """
    keep = np.asarray(keep, dtype=bool)
    renumbered = np.cumsum(keep, dtype=np.int64) - 1  # old position -> new one (where kept)
    position_of = faiss.vector_to_array(raw.id_map)  # the id map's entry -> position (the identity, as added)
    new = empty_copy(raw, dim, inner_product)
    source, target = inner_index(raw), inner_index(new)
    lists, into, width = source.invlists, target.invlists, source.invlists.code_size
    target.make_direct_map(False)  # made again below, once the lists hold their entries
    for number in range(source.nlist):
        size = lists.list_size(number)
        if not size:
            continue
        ids_ptr, codes_ptr = lists.get_ids(number), lists.get_codes(number)
        try:
            positions = position_of[faiss.rev_swig_ptr(ids_ptr, size)]
            codes = faiss.rev_swig_ptr(codes_ptr, size * width).reshape(size, width)
            kept = keep[positions]
            ids, codes = renumbered[positions[kept]], np.ascontiguousarray(codes[kept])  # copies, in list order
        finally:
            lists.release_codes(number, codes_ptr)
            lists.release_ids(number, ids_ptr)
        if len(ids):
            into.add_entries(number, len(ids), faiss.swig_ptr(ids), faiss.swig_ptr(codes))
    total = int(renumbered[-1] + 1) if len(renumbered) else 0
    target.ntotal = new.ntotal = total
    target.make_direct_map(True)
    faiss.copy_array_to_vector(np.arange(total, dtype=np.int64), new.id_map)  # entry i is position i
    new.construct_rev_map()
    return new


def prepare_for_reconstruction(raw) -> None:
    """IVF lists keep no order by id: give them a direct map, so stored codes can be read back."""
    inner = inner_index(raw)
    if hasattr(inner, "make_direct_map") and hasattr(inner, "nlist"):
        inner.make_direct_map()

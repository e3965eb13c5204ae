"""Search speed and memory: float codes vs binary codes vs TF-IDF brute force.

    python bench/speed.py --float indexes/20newsgroups --binary indexes/20newsgroups-64bit
    python bench/speed.py --float ... --binary ... --scale 1000000   # the databases tiled to 1M documents

For each method: bytes per document in the searched structure, queries per
second for a batch of queries (k = 100, one thread per core as FAISS and
scipy choose), and the median single-query search time. The queries are the
test split, featurized and encoded once beforehand, so these are search
costs; ``end_to_end`` adds featurizing and encoding (text in, ids out).
``--scale`` tiles each database to that many documents, to show how the
costs grow beyond 20 Newsgroups' 11,293.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from indexing import BinaryIndex, VectorIndex
from retrieval.data.datasets import dataset_path
from retrieval.text.corpus import read_corpus
from retrieval.text.index import TextIndex


def timed(fn, repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def tiled(n: int, target: int) -> np.ndarray:
    return np.resize(np.arange(n), target)


def code_rows(name, index, codes, k, scale) -> dict:
    stored = index.index_.stored()
    n = scale or len(stored)
    rows, doc_ids = stored[tiled(len(stored), n)], [str(i) for i in range(n)]
    if isinstance(index.index_, BinaryIndex):
        search = BinaryIndex(index.index_.dim).add(rows, doc_ids)
        bytes_per_doc = index.index_.n_bytes
    else:
        search = VectorIndex(index.index_.dim, index.index_.metric).add(rows, doc_ids)
        bytes_per_doc = index.index_.dim * 4
    batch = timed(lambda: search.search(codes, k), repeat=3)
    singles = [timed(lambda c=c: search.search(c[None, :], k)) for c in codes[:300]]
    return {
        "method": name,
        "documents": n,
        "bytes_per_document": bytes_per_doc,
        "batch_queries_per_second": round(len(codes) / batch, 1),
        "single_query_ms": round(1000 * statistics.median(singles), 3),
    }


def tfidf_rows(Xq, Xd, k, scale) -> dict:
    n = scale or Xd.shape[0]
    Xd = Xd[tiled(Xd.shape[0], n)] if scale else Xd
    XdT = Xd.T.tocsr()

    def search(X):
        scores = (X @ XdT).toarray()
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        return np.take_along_axis(top, np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1), axis=1)

    chunk = 64  # a dense (queries x documents) block at a time
    batch = timed(lambda: [search(Xq[i : i + chunk]) for i in range(0, Xq.shape[0], chunk)])
    singles = [timed(lambda i=i: search(Xq[i : i + 1])) for i in range(100)]
    bytes_per_doc = (Xd.data.nbytes + Xd.indices.nbytes + Xd.indptr.nbytes) / n
    return {
        "method": "tfidf-brute-force",
        "documents": n,
        "bytes_per_document": round(bytes_per_doc, 1),
        "batch_queries_per_second": round(Xq.shape[0] / batch, 1),
        "single_query_ms": round(1000 * statistics.median(singles), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--float", dest="float_index", type=Path, required=True)
    parser.add_argument("--binary", dest="binary_index", type=Path, required=True)
    parser.add_argument("--queries", type=Path, default=None)
    parser.add_argument("-n", type=int, default=2000, help="queries in the batch")
    parser.add_argument("-k", type=int, default=100)
    parser.add_argument("--rerank", type=int, default=100, help="shortlist re-ranked by TF-IDF cosine in end_to_end")
    parser.add_argument("--scale", type=int, default=0, help="tile each database to this many documents")
    args = parser.parse_args()

    queries, _ = read_corpus(args.queries or dataset_path("20newsgroups", "test"))
    texts = queries.texts[: args.n]
    float_index, binary_index = TextIndex.load(args.float_index), TextIndex.load(args.binary_index)
    rows = []
    for name, index in (
        (f"float-{float_index.index_.dim}", float_index),
        (f"binary-{binary_index.index_.dim}bit", binary_index),
    ):
        codes = index.faiss_codes(index.encoder_.encode(index.features(texts)))
        rows.append(code_rows(name, index, codes, args.k, args.scale))
    Xq = float_index.features(texts)
    rows.append(tfidf_rows(Xq, sp.csr_matrix(float_index.tfidf_), args.k, args.scale))

    end_to_end = {}
    for name, index, rerank in (
        ("float", float_index, 0),
        ("binary", binary_index, 0),
        (f"binary+rerank-{args.rerank}", binary_index, args.rerank),
    ):
        index.search(texts[:50], args.k, rerank=rerank)  # warm up
        seconds = timed(lambda index=index, rerank=rerank: index.search(texts, args.k, rerank=rerank))
        end_to_end[name] = round(len(texts) / seconds, 1)
    print(
        json.dumps(
            {
                "queries": len(texts),
                "k": args.k,
                "search": rows,
                "end_to_end_documents": len(float_index.index_),  # the saved indexes, never tiled
                "end_to_end_queries_per_second": end_to_end,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()

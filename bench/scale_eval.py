"""A large text index measured by top-k search: query latency, recall against exact search, P@100 beside LSA-32.

    python bench/scale_eval.py indexes/synthetic-1m --queries data/synthetic-1000000/test.jsonl [-n 1000]

At a million documents a full ranking per query (what ``retrieval evaluate`` computes for MAP) is
too costly, so this measures what search returns:
- latency, one query at a time on one thread: the FAISS search alone (codes in) and text in -> hits;
- the same text in -> hits in each mode the index has (semantic; and hybrid and lexical where it has a
  lexical side), for whole test documents and for their first ``--short-words`` words (a person's few words);
- recall@10 of the index's search against exact search over the same codes (ties at the 10th score
  count as found), as ``retrieval evaluate`` reports it;
- P@100 of the index's own top 100 (relevant = same label), beside LSA-32 fitted on the same
  training sample the model saw (drawn again from the corpus with the manifest's ``train_sample`` and
  seed), searched exactly; and hybrid mode's own top 100, where the index has a lexical side.
Rows go to ``--out`` (``bench/results/scale_eval.jsonl``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
from rows import append_row  # bench/, the script's own folder

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "scale_eval.jsonl"
K = 100


def precision(found_labels: np.ndarray, query_labels: np.ndarray) -> float:
    return float((found_labels == query_labels[:, None]).mean())


def hybrid_precision(index, texts: list[str], query_labels: np.ndarray, chunk: int = 100) -> float:
    """P@100 of hybrid mode's own top 100; a query given fewer hits counts the missing ones as not relevant."""
    relevant = 0
    for s in range(0, len(texts), chunk):
        for hits, want in zip(index.search(texts[s : s + chunk], K, mode="hybrid"), query_labels[s : s + chunk]):
            relevant += sum(hit.label == want for hit in hits[:K])
    return relevant / (K * len(texts))


def mode_latency(index, kinds: dict[str, list[str]], modes: list[str], warm: int = 10) -> list[dict]:
    """p50 and p99 (ms) of ``index.search([text], 10, mode=...)``, one query at a time, per mode and query kind."""
    measured = []
    for kind, texts in kinds.items():
        for mode in modes:
            for text in texts[:warm]:  # the first queries of a mode bring its files' pages in
                index.search([text], 10, mode=mode)
            ms = []
            for text in texts:
                started = time.perf_counter()
                index.search([text], 10, mode=mode)
                ms.append((time.perf_counter() - started) * 1000)
            measured.append(
                {
                    "mode": mode,
                    "queries": kind,
                    "p50_ms": round(float(np.median(ms)), 3),
                    "p99_ms": round(float(np.percentile(ms, 99)), 3),
                }
            )
    return measured


def training_sample(index, corpus: Path) -> np.ndarray | None:
    """Positions of the documents the model trained on, drawn again from ``corpus`` as the build drew them."""
    from retrieval.text.stream import CorpusSource, sample

    size = index.config.train_sample
    if not size or size >= len(index.index_):
        return None
    drawn, _ = sample(CorpusSource(corpus), size, index.config.train.seed)
    return np.array([index.index_.id_map.position(doc_id) for doc_id in drawn.doc_ids])


def lsa_precision(index, Xq, query_labels, db_labels, sample, seed: int, chunk: int = 200) -> tuple[float, float]:
    """P@100 of LSA-32 fitted on the model's training sample, exact search over every document."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.preprocessing import normalize

    started = time.perf_counter()
    Xd = index.tfidf_
    svd = TruncatedSVD(n_components=32, random_state=seed).fit(Xd if sample is None else Xd[sample])
    Zd = normalize(svd.transform(Xd)).astype(np.float32)
    Zq = normalize(svd.transform(Xq)).astype(np.float32)
    hits = np.concatenate(
        [np.argpartition(-(Zq[s : s + chunk] @ Zd.T), K, axis=1)[:, :K] for s in range(0, len(Zq), chunk)]
    )
    return precision(db_labels[hits], query_labels), time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("index", type=Path)
    parser.add_argument("--queries", type=Path, required=True)
    parser.add_argument("--corpus", type=Path, help="the corpus the index was built from [the manifest's]")
    parser.add_argument("-n", type=int, default=1000, help="queries (the first n)")
    parser.add_argument("--short-words", type=int, default=8, help="words of each test document in a short query")
    parser.add_argument("--out", type=Path, default=RESULTS, help="the rows file, appended to")
    args = parser.parse_args()
    import faiss

    from retrieval.evaluation.text import approximate_recall
    from retrieval.text.corpus import read_corpus
    from retrieval.text.index import TextIndex
    from retrieval.text.search import resolve_mode

    index = TextIndex.load(args.index)
    queries, _ = read_corpus(args.queries)
    texts, query_labels = queries.texts[: args.n], np.asarray(queries.labels[: args.n])
    db_labels = np.asarray(index.labels_)
    Xq = index.features(texts)
    codes = index.faiss_codes(index.encoder_.encode(Xq))
    faiss.omp_set_num_threads(1)
    search_ms, text_ms = [], []
    for i, text in enumerate(texts):
        started = time.perf_counter()
        index.index_.search(codes[i], 10)
        search_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        index.search([text], 10)
        text_ms.append((time.perf_counter() - started) * 1000)
    modes = ["semantic", "hybrid", "lexical"] if index.lexical_ is not None else ["semantic"]
    short = [" ".join(text.split()[: args.short_words]) for text in texts]
    by_mode = mode_latency(index, {"whole documents": texts, f"first {args.short_words} words": short}, modes)
    faiss.omp_set_num_threads(len(os.sched_getaffinity(0)))
    recall = approximate_recall(index.index_, codes, 10, chunk=100)
    found = index.index_.search(codes, K).positions
    own = precision(db_labels[found], query_labels)
    hybrid = hybrid_precision(index, texts, query_labels) if index.lexical_ is not None else None
    sample = training_sample(index, args.corpus or Path(index.manifest_["corpus"]["path"]))
    lsa, lsa_seconds = lsa_precision(index, Xq, query_labels, db_labels, sample, index.config.train.seed)
    row = {
        "index": os.path.relpath(args.index, ROOT),
        "documents": len(index.index_),
        "queries": len(texts),
        "index_kind": index.index_.plan.to_dict(),
        "train_sample": index.config.train_sample,
        "search_p50_ms": round(float(np.median(search_ms)), 3),
        "search_p99_ms": round(float(np.percentile(search_ms, 99)), 3),
        "text_p50_ms": round(float(np.median(text_ms)), 3),
        "text_p99_ms": round(float(np.percentile(text_ms, 99)), 3),
        "text_mode": resolve_mode(index, None),  # the default: hybrid where the index has a lexical side
        "recall_at_10": recall,
        "precision_at_100": round(own, 4),
        "lsa32_precision_at_100": round(lsa, 4),
        "lsa32_seconds": round(lsa_seconds, 1),
        "short_words": args.short_words,
        "modes": by_mode,
        "hybrid_precision_at_100": None if hybrid is None else round(hybrid, 4),
        "cpus": len(os.sched_getaffinity(0)),
        "date": time.strftime("%Y-%m-%d"),
    }
    append_row(args.out, row)
    print(
        f"{row['index']}: {row['documents']:,} documents, {index.index_.plan.kind} index {row['index_kind']}, "
        f"{row['queries']} queries\n  search p50 {row['search_p50_ms']} ms (p99 {row['search_p99_ms']}), "
        "text in -> hits "
        f"({row['text_mode']}, the default) p50 {row['text_p50_ms']} ms (p99 {row['text_p99_ms']}); "
        f"recall@10 against exact {recall:.4f}\n"
        f"  P@100 {own:.4f} (the index's own top 100) beside LSA-32 fitted on the same sample {lsa:.4f}"
        + ("" if hybrid is None else f"; hybrid mode's own top 100 {hybrid:.4f}")
    )
    for m in by_mode:
        print(f"  {m['mode']:<8} {m['queries']:<16} text in -> hits p50 {m['p50_ms']} ms (p99 {m['p99_ms']})")


if __name__ == "__main__":
    main()

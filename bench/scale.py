"""A labelled synthetic corpus of any size, drawn from a topic model fitted on 20 Newsgroups.

    python bench/scale.py --docs 1000000 --queries 10000 --out data/synthetic-1m [--topics 20] [--seed 0]

An LDA topic model (scikit-learn) is fitted on the 20 Newsgroups training documents. Each synthetic
document then draws topic proportions from a Dirichlet(``--alpha``), a length from the real documents'
lengths (in vocabulary words), and its words from the mixture of the topics' word distributions. Its
label is its dominant topic, so relevance (same label) is known exactly at any size and P@k and recall
can be measured at a million documents.

Writes ``train.jsonl`` (``--docs``) and ``test.jsonl`` (``--queries``, from another seeded stream) with
``id``, ``text`` and ``label``, and ``topics.json`` (each topic's top words, the settings, the seed).
The same arguments write the same files.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CHUNK = 10_000  # documents drawn at once (about 1.2 million words)


def fit_topics(texts: list[str], topics: int, seed: int, max_features: int = 20000):
    """The vocabulary (array of str), each topic's word distribution (topics, vocabulary) and document lengths."""
    from sklearn.decomposition import LatentDirichletAllocation
    from sklearn.feature_extraction.text import CountVectorizer

    vectorizer = CountVectorizer(max_features=max_features, stop_words="english", min_df=5)
    counts = vectorizer.fit_transform(texts)
    lda = LatentDirichletAllocation(
        n_components=topics, learning_method="online", max_iter=10, random_state=seed, batch_size=512, n_jobs=1
    ).fit(counts)
    words = lda.components_ / lda.components_.sum(axis=1, keepdims=True)
    lengths = np.asarray(counts.sum(axis=1)).ravel()
    return vectorizer.get_feature_names_out(), words, lengths[lengths > 0]


def draw(n: int, prefix: str, vocabulary, words: np.ndarray, lengths: np.ndarray, alpha: float, rng):
    """Yield ``n`` documents as dicts (id, text, label), drawn a chunk at a time.

    Each word draws a topic from its document's proportions, then a word from that topic, both by
    inverse CDF: the words arrive in random order, as a bag of words should.
    """
    topics, size_v = words.shape
    word_cdf = np.cumsum(words, axis=1)
    word_cdf /= word_cdf[:, -1:]
    width = len(str(max(n - 1, 0)))
    for start in range(0, n, CHUNK):
        size = min(CHUNK, n - start)
        theta = rng.dirichlet(np.full(topics, alpha), size=size)
        doc_lengths = rng.choice(lengths, size=size)
        owner = np.repeat(np.arange(size), doc_lengths)
        topic_cdf = np.cumsum(theta, axis=1)
        topic_cdf[:, -1] = 1.0
        topic = (rng.random(len(owner))[:, None] > topic_cdf[owner]).sum(axis=1)
        u = rng.random(len(owner))
        word = np.empty(len(owner), dtype=np.int64)
        for t in range(topics):
            chosen = topic == t
            word[chosen] = np.searchsorted(word_cdf[t], u[chosen], side="right")
        np.minimum(word, size_v - 1, out=word)
        for row, columns in enumerate(np.split(word, np.cumsum(doc_lengths)[:-1])):
            yield {
                "id": f"{prefix}-{start + row:0{width}d}",
                "text": " ".join(vocabulary[columns]),
                "label": f"topic{int(theta[row].argmax()):02d}",
            }


def write(path: Path, documents) -> int:
    count = 0
    with open(path, "w") as handle:
        for document in documents:
            handle.write(json.dumps(document) + "\n")
            count += 1
    return count


def make_corpus(texts, out: Path, docs: int, queries: int, topics: int = 20, alpha: float = 0.1, seed: int = 0) -> dict:
    """Fit the topic model on ``texts`` and write the synthetic train and test splits into ``out``."""
    started = time.perf_counter()
    vocabulary, words, lengths = fit_topics(texts, topics, seed)
    out.mkdir(parents=True, exist_ok=True)
    train_rng, test_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    written = write(out / "train.jsonl", draw(docs, "doc", vocabulary, words, lengths, alpha, train_rng))
    asked = write(out / "test.jsonl", draw(queries, "query", vocabulary, words, lengths, alpha, test_rng))
    summary = {
        "documents": written,
        "queries": asked,
        "topics": topics,
        "alpha": alpha,
        "seed": seed,
        "vocabulary": len(vocabulary),
        "mean_length": round(float(lengths.mean()), 1),
        "seconds": round(time.perf_counter() - started, 1),
        "top_words": [list(vocabulary[np.argsort(-w)[:8]]) for w in words],
    }
    (out / "topics.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--out", type=Path, default=None, help="default: data/synthetic-DOCS")
    parser.add_argument("--topics", type=int, default=20)
    parser.add_argument("--alpha", type=float, default=0.1, help="Dirichlet concentration of topic proportions")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--source", type=Path, default=ROOT / "data" / "20newsgroups" / "train.jsonl")
    args = parser.parse_args()
    if not args.source.exists():
        raise SystemExit(f"{args.source} is missing: run `retrieval data fetch 20newsgroups` first")
    texts = [json.loads(line)["text"] for line in args.source.read_text().splitlines() if line.strip()]
    out = args.out or ROOT / "data" / f"synthetic-{args.docs}"
    summary = make_corpus(texts, out, args.docs, args.queries, args.topics, args.alpha, args.seed)
    print(
        f"wrote {out}: {summary['documents']:,} documents and {summary['queries']:,} queries from {args.topics} "
        f"topics ({summary['vocabulary']:,} words, {summary['mean_length']} words a document on average) "
        f"in {summary['seconds']} s"
    )


if __name__ == "__main__":
    main()

"""Approximate indexes (IVF, HNSW) against exact ground truth from a flat index on seeded clustered codes."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import TINY_FLAGS, run_cli

from indexing import BinaryIndex, IndexingError, VectorIndex
from indexing.ann import EXACT_UP_TO, IndexPlan, default_nlist, plan_index
from retrieval.evaluation.text import approximate_recall

N, DIM, CLUSTERS = 20_000, 32, 64


@pytest.fixture(scope="module")
def clustered():
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((CLUSTERS, DIM)).astype(np.float32)
    X = (centres[rng.integers(0, CLUSTERS, N)] + 0.3 * rng.standard_normal((N, DIM))).astype(np.float32)
    queries = X[:400] + 0.05 * rng.standard_normal((400, DIM)).astype(np.float32)
    return X, queries, [f"d{i}" for i in range(N)]


@pytest.fixture(scope="module")
def exact(clustered):
    X, _, ids = clustered
    return VectorIndex(DIM).add(X, ids)


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_float_recall_against_exact_search(clustered, exact, kind):
    X, queries, ids = clustered
    index = VectorIndex(DIM, "cosine", plan_index(kind, N)).add(X, ids)
    assert not index.exact and index.plan.kind == kind
    assert approximate_recall(index, queries, 10) >= 0.95
    assert approximate_recall(exact, queries, 10) == 1.0
    assert np.array_equal(index.stored(), exact.stored())  # the same codes, only the search differs


def test_scanning_every_list_is_exact(clustered, exact):
    X, queries, ids = clustered
    index = VectorIndex(DIM, "cosine", plan_index("ivf", N)).add(X, ids)
    low = approximate_recall(index.set_search(nprobe=1), queries, 10)
    assert low < approximate_recall(index.set_search(nprobe=index.plan.nlist), queries, 10) == 1.0


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_binary_recall_against_exact_search(clustered, kind):
    X, queries, ids = clustered
    codes = np.packbits(X > 0, axis=1)
    index = BinaryIndex(DIM, plan_index(kind, N)).add(codes, ids)
    assert approximate_recall(index, np.packbits(queries > 0, axis=1), 10) >= 0.9


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_the_kind_survives_writing_and_updates(clustered, tmp_path, kind):
    X, queries, ids = clustered
    index = VectorIndex(DIM, "cosine", plan_index(kind, N, nprobe=16)).add(X[:5000], ids[:5000])
    index.write(tmp_path / "index.faiss")
    loaded = VectorIndex.read(tmp_path / "index.faiss", ids[:5000], "cosine")
    assert loaded.plan == index.plan
    grown = loaded.plus(X[5000:5010], ids[5000:5010])
    shrunk, kept = grown.without(ids[:3])
    assert shrunk.plan == index.plan and len(shrunk) == 5007 and kept[0] == 3
    assert np.array_equal(shrunk.stored(), grown.stored()[3:])
    assert shrunk.search(X[5005], 1).doc_ids == [[ids[5005]]]


def test_the_rule_of_auto():
    assert plan_index("auto", EXACT_UP_TO) == IndexPlan("flat")
    plan = plan_index("auto", EXACT_UP_TO + 1)
    assert plan.kind == "ivf" and plan.nlist == 1024 and plan.nprobe == 16
    assert plan_index("auto", 1_000_000).nlist == 4096 and plan_index("auto", 1_000_000).nprobe == 64
    assert default_nlist(100) == 2 and plan_index("ivf", 100, nprobe=50).nprobe == 2


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: plan_index("annoy", 10), "unknown index kind 'annoy'"),
        (lambda: plan_index("ivf", 10, nlist=64), "needs at least as many documents"),
        (lambda: plan_index("ivf", 10, nlist=-1), "nlist must be a whole number"),
        (lambda: VectorIndex(4).add(np.eye(4, dtype=np.float32), list("abcd")).set_search(nprobe=4), "applies to IVF"),
        (
            lambda: VectorIndex(4, "cosine", IndexPlan("ivf", nlist=2, nprobe=1)).set_search(ef_search=8),
            "applies to HNSW",
        ),
        (lambda: VectorIndex(4, "cosine", IndexPlan("ivf", nlist=2, nprobe=1)).set_search(nprobe=0), "positive whole"),
        (
            lambda: VectorIndex(4, "cosine", IndexPlan("ivf", nlist=8, nprobe=1)).add(
                np.eye(4, dtype=np.float32), list("abcd")
            ),
            "8 lists needs at least as many documents to train on; got 4",
        ),
    ],
)
def test_bad_index_settings(call, message):
    with pytest.raises(IndexingError, match=message):
        call()


def test_an_ivf_text_index_from_the_command_line(tmp_path, corpus_file, queries_file, corpus):
    out = tmp_path / "ivf"
    result = run_cli(
        "build",
        corpus_file,
        "--out",
        out,
        *TINY_FLAGS,
        "--index",
        "ivf",
        "--nlist",
        "4",
        "--nprobe",
        "2",
        "--no-validate",
    )
    assert result.exit_code == 0, result.stderr
    assert "IVF index, 4 lists, 2 scanned per query" in run_cli("info", out).stdout
    result = run_cli("evaluate", out, "--queries", queries_file, "-k", "10", "--no-baselines", "--nprobe", "4")
    assert result.exit_code == 0 and "recall@10 of the IVF index" in result.stdout and ": 1.0000" in result.stdout
    report = json.loads(
        run_cli("evaluate", out, "--queries", queries_file, "-k", "10", "--no-baselines", "--json").stdout
    )
    assert report["index"] == {"kind": "ivf", "nlist": 4, "nprobe": 2} and 0 < report["recall_at_10"] <= 1
    answer = json.loads(run_cli("query", out, corpus.texts[7], "-k", "1", "--nprobe", "4", "--json").stdout)
    assert answer["hits"][0]["id"] == corpus.doc_ids[7]
    result = run_cli("query", out, corpus.texts[7], "--ef-search", "10")
    assert result.exit_code == 1 and "--ef-search applies to HNSW indexes" in result.stderr


@pytest.mark.parametrize("kind", ["flat", "ivf", "hnsw"])
def test_a_memory_mapped_index_is_copied_not_changed(clustered, tmp_path, kind):
    X, _, ids = clustered
    VectorIndex(DIM, "cosine", plan_index(kind, 2000)).add(X[:2000], ids[:2000]).write(tmp_path / "index.faiss")
    mapped = VectorIndex.read(tmp_path / "index.faiss", ids[:2000], "cosine", mmap=True)
    with pytest.raises(IndexingError, match="loaded memory-mapped, read-only"):
        mapped.add(X[2000:2001], ids[2000:2001])
    grown = mapped.plus(X[2000:2001], ids[2000:2001])
    shrunk, _ = grown.without(ids[:1])
    assert len(mapped) == 2000 and len(grown) == 2001 and len(shrunk) == 2000 and shrunk.plan == mapped.plan
    binary = BinaryIndex(DIM, plan_index(kind, 2000)).add(np.packbits(X[:2000] > 0, axis=1), ids[:2000])
    binary.write(tmp_path / "binary.faiss")
    mapped = BinaryIndex.read(tmp_path / "binary.faiss", ids[:2000], mmap=True)
    assert len(mapped.plus(np.packbits(X[2000:2001] > 0, axis=1), ids[2000:2001]).without(ids[:5])[0]) == 1996


def test_an_impossible_index_fails_before_training(tmp_path, corpus_file, monkeypatch):
    import retrieval.model.fit

    def never(*args, **kwargs):
        raise AssertionError("trained before the index settings were checked")

    monkeypatch.setattr(retrieval.model.fit, "fit_codes", never)
    result = run_cli("build", corpus_file, "--out", tmp_path / "ivf", *TINY_FLAGS, "--index", "ivf", "--nlist", "1000")
    assert result.exit_code == 1 and "1000 lists needs at least as many documents; it has 100" in result.stderr
    assert not (tmp_path / "ivf").exists()


def test_ivfpq_compresses_float_codes_and_survives_writing(clustered, exact, tmp_path):
    X, queries, ids = clustered
    plan = plan_index("ivfpq", N, dim=DIM, pq=16)
    index = VectorIndex(DIM, "cosine", plan).add(X, ids)
    assert index.plan == plan and plan.to_dict() == {"kind": "ivfpq", "nlist": 512, "nprobe": 8, "pq": 16}
    recall = approximate_recall(index, queries, 10)
    assert 0.6 <= recall < 1.0  # compressed: close to exact, not equal to it
    index.write(tmp_path / "pq.faiss")
    loaded = VectorIndex.read(tmp_path / "pq.faiss", ids, "cosine")
    assert loaded.plan == plan and approximate_recall(loaded, queries, 10) == recall
    shrunk, _ = loaded.without(ids[:3])
    assert shrunk.plan == plan and len(shrunk) == N - 3 and np.array_equal(shrunk.stored(), loaded.stored()[3:])


def test_the_memory_budget_picks_the_index():
    from indexing.ann import index_bytes

    mb = 2**20
    assert plan_index("auto", 50_000, dim=32, max_bytes=100 * mb) == IndexPlan("flat")
    assert plan_index("auto", 1_000_000, dim=32, max_bytes=300 * mb).kind == "ivf"
    squeezed = plan_index("auto", 1_000_000, dim=32, max_bytes=110 * mb)
    assert squeezed.kind == "ivfpq" and index_bytes(squeezed, 1_000_000, 32) <= 110 * mb
    assert index_bytes(plan_index("auto", 1_000_000, dim=32, max_bytes=300 * mb), 1_000_000, 32) > 110 * mb
    assert plan_index("auto", 1_000_000, dim=64, binary=True, max_bytes=300 * mb).kind == "ivf"
    # the estimate's scale: a million 32-d float codes in a flat index measured 180 MB
    assert 150 * mb < index_bytes(IndexPlan("flat"), 1_000_000, 32) < 210 * mb


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: plan_index("auto", 1_000_000, dim=32, max_bytes=20 * 2**20),
            r"the smallest index for them \(ivfpq, 1 B a code\) of 1,000,000 codes of 32 floats needs about 66 MB, "
            r"over --max-index-memory 20 MB",
        ),
        (lambda: plan_index("flat", 1_000_000, dim=32, max_bytes=100 * 2**20), "a flat index .* needs about 172 MB"),
        (lambda: plan_index("ivfpq", 50_000, dim=32, pq=5), "--pq must divide the code size 32"),
        (lambda: plan_index("ivfpq", 5_000, dim=32), "needs at least 9,984 documents; it has 5,000"),
        (lambda: plan_index("ivfpq", 50_000, dim=64, binary=True), "binary codes are compact already"),
    ],
)
def test_bad_budgets_and_pq_settings(call, message):
    with pytest.raises(IndexingError, match=message):
        call()


def test_the_memory_budget_from_the_command_line(tmp_path, corpus_file, monkeypatch):
    import retrieval.model.fit

    monkeypatch.setattr(retrieval.model.fit, "fit_codes", lambda *a, **k: pytest.fail("trained before the check"))
    result = run_cli("build", corpus_file, "--out", tmp_path / "x", *TINY_FLAGS, "--max-index-memory", "0.0001GB")
    assert result.exit_code == 1 and "--max-index-memory must be at least 1MB" in result.stderr
    result = run_cli("build", corpus_file, "--out", tmp_path / "x", *TINY_FLAGS, "--max-index-memory", "lots")
    assert result.exit_code == 1 and "must be a size such as 512MB or 2GB; got 'lots'" in result.stderr
    result = run_cli("build", corpus_file, "--out", tmp_path / "x", *TINY_FLAGS, "--index", "ivfpq")
    assert result.exit_code == 1 and "needs at least 9,984 documents; it has 100" in result.stderr
    assert not (tmp_path / "x").exists()


def test_the_config_names_the_index_types_indexing_builds():
    # the config restates them rather than import indexing.ann, which would load FAISS for `retrieval --help`
    from indexing.ann import KINDS
    from retrieval.config.checks import INDEX_KINDS

    assert INDEX_KINDS == KINDS

"""FAISS wrapper and id map, checked against exact brute force on seeded data."""

import faiss
import numpy as np
import pytest

from indexing import IdMap, IndexingError, VectorIndex


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(200, 16)).astype(np.float32), rng.normal(size=(7, 16)).astype(np.float32)


def ids(n):
    return [f"d{i}" for i in range(n)]


def test_cosine_search_matches_exact_inner_product_on_normalised_codes(data):
    X, Q = data
    index = VectorIndex(16, "cosine").add(X, ids(200))
    hits = index.search(Q, 10)
    Xn, Qn = X.copy(), Q.copy()
    faiss.normalize_L2(Xn)
    faiss.normalize_L2(Qn)
    truth = faiss.IndexFlatIP(16)
    truth.add(Xn)
    scores, positions = truth.search(Qn, 10)
    np.testing.assert_array_equal(hits.positions, positions)
    np.testing.assert_allclose(hits.scores, scores, rtol=1e-5)
    assert hits.doc_ids[0] == [f"d{p}" for p in positions[0]]


def test_l2_search_matches_index_flat_l2_with_negated_distances(data):
    X, Q = data
    index = VectorIndex(16, "l2").add(X, ids(200))
    truth = faiss.IndexFlatL2(16)
    truth.add(X)
    distances, positions = truth.search(Q, 5)
    hits = index.search(Q, 5)
    np.testing.assert_array_equal(hits.positions, positions)
    np.testing.assert_allclose(hits.scores, -distances, rtol=1e-5)


@pytest.mark.parametrize("metric", ["cosine", "l2"])
def test_scores_rank_like_search(data, metric):
    X, Q = data
    index = VectorIndex(16, metric).add(X, ids(200))
    full = index.scores(Q)
    assert full.shape == (7, 200)
    hits = index.search(Q, 3)
    np.testing.assert_array_equal(np.argsort(-full, axis=1)[:, :3], hits.positions)
    np.testing.assert_allclose(np.take_along_axis(full, hits.positions, 1), hits.scores, rtol=1e-4, atol=1e-4)


def test_k_larger_than_index_returns_every_document(data):
    X, Q = data
    index = VectorIndex(16).add(X[:5], ids(5))
    hits = index.search(Q[0], 50)
    assert hits.positions.shape == (1, 5)
    assert sorted(hits.doc_ids[0]) == sorted(ids(5))


@pytest.mark.parametrize("k", [0, -3, 2.5, True])
def test_k_must_be_a_positive_whole_number(data, k):
    index = VectorIndex(16).add(data[0], ids(200))
    with pytest.raises(IndexingError, match="k must be a positive whole number"):
        index.search(data[1], k)


def test_bad_shapes_values_and_arguments(data):
    X, _ = data
    with pytest.raises(IndexingError, match="unknown metric 'dot'; choose one of cosine, l2"):
        VectorIndex(16, "dot")
    with pytest.raises(IndexingError, match="code size must be positive"):
        VectorIndex(0)
    index = VectorIndex(16)
    with pytest.raises(IndexingError, match="the index is empty"):
        index.search(X[:1], 1)
    with pytest.raises(IndexingError, match=r"codes must have shape \(n, 16\); got \(3, 8\)"):
        index.add(np.zeros((3, 8)), ids(3))
    with pytest.raises(IndexingError, match="got 3 codes but 2 document ids"):
        index.add(X[:3], ids(2))
    bad = X[:2].copy()
    bad[0, 0] = np.nan
    with pytest.raises(IndexingError, match="NaN or infinite"):
        index.add(bad, ids(2))
    assert len(index) == 0  # nothing half-added


def test_duplicate_and_unknown_ids(data):
    X, _ = data
    index = VectorIndex(16).add(X[:3], ["a", "b", "c"])
    with pytest.raises(IndexingError, match="duplicate document id 'b'"):
        index.add(X[3:5], ["d", "b"])
    assert len(index) == 3 and len(index.id_map) == 3
    with pytest.raises(IndexingError, match="unknown document id 'zz'.*holds 3 documents"):
        index.reconstruct("zz")


def test_write_read_round_trip(tmp_path, data):
    X, Q = data
    index = VectorIndex(16).add(X, ids(200))
    index.write(tmp_path / "index.faiss")
    again = VectorIndex.read(tmp_path / "index.faiss", ids(200), "cosine")
    before, after = index.search(Q, 10), again.search(Q, 10)
    np.testing.assert_array_equal(before.positions, after.positions)
    np.testing.assert_array_equal(before.scores, after.scores)
    np.testing.assert_allclose(again.reconstruct("d3"), X[3] / np.linalg.norm(X[3]), rtol=1e-5)
    with pytest.raises(IndexingError, match="holds 200 vectors but the id list has 2"):
        VectorIndex.read(tmp_path / "index.faiss", ["a", "b"], "cosine")
    (tmp_path / "junk.faiss").write_bytes(b"not an index")
    with pytest.raises(IndexingError, match="cannot read FAISS index"):
        VectorIndex.read(tmp_path / "junk.faiss", [], "cosine")


def test_id_map_translates_nested_positions():
    id_map = IdMap(["x", "y"])
    assert id_map.ids(np.array([[1, 0], [0, -1]])) == [["y", "x"], ["x", None]]
    assert id_map.ids(np.array([1, -1, 0])) == ["y", None, "x"] and id_map.ids(np.int64(1)) == "y"
    assert "x" in id_map and id_map.position("y") == 1

"""Training rows cut to a few of their terms, as a query is (TrainConfig.short_inputs)."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval.config import TrainConfig
from retrieval.errors import RetrievalError


def test_short_rows_keep_a_few_terms_and_the_norm():
    from retrieval.model.training import short_rows

    rng = np.random.default_rng(0)
    batch = np.abs(rng.standard_normal((50, 40))).astype(np.float32) * (rng.random((50, 40)) < 0.6)
    batch /= np.linalg.norm(batch, axis=1, keepdims=True)
    cut = short_rows(batch, 1.0, 5, np.random.default_rng(1))
    kept = (cut > 0).sum(axis=1)
    assert kept.min() >= 2 and kept.max() <= 5
    assert np.all((cut > 0) <= (batch > 0))  # only terms the row had
    np.testing.assert_allclose(np.linalg.norm(cut, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(short_rows(batch, 0.0, 5, np.random.default_rng(1)), batch)
    again = short_rows(batch, 1.0, 5, np.random.default_rng(1))
    np.testing.assert_array_equal(cut, again)  # seeded


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("short_inputs", 1.5, r"short_inputs must be a fraction in \[0, 1\]"),
        ("short_terms", 1, "short_terms must be a whole number of at least 2"),
    ],
)
def test_bad_settings(field, value, message):
    with pytest.raises(RetrievalError, match=message):
        TrainConfig(**{field: value})

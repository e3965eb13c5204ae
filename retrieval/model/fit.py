"""From feature rows to indexed codes: build, train, finish and export, the pipelines' one call into Keras."""

from __future__ import annotations

import tempfile
from pathlib import Path

import scipy
import sklearn

from indexing import IndexingError
from retrieval.model._tf import keras, tf
from retrieval.model.builder import build_autoencoder
from retrieval.model.codes import fit_code_map
from retrieval.model.training import train


def fit_codes(X, config, signals, stage, on_epoch, **train_options):
    """Train the autoencoder of ``config`` on rows ``X`` (n, d) and return what an index keeps.

    Parameters
    ----------
    X : CSR matrix or ndarray of shape (n, d), float32
    config : BuildConfig or ImageConfig
    signals : retrieval.model.neighbours.Signals or None
        Reconstruction targets and the anchor projection, where the recipe uses them.
    stage : callable
        Called with each stage's name, for progress display.

    Returns
    -------
    models : AutoencoderModels
    runtime : retrieval.runtime.Encoder
    codes : ndarray of shape (n, code_size), float32
        The runtime's codes of ``X``.
    history : dict
    """
    anchor = signals.anchor if signals is not None else None
    targets = signals.targets if signals is not None else None
    stage("training")
    models = build_autoencoder(X.shape[1], config.autoencoder, seed=config.train.seed, anchor=anchor)
    history = train(models, X, config.autoencoder, config.train, on_epoch=on_epoch, targets=targets, **train_options)
    stage("encoding")
    models, runtime, codes = fit_code_map(models, X, config.autoencoder, seed=config.train.seed)
    return models, runtime, codes, history


def load_keras(data: bytes, name: str) -> keras.Model:
    """A ``.keras`` model from its (already verified) bytes, loaded in safe mode: no code from the file runs."""
    with tempfile.TemporaryDirectory() as scratch:  # Keras reads archives by path, named .keras
        path = Path(scratch) / Path(name).name
        path.write_bytes(data)
        try:
            return keras.saving.load_model(path, compile=False, safe_mode=True)
        except Exception as err:  # Keras raises many types for a bad archive
            raise IndexingError(f"cannot load the model {name}: {err}") from None


def library_versions() -> dict:
    """The versions that trained a bundle, recorded in its manifest."""
    return {
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "scikit-learn": sklearn.__version__,
        "scipy": scipy.__version__,
    }

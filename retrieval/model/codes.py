"""What follows training: the fixed map of the codes (centring, an ITQ rotation), then the numpy export."""

from __future__ import annotations

import numpy as np

from retrieval.model.builder import with_code_transform
from retrieval.model.export import export_encoder
from retrieval.model.itq import itq_rotation
from retrieval.model.training import encode


def fit_code_map(models, X, config, seed: int = 0):
    """Fit the fixed map that follows training, if the config asks for one, and export the encoder.

    Float codes with ``center_codes`` are centred on the training mean. Binary
    codes with the ``itq`` binarizer are centred and ITQ-rotated, then squashed
    by a sigmoid so that the index's 0.5 threshold takes their signs. The map
    becomes part of the encoder (and its inverse part of the decoder).

    Returns
    -------
    models : AutoencoderModels
    runtime : retrieval.runtime.Encoder
        The numpy export of ``models.encoder``: what queries run.
    codes : ndarray of shape (n, code_size), float32
        The codes of ``X`` from ``runtime``, so that the indexed codes are
        exactly what a query of the same row gets.
    """
    if config.codes == "binary" and config.binarizer == "itq":
        codes = encode(models.encoder, X)
        mean = codes.mean(axis=0)
        models = with_code_transform(models, mean, itq_rotation(codes - mean, seed=seed), True)
    elif config.codes == "float" and config.center_codes:
        codes = encode(models.encoder, X)
        models = with_code_transform(models, codes.mean(axis=0), np.eye(codes.shape[1]), False)
    runtime = export_encoder(models.encoder)
    return models, runtime, runtime.encode(X)

"""The one autoencoder builder shared by every pipeline.

Text and images differ only in what they feed it: ``build_autoencoder``
returns the trainable ``autoencoder`` and its two halves, ``encoder`` (input
to code) and ``decoder`` (code to reconstruction), which share weights with it.
"""

from __future__ import annotations

from dataclasses import dataclass

from retrieval._tf import keras
from retrieval.config import AutoencoderConfig
from retrieval.errors import RetrievalError


@dataclass(frozen=True)
class AutoencoderModels:
    """Three views of one set of weights.

    Attributes
    ----------
    autoencoder : keras.Model
        (n, input_dim) float32 -> (n, input_dim) reconstruction.
    encoder : keras.Model
        (n, input_dim) -> (n, code_size) codes.
    decoder : keras.Model
        (n, code_size) -> (n, input_dim).
    """

    autoencoder: keras.Model
    encoder: keras.Model
    decoder: keras.Model


def build_autoencoder(input_dim: int, config: AutoencoderConfig, seed: int = 0) -> AutoencoderModels:
    """Build a deep dense autoencoder whose decoder mirrors its encoder.

    Parameters
    ----------
    input_dim : int
        Width of the input rows (vocabulary size, or pixels).
    config : AutoencoderConfig
        Hidden widths, code size, activations, output.
    seed : int
        Seeds the weight initialisation; the same seed gives the same weights.
    """
    if int(input_dim) <= 0:
        raise RetrievalError(f"input_dim must be positive; got {input_dim}")
    keras.utils.set_random_seed(seed)

    inputs = keras.Input(shape=(input_dim,), name="features")
    x = inputs
    if config.input_dropout > 0:  # masking noise, active in training only
        x = keras.layers.Dropout(config.input_dropout, seed=seed, name="input_dropout")(x)
    for depth, width in enumerate(config.hidden, start=1):
        x = keras.layers.Dense(width, activation=config.activation, name=f"encoder_{depth}")(x)
    code = keras.layers.Dense(config.code_size, activation=config.code_activation, name="code")(x)
    encoder = keras.Model(inputs, code, name="encoder")

    code_in = keras.Input(shape=(config.code_size,), name="code_in")
    y = code_in
    for depth, width in enumerate(reversed(config.hidden), start=1):
        y = keras.layers.Dense(width, activation=config.activation, name=f"decoder_{depth}")(y)
    outputs = keras.layers.Dense(input_dim, activation=config.output, name="reconstruction")(y)
    decoder = keras.Model(code_in, outputs, name="decoder")

    autoencoder = keras.Model(inputs, decoder(encoder(inputs)), name="autoencoder")
    return AutoencoderModels(autoencoder=autoencoder, encoder=encoder, decoder=decoder)

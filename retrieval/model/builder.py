"""The one autoencoder builder shared by every pipeline.

Text and images differ only in what they feed it: ``build_autoencoder``
returns the trainable ``autoencoder`` and its two halves, ``encoder`` (input
to code) and ``decoder`` (code to reconstruction), which share weights with it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from retrieval.config import AutoencoderConfig
from retrieval.errors import RetrievalError
from retrieval.model._tf import keras
from retrieval.model.blocks import ActivitySparsity, BinaryCode, CodeTransform, ContractiveDense, VariationalCode

ANCHOR = "anchor"  # the name of the fixed projection layer of an anchored encoder


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


def _code_block(config: AutoencoderConfig, input_dim: int, seed: int):
    """The layer that makes the code, by kind (and a near-binary one for semantic hashing).

    Beside an anchor it starts at zero, so that training starts from the anchor's codes.
    """
    if config.codes == "binary" and config.binarizer != "itq":
        return BinaryCode(
            config.code_size, binarizer=config.binarizer, noise=config.binary_noise, seed=seed, name="code"
        )
    if config.kind == "contractive":
        return ContractiveDense(
            config.code_size, weight=config.contractive_weight, activation=config.code_activation, name="code"
        )
    if config.kind == "variational":
        # the reconstruction loss is a mean over input values, so the KL term is too
        return VariationalCode(config.code_size, kl_weight=config.beta / input_dim, seed=seed, name="code")
    initial = "zeros" if config.anchor != "none" else "glorot_uniform"
    return keras.layers.Dense(
        config.code_size, activation=config.code_activation, kernel_initializer=initial, name="code"
    )


def _anchor_layer(anchor, input_dim: int, config: AutoencoderConfig):
    """A fixed (untrained) linear projection of the input onto the code, from ``anchor`` (input_dim, code_size)."""
    if anchor is None:
        raise RetrievalError(
            f"anchor {config.anchor!r} needs its projection matrix; compute it with retrieval.model.neighbours"
        )
    if tuple(anchor.shape) != (input_dim, config.code_size):
        raise RetrievalError(f"the anchor must have shape ({input_dim}, {config.code_size}); got {tuple(anchor.shape)}")
    layer = keras.layers.Dense(config.code_size, use_bias=False, trainable=False, name=ANCHOR)
    layer.build((None, input_dim))
    layer.set_weights([anchor.astype("float32")])
    return layer


def build_autoencoder(input_dim: int, config: AutoencoderConfig, seed: int = 0, anchor=None) -> AutoencoderModels:
    """Build an autoencoder whose decoder mirrors its encoder.

    Every model maps flat rows (n, input_dim) to flat rows: a convolutional
    one (``config.conv_filters``) reshapes to ``config.image_shape`` inside,
    so training, encoding and indexing never depend on the architecture.

    Parameters
    ----------
    input_dim : int
        Width of the input rows (vocabulary size, or pixels).
    config : AutoencoderConfig
        Conv blocks, hidden widths, code size, activations, output.
    seed : int
        Seeds the weight initialisation; the same seed gives the same weights.
    anchor : ndarray of shape (input_dim, code_size), float32, optional
        With ``config.anchor`` set: the code is this fixed projection of the
        (masked) input plus the learned code layer's output.
    """
    if int(input_dim) <= 0:
        raise RetrievalError(f"input_dim must be positive; got {input_dim}")
    if config.conv_filters and math.prod(config.image_shape) != input_dim:
        raise RetrievalError(f"image_shape {config.image_shape} does not hold {input_dim} values")
    keras.utils.set_random_seed(seed)
    layers, act = keras.layers, config.activation

    inputs = keras.Input(shape=(input_dim,), name="features")
    x = inputs
    if config.input_dropout > 0:  # masking noise, active in training only
        x = layers.Dropout(config.input_dropout, seed=seed, name="input_dropout")(x)
    masked = x
    if config.conv_filters:
        x = layers.Reshape(config.image_shape, name="to_image")(x)
        for depth, filters in enumerate(config.conv_filters, start=1):
            x = layers.Conv2D(filters, 3, strides=2, padding="same", activation=act, name=f"encoder_conv_{depth}")(x)
        x = layers.Flatten(name="flatten")(x)
    for depth, width in enumerate(config.hidden, start=1):
        x = layers.Dense(width, activation=act, name=f"encoder_{depth}")(x)
    code = _code_block(config, input_dim, seed)(x)
    if config.anchor != "none":
        code = layers.Add(name="anchored_code")([_anchor_layer(anchor, input_dim, config)(masked), code])
    if config.kind == "sparse":
        code = ActivitySparsity(config.sparse_l1, config.sparse_kl, config.sparse_target, name="sparsity")(code)
    encoder = keras.Model(inputs, code, name="encoder")

    code_in = keras.Input(shape=(config.code_size,), name="code_in")
    y = code_in
    for depth, width in enumerate(reversed(config.hidden), start=1):
        y = layers.Dense(width, activation=act, name=f"decoder_{depth}")(y)
    if config.conv_filters:
        height, width, channels = config.image_shape
        step = 2 ** len(config.conv_filters)
        small = (height // step, width // step, config.conv_filters[-1])
        y = layers.Dense(math.prod(small), activation=act, name="decoder_dense")(y)
        y = layers.Reshape(small, name="to_feature_map")(y)
        for depth, filters in enumerate(reversed(config.conv_filters), start=1):
            y = layers.Conv2DTranspose(
                filters, 3, strides=2, padding="same", activation=act, name=f"decoder_conv_{depth}"
            )(y)
        y = layers.Conv2D(channels, 3, padding="same", name="to_channels")(y)
        y = layers.Flatten(name="to_rows")(y)
        outputs = layers.Activation(config.output, name="reconstruction")(y)
    else:
        outputs = layers.Dense(input_dim, activation=config.output, name="reconstruction")(y)
    decoder = keras.Model(code_in, outputs, name="decoder")

    autoencoder = keras.Model(inputs, decoder(encoder(inputs)), name="autoencoder")
    return AutoencoderModels(autoencoder=autoencoder, encoder=encoder, decoder=decoder)


def with_code_transform(models: AutoencoderModels, mean, rotation, squash: bool) -> AutoencoderModels:
    """The same models with a fixed map appended to the encoder and its inverse prepended to the decoder.

    Parameters
    ----------
    mean : ndarray of shape (code_size,)
    rotation : ndarray of shape (code_size, code_size), orthogonal
    squash : bool
        Follow the map with a sigmoid (codes for thresholding into bits).
    """
    size = models.encoder.output_shape[-1]
    forward = CodeTransform(size, squash=squash, name="code_transform")
    encoder = keras.Model(models.encoder.inputs, forward(models.encoder.outputs[0]), name="encoder")
    code_in = keras.Input(shape=(size,), name="code_in")
    backward = CodeTransform(size, squash=squash, inverse=True, name="code_transform_inverse")
    decoder = keras.Model(code_in, models.decoder(backward(code_in)), name="decoder")
    for layer in (forward, backward):
        layer.set_weights([mean.astype("float32"), rotation.astype("float32")])
    return AutoencoderModels(autoencoder=models.autoencoder, encoder=encoder, decoder=decoder)

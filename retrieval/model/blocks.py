"""The code-layer blocks that make the autoencoder kinds, as registered Keras serializables.

Each is a small layer used by ``retrieval.model.builder.build_autoencoder``; being
registered, a saved model of any kind loads with ``safe_mode=True`` in a fresh
process without running code from the file.
"""

from __future__ import annotations

from retrieval.model._tf import keras

ops = keras.ops
PACKAGE = "retrieval"
CONTRACTIVE_ACTIVATIONS = ("sigmoid", "tanh", "relu", "linear")


@keras.saving.register_keras_serializable(package=PACKAGE)
class ActivitySparsity(keras.layers.Layer):
    """Identity on the code that adds sparsity penalties to the training loss.

    ``l1`` * mean over the batch of sum_j |h_j|, plus ``kl`` * sum_j KL(rho || rho_hat_j),
    where rho_hat_j is unit j's mean activation over the batch (needs codes in (0, 1)).
    """

    def __init__(self, l1: float = 0.0, kl: float = 0.0, target: float = 0.05, **kwargs):
        super().__init__(**kwargs)
        self.l1, self.kl, self.target = float(l1), float(kl), float(target)

    def call(self, codes):
        if self.l1:
            self.add_loss(self.l1 * ops.mean(ops.sum(ops.abs(codes), axis=1)))
        if self.kl:
            rho = self.target
            rho_hat = ops.clip(ops.mean(codes, axis=0), 1e-6, 1 - 1e-6)
            divergence = rho * ops.log(rho / rho_hat) + (1 - rho) * ops.log((1 - rho) / (1 - rho_hat))
            self.add_loss(self.kl * ops.sum(divergence))
        return codes

    def get_config(self):
        return {**super().get_config(), "l1": self.l1, "kl": self.kl, "target": self.target}


@keras.saving.register_keras_serializable(package=PACKAGE)
class ContractiveDense(keras.layers.Dense):
    """A Dense code layer that adds ``weight`` * ||dh/dx||_F^2 to the loss (Rifai et al. 2011).

    For h = f(x W + b) with an elementwise f, the Jacobian is diag(f'(a)) W^T, so
    ||J||_F^2 = sum_j f'(a_j)^2 sum_i W_ij^2: exact, with f' written from h for
    sigmoid (h(1-h)), tanh (1-h^2), relu (h > 0) and linear (1). With no hidden
    layers this is the whole encoder's Jacobian; in a deep encoder it is the code
    layer's Jacobian with respect to the last hidden layer.
    """

    def __init__(self, units, weight: float = 1e-4, **kwargs):
        super().__init__(units, **kwargs)
        self.weight = float(weight)

    def call(self, inputs):
        codes = super().call(inputs)
        name = keras.activations.serialize(self.activation)
        name = name if isinstance(name, str) else name.get("config", name)
        if name == "sigmoid":
            slope = codes * (1 - codes)
        elif name == "tanh":
            slope = 1 - ops.square(codes)
        elif name == "relu":
            slope = ops.cast(codes > 0, codes.dtype)
        else:
            slope = ops.ones_like(codes)
        column_norms = ops.sum(ops.square(self.kernel), axis=0)  # sum_i W_ij^2, shape (units,)
        self.add_loss(self.weight * ops.mean(ops.sum(ops.square(slope) * column_norms, axis=1)))
        return codes

    def get_config(self):
        return {**super().get_config(), "weight": self.weight}


@keras.saving.register_keras_serializable(package=PACKAGE)
class VariationalCode(keras.layers.Layer):
    """A Gaussian code: mean and log-variance heads, the reparameterisation trick and a KL term.

    In training it returns a sample mean + exp(log_var / 2) * eps and adds
    ``kl_weight`` * KL(N(mean, var) || N(0, I)) to the loss; at inference it
    returns the mean, which is the code that gets indexed.
    """

    def __init__(self, units: int, kl_weight: float = 1.0, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.units, self.kl_weight, self.seed = int(units), float(kl_weight), seed
        self.mean = keras.layers.Dense(self.units, name="mean")
        self.log_var = keras.layers.Dense(self.units, name="log_var", kernel_initializer="zeros")
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape):
        self.mean.build(input_shape)
        self.log_var.build(input_shape)

    def call(self, inputs, training=None):
        mean, log_var = self.mean(inputs), ops.clip(self.log_var(inputs), -20.0, 20.0)
        kl = -0.5 * ops.mean(ops.sum(1 + log_var - ops.square(mean) - ops.exp(log_var), axis=1))
        self.add_loss(self.kl_weight * kl)
        if not training:
            return mean
        noise = keras.random.normal(ops.shape(mean), seed=self.seed_generator)
        return mean + ops.exp(0.5 * log_var) * noise

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "kl_weight": self.kl_weight, "seed": self.seed}


@keras.saving.register_keras_serializable(package=PACKAGE)
class BinaryCode(keras.layers.Dense):
    """A sigmoid code layer trained to be near-binary, for semantic hashing.

    ``straight_through``: in training the forward pass rounds the sigmoid to
    0 or 1 and the gradient flows as if it had not (Bengio et al. 2013), so
    the decoder learns from the very bits that will be indexed.
    ``noise``: Gaussian noise of standard deviation ``noise`` is added before
    the sigmoid in training (Salakhutdinov & Hinton 2009), which pushes the
    pre-activations away from 0. At inference both return the sigmoid;
    the index thresholds it at 0.5.
    """

    def __init__(
        self, units, binarizer: str = "straight_through", noise: float = 0.0, seed: int | None = None, **kwargs
    ):
        kwargs.pop("activation", None)
        super().__init__(units, activation="sigmoid", **kwargs)
        self.binarizer, self.noise, self.seed = binarizer, float(noise), seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        logits = ops.matmul(inputs, self.kernel) + self.bias
        if training and self.noise:
            logits = logits + self.noise * keras.random.normal(ops.shape(logits), seed=self.seed_generator)
        codes = ops.sigmoid(logits)
        if training and self.binarizer == "straight_through":
            codes = codes + ops.stop_gradient(ops.round(codes) - codes)
        return codes

    def get_config(self):
        config = super().get_config()
        config.pop("activation", None)
        return {**config, "binarizer": self.binarizer, "noise": self.noise, "seed": self.seed}


@keras.saving.register_keras_serializable(package=PACKAGE)
class CodeTransform(keras.layers.Layer):
    """A fixed affine map fitted after training: y = (z - mean) @ rotation, then a sigmoid if ``squash``.

    Centring float codes makes cosine search ignore the direction every code
    shares; an ITQ rotation with ``squash`` turns float codes into bits at
    the index's 0.5 threshold. With ``inverse`` it undoes the map, so the
    decoder still reconstructs from the codes the encoder now gives. The mean
    and rotation are non-trainable weights, saved with the model.
    """

    def __init__(self, units: int, squash: bool = False, inverse: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.units, self.squash, self.inverse = int(units), bool(squash), bool(inverse)

    def build(self, input_shape):
        self.mean = self.add_weight(shape=(self.units,), initializer="zeros", trainable=False, name="mean")
        self.rotation = self.add_weight(
            shape=(self.units, self.units), initializer="identity", trainable=False, name="rotation"
        )

    def call(self, codes):
        if self.inverse:
            if self.squash:
                codes = ops.clip(codes, 1e-6, 1 - 1e-6)
                codes = ops.log(codes / (1 - codes))
            return ops.matmul(codes, ops.transpose(self.rotation)) + self.mean
        codes = ops.matmul(codes - self.mean, self.rotation)
        return ops.sigmoid(codes) if self.squash else codes

    def get_config(self):
        return {**super().get_config(), "units": self.units, "squash": self.squash, "inverse": self.inverse}

"""The encoder as plain arrays and a numpy forward pass: what a query runs, with no TensorFlow.

A trained Keras encoder is exported (``retrieval.model.export``) to a list of
steps, each a small JSON dict naming its operation, its inputs and its arrays.
``Encoder.encode`` evaluates them in order on CSR rows (text: the first layer
multiplies the sparse rows, never densifying them) or on dense rows (pixels).
The database's codes are computed by this same pass, so a query and the
document it repeats get the same code, bit for bit.
"""

from __future__ import annotations

import io
import json

import numpy as np
import scipy.sparse as sp

from retrieval.errors import RetrievalError

FORMAT = 1
INPUT = "features"  # the name of the encoder's input in a step's ``inputs``
OPS = ("dense", "add", "reshape", "conv2d", "flatten", "code_transform")
THRESHOLD = 0.5  # binary codes: a bit is set where the sigmoid code exceeds this


def _erf(x):
    from scipy.special import erf  # only gelu needs it, and importing it costs a cold query 50 ms

    return erf(x)


def _elu(x, alpha=1.0):
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


ACTIVATIONS = {
    "linear": lambda x: x,
    "relu": lambda x: np.maximum(x, 0),
    "elu": _elu,
    "selu": lambda x: np.float32(1.0507009873554805) * _elu(x, 1.6732632423543772),
    "gelu": lambda x: 0.5 * x * (1 + _erf(x / np.sqrt(2)).astype(x.dtype)),  # Keras 3: exact, not tanh-approximate
    "tanh": np.tanh,
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "softmax": lambda x: (lambda e: e / e.sum(axis=-1, keepdims=True))(np.exp(x - x.max(axis=-1, keepdims=True))),
}
_NEEDS = {"dense": ("kernel",), "conv2d": ("kernel", "bias"), "code_transform": ("mean", "rotation")}


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's 'same' padding: the extra row or column goes after, not before."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def conv2d(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray, stride: int, padding: str) -> np.ndarray:
    """Conv2D on (n, h, w, c) with a (kh, kw, c, filters) kernel, as Keras computes it."""
    kh, kw = kernel.shape[:2]
    if padding == "same":
        (top, bottom), (left, right) = _same_padding(x.shape[1], kh, stride), _same_padding(x.shape[2], kw, stride)
        x = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    windows = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(1, 2))[:, ::stride, ::stride]
    # windows: (n, oh, ow, c, kh, kw)
    return np.einsum("nhwcij,ijcf->nhwf", windows, kernel, optimize=True) + bias


def binarize(codes: np.ndarray) -> np.ndarray:
    """Sigmoid codes (n, n_bits) float32 -> packed bits (n, n_bits // 8) uint8, set where > 0.5."""
    codes = np.asarray(codes)
    return np.packbits(codes > THRESHOLD, axis=1)


class Encoder:
    """A feed-forward encoder evaluated with numpy.

    Parameters
    ----------
    steps : list of dict
        Each has ``op`` (one of ``OPS``), ``name``, ``inputs`` (names of earlier
        steps, or ``"features"``) and the names of its arrays.
    arrays : dict of str to ndarray
        float32 weights, keyed ``"<step name>/<array>"``.
    input_dim : int
    """

    def __init__(self, steps: list, arrays: dict, input_dim: int):
        self.steps, self.arrays, self.input_dim = list(steps), dict(arrays), int(input_dim)
        self._check()
        last = self.steps[-1]
        self.code_size = int(self._output_width(last))

    def _check(self) -> None:
        if not self.steps:
            raise RetrievalError("the exported encoder has no steps")
        seen = {INPUT}
        for step in self.steps:
            op, name = step.get("op"), step.get("name")
            if op not in OPS:
                raise RetrievalError(f"the exported encoder has an unknown step {op!r}; rebuild the index")
            missing = [i for i in step.get("inputs", []) if i not in seen]
            if missing or not step.get("inputs"):
                raise RetrievalError(f"the exported encoder's step {name!r} reads an unknown input {missing}")
            for array in _NEEDS.get(op, ()):
                if f"{name}/{array}" not in self.arrays:
                    raise RetrievalError(f"the exported encoder lacks the array {name}/{array}")
            if step.get("activation", "linear") not in ACTIVATIONS:
                raise RetrievalError(f"the exported encoder uses an unknown activation {step.get('activation')!r}")
            seen.add(name)

    def _output_width(self, step: dict) -> int:
        if step["op"] in ("dense", "code_transform"):
            return self.arrays[f"{step['name']}/{_NEEDS[step['op']][0]}"].shape[-1]
        if step["op"] == "add":
            return self._output_width(next(s for s in self.steps if s["name"] == step["inputs"][0]))
        raise RetrievalError(f"the exported encoder ends in a {step['op']} step, not a code")

    def _array(self, step: dict, name: str):
        return self.arrays.get(f"{step['name']}/{name}")

    def _run(self, step: dict, values: list):
        op, x = step["op"], values[0]
        if op == "dense":
            y = x @ self._array(step, "kernel")  # CSR @ dense gives a dense array; the rows stay sparse
            y = np.asarray(y, dtype=np.float32)
            bias = self._array(step, "bias")
            y = y + bias if bias is not None else y
            return ACTIVATIONS[step.get("activation", "linear")](y)
        if op == "add":
            return sum(values[1:], values[0])
        if op == "reshape":
            return np.asarray(x.toarray() if sp.issparse(x) else x).reshape((-1, *step["shape"]))
        if op == "conv2d":
            y = conv2d(x, self._array(step, "kernel"), self._array(step, "bias"), step["stride"], step["padding"])
            return ACTIVATIONS[step.get("activation", "linear")](y.astype(np.float32))
        if op == "flatten":
            return x.reshape(x.shape[0], -1)
        # code_transform: the fixed map fitted after training (centring, an ITQ rotation)
        y = (x - self._array(step, "mean")) @ self._array(step, "rotation")
        return ACTIVATIONS["sigmoid"](y) if step.get("squash") else y

    def encode(self, X, batch_size: int = 4096) -> np.ndarray:
        """Codes of rows ``X``.

        Parameters
        ----------
        X : CSR matrix or ndarray of shape (n, input_dim), float32

        Returns
        -------
        ndarray of shape (n, code_size), float32
        """
        if X.shape[1] != self.input_dim:
            raise RetrievalError(f"the encoder takes rows of width {self.input_dim}; got {X.shape[1]}")
        if X.shape[0] == 0:
            return np.zeros((0, self.code_size), dtype=np.float32)
        if X.shape[0] > batch_size:  # bounds the dense activations of a large batch
            return np.concatenate([self.encode(X[i : i + batch_size]) for i in range(0, X.shape[0], batch_size)])
        if not sp.issparse(X):
            X = np.asarray(X, dtype=np.float32)
        values = {INPUT: X}
        for step in self.steps:
            values[step["name"]] = self._run(step, [values[name] for name in step["inputs"]])
        return np.ascontiguousarray(values[self.steps[-1]["name"]], dtype=np.float32)

    def describe(self) -> list[dict]:
        """One dict per step: name, op, activation and output width where it has one (for ``info``)."""
        rows = []
        for step in self.steps:
            kernel = self._array(step, "kernel")
            rows.append(
                {
                    "name": step["name"],
                    "op": step["op"],
                    "activation": step.get("activation"),
                    "units": int(kernel.shape[-1]) if kernel is not None else None,
                }
            )
        return rows

    # --- saving as plain data: JSON for the steps, .npz (no pickle) for the arrays -----------------
    def spec(self) -> dict:
        return {"format": FORMAT, "input_dim": self.input_dim, "code_size": self.code_size, "steps": self.steps}

    def npz_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez(buffer, **self.arrays)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, spec_bytes: bytes, npz_bytes: bytes) -> "Encoder":
        """Read what ``spec`` and ``npz_bytes`` wrote (``allow_pickle=False``)."""
        try:
            spec = json.loads(spec_bytes)
            if spec.get("format") != FORMAT:
                raise RetrievalError(
                    f"the exported encoder has format {spec.get('format')!r}; this version reads {FORMAT}"
                )
            with np.load(io.BytesIO(npz_bytes), allow_pickle=False) as stored:
                arrays = {name: stored[name] for name in stored.files}
            return cls(spec["steps"], arrays, spec["input_dim"])
        except (ValueError, KeyError, TypeError, OSError) as err:
            raise RetrievalError(f"the exported encoder is malformed ({err}); rebuild the index") from None

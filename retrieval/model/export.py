"""Export a trained Keras encoder to the numpy runtime (``retrieval.runtime.encoder``).

Walks the functional graph in order and turns each layer into a step of
plain arrays; layers that are the identity at inference (input dropout, the
sparsity penalty) become aliases of their input. A layer the runtime cannot
evaluate is an error here, at build time, never a silent difference at query time.
"""

from __future__ import annotations

import numpy as np

from retrieval.errors import RetrievalError
from retrieval.model._tf import keras
from retrieval.model.blocks import ActivitySparsity, CodeTransform, VariationalCode
from retrieval.runtime.encoder import INPUT, Encoder

IDENTITY_AT_INFERENCE = (keras.layers.Dropout, ActivitySparsity)


def _activation(layer) -> str:
    name = keras.activations.serialize(layer.activation)
    return name if isinstance(name, str) else name.get("config", name)


def _inputs(layer, aliases: dict) -> list[str]:
    tensors = layer.input if isinstance(layer.input, (list, tuple)) else [layer.input]
    return [aliases[t._keras_history.operation.name] for t in tensors]


def _array(weight) -> np.ndarray:
    return np.ascontiguousarray(keras.ops.convert_to_numpy(weight), dtype=np.float32)


def _step(layer, inputs: list[str], arrays: dict) -> dict:
    """The runtime step for one layer, adding its weights to ``arrays``."""
    name = layer.name
    if isinstance(layer, VariationalCode):  # inference returns the mean head
        arrays[f"{name}/kernel"], arrays[f"{name}/bias"] = _array(layer.mean.kernel), _array(layer.mean.bias)
        return {"op": "dense", "activation": _activation(layer.mean)}
    if isinstance(layer, CodeTransform):
        if layer.inverse:
            raise RetrievalError(f"layer {name} is a decoder's inverse map; export takes an encoder")
        arrays[f"{name}/mean"], arrays[f"{name}/rotation"] = _array(layer.mean), _array(layer.rotation)
        return {"op": "code_transform", "squash": bool(layer.squash)}
    if isinstance(layer, keras.layers.Dense):  # also ContractiveDense and BinaryCode (sigmoid)
        arrays[f"{name}/kernel"] = _array(layer.kernel)
        if layer.use_bias:
            arrays[f"{name}/bias"] = _array(layer.bias)
        return {"op": "dense", "activation": _activation(layer)}
    if isinstance(layer, keras.layers.Conv2D) and not isinstance(layer, keras.layers.Conv2DTranspose):
        strides, dilation = tuple(layer.strides), tuple(layer.dilation_rate)
        if strides[0] != strides[1] or dilation != (1, 1) or layer.data_format != "channels_last" or layer.groups != 1:
            raise RetrievalError(f"layer {name}: the runtime evaluates square strides, no dilation, channels last")
        arrays[f"{name}/kernel"], arrays[f"{name}/bias"] = _array(layer.kernel), _array(layer.bias)
        return {"op": "conv2d", "activation": _activation(layer), "stride": int(strides[0]), "padding": layer.padding}
    if isinstance(layer, keras.layers.Add):
        return {"op": "add"}
    if isinstance(layer, keras.layers.Reshape):
        return {"op": "reshape", "shape": [int(d) for d in layer.target_shape]}
    if isinstance(layer, keras.layers.Flatten):
        return {"op": "flatten"}
    raise RetrievalError(f"the numpy runtime cannot evaluate layer {name} ({type(layer).__name__})")


def export_encoder(encoder: keras.Model) -> Encoder:
    """The numpy ``Encoder`` equal to ``encoder`` at inference (to float32 rounding)."""
    aliases, steps, arrays = {}, [], {}
    for layer in encoder.layers:
        if isinstance(layer, keras.layers.InputLayer):
            aliases[layer.name] = INPUT
            continue
        inputs = _inputs(layer, aliases)
        if isinstance(layer, IDENTITY_AT_INFERENCE):
            aliases[layer.name] = inputs[0]
            continue
        steps.append({"name": layer.name, "inputs": inputs, **_step(layer, inputs, arrays)})
        aliases[layer.name] = layer.name
    output = encoder.outputs[0]._keras_history.operation.name
    if aliases.get(output) != steps[-1]["name"]:
        raise RetrievalError(f"the encoder's output {output} is not its last layer; cannot export it")
    return Encoder(steps, arrays, encoder.input_shape[-1])

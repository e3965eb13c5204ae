"""Load labelled 28x28 image sets (Fashion-MNIST, MNIST) from IDX files, and the image model presets."""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrieval.config import AutoencoderConfig
from retrieval.data.datasets import data_dir
from retrieval.errors import RetrievalError

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
KERAS_DIR = Path.home() / ".keras" / "datasets" / "fashion-mnist"
PREFIXES = {"train": "train", "test": "t10k"}
FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
_IDX_TYPES = {0x08: np.uint8}


@dataclass(frozen=True)
class ImageData:
    """A labelled image set as flat rows.

    Attributes
    ----------
    X_train, X_test : ndarray of shape (n, height * width), float32 in [0, 1]
    y_train, y_test : ndarray of shape (n,), int64
    shape : (height, width)
    class_names : tuple of str
    source : Path
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    shape: tuple
    class_names: tuple
    source: Path

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        if name not in PREFIXES:
            raise RetrievalError(f"unknown split {name!r}; choose one of {', '.join(PREFIXES)}")
        return (self.X_train, self.y_train) if name == "train" else (self.X_test, self.y_test)


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (gzip-compressed or raw), checking its magic number and size."""
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as err:
            raise RetrievalError(f"{path} is not a readable gzip file ({err})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise RetrievalError(f"{path} is not an unsigned-byte IDX file (bad magic number {raw[:4].hex()})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise RetrievalError(f"{path} is truncated inside its header")
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(dims))
    if len(raw) - header != expected:
        raise RetrievalError(
            f"{path} holds {len(raw) - header} bytes of data but its header {dims} needs {expected} "
            "(truncated or damaged)"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def _file(directory: Path, prefix: str, what: str) -> Path:
    for name in (f"{prefix}-{what}-ubyte.gz", f"{prefix}-{what}-ubyte"):
        if (directory / name).is_file():
            return directory / name
    raise RetrievalError(f"{directory} has no {prefix}-{what}-ubyte[.gz]")


def _has_set(directory: Path) -> bool:
    try:
        for prefix in PREFIXES.values():
            _file(directory, prefix, "images-idx3")
            _file(directory, prefix, "labels-idx1")
    except RetrievalError:
        return False
    return True


def candidates(path: Path | None = None) -> list[Path]:
    """Where a set is looked for, in order: the given path, the data directory, Debian's package, the Keras cache."""
    return [Path(path)] if path else [data_dir() / "fashion-mnist", DEBIAN_DIR, KERAS_DIR]


def find_images(path: Path | None = None) -> Path:
    """The directory to load from: ``path`` if given (it must hold a set), else the first candidate that does."""
    if path is not None:
        if not Path(path).is_dir():
            raise RetrievalError(f"image directory not found: {path}")
        if not _has_set(Path(path)):
            raise RetrievalError(
                f"{path} does not hold an IDX image set (train- and t10k-images-idx3-ubyte, -labels-idx1-ubyte, "
                ".gz or raw)"
            )
        return Path(path)
    for place in candidates():
        if _has_set(place):
            return place
    searched = ", ".join(str(p) for p in candidates())
    raise RetrievalError(
        f"Fashion-MNIST not found (looked in {searched}); install it with `apt-get install dataset-fashion-mnist`, "
        "or where there is internet, `python -c 'import keras; keras.datasets.fashion_mnist.load_data()'`"
    )


def _split(directory: Path, prefix: str) -> tuple[np.ndarray, np.ndarray]:
    images = read_idx(_file(directory, prefix, "images-idx3"))
    labels = read_idx(_file(directory, prefix, "labels-idx1"))
    if images.ndim != 3 or labels.ndim != 1:
        raise RetrievalError(
            f"{directory}: expected (n, height, width) images and (n,) labels; got {images.shape} and {labels.shape}"
        )
    if images.shape[0] != labels.shape[0]:
        raise RetrievalError(f"{directory}: {images.shape[0]} {prefix} images but {labels.shape[0]} labels")
    return images.reshape(images.shape[0], -1).astype(np.float32) / 255.0, labels.astype(np.int64)


def load_images(path: Path | None = None) -> ImageData:
    """Load train and test splits from the first place in ``candidates(path)`` that holds them."""
    directory = find_images(path)
    X_train, y_train = _split(directory, PREFIXES["train"])
    X_test, y_test = _split(directory, PREFIXES["test"])
    shape = read_idx(_file(directory, PREFIXES["test"], "images-idx3")).shape[1:]
    if X_train.shape[1] != X_test.shape[1]:
        raise RetrievalError(f"{directory}: train and test images differ in size")
    n_classes = int(max(y_train.max(), y_test.max())) + 1
    is_fashion = "fashion" in str(directory).lower() and n_classes == len(FASHION_CLASSES)
    names = FASHION_CLASSES if is_fashion else tuple(str(i) for i in range(n_classes))
    return ImageData(X_train, y_train, X_test, y_test, tuple(shape), names, directory)


IMAGE_MODELS = ("lecture", "deep", "conv", "linear")


def image_model(name: str, code_size: int = 32, shape: tuple = (28, 28)) -> AutoencoderConfig:
    """The image model presets, all through the one builder.

    ``lecture``: pixels -> Dense(code, relu) -> Dense(pixels, sigmoid), binary cross-entropy.
    ``deep``: pixels-128-64-code, mirrored. ``conv``: two stride-2 conv blocks (32, 64 filters).
    ``linear``: one linear layer each way, mean squared error (the autoencoder that PCA is).
    """
    common = dict(
        code_size=code_size,
        output="sigmoid",
        loss="binary_crossentropy",
        input_dropout=0.0,
        kind="plain",
        center_codes=False,
    )
    if name == "lecture":
        return AutoencoderConfig(hidden=(), code_activation="relu", **common)
    if name == "deep":
        return AutoencoderConfig(hidden=(128, 64), code_activation="relu", **common)
    if name == "linear":  # spans the PCA subspace when trained with MSE
        return AutoencoderConfig(
            hidden=(),
            code_size=code_size,
            code_activation="linear",
            output="linear",
            loss="mse",
            input_dropout=0.0,
            kind="plain",
            center_codes=False,
        )
    if name == "conv":
        return AutoencoderConfig(hidden=(), conv_filters=(32, 64), image_shape=(*shape, 1), **common)
    raise RetrievalError(f"unknown image model {name!r}; choose one of {', '.join(IMAGE_MODELS)}")


def load_image_file(path: Path, shape: tuple = (28, 28)) -> np.ndarray:
    """One grey image from a PNG (or other Pillow format) or NPY file -> (h*w,) float32 in [0, 1].

    8-bit values (max above 1) are scaled by 1/255; colour images are converted to grey.
    """
    path = Path(path)
    if not path.is_file():
        raise RetrievalError(f"image not found: {path}")
    if path.suffix.lower() == ".npy":
        try:
            pixels = np.load(path, allow_pickle=False).astype(np.float32)
        except ValueError as err:
            raise RetrievalError(f"{path} is not a plain numeric .npy array ({err})") from None
    else:
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(path) as image:
                pixels = np.asarray(image.convert("L"), dtype=np.float32)
        except (UnidentifiedImageError, OSError) as err:
            raise RetrievalError(f"cannot read {path} as an image ({err})") from None
    pixels = np.squeeze(pixels)
    if pixels.shape not in (tuple(shape), (int(np.prod(shape)),)):
        raise RetrievalError(f"{path} must be a {shape[0]}x{shape[1]} grey image; got shape {pixels.shape}")
    if not np.isfinite(pixels).all() or pixels.min() < 0:
        raise RetrievalError(f"{path} has negative or non-finite pixel values")
    if pixels.max() > 1:
        pixels = pixels / 255.0
    if pixels.max() > 1:
        raise RetrievalError(f"{path} has pixel values above 255")
    return pixels.reshape(-1).astype(np.float32)

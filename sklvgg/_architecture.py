"""VGG16's architecture: its layers, their shapes, the input it expects, and the Keras builder.

The counterpart of Keras' ``applications/vgg16.py`` (one builder plus
preprocessing), with the layer table that the rest of sklvgg reads: which layers
can be cut at, their output shapes, the weight shapes a file must hold. Keras
is imported inside the functions that need it, so that ``import sklvgg``,
``clone`` and ``get_params`` never load TensorFlow.
"""

from pathlib import Path

import numpy as np

from .exceptions import InputError

__all__ = [
    "CAFFE_MEAN_BGR",
    "CONV_KERNEL_SHAPES",
    "DENSE_KERNEL_SHAPES",
    "LAYER_NAMES",
    "MIN_INPUT_SIZE",
    "PREPROCESSING",
    "RANDOM_TOP_BIAS_STD",
    "SAMPLEWISE_EPSILON",
    "SPATIAL_LAYERS",
    "TOP_INPUT_SIZE",
    "TOP_LAYERS",
    "WEIGHT_LAYERS",
    "build_vgg16",
    "check_spatial_layer",
    "ignored_pooling",
    "imagenet_class_names",
    "kernel_shape",
    "layer_kind",
    "layer_output_shape",
    "layer_pooling",
    "needs_top_input_size",
    "preprocess_ops",
    "random_predictions_bias",
    "random_top_arrays",
    "random_weight_arrays",
    "top_layer",
]

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
SPATIAL_LAYERS = tuple(n for n, kind, *_ in _ARCHITECTURE if kind in ("conv", "pool"))
#: Layers of the fully connected top (``flatten`` and the dense layers): cuts there need the top's weights.
TOP_LAYERS = tuple(n for n, *_ in _ARCHITECTURE if n not in SPATIAL_LAYERS)
#: The input size the fully connected layers were built for.
TOP_INPUT_SIZE = 224
#: The smallest input that survives the five poolings.
MIN_INPUT_SIZE = 32


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


def check_spatial_layer(layer):
    """Refuse a layer without spatial maps where maps are asked for (activation maps, Grad-CAM).

    Parameters
    ----------
    layer : str

    Raises
    ------
    InputError
        If ``layer`` is not a conv or pool layer, naming those that are.
    """
    if layer not in SPATIAL_LAYERS:
        raise InputError(f"layer must be a conv or pool layer, one of {list(SPATIAL_LAYERS)}; got {layer!r}.")


def top_layer(layers):
    """The first of ``layers`` in the fully connected top, or None: whether a cut needs the top.

    Parameters
    ----------
    layers : sequence of str

    Returns
    -------
    layer : str or None
        The layer that makes the cut need the top's weights (named in errors
        about them); None for a cut of conv and pool layers only.
    """
    return next((name for name in layers if name in TOP_LAYERS), None)


def needs_top_input_size(layers, input_size):
    """The layers of ``layers`` that cannot take ``input_size``: the one rule of the top's input size.

    ``flatten`` and the dense layers were built for :data:`TOP_INPUT_SIZE` x
    :data:`TOP_INPUT_SIZE` images (``fc1``'s kernel takes the 7 x 7 x 512
    maps); conv and pool layers take any size from :data:`MIN_INPUT_SIZE`.

    Parameters
    ----------
    layers : sequence of str
    input_size : int or None
        None: any size other than :data:`TOP_INPUT_SIZE` (the layers that
        need it, whatever the size: ``scales`` feeds several).

    Returns
    -------
    layers : list of str
        Those of ``layers`` that need :data:`TOP_INPUT_SIZE`, in order; empty
        if ``input_size`` is :data:`TOP_INPUT_SIZE`.
    """
    if input_size is not None and int(input_size) == TOP_INPUT_SIZE:
        return []
    return [name for name in layers if name in TOP_LAYERS]


def layer_pooling(layer, pooling):
    """The pooling that acts on ``layer``'s output: the one rule of ``pooling``.

    ``pooling`` pools the ``(H, W, C)`` maps of conv and pool layers; on
    ``flatten`` and the dense layers, whose output is a vector already, it is
    a no-op (documented, so that one grid or one list of layers can span both
    kinds). The transformer's features, widths, cache keys and compiled cuts,
    Grad-CAM and the model summaries all ask this function.

    Parameters
    ----------
    layer : str
    pooling : {None, "avg", "max"}

    Returns
    -------
    pooling : {None, "avg", "max"}
        ``pooling`` for a conv or pool layer, None for the others.
    """
    return pooling if layer in SPATIAL_LAYERS else None


def ignored_pooling(layers, pooling):
    """Why ``pooling`` changes nothing for ``layers``: a sentence, or None where it acts on one of them.

    Parameters
    ----------
    layers : sequence of str
    pooling : {None, "avg", "max"}

    Returns
    -------
    reason : str or None
        None if ``pooling`` is None or pools one of ``layers``
        (:func:`layer_pooling`); otherwise, for example, ``"pooling='avg' has
        no effect on layer 'fc2': its output is a vector, with no spatial maps
        to pool"``.
    """
    if pooling is None or any(layer_pooling(layer, pooling) is not None for layer in layers):
        return None
    if len(layers) == 1:
        which, why = f"layer {layers[0]!r}", "its output is a vector"
    else:
        which, why = f"the layers {list(layers)}", "their outputs are vectors"
    return f"pooling={pooling!r} has no effect on {which}: {why}, with no spatial maps to pool"


def layer_kind(layer):
    """What ``layer`` is: ``"conv"``, ``"pool"``, ``"flatten"`` or ``"dense"``."""
    return _ARCHITECTURE[LAYER_NAMES.index(layer)][1]


def kernel_shape(layer, input_size=TOP_INPUT_SIZE):
    """Shape of the kernel of a conv or dense layer, read from the layer table.

    Parameters
    ----------
    layer : str
        A name from :data:`LAYER_NAMES`.
    input_size : int, default=TOP_INPUT_SIZE
        The input side, which sets the inputs of ``fc1`` (the flattened maps).

    Returns
    -------
    shape : tuple of int or None
        ``(3, 3, in, out)`` for a conv layer, ``(in, out)`` for a dense one,
        None for pool and flatten layers (no weights). The bias is ``(out,)``.
    """
    index = LAYER_NAMES.index(layer)
    _, kind, _, channels = _ARCHITECTURE[index]
    if kind == "conv":
        previous = 3 if index == 0 else _ARCHITECTURE[index - 1][3]
        return (3, 3, previous, channels)
    if kind == "dense":
        return (int(np.prod(layer_output_shape(LAYER_NAMES[index - 1], input_size))), channels)
    return None


#: The layers with a kernel and a bias, in network order (13 conv, then 3 dense).
WEIGHT_LAYERS = tuple(name for name in LAYER_NAMES if kernel_shape(name) is not None)
#: The kernel shapes of the 13 conv layers, in order (:func:`kernel_shape`).
CONV_KERNEL_SHAPES = [kernel_shape(name) for name in WEIGHT_LAYERS if layer_kind(name) == "conv"]
#: The kernel shapes of ``fc1``, ``fc2`` and ``predictions`` (:func:`kernel_shape`).
DENSE_KERNEL_SHAPES = [kernel_shape(name) for name in WEIGHT_LAYERS if layer_kind(name) == "dense"]


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


# --------------------------------------------------------------------------- input

#: ImageNet channel means in BGR order, as in Keras' "caffe" preprocessing.
CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68], dtype=np.float32)
#: How images are prepared for the network (``VGG16FeatureTransformer(preprocessing=...)``).
PREPROCESSING = ("caffe", "none", "samplewise")
#: ``ImageDataGenerator``'s guard against a constant image in samplewise normalisation.
SAMPLEWISE_EPSILON = 1e-6


def preprocess_ops(x, preprocessing):
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

    Returns
    -------
    tensor of shape (n, H, W, 3)
    """
    from keras import ops

    if preprocessing == "caffe":  # RGB -> BGR, ImageNet mean removed: exact on every backend
        return ops.flip(x, axis=-1) - ops.convert_to_tensor(CAFFE_MEAN_BGR)
    if preprocessing == "none":
        return x
    mean = ops.mean(x, axis=(1, 2, 3), keepdims=True)
    centred = x - mean
    std = ops.sqrt(ops.mean(centred * centred, axis=(1, 2, 3), keepdims=True))
    return centred / (std + SAMPLEWISE_EPSILON)


# --------------------------------------------------------------------------- the model


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
    shapes = CONV_KERNEL_SHAPES + (DENSE_KERNEL_SHAPES if include_top else [])
    return {
        name: [_glorot_uniform(rng, shape), np.zeros(shape[-1], np.float32)]
        for name, shape in zip(WEIGHT_LAYERS, shapes)
    }


#: The spread of the ``predictions`` bias of a random top (:func:`random_top_arrays`).
RANDOM_TOP_BIAS_STD = 1.0


def random_predictions_bias(seed):
    """The ``predictions`` bias of :func:`random_top_arrays`: N(0, 1), drawn alone from ``seed``."""
    return np.random.default_rng([seed, 1]).normal(0.0, RANDOM_TOP_BIAS_STD, 1000).astype(np.float32)


def random_top_arrays(seed):
    """A random fully connected top: Glorot-uniform kernels, ``predictions`` with a non-zero bias.

    ``fc1`` and ``fc2`` start as Keras starts them (zero biases); the bias of
    ``predictions`` is drawn from N(0, :data:`RANDOM_TOP_BIAS_STD` ** 2)
    (:func:`random_predictions_bias`) so that the two temperature forms,
    ``softmax(W h / T + b)`` and ``softmax((W h + b) / T)``, differ as they
    do with a trained layer.

    Parameters
    ----------
    seed : int

    Returns
    -------
    arrays : dict
        ``{"fc1", "fc2", "predictions"}`` -> ``[kernel, bias]``.
    """
    rng = np.random.default_rng([seed, 0])
    names = ("fc1", "fc2", "predictions")
    arrays = {name: [_glorot_uniform(rng, shape), np.zeros(shape[-1], np.float32)]
              for name, shape in zip(names, DENSE_KERNEL_SHAPES)}  # fmt: skip
    arrays["predictions"][1] = random_predictions_bias(seed)
    return arrays


def build_vgg16(arrays, include_top, input_size, precision="float32"):
    """Build Keras' VGG16 with the given weights.

    Parameters
    ----------
    arrays : dict
        Layer name to ``[kernel, bias]``, as :meth:`sklvgg._weights.WeightSource.arrays` returns.
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

"""The per-process store of compiled VGG16 cuts, bounded and safe across threads.

Built models are kept here, never on estimators, so that estimators pickle
without TensorFlow objects: at most :data:`MAX_STORED_BACKBONES` backbones (the one
with the fully connected top is 528 MB) and :data:`MAX_STORED_CUTS` compiled
cuts of them.
"""

import threading

from ._architecture import build_vgg16, top_layer
from ._backends import compile_cut, warn_if_bfloat16_is_emulated
from ._store import BoundedStore

__all__ = ["MAX_STORED_BACKBONES", "MAX_STORED_CUTS", "backbone", "get_feature_function", "reserve_models"]

#: How many distinct backbones a process keeps (the one with the top is 528 MB).
MAX_STORED_BACKBONES = 3
#: How many compiled cuts (layer, pooling, preprocessing) of them a process keeps.
MAX_STORED_CUTS = 64


def _backbone_key(source, include_top, input_size, precision):
    """The one spelling of a backbone's key: the backbone store's key, and the first part of its cuts'."""
    return (source.key, include_top, input_size, precision)


def _forget_cuts(backbone_key, backbone):
    """A backbone pushed out of the store takes its cuts (which hold its variables) with it."""
    _CUTS.discard_if(lambda key: key[0] == backbone_key)


# Keys: _backbone_key(...) for a backbone; (_backbone_key(...), (layer, pooling, preprocessing)) for a cut.
_CUTS = BoundedStore(maxsize=MAX_STORED_CUTS)
_BACKBONES = BoundedStore(maxsize=MAX_STORED_BACKBONES, on_evict=_forget_cuts)
# Keras' dtype policy is process-wide: one model is built at a time.
_BUILD_LOCK = threading.RLock()


def backbone(source, include_top, input_size, precision):
    """The store's VGG16 for these weights and input size: built once, shared with the compiled cuts.

    Parameters
    ----------
    source : WeightSource
    include_top : bool
    input_size : int
    precision : {"float32", "bfloat16"}

    Returns
    -------
    model : keras.Model
        As :func:`~sklvgg._architecture.build_vgg16` builds it; the very model
        the cuts of :func:`get_feature_function` run (Grad-CAM differentiates it).
    """
    with _BUILD_LOCK:
        return _BACKBONES.get_or_create(
            _backbone_key(source, include_top, input_size, precision),
            lambda: build_vgg16(source.arrays(include_top), include_top, input_size, precision),
        )


def reserve_models(n):
    """Keep room for ``n`` backbones and their cuts: the sizes one transformer uses in turn.

    A transformer with ``scales`` of more sizes than :data:`MAX_STORED_BACKBONES`
    would otherwise push out, on every call, the backbone it needs next (one
    per input size), and rebuild each. The bound grows to the most sizes one
    transformer of the process asked for (each a conv backbone of about 59
    MB of float32 weights: ``scales`` excludes the fully connected top) and
    never shrinks.

    Parameters
    ----------
    n : int
    """
    _BACKBONES.reserve(n)
    _CUTS.reserve(n)


def get_feature_function(source, layer, input_size, precision, pooling, preprocessing="caffe"):
    """Compiled function mapping preprocessed batches to activations at ``layer``.

    Models are built once per process for a given backbone and kept in a small
    LRU store; they are never attached to estimators, so estimators pickle
    without TensorFlow objects.

    Parameters
    ----------
    source : WeightSource
        Where the weights come from (see :func:`~sklvgg._weights.resolve_weights`).
    layer : str or tuple of str
        One layer, or several distinct layers computed in one forward pass
        (one Keras model with several outputs).
    input_size : int
    precision : {"float32", "bfloat16"}
    pooling : {None, "avg", "max"}
        Applied to the conv and pool layers only.
    preprocessing : {"caffe", "none", "samplewise"}, default="caffe"
        What the compiled function does to the RGB batch first (see
        :func:`~sklvgg._architecture.preprocess_ops`).

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
    include_top = top_layer(layers) is not None
    key = (_backbone_key(source, include_top, input_size, precision), (layer, pooling, preprocessing))
    if precision == "bfloat16":
        warn_if_bfloat16_is_emulated()
    return _CUTS.get_or_create(
        key, lambda: _build_cut(source, include_top, input_size, precision, layer, pooling, preprocessing)
    )


def _build_cut(source, include_top, input_size, precision, layer, pooling, preprocessing):
    with _BUILD_LOCK:
        model = backbone(source, include_top, input_size, precision)
        return compile_cut(model, layer, input_size, pooling, preprocessing)

"""What changes a feature vector of :class:`~sklvgg.VGG16FeatureTransformer`: one declaration.

:data:`FEATURE_PARAMS` names the parameters that change one layer's vector of
one view of an image, each with the function that says which values act
alike (a list and a tuple of the same layers, ``pooling`` on a dense layer);
:data:`VIEW_PARAMS` the views of an image and how they combine. From them
derive the cache key of every layer and view (:func:`cache_spec`, hashed by
:func:`sklvgg._cache.model_key`), the "fitted for" record that ``transform``
compares with the parameters of the moment (:func:`fitted_for`), the columns
of each layer (:func:`block_slices`) and the names of the output features
(:func:`feature_names`). A parameter declared nowhere here (``temperature``,
``batch_size``, ``verbose``, ``memory``, ``n_jobs``...) changes neither the
cache key nor what the transformer was fitted for.
"""

import os

import numpy as np

from ._architecture import imagenet_class_names, layer_output_shape, layer_pooling

__all__ = [
    "FEATURE_PARAMS",
    "VIEW_PARAMS",
    "block_slices",
    "cache_spec",
    "feature_names",
    "fitted_for",
    "layer_names",
    "layer_width",
    "views",
]

_BUILT_IN_WEIGHTS = ("imagenet", "hed-bsds500")


def layer_names(layer):
    """``layer`` as a tuple of names (one for a str)."""
    return (layer,) if isinstance(layer, str) else tuple(layer)


def _as_is(value, layers):
    return value


def _weights(value, layers):
    """A path as the file it names (``~`` expanded); a built-in name as it is; a dict copied.

    A dict (``{"conv": ..., "top": "random"}``) becomes a new dict of the normal
    forms of its values: the record kept at fit is a copy, so a dict edited in
    place afterwards differs from it, as a list of layers does.
    """
    if isinstance(value, dict):
        return {key: _weights(item, layers) for key, item in value.items()}
    if isinstance(value, os.PathLike) or (isinstance(value, str) and value not in _BUILT_IN_WEIGHTS):
        return os.path.expanduser(os.fspath(value))
    return value


def _layer(value, layers):
    """A list and a tuple of the same names are the same layers."""
    return value if isinstance(value, str) else tuple(layers)


def _pooling(value, layers):
    """``pooling`` where it pools one of ``layers`` (``_architecture.layer_pooling``), else None."""
    return value if any(layer_pooling(layer, value) for layer in layers) else None


def _integer(value, layers):
    """A NumPy integer from a grid as a plain one (JSON in the key)."""
    return int(value)


def _sizes(value, layers):
    return None if value is None else tuple(int(size) for size in value)


#: The parameters that change one layer's feature vector of one view, each with
#: its normal form: equal normal forms, equal features.
FEATURE_PARAMS = {
    "weights": _weights,
    "layer": _layer,
    "pooling": _pooling,
    "input_size": _integer,
    "precision": _as_is,
    "preprocessing": _as_is,
    "resize": _as_is,
}
#: The views of an image and how they combine (each view's entries are keyed by
#: :data:`FEATURE_PARAMS` and the view itself).
VIEW_PARAMS = {"flip": _as_is, "scales": _sizes}


def fitted_for(params):
    """What ``params`` (an estimator) computes: every declared parameter in its normal form.

    Parameters
    ----------
    params : VGG16FeatureTransformer

    Returns
    -------
    fitted : dict
        Parameter name to its normal form, for :data:`FEATURE_PARAMS` and
        :data:`VIEW_PARAMS`.
    """
    layers = layer_names(params.layer)
    declared = {**FEATURE_PARAMS, **VIEW_PARAMS}
    return {name: normal(getattr(params, name), layers) for name, normal in declared.items()}


def cache_spec(params, layer, weights_key, size=None, mirrored=False):
    """What the cache key of one layer's entries of one view hashes.

    Each of :data:`FEATURE_PARAMS` in its normal form for ``layer`` alone (each
    layer of a list under the key a single-layer transformer uses), the
    weights by their content (``weights_key``) rather than their name, the
    precision as it resolved at ``fit`` (``precision_``: ``"auto"`` never
    appears in a key, so float32 keys are those of ``precision="float32"``), and the
    view: ``size`` (default ``input_size``) replaces ``input_size``, and a
    mirrored view is marked as such. Fields at their defaults (no mirror,
    ``resize="stretch"``) are left out, so the keys of plain views are those of
    transformers without views.

    Parameters
    ----------
    params : VGG16FeatureTransformer
    layer : str
    weights_key : str
    size : int, default=None
    mirrored : bool, default=False

    Returns
    -------
    spec : dict
    """
    spec = {name: normal(getattr(params, name), (layer,)) for name, normal in FEATURE_PARAMS.items()}
    spec["layer"] = layer
    spec["weights"] = weights_key
    # "auto" by what it resolved to at fit: a cache shared by two kinds of machine never mixes them
    spec["precision"] = getattr(params, "precision_", None) or spec["precision"]
    if size is not None:
        spec["input_size"] = int(size)
    if mirrored:
        spec["mirrored"] = True
    if spec["resize"] == "stretch":
        del spec["resize"]
    return spec


def views(params):
    """``[(size, mirrored), ...]``: every view of an image that ``transform`` computes."""
    sizes = (params.input_size,) if params.scales is None else _sizes(params.scales, ())
    mirrors = (False, True) if params.flip else (False,)
    return [(size, mirrored) for size in sizes for mirrored in mirrors]


def layer_width(layer, input_size, pooling):
    """Features of one layer at ``input_size`` after ``pooling``."""
    shape = layer_output_shape(layer, input_size)
    if layer_pooling(layer, pooling) is not None:
        return shape[-1]
    return int(np.prod(shape))


def block_slices(layers, input_size, pooling):
    """``{layer: slice}``: the columns of each layer's block, concatenated in order."""
    slices, start = {}, 0
    for name in layers:
        width = layer_width(name, input_size, pooling)
        slices[name] = slice(start, start + width)
        start += width
    return slices


def feature_blocks(flip):
    """How many blocks of columns one image's features take: the one decision about ``flip``'s layout.

    With ``flip="concat"`` the mirrored view's block follows the image's (2);
    otherwise the views are averaged into one block (1).

    Parameters
    ----------
    flip : bool or "concat"

    Returns
    -------
    n_blocks : int
    """
    return 2 if flip == "concat" else 1


def feature_names(slices, flip):
    """Names of the output columns: ``{layer}_{i}`` per block, ImageNet classes for ``predictions``.

    Parameters
    ----------
    slices : dict of str to slice
        From :func:`block_slices`.
    flip : bool or "concat"
        With ``"concat"`` the mirrored view's block follows, marked ``_mirrored``.

    Returns
    -------
    names : ndarray of str, dtype object
    """
    names = []
    for layer, columns in slices.items():
        if layer == "predictions":
            names += imagenet_class_names()
        else:
            names += [f"{layer}_{i}" for i in range(columns.stop - columns.start)]
    if feature_blocks(flip) == 2:
        names += [f"{name}_mirrored" for name in names]
    return np.asarray(names, dtype=object)

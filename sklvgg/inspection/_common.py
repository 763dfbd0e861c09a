"""What CAM and Grad-CAM share: the views of an image, the targets, the resize of a map."""

import functools

import numpy as np

from .._feature_spec import feature_blocks
from ..exceptions import InputError

__all__ = ["target_indices", "target_rows", "upsample", "view_weights"]


def view_weights(vgg):
    """``[(size, mirrored, weight, offset), ...]``: how each view enters the features.

    The transformer's features are ``sum_v weight_v * f_v`` placed at column
    ``offset_v`` (sizes averaged; mirrors averaged with ``flip=True``, the
    mirror's block after the image's with ``flip="concat"``).
    """
    all_views, blocks = vgg.views_, feature_blocks(vgg.flip)
    width = vgg.n_features_out_ // blocks
    # each block is the mean of its views: len(views) / blocks of them (sizes, and mirrors unless joined)
    weight = blocks / len(all_views)
    return [
        (size, mirrored, weight, width if (mirrored and blocks == 2) else 0) for size, mirrored in all_views
    ]


def target_rows(target, rows, n):
    """``target`` for the images ``rows``: a single label as it is, one label per image sliced."""
    labels = np.asarray(target)
    if labels.ndim == 0:
        return target
    if len(labels) != n:
        raise InputError(f"target must be one label or one per image ({n}); got {len(labels)} labels.")
    return labels[rows]


@functools.lru_cache(maxsize=32)
def _area_matrix(n_in, n_out):
    """``(n_out, n_in)``: each output pixel the mean of the input cells it covers, by overlap.

    Every input cell gets the same total weight ``n_out / n_in``, so the mean
    of the output equals the mean of the input exactly: the resize keeps the
    identity "mean of the map + intercept = decision function".
    """
    edges_out = np.arange(n_out + 1) * (n_in / n_out)
    lo = np.maximum(edges_out[:-1, None], np.arange(n_in)[None, :])
    hi = np.minimum(edges_out[1:, None], np.arange(1, n_in + 1)[None, :])
    R = np.clip(hi - lo, 0, None) * (n_out / n_in)
    R.setflags(write=False)
    return R


def upsample(maps, size):
    """``(n, h, w)`` maps resized to ``(n, size, size)`` by area (mean-preserving, piecewise constant)."""
    rows, cols = _area_matrix(maps.shape[1], size), _area_matrix(maps.shape[2], size)
    return np.einsum("ih,nhw,jw->nij", rows, maps, cols, optimize=True)


def target_indices(classes, target, scores):
    """The column of ``classes`` for each image: the predicted class when ``target`` is None.

    Parameters
    ----------
    classes : ndarray
    target : None, label or array-like of labels
        One label for every image, or one per image.
    scores : ndarray of shape (n, n_classes)
    """
    n = len(scores)
    if target is None:
        return np.argmax(scores, axis=1)
    labels = np.asarray(target, dtype=object if np.asarray(target).dtype == object else None)
    if labels.ndim == 0:
        labels = np.repeat(labels[None], n)
    if labels.shape != (n,):
        raise InputError(f"target must be one label or one per image ({n}); got shape {labels.shape}.")
    index = {label: i for i, label in enumerate(classes.tolist())}
    missing = [label for label in labels.tolist() if label not in index]
    if missing:
        raise InputError(
            f"target {missing[0]!r} is not a class of the classifier; its classes_ are {classes.tolist()}."
        )
    return np.array([index[label] for label in labels.tolist()], dtype=np.intp)

"""Exact class activation maps (Zhou et al. 2016) of an average-pooled, linear pipeline."""

import numpy as np
from joblib import effective_n_jobs

from .._architecture import SPATIAL_LAYERS, layer_output_shape
from .._images import as_image_source, iter_batches
from .._network_store import get_feature_function
from ..exceptions import InputError
from ._common import target_indices, target_rows, upsample, view_weights
from ._steps import affine_map, check_pipeline

__all__ = ["cam_supported", "exact_cams"]


def cam_supported(estimator):
    """None when exact CAM applies to ``estimator``, else the reason (a sentence naming the culprit)."""
    vgg, steps = check_pipeline(estimator)
    layers = vgg._layers()
    dense = [name for name in layers if name not in SPATIAL_LAYERS]
    if dense:
        return f"exact class activation maps need conv or pool layers; layer {dense[0]!r} is not one"
    if vgg.pooling != "avg":
        return f"exact class activation maps need pooling='avg'; the transformer has pooling={vgg.pooling!r}"
    try:
        affine_map(steps, vgg.n_features_out_)
    except InputError as error:
        return str(error)
    return None


def exact_cams(estimator, X, target=None, *, size=None, intercept=False, batch_size=None):
    """Class activation maps that decompose the decision function exactly.

    Returns
    -------
    maps : ndarray of shape (n, size, size), float64
    targets : ndarray of int
        Column of ``classes_`` of each map.
    features : ndarray of shape (n, n_features_out_)
        The transformer's features, from the same forward pass.
    scores : ndarray of shape (n, n_classes)
        The decision function, one column per class.
    """
    reason = cam_supported(estimator)
    if reason is not None:
        raise InputError(reason[0].upper() + reason[1:] + (". " if not reason.endswith(".") else " ") +
                         "Use method='grad-cam' for this pipeline.")  # fmt: skip
    vgg, steps = check_pipeline(estimator)
    layers = vgg._layers()
    W, b = affine_map(steps, vgg.n_features_out_)
    classes = np.asarray(steps[-1][1].classes_)
    source = as_image_source(X, vgg.max_image_pixels)
    n, out_size = len(source), int(size or vgg.input_size)
    batch_size = int(batch_size or vgg.batch_size)
    maps = np.zeros((n, out_size, out_size))
    features = np.zeros((n, vgg.n_features_out_), dtype=np.float32)
    targets = np.zeros(n, dtype=np.intp)
    scores = np.zeros((n, W.shape[1]))
    slices = vgg.feature_slices_
    all_views = view_weights(vgg)
    n_threads = effective_n_jobs(vgg.n_jobs)
    for start in range(0, n, batch_size):
        rows = np.arange(start, min(start + batch_size, n))
        activations = []  # per view: {layer: (m, h, w, C)}
        for view_size, mirrored, weight, offset in all_views:
            function = get_feature_function(
                vgg._weight_source.refreshed(), layers, view_size, vgg.precision_, None, vgg.preprocessing
            )
            (_, batch), = iter_batches(source, rows, len(rows), view_size, n_threads=n_threads,
                                       crop=vgg.resize == "crop")  # fmt: skip
            flat = function(batch[:, :, ::-1] if mirrored else batch)
            per_layer, at = {}, 0
            for name in layers:
                shape = layer_output_shape(name, view_size)
                width = int(np.prod(shape))
                A = flat[:, at : at + width].reshape((len(rows),) + shape)
                at += width
                per_layer[name] = A
                columns = slice(slices[name].start + offset, slices[name].stop + offset)
                features[rows, columns] += np.float32(weight) * A.mean(axis=(1, 2), dtype=np.float64)
            activations.append(per_layer)
        scores[rows] = features[rows].astype(np.float64) @ W + b
        chosen = target_indices(
            classes, None if target is None else target_rows(target, rows, n), scores[rows]
        )
        targets[rows] = chosen
        for (_, mirrored, weight, offset), per_layer in zip(all_views, activations):
            for name, A in per_layer.items():
                w = W[slices[name].start + offset : slices[name].stop + offset][:, chosen]  # (C, m)
                m = np.einsum("nhwc,cn->nhw", A, w, optimize=True)
                if mirrored:
                    m = m[:, :, ::-1]
                maps[rows] += weight * upsample(m, out_size)
    if intercept:
        maps += b[targets][:, None, None]
    return maps, targets, features, scores

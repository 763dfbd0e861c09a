"""Grad-CAM (Selvaraju et al. 2017) through any supported pipeline, on the Keras backend's autodiff.

Every view of a batch (sizes, mirror) is run up to the target conv layer
``L`` as constants; from there on, the rest of the network, the pooling, the
combination of the views, the temperature softmax of ``predictions`` and the
pipeline's steps (:func:`~._steps.score_ops`) are one function of the
activations at ``L``, differentiated in one backward pass per batch (a
vector-Jacobian product with the one-hot of each image's target class).
"""

import numpy as np
from joblib import effective_n_jobs

from .._architecture import (
    LAYER_NAMES,
    check_spatial_layer,
    layer_pooling,
    preprocess_ops,
    top_layer,
)
from .._backends import keras_backend, pool_ops
from .._images import as_image_source, iter_batches
from .._network_store import backbone
from .._weights import predictions_bias
from ..exceptions import InputError
from ._common import target_indices, target_rows, upsample, view_weights
from ._steps import check_pipeline, score_ops

__all__ = ["grad_cams"]


def _backbone(vgg, size, include_top):
    """The store's backbone for ``vgg`` at ``size`` px: the very model the compiled cuts use."""
    return backbone(vgg._weight_source.refreshed(), include_top, size, vgg.precision_)


def _check_layer(vgg, layer):
    check_spatial_layer(layer)
    deepest = max(LAYER_NAMES.index(name) for name in vgg._layers())
    if LAYER_NAMES.index(layer) > deepest:
        raise InputError(
            f"layer={layer!r} comes after the transformer's deepest layer "
            f"({LAYER_NAMES[deepest]!r}): its features do not depend on it. Choose an earlier layer."
        )


def _features_ops(outputs, layers, pooling):
    """The transformer's features of one view from the layers' outputs, as its compiled cut makes them."""
    pools = tuple(layer_pooling(name, pooling) for name in layers)
    return pool_ops([outputs[name] for name in layers], pools)


def _softmax_predictions(vgg, f):
    """``transform``'s temperature softmax of the ``predictions`` block(s), in ``keras.ops``."""
    from keras import ops

    if "predictions" not in vgg._layers():
        return f
    # the columns transform softmaxes: fit refuses flip="concat" with predictions, so one block
    bias = predictions_bias(vgg._weight_source.refreshed()) if vgg.temperature_on == "fc2" else None
    columns = vgg.feature_slices_["predictions"]
    z = f[:, columns.start : columns.stop]
    if bias is not None:
        b = np.asarray(bias, np.float32)
        z = (z - b) / vgg.temperature + b
    else:
        z = z / vgg.temperature
    return ops.concatenate([f[:, : columns.start], ops.softmax(z, axis=-1), f[:, columns.stop :]], axis=1)


def _vjp(forward, As, cotangent):
    """Scores, features and the pullback of ``cotangent(scores)`` through ``forward(As)``."""
    backend = keras_backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(As)
            scores, features = forward(As)
        ct = cotangent(scores.numpy())
        grads = tape.gradient(scores, As, output_gradients=tf.constant(ct, tf.float32))
        return scores.numpy(), features.numpy(), [g.numpy() for g in grads]
    if backend == "jax":
        import jax

        (scores, pullback, features) = jax.vjp(forward, As, has_aux=True)
        ct = cotangent(np.asarray(scores))
        (grads,) = pullback(jax.numpy.asarray(ct, dtype=scores.dtype))
        return np.asarray(scores), np.asarray(features), [np.asarray(g) for g in grads]
    import torch

    As = [A.detach().requires_grad_(True) for A in As]
    with torch.enable_grad():
        scores, features = forward(As)
        ct = cotangent(scores.detach().cpu().numpy())
        scores.backward(torch.as_tensor(ct, dtype=scores.dtype, device=scores.device))
    return (scores.detach().cpu().numpy(), features.detach().cpu().numpy(),
            [A.grad.cpu().numpy() for A in As])  # fmt: skip


def grad_cams(estimator, X, target=None, *, layer="block5_conv3", size=None, batch_size=None):
    """Grad-CAM maps of the target classes at a conv or pool ``layer``.

    Returns
    -------
    maps : ndarray of shape (n, size, size), float64
        ``ReLU(sum_k alpha_k A_k)``, ``alpha_k`` the mean over positions of the
        gradient of the class's score with respect to ``A_k``; views averaged.
    targets, features, scores : as :func:`~._cam.exact_cams` returns them.
    """
    from keras import ops

    vgg, steps = check_pipeline(estimator)
    _check_layer(vgg, layer)
    score = score_ops(steps)
    layers = vgg._layers()
    include_top = top_layer(layers) is not None
    classes = np.asarray(steps[-1][1].classes_)
    source = as_image_source(X, vgg.max_image_pixels)
    n, out_size = len(source), int(size or vgg.input_size)
    batch_size = int(batch_size or vgg.batch_size)
    all_views = view_weights(vgg)
    total_weight = sum(weight for *_, weight, _ in all_views)
    n_threads = effective_n_jobs(vgg.n_jobs)
    maps = np.zeros((n, out_size, out_size))
    features = np.zeros((n, vgg.n_features_out_), dtype=np.float32)
    scores = np.zeros((n, len(classes)))
    targets = np.zeros(n, dtype=np.intp)
    for start in range(0, n, batch_size):
        rows = np.arange(start, min(start + batch_size, n))
        As, constants, chains = [], [], []
        for view_size, mirrored, _, _ in all_views:
            model = _backbone(vgg, view_size, include_top)
            (_, batch), = iter_batches(source, rows, len(rows), view_size, n_threads=n_threads,
                                       crop=vgg.resize == "crop")  # fmt: skip
            batch = np.ascontiguousarray(batch[:, :, ::-1] if mirrored else batch)
            x = ops.convert_to_tensor(batch)
            x = preprocess_ops(x, vgg.preprocessing)
            names = [lyr.name for lyr in model.layers]
            at = names.index(layer)
            last = max(names.index(name) for name in layers)
            outputs = {}
            for lyr in model.layers[1 : at + 1]:
                x = lyr(x)
                if lyr.name in layers:
                    outputs[lyr.name] = x
            As.append(x)
            constants.append(outputs)
            chains.append(model.layers[at + 1 : last + 1])

        def forward(As, constants=constants, chains=chains):
            raw = None
            for A, outputs, chain, (_, _, weight, offset) in zip(As, constants, chains, all_views):
                outputs, x = dict(outputs), A
                if layer in layers:
                    outputs[layer] = A
                for lyr in chain:
                    x = lyr(x)
                    if lyr.name in layers:
                        outputs[lyr.name] = x
                f = _features_ops(outputs, layers, vgg.pooling) * weight
                pad = vgg.n_features_out_ - offset - f.shape[1]
                if offset or pad:
                    f = ops.pad(f, [[0, 0], [offset, pad]])
                raw = f if raw is None else raw + f
            f = _softmax_predictions(vgg, raw)
            return score(f), f

        def cotangent(batch_scores, rows=rows):
            labels = None if target is None else target_rows(target, rows, n)
            chosen = target_indices(classes, labels, batch_scores)
            targets[rows] = chosen
            return np.eye(len(classes), dtype=np.float32)[chosen]

        batch_scores, batch_features, grads = _vjp(forward, As, cotangent)
        scores[rows], features[rows] = batch_scores, batch_features
        for A, g, (_, mirrored, weight, _) in zip(As, grads, all_views):
            A = ops.convert_to_numpy(ops.cast(A, "float32")).astype(np.float64)
            alpha = np.asarray(g, np.float64).mean(axis=(1, 2))  # (m, C)
            m = np.maximum(np.einsum("nhwc,nc->nhw", A, alpha, optimize=True), 0.0)
            if mirrored:
                m = m[:, :, ::-1]
            maps[rows] += (weight / total_weight) * upsample(m, out_size)
    return maps, targets, features, scores

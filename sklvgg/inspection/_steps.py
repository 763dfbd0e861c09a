"""The steps of a fitted pipeline after the transformer, as what the maps need of them.

:func:`affine_map` folds a run of affine steps (scalers, PCA) and a linear
classifier into one ``(W, b)`` acting on the transformer's features, so that
``decision_function(X) = features @ W + b``; :func:`score_ops` rewrites every
supported step in ``keras.ops`` so that the active backend differentiates
through it (Grad-CAM). An unsupported step is named in the error.
"""

import numpy as np
from sklearn.decomposition import PCA
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, Normalizer, StandardScaler
from sklearn.utils.validation import check_is_fitted

from .._transformer import VGG16FeatureTransformer
from ..descriptors import SignedPower
from ..exceptions import InputError

__all__ = ["affine_map", "check_pipeline", "class_weights", "score_ops"]

_AFFINE = (StandardScaler, MaxAbsScaler, MinMaxScaler, PCA)
_TINY = 1e-12


def check_pipeline(estimator):
    """The fitted transformer and the ``(name, step)`` pairs after it; raises a clear error otherwise."""
    if not isinstance(estimator, Pipeline):
        raise InputError(
            f"Class activation maps need a fitted Pipeline whose first step is a "
            f"VGG16FeatureTransformer; got {type(estimator).__name__}."
        )
    name, vgg = estimator.steps[0]
    if not isinstance(vgg, VGG16FeatureTransformer):
        raise InputError(
            f"The first step of the pipeline ({name!r}) must be a VGG16FeatureTransformer; "
            f"got {type(vgg).__name__}."
        )
    check_is_fitted(vgg)
    vgg._check_unchanged_since_fit()
    steps = [(n, s) for n, s in estimator.steps[1:] if s not in (None, "passthrough")]
    if not steps:
        raise InputError("The pipeline has no classifier after its VGG16FeatureTransformer.")
    final_name, final = steps[-1]
    check_is_fitted(final)
    if not hasattr(final, "classes_"):
        raise InputError(f"The last step of the pipeline ({final_name!r}) must be a classifier.")
    return vgg, steps


def _affine_step(name, step):
    """``(A, c)`` with ``step.transform(x) = x @ A + c``, or None when the step is not affine."""
    if isinstance(step, StandardScaler):
        d = step.n_features_in_
        scale = np.ones(d) if step.scale_ is None else step.scale_
        mean = np.zeros(d) if step.mean_ is None else step.mean_
        return np.diag(1.0 / scale), -mean / scale
    if isinstance(step, MaxAbsScaler):
        return np.diag(1.0 / step.scale_), np.zeros(step.n_features_in_)
    if isinstance(step, MinMaxScaler) and not step.clip:
        return np.diag(step.scale_), np.asarray(step.min_, dtype=np.float64)
    if isinstance(step, PCA):
        A = step.components_.T.astype(np.float64)
        c = -step.mean_ @ A
        if step.whiten:
            std = np.sqrt(step.explained_variance_)
            A, c = A / std, c / std
        return A, c
    return None


def class_weights(name, final):
    """``(W, b)`` of the last step, ``(d, n_classes)`` and ``(n_classes,)``: one column per class.

    For two classes the columns are ``-w`` and ``w`` with ``w`` the weights of
    ``decision_function`` (the score of ``classes_[1]``), so that each class's
    map adds up to its signed decision.
    """
    if not (hasattr(final, "coef_") and hasattr(final, "intercept_")):
        raise InputError(
            f"The last step of the pipeline ({name!r}, {type(final).__name__}) has no coef_ and "
            f"intercept_: it is not a linear classifier, and class activation maps need one."
        )
    W = np.atleast_2d(np.asarray(final.coef_, dtype=np.float64))
    b = np.atleast_1d(np.asarray(final.intercept_, dtype=np.float64))
    if len(final.classes_) == 2:
        if W.shape[0] == 2:  # one row per class (SoftmaxHeadClassifier): the difference decides
            W, b = W[1:] - W[:1], b[1:] - b[:1]
        W, b = np.vstack([-W, W]), np.concatenate([-b, b])
    return W.T, b


def affine_map(steps, n_features):
    """``(W, b)`` with ``decision_function = features @ W + b``, all steps folded.

    Parameters
    ----------
    steps : list of (str, estimator)
        The fitted steps after the transformer, the classifier last.
    n_features : int
        Width of the transformer's output.

    Raises
    ------
    ValueError
        Naming the first step that is not affine.
    """
    A, c = np.eye(n_features), np.zeros(n_features)
    for name, step in steps[:-1]:
        affine = _affine_step(name, step)
        if affine is None:
            raise InputError(
                f"Exact class activation maps need affine steps between the VGG16FeatureTransformer "
                f"and the classifier (StandardScaler, MaxAbsScaler, MinMaxScaler(clip=False), PCA); "
                f"step {name!r} ({type(step).__name__}) is not one. Use method='grad-cam'."
            )
        step_A, step_c = affine
        A, c = A @ step_A, c @ step_A + step_c
    W, b = class_weights(*steps[-1])
    return A @ W, c @ W + b


def score_ops(steps):
    """A function of a features tensor returning the classes' scores, in ``keras.ops``.

    Each step is rewritten in the backend's operations, so that its
    automatic differentiation goes through it: the affine steps,
    ``SignedPower``, ``Normalizer`` and the linear classifier (the softmax
    head included). Raises an error naming a step it cannot rewrite.
    """
    from keras import ops

    functions = []
    for name, step in steps[:-1]:
        affine = _affine_step(name, step)
        if affine is not None:
            A, c = (np.asarray(a, np.float32) for a in affine)
            functions.append(lambda x, A=A, c=c: ops.matmul(x, A) + c)
        elif isinstance(step, MinMaxScaler):  # clip=True
            A, c = np.diag(step.scale_).astype(np.float32), step.min_.astype(np.float32)
            lo, hi = step.feature_range
            functions.append(lambda x, A=A, c=c, lo=lo, hi=hi: ops.clip(ops.matmul(x, A) + c, lo, hi))
        elif isinstance(step, SignedPower):
            p = float(step.power)
            # |x| floored: the power's derivative stays finite at 0, where sign(x) = 0 zeroes it
            functions.append(lambda x, p=p: ops.sign(x) * ops.power(ops.maximum(ops.abs(x), _TINY), p))
        elif isinstance(step, Normalizer):
            functions.append(lambda x, norm=step.norm: x / _row_norm(x, norm))
        else:
            raise InputError(
                f"Grad-CAM differentiates through StandardScaler, MaxAbsScaler, MinMaxScaler, PCA, "
                f"Normalizer and sklvgg.descriptors.SignedPower; step {name!r} "
                f"({type(step).__name__}) is none of them."
            )
    W, b = (np.asarray(a, np.float32) for a in class_weights(*steps[-1]))

    def scores(x):
        for function in functions:
            x = function(x)
        return ops.matmul(x, W) + b

    return scores


def _row_norm(x, norm):
    from keras import ops

    if norm == "l1":
        n = ops.sum(ops.abs(x), axis=1, keepdims=True)
    elif norm == "l2":
        n = ops.sqrt(ops.maximum(ops.sum(x * x, axis=1, keepdims=True), _TINY**2))
    else:
        n = ops.max(ops.abs(x), axis=1, keepdims=True)
    # Normalizer leaves a zero row as it is
    return ops.where(n > 0, ops.maximum(n, _TINY), 1.0)

"""Where the softmax head's training starts: the internal scaler and the class-mean start.

:func:`mean_and_scale` fits the standardisation of the features;
:func:`class_mean_start` is the minimum of the objective along its steepest
descent from zero weights (the class means), found by
:func:`exact_line_search`.
"""

import numpy as np
from scipy import sparse

__all__ = ["class_mean_start", "class_means_beat", "exact_line_search", "mean_and_scale"]


def exact_line_search(A, direction_W, y_idx, sw, loss):
    """Minimise ``loss``'s objective at ``c`` times a descent step from zero weights, over ``c >= 0``.

    ``A`` holds the logits of a unit step and ``direction_W`` its weights;
    the objective is convex in ``c`` (:meth:`SoftmaxLoss.line`), so a
    safeguarded Newton iteration on its derivative brackets and finds the
    minimum in a handful of evaluations.
    """
    A = A.astype(np.float64)
    derivatives = loss.line(A, direction_W, y_idx, np.asarray(sw, np.float64))

    # logits beyond +-50 saturate the softmax: a larger step only grows the weights
    c_max = 50.0 / max(float(np.abs(A).max(initial=0.0)), 1e-12)
    lo, hi, c = 0.0, np.inf, 0.0
    for _ in range(60):
        grad, hess = derivatives(c)
        if grad < 0:
            lo = c
        else:
            hi = c
        if abs(grad) <= 1e-6 * max(1.0, c * hess) or (np.isfinite(hi) and hi - lo <= 1e-6 * hi):
            break
        if grad < 0 and c >= c_max:
            break
        step = c - grad / hess if hess > 0 else np.inf
        if not lo < step < hi:  # Newton left the bracket: double, or bisect
            step = 2 * max(lo, 1e-3) if np.isinf(hi) else (lo + hi) / 2
        c = min(step, c_max)
    return c


def mean_and_scale(X, sample_weight=None):
    """Weighted mean and standard deviation of the columns of float32 ``X``.

    Sums run over row blocks (``X.std(dtype=float64)`` would copy ``X``). They
    are float64 throughout when weighted or when ``X`` is small (up to 2**22
    entries), so integer weights and repeated rows give the same float32
    results; large unweighted ``X`` sums each block in float32 and
    accumulates the blocks in float64, twice as fast. Squares beyond the
    float32 range are redone in float64. A feature constant on the (weighted)
    data gets scale 1. Returns the mean, the scale and the centred ``X``
    (float32, a new array).
    """
    n, block = len(X), 1024
    w = None if sample_weight is None else np.asarray(sample_weight, np.float64)
    total = float(n) if w is None else float(w.sum())
    exact = w is not None or X.size <= 2**22
    mean = np.zeros(X.shape[1])
    for start in range(0, n, block):
        Xb = X[start : start + block]
        if w is not None:
            mean += w[start : start + block] @ Xb
        else:
            mean += Xb.sum(axis=0, dtype=np.float64 if exact else np.float32)
    mean /= total
    Z = np.subtract(X, mean.astype(np.float32), dtype=np.float32)

    def sum_of_squares(dtype):
        var = np.zeros(X.shape[1])
        for start in range(0, n, block):
            Zb = Z[start : start + block]
            if w is None:
                var += np.einsum("ij,ij->j", Zb, Zb, dtype=dtype)
            else:
                var += w[start : start + block] @ np.square(Zb, dtype=np.float64)
        return var

    var = sum_of_squares(np.float64 if exact else np.float32)
    if not np.all(np.isfinite(var)):  # squares past the float32 range
        var = sum_of_squares(np.float64)
    scale = np.sqrt(var / total)
    scale[scale < 1e-8 * max(1.0, float(np.abs(mean).max(initial=0)))] = 1.0
    return mean.astype(np.float32), scale.astype(np.float32), Z


def class_mean_start(Z, y_idx, sample_weight, n_classes, loss):
    """The minimum of ``loss``'s objective along its steepest descent from zero weights.

    At zero weights the negative gradient is the matrix of weighted class
    means of the standardised features (minus their average), i.e. a
    class-mean (prototype) classifier; one exact line search along it (convex
    in the step length) lands where mini-batch training would otherwise
    spend its first epochs getting to. ``sample_weight`` None is unit
    weights. Returns the weights, the intercept and the training logits
    there, in the dtype of ``Z``.
    """
    total = loss.total_weight
    sw = np.ones(len(y_idx), Z.dtype) if sample_weight is None else sample_weight.astype(Z.dtype, copy=False)
    onehot = sparse.csr_matrix((sw, (y_idx, np.arange(len(y_idx)))), shape=(n_classes, len(y_idx)))
    direction_W = np.asarray(onehot @ Z).T / total
    direction_W -= (sw @ Z / total)[:, None] / n_classes
    direction_b = np.asarray(onehot.sum(axis=1)).ravel() / total - 1.0 / n_classes
    A = Z @ direction_W + direction_b
    c = exact_line_search(A, direction_W, y_idx, sw, loss)
    W = np.ascontiguousarray(c * direction_W, dtype=Z.dtype)  # C order: the batches' products are faster
    return W, (c * direction_b).astype(Z.dtype), c * A


def class_means_beat(W, b, Z, y_idx, sample_weight, n_classes, loss):
    """Whether the class-mean start has a lower value of ``loss``'s objective than ``(W, b)``."""
    start_W, start_b, _ = class_mean_start(Z, y_idx, sample_weight, n_classes, loss)
    start = loss.loss_gradient(start_W, start_b, Z, y_idx, sample_weight)[0]
    return start < loss.loss_gradient(W.astype(Z.dtype), b.astype(Z.dtype), Z, y_idx, sample_weight)[0]

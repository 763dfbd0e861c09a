"""SoftmaxHeadClassifier: the trainable softmax layer on top of frozen features."""

import time
import warnings
from numbers import Integral, Real

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state, compute_sample_weight
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets, unique_labels
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)

__all__ = ["SoftmaxHeadClassifier"]

# the row-space solver eigendecomposes an n_samples x n_samples Gram matrix
_MAX_ROW_SPACE_SAMPLES = 4096


def _log_softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def _exact_line_search(A, y_idx, sw, penalty):
    """Minimise ``f(c) = mean_w CE(c * A) + penalty * c**2 / 2`` over ``c >= 0``.

    ``A`` holds the logits of a unit step along a descent direction; ``f`` is
    convex in ``c``, so a safeguarded Newton iteration on ``f'`` brackets and
    finds the minimum in a handful of evaluations.
    """
    A = A.astype(np.float64)
    w = sw.astype(np.float64) / sw.sum()
    rows = np.arange(len(y_idx))

    def derivatives(c):
        p = np.exp(_log_softmax(c * A))
        mean = np.sum(p * A, axis=1)
        grad = np.dot(w, mean - A[rows, y_idx]) + penalty * c
        hess = np.dot(w, np.sum(p * A * A, axis=1) - mean**2) + penalty
        return grad, hess

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


class _RowSpace:
    """Coordinates in the span of the training rows, for ``n_features >> n_samples``.

    With an L2 penalty the optimal weights lie in the row space of the
    (standardised) training matrix ``Z``, so training on ``R = Z @ V`` (``V``
    an orthonormal basis of that space, from the eigendecomposition of ``Z
    @ Z.T``) solves exactly the same problem with ``n_samples`` instead of
    ``n_features`` columns: logits and penalty are unchanged.
    """

    def __init__(self, Z):
        s, U = np.linalg.eigh((Z @ Z.T).astype(np.float64))
        keep = s > s[-1] * len(Z) * np.finfo(np.float32).eps
        self.Z = Z
        self.U_scaled = U[:, keep] / np.sqrt(s[keep])  # U S^-1/2: V = Z.T @ U_scaled
        self.coordinates = (U[:, keep] * np.sqrt(s[keep])).astype(np.float32)

    def project(self, Z_other):
        return ((Z_other @ self.Z.T) @ self.U_scaled).astype(np.float32)

    def coordinates_of(self, W):
        """Row-space coordinates of the projection of ``W`` (same logits, no larger norm)."""
        return (self.U_scaled.T @ (self.Z @ W)).astype(np.float32)

    def lift(self, W):
        return self.Z.T @ (self.U_scaled @ W).astype(np.float32)


class _Snapshot:
    """Weights with their training objective, accuracy and largest gradient entry.

    Each quantity is computed on first use (the objective costs a pass over
    the training set, the gradient a matrix product more), and the logits may
    be handed in when known. The gradient is that of the objective in the
    standardised feature space (lifted out of the row space when training
    there), the quantity ``LogisticRegression``'s lbfgs compares with its ``tol``.
    """

    def __init__(self, head, Z, y_idx, sw, row_space, logits=None):
        self.W, self.b = head._W.copy(), head._b.copy()
        self._head, self._data, self._row_space = head, (Z, y_idx, sw), row_space
        self._objective = self._gradient = self.lifted_W = None
        if logits is not None:
            self._evaluate(logits.astype(np.float32))

    @property
    def evaluated(self):
        return self._objective is not None

    def _evaluate(self, logits=None):
        Z, y_idx, sw = self._data
        total = float(np.sum(sw))
        logp = _log_softmax(Z @ self.W + self.b if logits is None else logits)
        rows = np.arange(len(y_idx))
        penalty = 0.5 * self._head.alpha * float(np.dot(self.W.ravel(), self.W.ravel())) / total
        self._objective = float(-np.dot(sw.astype(np.float64), logp[rows, y_idx])) / total + penalty
        self._accuracy = float(np.dot(sw, logp.argmax(axis=1) == y_idx)) / total
        self._G = G = np.exp(logp, out=logp)
        G[rows, y_idx] -= 1.0
        G *= (sw / total)[:, None]

    @property
    def objective(self):
        if self._objective is None:
            self._evaluate()
        return self._objective

    @property
    def accuracy(self):
        if self._objective is None:
            self._evaluate()
        return self._accuracy

    @property
    def gradient(self):
        if self._gradient is None:
            if self._objective is None:
                self._evaluate()
            Z, _, sw = self._data
            gW = Z.T @ self._G + (self._head.alpha / float(np.sum(sw))) * self.W
            gradient = float(np.abs(self._G.sum(axis=0)).max())
            tol = self._head.tol
            if self._row_space is None:
                gradient = max(gradient, float(np.abs(gW).max()))
            else:
                # lifted, the gradient V @ gW keeps its Frobenius norm, which bounds its
                # largest entry from above and, over sqrt(size), from below: lift to decide
                norm = float(np.linalg.norm(gW))
                size = self._row_space.Z.shape[1] * gW.shape[1]
                if norm > tol and norm / np.sqrt(size) <= tol:
                    # the weights ride along: lifting them too is nearly free, and
                    # needed if training stops here
                    both = self._row_space.lift(np.hstack([gW, self.W]))
                    norm = float(np.abs(both[:, : gW.shape[1]]).max())
                    self.lifted_W = both[:, gW.shape[1] :]
                gradient = max(gradient, norm)
            self._gradient, self._G = gradient, None
        return self._gradient


class _Optimizer:
    """Adam, SGD with Nesterov momentum, or RMSprop, updating arrays in place.

    Every update works in preallocated buffers: on 4096 x 256 weights the
    step costs about as much as the batch's matrix products, not several times.
    """

    def __init__(self, solver, params, lr, momentum=0.9, beta_1=0.9, beta_2=0.999, eps=1e-8):
        self.solver, self.lr, self.momentum = solver, lr, momentum
        self.beta_1, self.beta_2, self.eps, self.t = beta_1, beta_2, eps, 0
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.tmp = [np.empty_like(p) for p in params]

    def step(self, params, grads):
        self.t += 1
        for p, g, m, v, tmp in zip(params, grads, self.m, self.v, self.tmp):
            if self.solver == "adam":
                m *= self.beta_1
                np.multiply(g, 1 - self.beta_1, out=tmp)
                m += tmp
                v *= self.beta_2
                np.multiply(g, g, out=tmp)
                tmp *= 1 - self.beta_2
                v += tmp
                lr = self.lr * np.sqrt(1 - self.beta_2**self.t) / (1 - self.beta_1**self.t)
                np.sqrt(v, out=tmp)
                tmp += self.eps
                np.divide(m, tmp, out=tmp)
                tmp *= lr
                p -= tmp
            elif self.solver == "sgd":  # Nesterov momentum
                m *= self.momentum
                np.multiply(g, self.lr, out=tmp)
                m -= tmp
                p -= tmp
                np.multiply(m, self.momentum, out=tmp)
                p += tmp
            else:  # rmsprop
                v *= 0.9
                np.multiply(g, g, out=tmp)
                tmp *= 0.1
                v += tmp
                np.sqrt(v, out=tmp)
                tmp += 1e-7
                np.divide(g, tmp, out=tmp)
                tmp *= self.lr
                p -= tmp


class SoftmaxHeadClassifier(ClassifierMixin, BaseEstimator):
    """Multinomial softmax regression trained by mini-batch gradient descent.

    The new output layer of the transfer-learning experiment: one dense layer
    and a softmax over the classes, trained with the cross-entropy loss on
    frozen features, recording training and validation loss and accuracy after
    every epoch. Its parameters follow :class:`~sklearn.neural_network.MLPClassifier`.

    Read more in the :ref:`User Guide <head>`.

    Parameters
    ----------
    alpha : float, default=1.0
        L2 penalty (larger than ``MLPClassifier``'s 1e-4: frozen features are
        many and training sets small, so the head needs some regularisation). The objective is
        ``(sum_i w_i * CE_i + alpha / 2 * ||W||^2) / sum_i w_i`` with ``W`` the
        weights on the internally standardised features (see Notes) and the
        intercept not penalised: the same model as
        ``make_pipeline(StandardScaler(), LogisticRegression(C=1 / alpha))``.
    solver : {"adam", "sgd", "rmsprop"}, default="adam"
        ``"sgd"`` uses Nesterov momentum 0.9.
    learning_rate : {"adaptive", "constant"}, default="adaptive"
        ``"adaptive"`` divides the step size by 5 each time the monitored loss
        fails to improve by ``tol`` for two consecutive epochs, and stops once
        it falls below ``1e-4 * learning_rate_init`` (as ``MLPClassifier``'s
        ``"adaptive"`` schedule, here for every solver). It also undoes any
        epoch that leaves the training objective higher than where the epoch
        began (checked exactly after the start, after an undo and once the
        loss stalls; an epoch whose running loss passes twice its starting
        loss is cut short), returning to those weights with a step size 5
        times smaller: a too large ``learning_rate_init`` cannot make the
        model worse than its start. ``"constant"`` keeps the step size and
        every epoch.
    learning_rate_init : float, default=1e-2
        Initial step size.
    batch_size : int or "auto", default="auto"
        ``"auto"`` is ``min(200, n_samples)``, as in ``MLPClassifier``.
    max_iter : int, default=200
        Maximum number of epochs.
    tol : float, default=1e-4
        Training stops when the monitored loss (the validation loss with
        ``early_stopping``, otherwise the training loss) has not improved by
        ``tol`` for ``n_iter_no_change`` consecutive epochs, or when the
        largest absolute entry of the gradient of the training objective is at
        most ``tol`` (``LogisticRegression``'s lbfgs test, checked on epochs
        that did not lower the training loss by ``tol``).
    n_iter_no_change : int, default=10
    early_stopping : bool, default=False
        Monitor the validation loss and keep the weights of its best epoch
        (``best_epoch_``). The validation set is ``X_val, y_val`` when given to
        ``fit``, otherwise a stratified ``validation_fraction`` of the data.
    validation_fraction : float, default=0.1
        Used only when ``early_stopping=True`` and no ``X_val`` is given.
    shuffle : bool, default=True
        Shuffle the samples every epoch.
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes, multiplied into ``sample_weight``.
    warm_start : bool, default=False
        Start from the previous solution (and its standardisation).
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, shuffling and the validation split. Training is
        deterministic for a given seed.
    verbose : int, default=0
        1 prints the losses and accuracies of every epoch.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels, of any type (strings included).
    coef_ : ndarray of shape (n_classes, n_features)
        Weights in the space of the input features (the standardisation is
        folded in), so ``decision`` is ``X @ coef_.T + intercept_``.
    intercept_ : ndarray of shape (n_classes,)
    scaler_mean_, scaler_scale_ : ndarray of shape (n_features,)
        The internal standardisation, fitted on the training data of the first
        ``fit`` (or ``partial_fit``).
    loss_curve_, accuracy_curve_ : list of float
        Training loss (the objective, penalty included) and accuracy per epoch,
        averaged over the epoch's mini-batches as Keras reports them; an epoch
        undone by the adaptive schedule records the exact values of the
        weights it returned to.
    validation_loss_curve_, validation_accuracy_curve_ : list of float
        Cross-entropy and accuracy on the validation data after each epoch;
        present only when validation data exist.
    best_epoch_ : int
        With ``early_stopping``: the 1-based epoch whose weights were kept.
    n_iter_ : int
        Number of epochs run.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        When ``X`` has string column names.

    See Also
    --------
    VGG16FeatureTransformer : The frozen feature extractor to put in front.
    sklearn.neural_network.MLPClassifier : Its ``hidden_layer_sizes=()`` is the same model.

    Notes
    -----
    **Raw VGG16 features need no scaler.** They are non-negative, sparse after
    the ReLU and of large scale (``fc2`` activations up to about 100, conv maps
    up to thousands). Before training, each feature is standardised with the
    mean and standard deviation of the training set (features that are constant
    there get scale 1). That standardisation is part of the fitted model and is
    folded into ``coef_`` and ``intercept_``, which is why the defaults (Adam,
    ``learning_rate_init=1e-2`` with the adaptive schedule, ``alpha=1``)
    train well on any layer's features (``benchmarks/results/head.md``).

    **Training starts where the first epochs would go.** At zero weights the
    negative gradient of the objective is the matrix of class means of the
    standardised features: ``fit`` starts at the minimum of the objective
    along it (an exact line search, the objective being convex in the step),
    a class-mean (prototype) classifier, then refines it by mini-batch steps.
    On features of many dimensions and few images per class that start is
    often already within ``tol`` of convergence.

    **Many features, few images** (``n_features >= 2 * n_samples``, e.g.
    flattened conv maps): with an L2 penalty the optimal weights lie in the
    span of the standardised training rows, so after a first epoch that does
    not converge ``fit`` projects the weights onto that span (the training
    logits stay, the norm shrinks) and trains in its coordinates (from the
    eigendecomposition of the ``n_samples x n_samples`` Gram matrix, up to
    4,096 samples), mapping the weights back at the end: the same optimum
    with ``n_samples`` instead of ``n_features`` columns. ``partial_fit`` and
    warm starts train in the feature space.

    **Binary problems** are still a softmax over two classes (two rows of
    ``coef_``); ``decision_function`` returns the difference of the two logits,
    as scikit-learn's binary classifiers do.

    **In a pipeline** the validation images must go through the feature
    extractor too. With metadata routing enabled, ``Pipeline(...,
    transform_input=["X_val"])`` transforms ``X_val`` with the steps before the
    head::

        import sklearn
        sklearn.set_config(enable_metadata_routing=True)
        head = SoftmaxHeadClassifier().set_fit_request(X_val=True, y_val=True)
        pipe = Pipeline([("vgg", VGG16FeatureTransformer()), ("head", head)],
                        transform_input=["X_val"])
        pipe.fit(X_train, y_train, X_val=X_val, y_val=y_val)
        pipe[-1].validation_accuracy_curve_

    The implementation is NumPy in float32 (deterministic on the CPU for a
    given ``random_state``, pickles without framework objects).

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklvgg import SoftmaxHeadClassifier
    >>> X, y = make_classification(n_samples=200, n_informative=5, n_classes=3,
    ...                            random_state=0)
    >>> head = SoftmaxHeadClassifier(random_state=0).fit(X, y)
    >>> len(head.loss_curve_) == head.n_iter_
    True
    """

    _parameter_constraints = {
        "alpha": [Interval(Real, 0, None, closed="left")],
        "solver": [StrOptions({"adam", "sgd", "rmsprop"})],
        "learning_rate": [StrOptions({"constant", "adaptive"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "shuffle": ["boolean"],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "warm_start": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        *,
        alpha=1.0,
        solver="adam",
        learning_rate="adaptive",
        learning_rate_init=1e-2,
        batch_size="auto",
        max_iter=200,
        tol=1e-4,
        n_iter_no_change=10,
        early_stopping=False,
        validation_fraction=0.1,
        shuffle=True,
        class_weight=None,
        warm_start=False,
        random_state=None,
        verbose=0,
    ):
        self.alpha = alpha
        self.solver = solver
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.shuffle = shuffle
        self.class_weight = class_weight
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ helpers

    def _validate_xy(self, X, y, reset):
        X, y = validate_data(self, X, y, reset=reset, dtype=[np.float32, np.float64], accept_sparse=False)
        check_classification_targets(y)
        return np.asarray(X, dtype=np.float32), y

    def _sample_weight(self, y_idx, sample_weight, X):
        sw = _check_sample_weight(sample_weight, X, dtype=np.float32)
        if self.class_weight is not None:
            sw = sw * compute_sample_weight(self.class_weight, y_idx).astype(np.float32)
        return sw

    def _init_model(self, X, n_classes):
        """Fit the internal scaler, zero the weights; return the standardised ``X``."""
        n, block = len(X), 1024
        # float32 sums over row blocks, accumulated in float64 (X.std(dtype=float64) copies X)
        mean = np.zeros(X.shape[1])
        for start in range(0, n, block):
            mean += X[start : start + block].sum(axis=0)
        mean /= n
        Z = np.subtract(X, mean.astype(np.float32), dtype=np.float32)
        var = np.zeros(X.shape[1])
        for start in range(0, n, block):
            var += np.einsum("ij,ij->j", Z[start : start + block], Z[start : start + block])
        scale = np.sqrt(var / n)
        scale[scale < 1e-8 * max(1.0, float(np.abs(mean).max(initial=0)))] = 1.0
        self.scaler_mean_ = mean.astype(np.float32)
        self.scaler_scale_ = scale.astype(np.float32)
        Z *= 1.0 / self.scaler_scale_
        self._set_weights(np.zeros((X.shape[1], n_classes), np.float32), np.zeros(n_classes, np.float32))
        self.loss_curve_, self.accuracy_curve_ = [], []
        for stale in ("validation_loss_curve_", "validation_accuracy_curve_", "best_epoch_"):
            self.__dict__.pop(stale, None)
        self.n_iter_ = 0
        self.t_ = 0
        return Z

    def _set_weights(self, W, b, lr=None):
        """New weights, with a fresh optimiser (step size ``lr``, default ``learning_rate_init``)."""
        self._W, self._b = W, b
        lr = self.learning_rate_init if lr is None else lr
        self._optimizer = _Optimizer(self.solver, [self._W, self._b], lr)

    def _line_search_start(self, Z, y_idx, sw):
        """Start at the minimum of the objective along the steepest descent from zero.

        At zero weights the negative gradient is the matrix of weighted class
        means of the standardised features (minus their average), i.e. a
        class-mean (prototype) classifier; one exact line search along it (convex
        in the step length) lands where mini-batch training would otherwise
        spend its first epochs getting to.
        """
        n_classes = self._W.shape[1]
        total = float(sw.sum())
        onehot = sparse.csr_matrix((sw, (y_idx, np.arange(len(y_idx)))), shape=(n_classes, len(y_idx)))
        direction_W = np.asarray(onehot @ Z).T / total
        direction_W -= (sw @ Z / total)[:, None] / n_classes
        direction_b = np.asarray(onehot.sum(axis=1)).ravel() / total - 1.0 / n_classes
        A = Z @ direction_W + direction_b
        penalty = self.alpha * float(np.sum(direction_W.astype(np.float64) ** 2)) / total
        c = _exact_line_search(A, y_idx, sw, penalty)
        self._W[...] = c * direction_W
        self._b[...] = c * direction_b
        return c * A

    def _standardize(self, X):
        Z = np.subtract(X, self.scaler_mean_, dtype=np.float32)
        Z *= 1.0 / self.scaler_scale_
        return Z

    def _publish(self):
        """Fold the standardisation into coef_ and intercept_."""
        W = self._W / self.scaler_scale_[:, None]
        self.coef_ = W.T.astype(np.float64)
        self.intercept_ = (self._b - self.scaler_mean_ @ W).astype(np.float64)

    def _raw_logits(self, Z):
        return Z @ self._W + self._b

    def _batch_size(self, n):
        return min(200, n) if self.batch_size == "auto" else min(self.batch_size, n)

    def _evaluate(self, Z, y_idx, sw):
        logp = _log_softmax(self._raw_logits(Z).astype(np.float64))
        loss = -np.sum(sw * logp[np.arange(len(y_idx)), y_idx]) / np.sum(sw)
        accuracy = np.average(logp.argmax(axis=1) == y_idx, weights=sw)
        return float(loss), float(accuracy)

    def _epoch(self, Z, y_idx, sw, rng, abort_above=np.inf):
        """One pass of mini-batch steps; ``None`` once the running loss exceeds ``abort_above``."""
        n = len(y_idx)
        order = rng.permutation(n) if self.shuffle else np.arange(n)
        batch = self._batch_size(n)
        total_w = float(np.sum(sw))
        decay = np.float32(self.alpha / total_w)  # alpha/2 ||W||^2 / total, spread over batches
        unit = bool(np.all(sw == 1))
        gW = np.empty_like(self._W)
        loss_sum = acc_sum = seen = 0.0
        for start in range(0, n, batch):
            idx = order[start : start + batch]
            Zb, yb, rows = Z[idx], y_idx[idx], np.arange(len(idx))
            wb = None if unit else sw[idx]
            wsum = float(len(idx)) if unit else float(wb.sum())
            if wsum <= 0:
                continue
            z = Zb @ self._W
            z += self._b
            correct = z.argmax(axis=1) == yb
            z -= z.max(axis=1, keepdims=True)
            z_true = z[rows, yb]
            p = np.exp(z, out=z)
            norm = p.sum(axis=1)
            cross_entropy = np.log(norm) - z_true
            loss_sum += float(cross_entropy.sum() if unit else cross_entropy @ wb)
            acc_sum += float(correct.sum() if unit else correct @ wb)
            seen += wsum
            if loss_sum / seen > abort_above:
                return None
            # gradient of the batch's mean loss w.r.t. the logits: softmax - one-hot
            share = np.float32(1.0 / wsum) if unit else (wb / wsum).astype(np.float32)
            p *= (share / norm)[:, None]
            p[rows, yb] -= share
            np.matmul(Zb.T, p, out=gW)
            gW += decay * self._W
            self._optimizer.step([self._W, self._b], [gW, p.sum(axis=0)])
            self.t_ += len(idx)
        penalty = 0.5 * self.alpha * float(np.dot(self._W.ravel(), self._W.ravel())) / total_w
        return loss_sum / total_w + penalty, acc_sum / total_w

    # ------------------------------------------------------------------ fitting

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, X_val=None, y_val=None):
        """Train the softmax layer.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features, e.g. from :class:`VGG16FeatureTransformer`.
        y : array-like of shape (n_samples,)
            Class labels, of any type.
        sample_weight : array-like of shape (n_samples,), default=None
        X_val : array-like of shape (n_val, n_features), default=None
            Validation features, evaluated after every epoch
            (``validation_*_curve_``) and used for early stopping.
        y_val : array-like of shape (n_val,), default=None
            Required with ``X_val``.

        Returns
        -------
        self : object
            Fitted classifier.
        """
        if (X_val is None) != (y_val is None):
            raise ValueError(
                "X_val and y_val must be given together; got "
                f"{'X_val without y_val' if y_val is None else 'y_val without X_val'}."
            )
        warm = self.warm_start and hasattr(self, "coef_")
        X, y = self._validate_xy(X, y, reset=not warm)
        if not warm:
            self.classes_ = unique_labels(y)
        if len(self.classes_) < 2:
            raise ValueError(
                f"SoftmaxHeadClassifier needs samples of at least 2 classes; got 1 class: "
                f"{self.classes_[0]!r}."
            )
        y_idx = self._encode(y, "y")
        sw = self._sample_weight(y_idx, sample_weight, X)
        rng = check_random_state(self.random_state)
        val = None
        if X_val is not None:
            X_val = validate_data(self, X_val, reset=False, dtype=[np.float32, np.float64])
            yv = self._encode(np.asarray(y_val), "y_val")
            if len(yv) != len(X_val):
                raise ValueError(f"X_val and y_val have different lengths: {len(X_val)}, {len(yv)}.")
            val = (np.asarray(X_val, np.float32), yv)
        elif self.early_stopping:
            n_val = int(np.ceil(self.validation_fraction * len(y_idx)))
            stratify = (
                y_idx
                if np.bincount(y_idx).min() >= 2
                and len(self.classes_) <= n_val <= len(y_idx) - len(self.classes_)
                else None
            )
            tr, va = train_test_split(
                np.arange(len(y_idx)), test_size=self.validation_fraction,
                random_state=rng, stratify=stratify,
            )  # fmt: skip
            val = (X[va], y_idx[va])
            X, y_idx, sw = X[tr], y_idx[tr], sw[tr]
        if not warm:
            Z = self._init_model(X, len(self.classes_))
        else:
            Z = self._standardize(X)
        self._train(Z, y_idx, sw, val, rng, self.max_iter, stop_early=True, fresh=not warm)
        return self

    def _encode(self, y, name):
        y = np.asarray(y)
        unknown = np.setdiff1d(unique_labels(y), self.classes_) if len(y) else []
        if len(unknown):
            raise ValueError(
                f"{name} has labels not seen in fit: {list(unknown)[:5]}; classes_ are "
                f"{list(self.classes_)[:10]}."
            )
        return np.searchsorted(self.classes_, y).astype(np.intp)

    def _train(self, Z, y_idx, sw, val, rng, epochs, stop_early, fresh=False):
        """Train on the standardised ``Z``; ``fresh``: from the line-search start."""
        Zv = None if val is None else self._standardize(val[0])
        row_space = start_logits = None
        # many features, few samples: after a first epoch, train in the rows' span
        # (not before: a problem solved by its start need not pay for the basis)
        to_row_space = fresh and Z.shape[1] >= 2 * Z.shape[0] and Z.shape[0] <= _MAX_ROW_SPACE_SAMPLES
        if fresh:
            start_logits = self._line_search_start(Z, y_idx, sw)
        swv = None if val is None else np.ones(len(val[1]), np.float32)
        if val is not None and not hasattr(self, "validation_loss_curve_"):
            self.validation_loss_curve_, self.validation_accuracy_curve_ = [], []
        adaptive = stop_early and self.learning_rate == "adaptive"
        # where an epoch that raises the objective is sent back to
        anchor = _Snapshot(self, Z, y_idx, sw, row_space, start_logits) if stop_early else None
        best, best_state, no_improve, previous, check = np.inf, None, 0, np.inf, True
        converged, snapshot = False, None
        monitor_val = self.early_stopping and val is not None
        for _ in range(epochs):
            start = time.perf_counter()
            # an epoch whose running loss passes twice the loss it started from diverges
            guard = 2 * (anchor.objective if anchor.evaluated else previous) if adaptive else np.inf
            result = self._epoch(Z, y_idx, sw, rng, guard)
            self.n_iter_ += 1
            undone = converged = False
            if stop_early:
                improving = result is not None and result[0] < previous - self.tol
                snapshot = None if result is None else _Snapshot(self, Z, y_idx, sw, row_space)
                if check or not improving:
                    # exact check: after a start or an undo, and once the loss stalls
                    if adaptive and (snapshot is None or snapshot.objective > anchor.objective):
                        # the epoch made the objective worse: return to where it began
                        undone, snapshot = True, anchor
                        lr = self._optimizer.lr / 5.0
                        self._set_weights(anchor.W.copy(), anchor.b.copy(), lr)
                    converged = snapshot.gradient <= self.tol
                anchor = snapshot
                check = undone
            if undone:
                loss, acc = anchor.objective, anchor.accuracy
            else:
                loss, acc = result
                previous = loss
            self.loss_curve_.append(loss)
            self.accuracy_curve_.append(acc)
            message = f"Epoch {self.n_iter_}: loss {loss:.4f}, accuracy {acc:.4f}"
            if val is not None:
                vloss, vacc = self._evaluate(Zv, val[1], swv)
                self.validation_loss_curve_.append(vloss)
                self.validation_accuracy_curve_.append(vacc)
                message += f", val_loss {vloss:.4f}, val_accuracy {vacc:.4f}"
            if self.verbose:
                note = " (undone: it raised the objective)" if undone else ""
                print(f"{message}{note} ({time.perf_counter() - start:.2f}s)")
            if not stop_early:
                continue
            current = vloss if monitor_val else loss
            no_improve = 0 if not undone and current < best - self.tol else no_improve + 1
            # adaptive: every second epoch in a row without improvement divides the step by 5
            if adaptive and not undone and no_improve and no_improve % 2 == 0:
                self._optimizer.lr /= 5.0
            if not undone and current < best:
                best = current
                if monitor_val:
                    best_state = (self._W.copy(), self._b.copy(), self.n_iter_, row_space)
            if converged:
                if self.verbose:
                    print(f"Largest gradient entry {snapshot.gradient:.3g} <= tol={self.tol}: converged.")
                break
            if self._optimizer.lr < 1e-4 * self.learning_rate_init:
                if self.verbose:
                    print("Step size fell below 1e-4 x learning_rate_init; stopping.")
                break
            if no_improve >= self.n_iter_no_change:
                if self.verbose:
                    print(f"No improvement over tol={self.tol} for {no_improve} epochs; stopping.")
                break
            if to_row_space and row_space is None:
                # projecting onto the span keeps the training logits and shrinks the norm
                row_space = _RowSpace(Z)
                self._set_weights(row_space.coordinates_of(self._W), self._b, self._optimizer.lr)
                Z = row_space.coordinates
                Zv = None if Zv is None else row_space.project(Zv)
                anchor = _Snapshot(self, Z, y_idx, sw, row_space)
        else:
            if stop_early and epochs == self.max_iter:
                warnings.warn(
                    f"SoftmaxHeadClassifier: maximum iterations ({self.max_iter}) reached "
                    "and the optimization hasn't converged yet.",
                    ConvergenceWarning,
                    stacklevel=2,
                )
        if best_state is not None:
            W, b, self.best_epoch_, basis = best_state
            W = W if basis is None else basis.lift(W)
            if W.shape == self._W.shape:  # in place: the optimiser goes on from here
                self._W[...], self._b[...] = W, b
            else:
                self._set_weights(np.ascontiguousarray(W), b)
        elif row_space is not None:  # back to feature space, for predict and warm starts
            if converged and snapshot.lifted_W is not None:
                W = snapshot.lifted_W  # the weights training stopped at, lifted already
            else:
                W = row_space.lift(self._W)
            self._set_weights(np.ascontiguousarray(W), self._b)
        self._publish()

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Run one epoch over ``(X, y)``, starting from the current weights.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        classes : array-like of shape (n_classes,), default=None
            All the classes; required on the first call, ignored after.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : object
        """
        first = not hasattr(self, "classes_")
        if first and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        X, y = self._validate_xy(X, y, reset=first)
        if first:
            self.classes_ = unique_labels(np.asarray(classes))
            if len(self.classes_) < 2:
                raise ValueError(
                    f"SoftmaxHeadClassifier needs at least 2 classes; got {list(self.classes_)}."
                )
        y_idx = self._encode(y, "y")
        sw = self._sample_weight(y_idx, sample_weight, X)
        rng = check_random_state(self.random_state)
        if first:
            Z = self._init_model(X, len(self.classes_))
        else:
            Z = self._standardize(X)
        self._train(Z, y_idx, sw, None, rng, 1, stop_early=False)
        return self

    # ------------------------------------------------------------------ predicting

    def _logits(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        return np.asarray(X, dtype=np.float64) @ self.coef_.T + self.intercept_

    def decision_function(self, X):
        """Logits of the softmax layer.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples, n_classes), or (n_samples,) for two classes
            For two classes, the logit of ``classes_[1]`` minus that of ``classes_[0]``.
        """
        z = self._logits(X)
        return z[:, 1] - z[:, 0] if z.shape[1] == 2 else z

    def predict_log_proba(self, X):
        """Log of the class probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        return _log_softmax(self._logits(X))

    def predict_proba(self, X):
        """Class probabilities (the softmax of the logits).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        return np.exp(self.predict_log_proba(X))

    def predict(self, X):
        """Most probable class.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        logits = self._logits(X)
        return self.classes_[np.argmax(logits, axis=1)]

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_optimizer", None)  # optimiser moments: only needed to keep training
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        if "_W" in state:
            self._optimizer = _Optimizer(self.solver, [self._W, self._b], self.learning_rate_init)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = True
        tags.input_tags.allow_nan = False
        return tags

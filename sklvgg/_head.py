"""SoftmaxHeadClassifier: the trainable softmax layer on top of frozen features.

The estimator (:class:`SoftmaxHeadClassifier`) validates, standardises and
starts (``_start.py``: the internal scaler and the class-mean start); training
is a short loop over epochs (``SoftmaxHeadClassifier._train``) that asks an
optimiser (``_optimizers.py``, built from plain values) for mini-batch updates
of one objective (``_loss.py``) and, between epochs, asks the rules of
``_training.py`` for decisions it applies: the objective guard (undo an epoch
that raised the objective, test convergence), early stopping (no improvement
by ``tol``, the best epoch's weights), the move into the rows' span, and the
one rule that says when, and why, training stops. ``solver="lbfgs"`` hands the
same objective to scipy.
"""

import time
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state, compute_sample_weight
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets, unique_labels
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from ._loss import SoftmaxLoss, log_softmax
from ._optimizers import make_optimizer
from ._start import class_mean_start, class_means_beat, mean_and_scale
from ._training import (
    EarlyStopping,
    EpochCheck,
    ObjectiveGuard,
    Problem,
    RowSpaceChange,
    StopRule,
    mini_batch_epoch,
    minimize_lbfgs,
)
from .exceptions import InputError

__all__ = ["SoftmaxHeadClassifier", "study_head"]

_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _is_stochastic(head):
    if head.solver == "lbfgs":
        raise AttributeError(
            f"partial_fit is only available for stochastic optimizers. {head.solver!r} is not stochastic."
        )
    return True


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
    solver : {"adam", "sgd", "rmsprop", "lbfgs"}, default="adam"
        ``"adam"``, ``"sgd"`` (momentum ``momentum``, Nesterov's with
        ``nesterovs_momentum``) and ``"rmsprop"`` (Keras' update, ``rho=0.9``,
        ``epsilon=1e-7``) train by mini-batch epochs. ``"lbfgs"`` minimises
        the same objective on the whole training set with scipy's L-BFGS-B,
        as ``LogisticRegression``: deterministic, exact to ``tol``, for small
        feature sets (it computes in float64); one "epoch" is then one L-BFGS
        iteration, ``learning_rate*``, ``batch_size``, ``shuffle``,
        ``n_iter_no_change`` and the optimiser parameters are not used, and
        ``early_stopping`` only sets the validation data apart (for the
        curves), as ``MLPClassifier``'s lbfgs; ``partial_fit`` is not available.
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
    tol : float or None, default=1e-4
        Training stops when the monitored loss (the validation loss with
        ``early_stopping``, otherwise the training loss) has not improved by
        ``tol`` for ``n_iter_no_change`` consecutive epochs, or when the
        largest absolute entry of the gradient of the training objective is at
        most ``tol`` (``LogisticRegression``'s lbfgs test, checked on epochs
        that did not lower the training loss by ``tol``). ``None`` (as
        ``SGDClassifier``'s) trains exactly ``max_iter`` epochs at a constant
        step size: no stopping rule, no undone epoch, no
        ``ConvergenceWarning``; with ``early_stopping`` the best epoch's
        weights are still kept. With ``solver="lbfgs"`` (iterations, not
        epochs) ``tol`` is scipy's ``gtol``, and ``None`` sets ``gtol`` and
        ``ftol`` to 0: L-BFGS-B then runs until ``max_iter`` iterations or
        until it can make no further progress at machine precision (its line
        search fails, typically after a few dozen iterations on a strictly
        convex problem), whichever comes first; ``n_iter_`` says how many ran.
    n_iter_no_change : int, default=10
        Number of epochs without improvement by ``tol`` that stops training.
    early_stopping : bool, default=False
        Monitor the validation loss and keep the weights of its best epoch
        (``best_epoch_``). The validation set is ``X_val, y_val`` when given to
        ``fit``, otherwise a stratified ``validation_fraction`` of the data.
    validation_fraction : float, default=0.1
        Used only when ``early_stopping=True`` and no ``X_val`` is given.
    shuffle : bool, default=True
        Shuffle the samples every epoch.
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes, multiplied into ``sample_weight``: a dict maps
        labels, as in ``y``, to weights (classes not in it get 1); "balanced"
        is ``n_samples / (n_classes * np.bincount(y))``.
    warm_start : bool, default=False
        Start from the previous solution's weights (and standardisation). The
        optimiser starts afresh at ``learning_rate_init`` on every ``fit``, as
        ``MLPClassifier``'s; ``partial_fit`` continues it. With
        ``init="class_means"``, where the class-mean start has a lower
        training objective on the new data than the previous weights (new
        targets for the same rows, say), the fit starts there instead, so that
        it converges as fast as a fresh one.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, shuffling and the validation split. Training is
        deterministic for a given seed.
    verbose : int, default=0
        1 prints the losses and accuracies of every epoch.
    momentum : float, default=0.9
        Momentum of ``solver="sgd"``.
    nesterovs_momentum : bool, default=True
        Nesterov's momentum for ``solver="sgd"``.
    beta_1, beta_2 : float, default=0.9, 0.999
        Decay rates of Adam's first and second moment estimates.
    epsilon : float, default=1e-8
        Adam's numerical-stability term (Keras' default is 1e-7).
    standardize : bool, default=True
        Standardise each feature internally with the training set's (weighted)
        mean and standard deviation (see Notes). ``False`` trains on the raw
        features, as a Keras ``Dense`` layer would: then their scale matters.
    init : {"class_means", "glorot_uniform"}, default="class_means"
        The starting weights of a ``fit``. ``"class_means"``: the minimum of
        the objective along the class means (see Notes). ``"glorot_uniform"``:
        Keras' ``Dense`` default, weights uniform in ``+-sqrt(6 / (n_features
        + n_classes))`` drawn from ``random_state``, zero intercept.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels, of any type (strings included).
    coef_ : ndarray of shape (n_classes, n_features)
        Weights in the space of the input features (the standardisation is
        folded in), so ``decision`` is ``X @ coef_.T + intercept_``.
    intercept_ : ndarray of shape (n_classes,)
        Intercepts in the space of the input features.
    scaler_mean_, scaler_scale_ : ndarray of shape (n_features,)
        The internal standardisation, fitted on the training data of the first
        ``fit`` (or ``partial_fit``); zeros and ones with ``standardize=False``.
    loss_curve_, accuracy_curve_ : list of float
        Training loss (the objective, penalty included) and accuracy per epoch,
        averaged over the epoch's mini-batches as Keras reports them; an epoch
        undone by the adaptive schedule records the exact values of the
        weights it returned to. With ``"lbfgs"``: exact, per iteration.
    validation_loss_curve_, validation_accuracy_curve_ : list of float
        Cross-entropy and accuracy on the validation data after each epoch;
        present only when validation data exist.
    best_epoch_ : int
        With ``early_stopping``: the 1-based epoch whose weights were kept.
    n_iter_ : int
        Number of epochs run (L-BFGS iterations with ``"lbfgs"``).
    t_ : int
        Number of training samples seen by the optimiser.
    n_batches_per_epoch_ : int
        Mini-batch steps (iterations) per epoch of the last fit: training
        samples over ``batch_size``, rounded up; 1 with ``"lbfgs"``.
    n_batches_curve_ : list of int
        Mini-batch steps of each epoch of the curves, over every fit that
        extended them (``warm_start``, ``partial_fit``, on other numbers of
        samples): epoch ``e`` ends at iteration ``sum(n_batches_curve_[:e])``.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of str
        When ``X`` has string column names.

    See Also
    --------
    study_head : The head configured as the study's Keras layer.
    VGG16FeatureTransformer : The frozen feature extractor to put in front.
    sklearn.neural_network.MLPClassifier : Its ``hidden_layer_sizes=()`` is the same model.

    Notes
    -----
    **Raw VGG16 features need no scaler.** They are non-negative, sparse after
    the ReLU and of large scale (``fc2`` activations up to about 100, conv maps
    up to thousands). Before training, each feature is standardised with the
    mean and standard deviation of the training set, weighted by
    ``sample_weight`` and ``class_weight`` (features that are constant there get scale 1). That
    standardisation is part of the fitted model and is
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
    with ``n_samples`` instead of ``n_features`` columns. ``partial_fit``,
    warm starts and ``init="glorot_uniform"`` train in the feature space.

    **The code** keeps each optimiser in ``sklvgg/_optimizers.py`` (its update
    rule and its step schedule: the divide-by-5 rule and the floor), the
    objective in ``sklvgg/_loss.py``, shared by every step, check and solver,
    and the training loop's rules (the objective guard, early stopping, the
    move into the rows' span and the stop decision) in ``sklvgg/_training.py``:
    they return decisions, which ``fit`` applies.

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
    given ``random_state``, pickles without framework objects, optimiser state
    included, so an unpickled head goes on training exactly as the original).

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
        "solver": [StrOptions({"adam", "sgd", "rmsprop", "lbfgs"})],
        "learning_rate": [StrOptions({"constant", "adaptive"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left"), None],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "shuffle": ["boolean"],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "warm_start": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "momentum": [Interval(Real, 0, 1, closed="left")],
        "nesterovs_momentum": ["boolean"],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "standardize": ["boolean"],
        "init": [StrOptions({"class_means", "glorot_uniform"})],
    }

    def __init__(
        self, *, alpha=1.0, solver="adam", learning_rate="adaptive", learning_rate_init=1e-2,
        batch_size="auto", max_iter=200, tol=1e-4, n_iter_no_change=10, early_stopping=False,
        validation_fraction=0.1, shuffle=True, class_weight=None, warm_start=False, random_state=None,
        verbose=0, momentum=0.9, nesterovs_momentum=True, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
        standardize=True, init="class_means",
    ):  # fmt: skip
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
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.standardize = standardize
        self.init = init

    # ------------------------------------------------------------------ input

    def _validate_xy(self, X, y, reset):
        X, y = validate_data(self, X, y, reset=reset, dtype=[np.float32, np.float64], accept_sparse=False)
        check_classification_targets(y)
        return self._as_float32(X, "X"), y

    @staticmethod
    def _as_float32(X, name):
        """``X`` in float32, refusing values that float32 cannot hold (training runs in float32)."""
        if X.dtype != np.float32 and X.size and np.abs(X).max() > _FLOAT32_MAX:
            raise InputError(
                f"{name} has values beyond the float32 range (largest magnitude "
                f"{np.abs(X).max():.3g} > {_FLOAT32_MAX:.3g}); SoftmaxHeadClassifier trains in "
                "float32: rescale the features."
            )
        return np.asarray(X, dtype=np.float32)

    def _encode(self, y, name):
        y = np.asarray(y)
        unknown = np.setdiff1d(unique_labels(y), self.classes_) if len(y) else []
        if len(unknown):
            raise InputError(
                f"{name} has labels not seen in fit: {list(unknown)[:5]}; classes_ are "
                f"{list(self.classes_)[:10]}."
            )
        return np.searchsorted(self.classes_, y).astype(np.intp)

    def _class_weights(self, y_idx):
        """Per-sample factors from ``class_weight``, a dict keyed by the labels of ``classes_``."""
        if self.class_weight is None:
            return None
        if isinstance(self.class_weight, str):  # "balanced", on the classes present
            return compute_sample_weight(self.class_weight, y_idx)
        position = {label: i for i, label in enumerate(self.classes_.tolist())}
        unknown = [label for label in self.class_weight if label not in position]
        if unknown:
            raise InputError(
                f"class_weight has labels that are not classes: {unknown[:5]}; classes_ are "
                f"{list(self.classes_)[:10]}."
            )
        weights = np.ones(len(self.classes_))
        for label, weight in self.class_weight.items():
            if isinstance(weight, bool) or not isinstance(weight, Real) or not 0 <= weight < np.inf:
                raise InputError(
                    f"class_weight[{label!r}] = {weight!r}: class weights must be finite, non-negative "
                    f"numbers (as sample_weight's values)."
                )
            weights[position[label]] = weight
        return weights[y_idx]

    def _sample_weight(self, y_idx, sample_weight, X):
        """The training weights, ``sample_weight`` times the class weights, as float32.

        The one place that decides that unit weights are ``None``: every weight
        1, given or by default, is the unweighted problem (the scaler's and the
        loss's faster paths), so ``sample_weight=np.ones(n)`` fits exactly as no
        weights do.
        """
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float32, ensure_non_negative=True)
        class_factor = self._class_weights(y_idx)
        if class_factor is not None:
            class_factor = class_factor.astype(np.float32)
            sample_weight = class_factor if sample_weight is None else sample_weight * class_factor
        if sample_weight is None or bool(np.all(sample_weight == 1)):
            return None
        if not float(np.sum(sample_weight, dtype=np.float64)) > 0:
            raise InputError(
                "The training weights (sample_weight times class_weight) are all zero: there is "
                "nothing to train on. Give some samples, or classes, a positive weight."
            )
        return sample_weight

    def _loss(self, y_idx, sample_weight):
        """The objective of a training set with these classes and weights (None: unit weights)."""
        return SoftmaxLoss.for_samples(self.alpha, len(y_idx), sample_weight)

    def _validation_data(self, X, y_idx, sample_weight, X_val, y_val, rng):
        """The validation set (or None) and the training part of the data."""
        if X_val is not None:
            X_val = validate_data(self, X_val, reset=False, dtype=[np.float32, np.float64])
            yv = self._encode(np.asarray(y_val), "y_val")
            if len(yv) != len(X_val):
                raise InputError(f"X_val and y_val have different lengths: {len(X_val)}, {len(yv)}.")
            return (self._as_float32(X_val, "X_val"), yv), X, y_idx, sample_weight
        if not self.early_stopping:
            return None, X, y_idx, sample_weight
        n_val = int(np.ceil(self.validation_fraction * len(y_idx)))
        stratify = (
            y_idx
            if np.bincount(y_idx).min() >= 2
            and len(self.classes_) <= n_val <= len(y_idx) - len(self.classes_)
            else None
        )
        tr, va = train_test_split(
            np.arange(len(y_idx)), test_size=self.validation_fraction, random_state=rng, stratify=stratify
        )
        sample_weight = None if sample_weight is None else sample_weight[tr]
        return (X[va], y_idx[va]), X[tr], y_idx[tr], sample_weight

    # ------------------------------------------------------------------ model

    def _init_model(self, X, n_classes, sample_weight, rng):
        """Fit the internal scaler, set the starting weights; return the standardised ``X``."""
        if self.standardize:
            mean, scale, Z = mean_and_scale(X, sample_weight)
            Z *= 1.0 / scale
        else:
            mean, scale = np.zeros(X.shape[1], np.float32), np.ones(X.shape[1], np.float32)
            Z = X
        self.scaler_mean_, self.scaler_scale_ = mean, scale
        if self.init == "glorot_uniform":
            limit = np.sqrt(6.0 / (X.shape[1] + n_classes))
            W = rng.uniform(-limit, limit, (X.shape[1], n_classes)).astype(np.float32)
        else:
            W = np.zeros((X.shape[1], n_classes), np.float32)
        self._W, self._b = W, np.zeros(n_classes, np.float32)
        self.loss_curve_, self.accuracy_curve_, self.n_batches_curve_ = [], [], []
        for stale in ("validation_loss_curve_", "validation_accuracy_curve_", "best_epoch_"):
            self.__dict__.pop(stale, None)
        self.n_iter_ = 0
        self.t_ = 0
        return Z

    def _line_search_start(self, Z, y_idx, sample_weight):
        """Start at the minimum of the objective along the class means (``class_mean_start``).

        Returns the weights, the intercept and the training logits there.
        """
        loss = self._loss(y_idx, sample_weight)
        return class_mean_start(Z, y_idx, sample_weight, len(self.classes_), loss)

    def _class_means_beat_warm(self, Z, y_idx, sample_weight):
        """Whether the class-mean start has a lower training objective than the previous weights.

        A warm start on new targets (other labels for the same rows, say) may
        begin far from their optimum, where mini-batch training crawls: it then
        starts where a fresh fit would, and converges as fast. On data like the
        previous fit's, the previous weights are the better start and are kept.
        """
        loss = self._loss(y_idx, sample_weight)
        return class_means_beat(self._W, self._b, Z, y_idx, sample_weight, len(self.classes_), loss)

    def _start(self, Z, y_idx, sample_weight, class_means_start):
        """Weights in float32 (the class-mean start if asked) and a fresh optimiser.

        Returns the training logits of the class-mean start, or None.
        """
        self._W, self._b = self._W.astype(np.float32), self._b.astype(np.float32)
        start_logits = None
        if class_means_start:
            self._W, self._b, start_logits = self._line_search_start(Z, y_idx, sample_weight)
        self._optimizer = self._new_optimizer([self._W, self._b])
        return start_logits

    def _new_optimizer(self, params):
        """The optimiser of ``solver`` for ``params``, from the estimator's parameters."""
        return make_optimizer(
            self.solver,
            params,
            self.learning_rate_init,
            momentum=self.momentum,
            nesterov=self.nesterovs_momentum,
            beta_1=self.beta_1,
            beta_2=self.beta_2,
            epsilon=self.epsilon,
        )

    def _standardize(self, X):
        Z = np.subtract(X, self.scaler_mean_, dtype=np.float32)
        Z *= 1.0 / self.scaler_scale_
        return Z

    def _publish(self):
        """Fold the standardisation into coef_ and intercept_."""
        W = self._W / self.scaler_scale_[:, None]
        coef, intercept = W.T.astype(np.float64), (self._b - self.scaler_mean_ @ W).astype(np.float64)
        if not (np.all(np.isfinite(coef)) and np.all(np.isfinite(intercept))):
            raise FloatingPointError(
                "SoftmaxHeadClassifier diverged: its weights are no longer finite. Lower "
                "learning_rate_init, or keep standardize=True on features of large scale."
            )
        self.coef_, self.intercept_ = coef, intercept

    def _batch_size(self, n):
        return min(200, n) if self.batch_size == "auto" else min(self.batch_size, n)

    # ------------------------------------------------------------------ fitting

    def _set_classes(self, classes):
        """Set ``classes_`` (sorted unique labels); the one check that there are at least 2."""
        if len(classes) < 2:
            raise InputError(
                f"SoftmaxHeadClassifier needs at least 2 classes; got {len(classes)} class"
                f"{'' if len(classes) == 1 else 'es'}: {np.asarray(classes).tolist()}."
            )
        self.classes_ = classes

    def _check_fit_data(self, X, y, sample_weight, X_val, y_val, warm):
        """Validated ``X``, the class indices of ``y`` and the training weights (see ``_sample_weight``)."""
        if (X_val is None) != (y_val is None):
            raise InputError(
                "X_val and y_val must be given together; got "
                f"{'X_val without y_val' if y_val is None else 'y_val without X_val'}."
            )
        X, y = self._validate_xy(X, y, reset=not warm)
        if not warm:
            self._set_classes(unique_labels(y))
        y_idx = self._encode(y, "y")
        return X, y_idx, self._sample_weight(y_idx, sample_weight, X)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, X_val=None, y_val=None):
        """Train the softmax layer.

        Each call starts a fresh optimiser at ``learning_rate_init``; with
        ``warm_start`` it starts from the previous weights.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features, e.g. from :class:`VGG16FeatureTransformer`.
        y : array-like of shape (n_samples,)
            Class labels, of any type.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights: integer weights train as repeated samples.
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
        warm = self.warm_start and hasattr(self, "coef_")
        X, y_idx, sample_weight = self._check_fit_data(X, y, sample_weight, X_val, y_val, warm)
        rng = check_random_state(self.random_state)
        val, X, y_idx, sample_weight = self._validation_data(X, y_idx, sample_weight, X_val, y_val, rng)
        Z = self._standardize(X) if warm else self._init_model(X, len(self.classes_), sample_weight, rng)
        class_means = self.init == "class_means" and (
            not warm or self._class_means_beat_warm(Z, y_idx, sample_weight)
        )
        if self.solver == "lbfgs":
            self._fit_lbfgs(Z, y_idx, sample_weight, val, class_means)
        else:  # every fit: a fresh optimiser
            start_logits = self._start(Z, y_idx, sample_weight, class_means)
            self._train(Z, y_idx, sample_weight, val, rng, self.max_iter, self.tol is not None, start_logits)
        return self

    @available_if(_is_stochastic)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Run one epoch over ``(X, y)``, starting from the current weights and optimiser.

        Not available with ``solver="lbfgs"``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features.
        y : array-like of shape (n_samples,)
            Class labels.
        classes : array-like of shape (n_classes,), default=None
            All the classes; required on the first call, ignored after.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights.

        Returns
        -------
        self : object
            The classifier, trained one epoch more.
        """
        first = not hasattr(self, "classes_")
        if first and classes is None:
            raise InputError("classes must be passed on the first call to partial_fit.")
        X, y = self._validate_xy(X, y, reset=first)
        if first:
            self._set_classes(unique_labels(np.asarray(classes)))
        y_idx = self._encode(y, "y")
        sample_weight = self._sample_weight(y_idx, sample_weight, X)
        rng = check_random_state(self.random_state)
        Z = self._init_model(X, len(self.classes_), sample_weight, rng) if first else self._standardize(X)
        if first or not hasattr(self, "_optimizer"):
            self._start(Z, y_idx, sample_weight, class_means_start=False)
        self._train(Z, y_idx, sample_weight, None, rng, 1, stop_early=False)
        return self

    def _problems(self, Z, y_idx, sample_weight, val):
        """The training problem and the validation one (or None); start the validation curves."""
        problem = Problem(Z, y_idx, sample_weight, self._loss(y_idx, sample_weight))
        validation = None if val is None else Problem(self._standardize(val[0]), val[1], None, problem.loss)
        if validation is not None and not hasattr(self, "validation_loss_curve_"):
            self.validation_loss_curve_, self.validation_accuracy_curve_ = [], []
        return problem, validation

    def _train(self, Z, y_idx, sample_weight, val, rng, epochs, stop_early, start_logits=None):
        """Up to ``epochs`` epochs of mini-batch training on the standardised ``Z``.

        ``stop_early``: apply the stopping rules and the adaptive schedule;
        ``start_logits``: the training logits of the class-mean start.
        """
        problem, validation = self._problems(Z, y_idx, sample_weight, val)
        adaptive = stop_early and self.learning_rate == "adaptive"
        guard = (
            ObjectiveGuard(problem, self.tol, adaptive, self._W, self._b, start_logits)
            if stop_early
            else None
        )
        monitor_val = self.early_stopping and validation is not None
        patience = self.n_iter_no_change if stop_early else np.inf
        stopping = EarlyStopping(self.tol or 0.0, patience, keep_best=monitor_val)
        rule = StopRule(self.tol, epochs, rules=stop_early)
        row_space_change = RowSpaceChange(Z.shape, enabled=stop_early and start_logits is not None)
        for epoch in range(1, epochs + 1):
            tic = time.perf_counter()
            check = self._epoch(problem, rng, guard)
            val_loss = self._record(check.loss, check.accuracy, validation, tic, check.undone)
            monitored = val_loss if monitor_val else check.loss
            n_stalled = stopping.update(
                monitored, check.undone, self._W, self._b, self.n_iter_, problem.row_space
            )
            if adaptive and not check.undone:
                self._optimizer.epoch_stalled(n_stalled)
            stop = rule.decide(epoch, check, stop_early and self._optimizer.below_floor, stopping)
            if row_space_change.due(stop):
                problem, validation = self._to_row_space(row_space_change, problem, validation)
                guard.restart(problem, self._W, self._b)
            if stop is not None:
                break
        self._report(stop)
        self._finish(
            stopping.best_state,
            problem.row_space,
            guard.anchor if guard is not None and stop.reason == "converged" else None,
        )

    def _epoch(self, problem, rng, guard):
        """One pass of mini-batch steps, judged by ``guard`` (None: kept); apply an undo it asks for."""
        n = len(problem.y)
        order = rng.permutation(n) if self.shuffle else np.arange(n)
        abort_above = np.inf if guard is None else guard.abort_above
        params, batch = [self._W, self._b], self._batch_size(n)
        self.n_batches_per_epoch_ = -(-n // batch)
        result, n_seen = mini_batch_epoch(problem, params, self._optimizer, order, batch, abort_above)
        self.t_ += n_seen
        self.n_iter_ += 1
        if guard is None:
            return EpochCheck(*result)
        check = guard.end_epoch(result, self._W, self._b)
        if check.undone:
            self._W[...], self._b[...] = check.undo_to.W, check.undo_to.b
            self._optimizer.undo([self._W, self._b])
        return check

    def _record(self, loss, accuracy, validation, tic, undone=False):
        """Append an epoch to the curves (and print it); return the validation loss."""
        self.loss_curve_.append(loss)
        self.accuracy_curve_.append(accuracy)
        self.n_batches_curve_.append(self.n_batches_per_epoch_)
        message = f"Epoch {self.n_iter_}: loss {loss:.4f}, accuracy {accuracy:.4f}"
        val_loss = None
        if validation is not None:
            val_loss, val_accuracy = validation.evaluate(self._W, self._b)
            self.validation_loss_curve_.append(val_loss)
            self.validation_accuracy_curve_.append(val_accuracy)
            message += f", val_loss {val_loss:.4f}, val_accuracy {val_accuracy:.4f}"
        if self.verbose:
            note = " (undone: it raised the objective)" if undone else ""
            print(f"{message}{note} ({time.perf_counter() - tic:.2f}s)")
        return val_loss

    def _report(self, stop):
        """Say why training stopped: a ``ConvergenceWarning`` out of epochs, else (verbose) a line."""
        if stop.reason == "max_iter":
            warnings.warn(f"SoftmaxHeadClassifier: {stop.message}", ConvergenceWarning, stacklevel=4)
        elif self.verbose and stop.reason != "epochs":
            print(stop.message)

    def _to_row_space(self, row_space_change, problem, validation):
        """Move training to the span of the training rows (same logits, smaller norm)."""
        problem, validation, self._W = row_space_change.move(problem, validation, self._W)
        self._optimizer.reset([self._W, self._b])
        return problem, validation

    def _finish(self, best_state, row_space, converged_at=None):
        """Restore the best epoch's weights, leave the rows' span, publish coef_ and intercept_.

        ``converged_at``: the snapshot training converged at (its weights may be lifted already).
        """
        if best_state is not None:
            W, b, self.best_epoch_, basis = best_state
            W = W if basis is None else basis.lift(W)
            if W.shape == self._W.shape:  # in place: the optimiser goes on from here
                self._W[...], self._b[...] = W, b
            else:
                self._W, self._b[...] = np.ascontiguousarray(W), b
                self._optimizer.reset([self._W, self._b])
        elif row_space is not None:  # back to feature space, for predict and warm starts
            W = row_space.lift(self._W) if converged_at is None else converged_at.feature_weights()
            self._W = np.ascontiguousarray(W)
            self._optimizer.reset([self._W, self._b])
        self._publish()

    def _fit_lbfgs(self, Z, y_idx, sample_weight, val, class_means_start):
        """Minimise the objective with scipy's L-BFGS-B, in float64, as ``LogisticRegression``."""
        Z = Z.astype(np.float64)
        sample_weight = None if sample_weight is None else sample_weight.astype(np.float64)
        problem, validation = self._problems(Z, y_idx, sample_weight, val)
        W, b = self._W.astype(np.float64), self._b.astype(np.float64)
        if class_means_start:
            W, b, _ = self._line_search_start(Z, y_idx, sample_weight)

        def record(W, b, loss, accuracy):
            self.n_iter_ += 1
            self._W, self._b = W, b
            self._record(loss, accuracy, validation, time.perf_counter())

        self.n_batches_per_epoch_ = 1  # one iteration: one step on the whole set
        self._W, self._b = minimize_lbfgs(problem, W, b, self.max_iter, self.tol, record)
        self._publish()

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
            Features.

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
            Features.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Log-probabilities, columns in the order of ``classes_``.
        """
        return log_softmax(self._logits(X))

    def predict_proba(self, X):
        """Class probabilities (the softmax of the logits).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities, columns in the order of ``classes_``.
        """
        return np.exp(self.predict_log_proba(X))

    def predict(self, X):
        """Most probable class.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predicted labels.
        """
        logits = self._logits(X)
        return self.classes_[np.argmax(logits, axis=1)]

    def __setstate__(self, state):
        self.__dict__.update(state)
        if "_W" in state and "_optimizer" not in state and self.solver != "lbfgs":
            # pickled by an older version, without the optimiser's state
            self._optimizer = self._new_optimizer([self._W, self._b])

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = True
        tags.input_tags.allow_nan = False
        return tags


def study_head(**overrides):
    """The head configured as the study's Keras layer: Dense softmax, Adam, 16 epochs.

    A Keras ``Dense(n_classes, activation="softmax")`` layer on the raw
    features, compiled with Keras' ``Adam()`` defaults (learning rate 1e-3,
    ``beta_1=0.9``, ``beta_2=0.999``, ``epsilon=1e-7``) and the categorical
    cross-entropy, fit with ``batch_size=32`` for 16 epochs, shuffled every
    epoch: no L2 penalty (``alpha=0``), no standardisation, Glorot-uniform
    weights and zero bias, a constant step size and no stopping rule
    (``tol=None``), so ``loss_curve_`` and the validation curves have one point
    per epoch, 16 in all.

    What the report states: a new softmax layer on the frozen network's
    features (its section 1.2), the ``Dense`` layer's parameter counts (3.4)
    and 16 epochs, for its temperature runs (3.6). What this preset assumes,
    the report being silent: the optimizer (Keras' ``Adam()`` defaults), the
    batch size (32), the start (Keras' ``Dense``: Glorot-uniform, zero bias),
    no regularisation and raw, unstandardised features, and 16 epochs in
    every experiment. The user guide's table sets the two side by side.

    Parameters
    ----------
    **overrides : dict
        Parameters of :class:`SoftmaxHeadClassifier` to change, e.g.
        ``max_iter=30`` or ``random_state=0``.

    Returns
    -------
    head : SoftmaxHeadClassifier
        Unfitted.

    See Also
    --------
    SoftmaxHeadClassifier : Its defaults are tuned instead: standardised
        features, L2, a class-mean start and convergence tests.

    Examples
    --------
    >>> from sklvgg import study_head
    >>> head = study_head(random_state=0)
    >>> head.max_iter, head.batch_size, head.learning_rate_init, head.tol
    (16, 32, 0.001, None)
    """
    params = dict(
        solver="adam",
        learning_rate="constant",
        learning_rate_init=1e-3,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
        batch_size=32,
        max_iter=16,
        tol=None,
        shuffle=True,
        alpha=0.0,
        standardize=False,
        init="glorot_uniform",
        early_stopping=False,
    )
    params.update(overrides)
    return SoftmaxHeadClassifier(**params)

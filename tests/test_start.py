"""``sklvgg._start``: the internal scaler, the class-mean start and its line search, a warm fit's start."""

import warnings

import numpy as np
import pytest
import sklearn
from sklearn.datasets import make_classification

from sklvgg import SoftmaxHeadClassifier


@pytest.fixture
def blobs():
    X, y = make_classification(
        n_samples=400, n_features=30, n_informative=10, n_classes=4, class_sep=2.0, random_state=0
    )
    return X, y


def test_line_search_start_is_the_minimum_along_the_direction(rng):
    from scipy.optimize import minimize_scalar

    from sklvgg._loss import SoftmaxLoss
    from sklvgg._start import exact_line_search

    y = rng.integers(0, 5, 60)
    A = np.eye(5)[y] + rng.normal(0, 0.7, (60, 5))  # a descent direction, noisy
    step_W = rng.normal(size=(4, 5))
    sw = rng.uniform(0.5, 2, 60)
    loss = SoftmaxLoss(alpha=1.5, total_weight=sw.sum())
    c = exact_line_search(A, step_W, y, sw, loss)

    def f(t):
        z = t * A - (t * A).max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return -np.average(logp[np.arange(60), y], weights=sw) + 0.75 * t * t * np.sum(step_W**2) / sw.sum()

    best = minimize_scalar(f, bounds=(0, 100), method="bounded", options={"xatol": 1e-10})
    assert c == pytest.approx(best.x, rel=1e-5) and f(c) <= best.fun + 1e-12


def test_start_is_a_nearest_class_mean_classifier(rng):
    """Before any epoch, the weights are the line-search step along the class means."""
    centers = rng.normal(0, 1, (3, 20))
    y = np.repeat(np.arange(3), 30)
    X = centers[y] + rng.normal(0, 2, (90, 20))
    head = SoftmaxHeadClassifier(learning_rate="constant", learning_rate_init=1e-12, max_iter=1)
    with pytest.warns(sklearn.exceptions.ConvergenceWarning):
        head.fit(X, y)
    Z = (X - X.mean(axis=0)) / X.std(axis=0)
    means = np.stack([Z[y == k].mean(axis=0) for k in range(3)])
    W = head.coef_ * X.std(axis=0)  # back to the standardised space
    cosine = np.sum(W * means) / np.linalg.norm(W) / np.linalg.norm(means)
    assert cosine > 0.9999


def test_large_but_float32_features_train(blobs):
    """Features near the float32 limit: their squares overflow float32, the scaler copes."""
    X, y = blobs
    head = SoftmaxHeadClassifier(random_state=0).fit(X * 1e30, y)
    assert np.all(np.isfinite(head.coef_)) and head.score(X * 1e30, y) > 0.8


@pytest.mark.parametrize("solver", ["adam", "rmsprop", "sgd", "lbfgs"])
def test_warm_start_on_new_targets_converges_as_a_fresh_fit(solver):

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 40)).astype(np.float32)
    y_first = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0)
    y_new = (X[:, 2] + X[:, 3] > 0).astype(int) + (X[:, 4] > 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fresh = SoftmaxHeadClassifier(solver=solver, random_state=0, max_iter=500).fit(X, y_new)
        warm = SoftmaxHeadClassifier(solver=solver, random_state=0, max_iter=500, warm_start=True).fit(
            X, y_first
        )
        first_epochs, first_loss = warm.n_iter_, warm.loss_curve_[-1]
        warm.fit(X, y_new)
    epochs = warm.n_iter_ - first_epochs
    assert epochs <= 1.2 * fresh.n_iter_ + 2, (epochs, fresh.n_iter_)
    assert warm.loss_curve_[-1] <= fresh.loss_curve_[-1] + 1e-3
    assert warm.score(X, y_new) >= fresh.score(X, y_new) - 0.01
    # the start it chose: the class-mean start for the new targets; for the same targets
    # again, the previous weights (the better start), which are kept
    y_idx, sw = np.searchsorted(warm.classes_, y_new), None
    refit = SoftmaxHeadClassifier(solver=solver, random_state=0, max_iter=500, warm_start=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        refit.fit(X, y_first)
    Z = refit._standardize(X)
    assert refit._class_means_beat_warm(Z, y_idx, sw)
    assert not refit._class_means_beat_warm(Z, np.searchsorted(refit.classes_, y_first), sw)
    assert first_loss > 0

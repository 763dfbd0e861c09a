"""The head's one loss object against its formula."""

import numpy as np
import pytest
from scipy.optimize import check_grad

from sklvgg._loss import SoftmaxLoss, log_softmax


@pytest.fixture
def problem(rng):
    X = rng.normal(size=(30, 5))
    y = rng.integers(0, 3, 30)
    W = rng.normal(size=(5, 3))
    b = rng.normal(size=3)
    sw = rng.uniform(0.2, 3.0, 30)
    return X, y, W, b, sw


def reference_objective(W, b, X, y, sw, alpha, total):
    logp = log_softmax(X @ W + b)
    return -np.sum(sw * logp[np.arange(len(y)), y]) / sw.sum() + 0.5 * alpha * np.sum(W**2) / total


def test_log_softmax_is_stable():
    z = np.array([[1000.0, 0.0], [-1000.0, -1000.0]])
    np.testing.assert_allclose(np.exp(log_softmax(z)).sum(axis=1), 1.0)
    assert np.isfinite(log_softmax(z)).all()


@pytest.mark.parametrize("weighted", [False, True])
def test_loss_and_gradient_match_the_formula(problem, weighted):
    X, y, W, b, sw = problem
    sw = sw if weighted else None
    weights = np.ones(len(y)) if sw is None else sw
    loss = SoftmaxLoss(alpha=0.7, total_weight=12.0)
    objective, accuracy, gW, gb = loss.loss_gradient(W, b, X, y, sw)
    assert objective == pytest.approx(reference_objective(W, b, X, y, weights, 0.7, 12.0), rel=1e-12)
    # a mini-batch step: the same gradients, the cross-entropy without the penalty
    cross_entropy, batch_accuracy, gW_batch, gb_batch = loss.batch_gradient(W, b, X, y, sw)
    assert loss.objective(cross_entropy, W) == objective and batch_accuracy == accuracy
    assert cross_entropy == pytest.approx(reference_objective(W, b, X, y, weights, 0.0, 12.0), rel=1e-12)
    np.testing.assert_array_equal(gW_batch, gW)
    np.testing.assert_array_equal(gb_batch, gb)
    correct = (X @ W + b).argmax(axis=1) == y
    assert accuracy == pytest.approx(np.average(correct, weights=weights))

    def f(x):
        return reference_objective(x[:15].reshape(5, 3), x[15:], X, y, weights, 0.7, 12.0)

    def grad(x):
        _, _, gW, gb = loss.loss_gradient(x[:15].reshape(5, 3), x[15:], X, y, sw)
        return np.concatenate([gW.ravel(), gb])

    x0 = np.concatenate([W.ravel(), b])
    assert check_grad(f, grad, x0) < 1e-6
    np.testing.assert_allclose(grad(x0), np.concatenate([gW.ravel(), gb]))


def test_integer_weights_equal_repetition(problem, rng):
    X, y, W, b, _ = problem
    sw = rng.integers(0, 4, len(y))
    loss = SoftmaxLoss(alpha=1.0, total_weight=float(sw.sum()))
    weighted = loss.loss_gradient(W, b, X, y, sw.astype(float))
    repeated = loss.loss_gradient(W, b, X.repeat(sw, axis=0), y.repeat(sw))
    for a, r in zip(weighted, repeated):
        np.testing.assert_allclose(a, r, rtol=1e-12)


def test_penalty_uses_the_training_sets_total_weight(problem):
    """On a mini-batch the penalty keeps the training set's normalisation."""
    X, y, W, b, _ = problem
    loss = SoftmaxLoss(alpha=2.0, total_weight=100.0)
    assert loss.penalty(W) == pytest.approx(np.sum(W**2) / 100.0)
    _, _, gW_batch, _ = loss.batch_gradient(W, b, X[:10], y[:10])
    _, _, gW_zero_alpha, _ = SoftmaxLoss(0.0, 100.0).batch_gradient(W, b, X[:10], y[:10])
    np.testing.assert_allclose(gW_batch - gW_zero_alpha, 2.0 / 100.0 * W, atol=1e-12)


def test_float32_stays_float32(problem):
    X, y, W, b, sw = problem
    loss = SoftmaxLoss(1.0, 30.0)
    _, _, gW, gb = loss.loss_gradient(*(a.astype(np.float32) for a in (W, b, X)), y, sw.astype(np.float32))
    assert gW.dtype == np.float32 and gb.dtype == np.float32


def test_cross_entropy_leaves_logits_alone(problem):
    X, y, W, b, _ = problem
    logits = X @ W + b
    kept = logits.copy()
    value, _ = SoftmaxLoss(0.0, 1.0).cross_entropy(logits, y)
    np.testing.assert_array_equal(logits, kept)
    assert value == pytest.approx(-np.mean(log_softmax(kept)[np.arange(len(y)), y]))


@pytest.mark.parametrize("weighted", [False, True])
def test_directional_derivatives(problem, rng, weighted):
    X, y, W, b, sw = problem
    sw = sw if weighted else None
    logits, direction = X @ W + b, rng.normal(size=(30, 3))
    loss = SoftmaxLoss(0.0, 1.0)

    def f(c):
        return loss.cross_entropy(logits + c * direction, y, sw)[0]

    first, second = loss.directional_derivatives(logits, direction, y, sw)
    h = 1e-4
    assert first == pytest.approx((f(h) - f(-h)) / (2 * h), rel=1e-6)
    assert second == pytest.approx((f(h) - 2 * f(0) + f(-h)) / h**2, rel=1e-4)


@pytest.mark.parametrize("weighted", [False, True])
def test_for_samples_totals_the_weights(problem, weighted):
    X, y, W, b, sw = problem
    loss = SoftmaxLoss.for_samples(0.5, len(y), sw if weighted else None)
    assert loss.total_weight == pytest.approx(sw.sum() if weighted else len(y), rel=1e-12)
    assert loss.l2 == pytest.approx(0.5 / loss.total_weight)


@pytest.mark.parametrize("weighted", [False, True])
def test_line_is_the_objective_along_a_step(problem, rng, weighted):
    """``line`` differentiates the penalised objective at ``c`` times a step from zero weights."""
    X, y, _, _, sw = problem
    sw = sw if weighted else None
    step_W, step_b = rng.normal(size=(5, 3)), rng.normal(size=3)
    loss = SoftmaxLoss(alpha=3.0, total_weight=7.0)
    derivatives = loss.line(X @ step_W + step_b, step_W, y, sw)

    def f(c):
        return loss.loss_gradient(c * step_W, c * step_b, X, y, sw)[0]

    h = 1e-4
    for c in (0.0, 0.4, 2.0):
        first, second = derivatives(c)
        assert first == pytest.approx((f(c + h) - f(c - h)) / (2 * h), rel=1e-6, abs=1e-9)
        assert second == pytest.approx((f(c + h) - 2 * f(c) + f(c - h)) / h**2, rel=1e-4)

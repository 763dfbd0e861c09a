"""The training loop's rules alone: each returns decisions and state, and writes nothing else."""

import numpy as np
import pytest

from sklvgg._loss import SoftmaxLoss
from sklvgg._optimizers import SGDOptimizer
from sklvgg._training import (
    EarlyStopping,
    EpochCheck,
    ObjectiveGuard,
    Problem,
    RowSpace,
    RowSpaceChange,
    Stop,
    StopRule,
    mini_batch_epoch,
    minimize_lbfgs,
)


def _problem(rng, n=60, d=8, k=3, alpha=1.0, dtype=np.float32):
    y = np.arange(n) % k
    Z = (rng.normal(0, 1, (k, d))[y] + rng.normal(0, 1, (n, d))).astype(dtype)
    return Problem(Z, y, None, SoftmaxLoss(alpha, float(n)))


def _objective(problem, W, b):
    return problem.loss.loss_gradient(W, b, problem.Z, problem.y, problem.sample_weight)[0]


# ------------------------------------------------------------------ early stopping


def test_early_stopping_stops_after_patience_epochs_without_improvement_by_tol():
    stopping = EarlyStopping(tol=0.1, patience=3, keep_best=False)
    W, b = np.zeros((2, 2)), np.zeros(2)
    counts = [stopping.update(value, False, W, b, epoch) for epoch, value in enumerate([1.0, 0.95, 0.99], 1)]
    assert counts == [0, 1, 2] and not stopping.exhausted
    # 0.92 is a new best, but not by more than tol: the epoch still counts as stalled
    assert stopping.update(0.92, False, W, b, 4) == 3 and stopping.exhausted
    assert stopping.best == 0.92
    assert stopping.update(0.80, False, W, b, 5) == 0 and not stopping.exhausted


def test_early_stopping_counts_an_undone_epoch_as_stalled_whatever_its_value():
    stopping = EarlyStopping(tol=0.0, patience=2, keep_best=True)
    W, b = np.ones((2, 2)), np.ones(2)
    stopping.update(1.0, False, W, b, 1)
    assert stopping.update(0.1, True, 2 * W, b, 2) == 1  # undone: never an improvement
    assert stopping.best == 1.0 and stopping.best_state[2] == 1
    assert stopping.update(0.5, False, W, b, 3) == 0


def test_early_stopping_keeps_a_copy_of_the_best_weights():
    stopping = EarlyStopping(tol=0.5, patience=10, keep_best=True)
    W, b = np.zeros((3, 2)), np.zeros(2)
    stopping.update(1.0, False, W, b, 1, row_space="basis")
    W += 1.0  # training goes on in place
    stopping.update(0.9, False, W, b, 2)  # a new best, though not by tol: kept
    W += 1.0
    stopping.update(0.95, False, W, b, 3)  # not a new best: not kept
    best_W, best_b, epoch, row_space = stopping.best_state
    assert epoch == 2 and row_space is None
    np.testing.assert_array_equal(best_W, np.ones((3, 2)))
    assert best_W is not W and best_b is not b
    forgetful = EarlyStopping(0.0, 10, keep_best=False)
    forgetful.update(1.0, False, W, b, 1)
    assert forgetful.best == 1.0 and forgetful.best_state is None


# ------------------------------------------------------------------ objective guard


def test_guard_asks_to_undo_an_epoch_that_raised_the_objective(rng):
    problem = _problem(rng)
    W0, b0 = np.zeros((8, 3), np.float32), np.zeros(3, np.float32)
    # the anchor's objective is known from the start's logits: twice it aborts an epoch
    guard = ObjectiveGuard(problem, tol=1e-4, undo=True, W=W0, b=b0, start_logits=problem.Z @ W0 + b0)
    start = _objective(problem, W0, b0)
    assert guard.abort_above == pytest.approx(2 * start, rel=1e-5)
    assert ObjectiveGuard(problem, tol=1e-4, undo=True, W=W0, b=b0).abort_above == np.inf  # not yet known
    W, b = W0 + rng.normal(0, 5, W0.shape).astype(np.float32), b0.copy()  # a wild epoch
    W_before = W.copy()
    check = guard.end_epoch((0.1, 0.9), W, b)  # its running loss looked fine
    assert check.undone
    np.testing.assert_array_equal(check.undo_to.W, W0)
    np.testing.assert_array_equal(W, W_before)  # the guard reads the weights, never writes them
    assert check.loss == pytest.approx(start, rel=1e-5)  # the curve records where training returns to
    # an epoch cut short is undone too
    assert guard.end_epoch(None, W, b).undone


def test_guard_keeps_a_harmful_epoch_without_undo(rng):
    problem = _problem(rng)
    W0, b0 = np.zeros((8, 3), np.float32), np.zeros(3, np.float32)
    guard = ObjectiveGuard(problem, tol=1e-4, undo=False, W=W0, b=b0)
    assert guard.abort_above == np.inf
    check = guard.end_epoch((3.0, 0.2), W0 + 5, b0)
    assert not check.undone and check.loss == 3.0 and check.accuracy == 0.2


def test_guard_keeps_an_epoch_that_lowered_the_objective(rng):
    problem = _problem(rng)
    W0, b0 = np.zeros((8, 3), np.float32), np.zeros(3, np.float32)
    guard = ObjectiveGuard(problem, tol=1e-4, undo=True, W=W0, b=b0)
    W, b = minimize_lbfgs(problem, W0.astype(float), b0.astype(float), 5, None, lambda *args: None)
    W, b = W.astype(np.float32), b.astype(np.float32)
    check = guard.end_epoch((0.5, 0.8), W, b)
    assert not check.undone and check.loss == 0.5 and not check.converged
    assert check.gradient > 1e-4  # checked exactly (the first epoch), not converged
    # an epoch whose running loss improved by tol right after a kept one is not checked
    check = guard.end_epoch((0.3, 0.9), W, b)
    assert check.gradient is None and not check.converged


def test_guard_finds_convergence_at_the_optimum(rng):
    problem = _problem(rng)
    W0, b0 = np.zeros((8, 3)), np.zeros(3)
    W, b = minimize_lbfgs(problem, W0, b0, 500, 1e-8, lambda *args: None)
    W, b = W.astype(np.float32), b.astype(np.float32)
    guard = ObjectiveGuard(problem, tol=1e-3, undo=True, W=W, b=b)
    check = guard.end_epoch((_objective(problem, W, b), 1.0), W, b)
    assert check.converged and check.gradient <= 1e-3
    loose = ObjectiveGuard(problem, tol=1e-3, undo=True, W=W0.astype(np.float32), b=b0.astype(np.float32))
    assert not loose.end_epoch((1.0, 0.5), W0.astype(np.float32), b0.astype(np.float32)).converged


# ------------------------------------------------------------------ the stop decision


def _check(converged=False, gradient=None):
    return EpochCheck(1.0, 0.5, None, converged, gradient)


def test_stop_rule_checks_in_order_and_says_why():
    rule = StopRule(tol=1e-4, max_epochs=5)
    exhausted, patient = EarlyStopping(0.0, 1, False), EarlyStopping(0.0, 10, False)
    exhausted.n_stalled = 1
    stop = rule.decide(5, _check(True, 5e-5), True, exhausted)
    assert stop.reason == "converged" and "5e-05" in stop.message
    assert rule.decide(5, _check(), True, exhausted).reason == "step_floor"
    stop = rule.decide(5, _check(), False, exhausted)
    assert stop.reason == "no_improvement" and "1 epochs" in stop.message
    assert rule.decide(4, _check(), False, patient) is None
    stop = rule.decide(5, _check(), False, patient)
    assert stop.reason == "max_iter" and "maximum iterations (5)" in stop.message


def test_stop_rule_without_rules_runs_every_epoch():
    rule = StopRule(tol=None, max_epochs=3, rules=False)
    exhausted = EarlyStopping(0.0, 1, False)
    exhausted.n_stalled = 5
    assert rule.decide(2, _check(True, 0.0), True, exhausted) is None
    assert rule.decide(3, _check(True, 0.0), True, exhausted).reason == "epochs"


# ------------------------------------------------------------------ the rows' span


def test_row_space_change_is_planned_for_many_features_and_due_once():
    assert not RowSpaceChange((60, 100), enabled=True).pending  # 100 < 2 * 60
    assert not RowSpaceChange((60, 500), enabled=False).pending
    assert not RowSpaceChange((5000, 20000), enabled=True).pending  # too many samples
    change = RowSpaceChange((60, 120), enabled=True)
    assert change.pending
    assert not change.due(Stop("converged", ""))  # solved: no basis to pay for
    assert not change.due(Stop("no_improvement", ""))
    assert change.due(None) and not change.due(None)  # once
    assert RowSpaceChange((60, 120), enabled=True).due(Stop("max_iter", ""))


def test_row_space_move_keeps_the_logits_and_lifts_back(rng):
    problem = _problem(rng, n=20, d=50)
    validation = _problem(rng, n=10, d=50)
    W = rng.normal(0, 1, (50, 3)).astype(np.float32)
    moved, moved_val, coordinates = RowSpaceChange.move(problem, validation, W)
    assert moved.Z.shape[1] <= 20 and coordinates.shape == (moved.Z.shape[1], 3)
    np.testing.assert_allclose(moved.Z @ coordinates, problem.Z @ W, rtol=1e-3, atol=1e-3)
    lifted = moved.row_space.lift(coordinates)
    np.testing.assert_allclose(validation.Z @ lifted, moved_val.Z @ coordinates, rtol=1e-3, atol=1e-3)
    assert np.linalg.norm(lifted) <= np.linalg.norm(W)
    snapshot = moved.snapshot(coordinates, np.zeros(3, np.float32), tol=1e-4)
    np.testing.assert_allclose(snapshot.feature_weights(), lifted, rtol=1e-6)
    kept = problem.snapshot(W, np.zeros(3, np.float32), 1e-4)
    before = kept.feature_weights().copy()
    W += 1.0  # the estimator goes on training in place: the snapshot must not follow
    np.testing.assert_array_equal(kept.feature_weights(), before)


def test_snapshot_gradient_in_the_row_space_is_the_lifted_gradient(rng):
    problem = _problem(rng, n=20, d=50)
    row_space = RowSpace(problem.Z)
    moved, _ = problem.in_row_space(row_space)
    coordinates = rng.normal(0, 0.1, (moved.Z.shape[1], 3)).astype(np.float32)
    b = np.zeros(3, np.float32)
    W = row_space.lift(coordinates)
    expected = problem.snapshot(W, b, tol=1e-4).gradient  # the largest entry, in feature space
    # far from tol, the row space's Frobenius norm bounds it from above
    assert moved.snapshot(coordinates, b, tol=1e-4).gradient >= expected
    # near tol (norm > tol >= norm / sqrt(size)), it lifts to decide: the largest entry, exactly
    near = moved.snapshot(coordinates, b, tol=1.0)
    assert near.gradient == pytest.approx(expected, rel=1e-3)
    np.testing.assert_allclose(near.feature_weights(), W, rtol=1e-4, atol=1e-6)  # lifted with it


# ------------------------------------------------------------------ one epoch


def test_mini_batch_epoch_steps_on_every_batch_and_reports_the_running_loss(rng):
    problem = _problem(rng)
    W, b = np.zeros((8, 3), np.float32), np.zeros(3, np.float32)
    optimizer = SGDOptimizer(0.1, momentum=0.0)
    optimizer.reset([W, b])
    result, n_seen = mini_batch_epoch(problem, [W, b], optimizer, np.arange(60), 25)
    assert n_seen == 60 and optimizer.t == 3  # batches of 25, 25 and 10
    assert np.abs(W).max() > 0  # updated in place
    loss, accuracy = result
    assert 0 < loss < np.log(3) + 1e-6 and 0 <= accuracy <= 1


def test_mini_batch_epoch_is_cut_short_above_abort(rng):
    problem = _problem(rng)
    W, b = np.zeros((8, 3), np.float32), np.zeros(3, np.float32)
    optimizer = SGDOptimizer(0.1)
    optimizer.reset([W, b])
    result, n_seen = mini_batch_epoch(problem, [W, b], optimizer, np.arange(60), 20, abort_above=0.5)
    assert result is None and n_seen == 0 and optimizer.t == 0  # log(3) > 0.5 on the first batch
    np.testing.assert_array_equal(W, 0)

"""The softmax head's training loop, in parts that decide and never write into the estimator.

:class:`SoftmaxHeadClassifier`'s loop over epochs runs
:func:`mini_batch_epoch` (an optimiser's updates of the weights it is handed)
and, between epochs, asks small rules for decisions that it then applies:

* :class:`ObjectiveGuard`: the exact objective at the epoch's end; an
  :class:`EpochCheck` that says whether to undo the epoch (to which weights)
  and whether training converged;
* :class:`EarlyStopping`: ``MLPClassifier``'s count of epochs without
  improvement, and the best epoch's weights;
* :class:`RowSpaceChange`: when to move training into the span of the
  training rows (:class:`RowSpace`), and the problems and weights there;
* :class:`StopRule`: the one place that decides whether training stops, and
  why (a :class:`Stop`).

:func:`minimize_lbfgs` hands the same objective (a :class:`Problem`) to scipy.
"""

from typing import NamedTuple

import numpy as np
from scipy.optimize import minimize
from sklearn.utils.optimize import _check_optimize_result

__all__ = [
    "EarlyStopping",
    "EpochCheck",
    "ObjectiveGuard",
    "Problem",
    "RowSpace",
    "RowSpaceChange",
    "Snapshot",
    "Stop",
    "StopRule",
    "mini_batch_epoch",
    "minimize_lbfgs",
]

# the row-space solver eigendecomposes an n_samples x n_samples Gram matrix
_MAX_ROW_SPACE_SAMPLES = 4096


class RowSpace:
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


class Problem:
    """A training (or validation) set in the coordinates training runs in, with the loss.

    ``sample_weight`` is ``None`` for unit weights (the loss's faster path).
    """

    def __init__(self, Z, y, sample_weight, loss, row_space=None):
        self.Z, self.y, self.sample_weight, self.loss, self.row_space = Z, y, sample_weight, loss, row_space

    def snapshot(self, W, b, tol, logits=None):
        return Snapshot(W, b, self, tol, logits)

    def evaluate(self, W, b):
        """Cross-entropy (no penalty) and accuracy, in float64."""
        logits = (self.Z @ W + b).astype(np.float64)
        return self.loss.cross_entropy(logits, self.y, self.sample_weight)

    def in_row_space(self, row_space, validation=None):
        """This problem, and ``validation``, in the coordinates of ``row_space``."""
        problem = Problem(row_space.coordinates, self.y, self.sample_weight, self.loss, row_space)
        if validation is not None:
            validation = Problem(row_space.project(validation.Z), validation.y, None, validation.loss)
        return problem, validation


class Snapshot:
    """Weights with their training objective, accuracy and largest gradient entry.

    Each quantity is computed on first use (the objective costs a pass over
    the training set, the gradient a matrix product more), and the logits may
    be handed in when known. The gradient is that of the objective in the
    standardised feature space (lifted out of the row space when training
    there), the quantity ``LogisticRegression``'s lbfgs compares with its ``tol``.
    """

    def __init__(self, W, b, problem, tol, logits=None):
        self.W, self.b = W.copy(), b.copy()
        self._problem, self._tol = problem, tol
        self._objective = self._gradient = self._lifted_W = None
        if logits is not None:
            self._evaluate(logits.astype(np.float32))

    @property
    def evaluated(self):
        return self._objective is not None

    def _evaluate(self, logits=None):
        p = self._problem
        logits = p.Z @ self.W + self.b if logits is None else logits
        cross_entropy, self._accuracy, self._G = p.loss.logit_gradient(logits, p.y, p.sample_weight)
        self._objective = p.loss.objective(cross_entropy, self.W)

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
            p, tol = self._problem, self._tol
            gW = p.loss.weight_gradient(p.Z, self._G, self.W)
            gradient = float(np.abs(self._G.sum(axis=0)).max())
            if p.row_space is None:
                gradient = max(gradient, float(np.abs(gW).max()))
            else:
                # lifted, the gradient V @ gW keeps its Frobenius norm, which bounds its
                # largest entry from above and, over sqrt(size), from below: lift to decide
                norm = float(np.linalg.norm(gW))
                size = p.row_space.Z.shape[1] * gW.shape[1]
                if norm > tol and norm / np.sqrt(size) <= tol:
                    # the weights ride along: lifting them too is nearly free, and
                    # needed if training stops here (feature_weights)
                    both = p.row_space.lift(np.hstack([gW, self.W]))
                    norm = float(np.abs(both[:, : gW.shape[1]]).max())
                    self._lifted_W = both[:, gW.shape[1] :]
                gradient = max(gradient, norm)
            self._gradient, self._G = gradient, None
        return self._gradient

    def feature_weights(self):
        """The weights in the standardised feature space (lifted out of the row space)."""
        if self._problem.row_space is None:
            return self.W
        if self._lifted_W is None:
            self._lifted_W = self._problem.row_space.lift(self.W)
        return self._lifted_W


class EpochCheck(NamedTuple):
    """What the guard concluded about an epoch.

    ``loss`` and ``accuracy`` are the values to record; ``undo_to`` is the
    :class:`Snapshot` whose weights training must go back to (the caller
    restores them and tells the optimiser), or ``None`` to keep the epoch;
    ``converged`` says whether the largest gradient entry, ``gradient``, is at
    most ``tol`` (``gradient`` is ``None`` where it was not computed).
    """

    loss: float
    accuracy: float
    undo_to: Snapshot | None = None
    converged: bool = False
    gradient: float | None = None

    @property
    def undone(self):
        return self.undo_to is not None


class ObjectiveGuard:
    """The exact training objective between epochs: undo a harmful epoch, test convergence.

    An epoch's running loss is only an average over moving weights, so after
    the start, after an undo and whenever the running loss did not improve by
    ``tol``, the objective is computed exactly at the weights the epoch ended
    on. With ``undo`` (the adaptive schedule), an epoch that left it higher
    than where the epoch began (the *anchor*), or that was cut short by
    :attr:`abort_above`, is to be undone: :meth:`end_epoch` says so, with the
    anchor to go back to. Convergence is ``LogisticRegression``'s test, the
    largest gradient entry at most ``tol``. The guard reads the weights it is
    handed and writes nothing else.
    """

    def __init__(self, problem, tol, undo, W, b, start_logits=None):
        self.problem, self.tol, self.undo = problem, tol, undo
        self.anchor = problem.snapshot(W, b, tol, start_logits)
        self.previous, self.check = np.inf, True

    @property
    def abort_above(self):
        """An epoch whose running loss passes twice the loss it started from diverges."""
        if not self.undo:
            return np.inf
        return 2 * (self.anchor.objective if self.anchor.evaluated else self.previous)

    def restart(self, problem, W, b):
        """Training moved to ``problem`` (the rows' span): anchor there, at ``(W, b)``."""
        self.problem = problem
        self.anchor = problem.snapshot(W, b, self.tol)

    def end_epoch(self, result, W, b):
        """Judge the epoch that returned ``result`` (None: cut short) and ended at ``(W, b)``.

        Returns an :class:`EpochCheck`.
        """
        improving = result is not None and result[0] < self.previous - self.tol
        snapshot = None if result is None else self.problem.snapshot(W, b, self.tol)
        undo_to, gradient = None, None
        if self.check or not improving:
            if self.undo and (snapshot is None or snapshot.objective > self.anchor.objective):
                undo_to = snapshot = self.anchor
            gradient = snapshot.gradient
        self.anchor, self.check = snapshot, undo_to is not None
        converged = gradient is not None and gradient <= self.tol
        if undo_to is not None:
            return EpochCheck(snapshot.objective, snapshot.accuracy, undo_to, converged, gradient)
        self.previous = result[0]
        return EpochCheck(result[0], result[1], None, converged, gradient)


class EarlyStopping:
    """``MLPClassifier``'s no-improvement rule, keeping the best epoch's weights if asked.

    Counts the epochs in a row whose monitored loss did not improve on the
    best by ``tol`` (an undone epoch never does), and with ``keep_best``
    keeps a copy of the weights whenever the monitored loss reaches a new
    best: ``best_state``, ``(W, b, epoch, row_space)`` or ``None``.
    """

    def __init__(self, tol, patience, keep_best):
        self.tol, self.patience, self.keep_best = tol, patience, keep_best
        self.best, self.n_stalled, self.best_state = np.inf, 0, None

    def update(self, value, undone, W, b, epoch, row_space=None):
        """Record an epoch's monitored ``value``, ending at ``(W, b)``; return the stalled count."""
        if undone:
            self.n_stalled += 1
            return self.n_stalled
        self.n_stalled = 0 if value < self.best - self.tol else self.n_stalled + 1
        if value < self.best:
            self.best = value
            if self.keep_best:
                self.best_state = (W.copy(), b.copy(), epoch, row_space)
        return self.n_stalled

    @property
    def exhausted(self):
        return self.n_stalled >= self.patience


class Stop(NamedTuple):
    """Why training stopped: ``reason`` (one of :attr:`StopRule.REASONS`) and a message."""

    reason: str
    message: str


class StopRule:
    """The one place that decides whether training stops after an epoch, and why.

    With the rules on (a ``tol``), in this order: the guard found convergence;
    the step size fell below its floor; ``patience`` epochs in a row did not
    improve; then ``max_epochs`` epochs ran without converging (``"max_iter"``).
    With the rules off (``tol=None``, ``partial_fit``) training simply runs its
    ``max_epochs`` epochs (``"epochs"``).
    """

    REASONS = ("converged", "step_floor", "no_improvement", "max_iter", "epochs")

    def __init__(self, tol, max_epochs, rules=True):
        self.tol, self.max_epochs, self.rules = tol, max_epochs, rules

    def decide(self, epoch, check, below_floor, stopping):
        """A :class:`Stop` after the 1-based ``epoch``, or ``None`` to go on.

        ``check`` is the epoch's :class:`EpochCheck`, ``below_floor`` whether
        the optimiser's step size is below its floor and ``stopping`` the
        :class:`EarlyStopping` rule.
        """
        if self.rules and check.converged:
            message = f"Largest gradient entry {check.gradient:.3g} <= tol={self.tol}: converged."
            return Stop("converged", message)
        if self.rules and below_floor:
            return Stop("step_floor", "Step size fell below 1e-4 x learning_rate_init; stopping.")
        if self.rules and stopping.exhausted:
            message = f"No improvement over tol={self.tol} for {stopping.n_stalled} epochs; stopping."
            return Stop("no_improvement", message)
        if epoch < self.max_epochs:
            return None
        if not self.rules:
            return Stop("epochs", f"{self.max_epochs} epochs run.")
        message = f"maximum iterations ({self.max_epochs}) reached and the optimization hasn't converged yet."
        return Stop("max_iter", message)


class RowSpaceChange:
    """When and how training moves into the span of the training rows (a :class:`RowSpace`).

    Planned for many features and few samples (``n_features >= 2 *
    n_samples``, up to 4,096 samples) when the fit ``enabled`` it (a
    class-mean start, which lies in the span, and the stopping rules on).
    The move is due once, after the first epoch that no rule stopped (the last
    epoch included: the projection keeps the training logits and shrinks the
    norm); a problem solved by its start need not pay for the basis.
    """

    def __init__(self, shape, enabled):
        n_samples, n_features = shape
        self.pending = enabled and n_features >= 2 * n_samples and n_samples <= _MAX_ROW_SPACE_SAMPLES

    def due(self, stop):
        """Whether to move now, after an epoch that ended with ``stop`` (a :class:`Stop` or None)."""
        if not self.pending or (stop is not None and stop.reason != "max_iter"):
            return False
        self.pending = False
        return True

    @staticmethod
    def move(problem, validation, W):
        """The problems in the rows' span and the coordinates there of ``W``'s projection."""
        row_space = RowSpace(problem.Z)
        problem, validation = problem.in_row_space(row_space, validation)
        return problem, validation, row_space.coordinates_of(W)


def mini_batch_epoch(problem, params, optimizer, order, batch, abort_above=np.inf):
    """One pass of mini-batch steps over ``problem`` in ``order``, updating ``params`` in place.

    ``params`` is ``[W, b]``, handed to ``optimizer``. Returns the epoch's
    running ``(objective, accuracy)``, or ``None`` once the running loss
    exceeds ``abort_above``, and the number of samples the optimiser stepped on.
    """
    Z, y_idx, sw, loss = problem.Z, problem.y, problem.sample_weight, problem.loss
    W, b = params
    gW = np.empty_like(W)
    loss_sum = acc_sum = seen = 0.0
    n_seen = 0
    for start in range(0, len(y_idx), batch):
        idx = order[start : start + batch]
        wb = None if sw is None else sw[idx]
        weight = float(len(idx)) if sw is None else float(wb.sum())
        if weight <= 0:
            continue
        cross_entropy, accuracy, gW, gb = loss.batch_gradient(W, b, Z[idx], y_idx[idx], wb, gW)
        loss_sum += cross_entropy * weight
        acc_sum += accuracy * weight
        seen += weight
        if loss_sum / seen > abort_above:
            return None, n_seen
        optimizer.update_params(params, [gW, gb])
        n_seen += len(idx)
    return (loss.objective(loss_sum / loss.total_weight, W), acc_sum / loss.total_weight), n_seen


def minimize_lbfgs(problem, W, b, max_iter, tol, on_iteration):
    """Minimise ``problem``'s objective from ``(W, b)`` with scipy's L-BFGS-B, in float64.

    ``on_iteration(W, b, objective, accuracy)`` is called after every
    iteration; ``tol`` is scipy's ``gtol`` (``None``: ``gtol`` and ``ftol``
    0, and no ``ConvergenceWarning``). Returns the final ``(W, b)``.
    """
    Z, y_idx, loss = problem.Z, problem.y, problem.loss
    shape, size = W.shape, W.size
    last = {}

    def objective(x):
        W, b = x[:size].reshape(shape), x[size:]
        objective, accuracy, gW, gb = loss.loss_gradient(W, b, Z, y_idx, problem.sample_weight)
        last.update(x=x.copy(), loss=objective, accuracy=accuracy)
        return last["loss"], np.concatenate([gW.ravel(), gb])

    def callback(intermediate_result):
        x = intermediate_result.x
        if not np.array_equal(x, last["x"]):
            objective(x)
        on_iteration(x[:size].reshape(shape), x[size:], last["loss"], last["accuracy"])

    options = {
        "maxiter": max_iter,
        "maxls": 50,
        "gtol": 0.0 if tol is None else tol,
        "ftol": 64 * np.finfo(float).eps if tol is not None else 0.0,
    }
    x0 = np.concatenate([W.ravel(), b])
    result = minimize(objective, x0, method="L-BFGS-B", jac=True, callback=callback, options=options)
    if tol is not None:
        _check_optimize_result("lbfgs", result, max_iter)
    return result.x[:size].reshape(shape).copy(), result.x[size:].copy()

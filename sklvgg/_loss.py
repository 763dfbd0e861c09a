"""The softmax head's objective, written once: weighted cross-entropy plus an L2 penalty.

Every caller (a mini-batch step, the exact objective between epochs, the
validation curves, the line search of the start and the L-BFGS solver) goes
through :class:`SoftmaxLoss`, as scikit-learn's solvers share
``linear_model/_linear_loss.py``'s ``LinearModelLoss``: the loss object
returns the penalised objective and its gradient (:meth:`SoftmaxLoss.loss_gradient`,
:meth:`SoftmaxLoss.objective`, :meth:`SoftmaxLoss.line`); no caller adds the
penalty itself.
"""

import numpy as np

__all__ = ["SoftmaxLoss", "log_softmax"]


def log_softmax(z):
    """Row-wise log-softmax, in the dtype of ``z``.

    Parameters
    ----------
    z : ndarray of shape (n_samples, n_classes)

    Returns
    -------
    log_proba : ndarray of shape (n_samples, n_classes)
    """
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


class SoftmaxLoss:
    """Multinomial logistic loss of a linear model with an L2 penalty on the weights.

    The objective of weights ``W`` (n_features x n_classes) and intercept ``b``
    on samples ``(x_i, y_i)`` of weights ``s_i`` is::

        sum_i s_i CE(x_i W + b, y_i) / sum_i s_i + alpha / 2 * ||W||^2 / total_weight

    with ``CE(z, y) = log sum_k exp(z_k) - z_y``. On the whole training set
    ``total_weight = sum_i s_i`` and this is the training objective; on a
    mini-batch the first term is the batch's weighted mean and the penalty
    keeps the training set's ``total_weight``, so the batch gradient is a
    stochastic estimate of the full one. The intercept is not penalised.

    Computations run in the dtype of the inputs (float32 in mini-batch
    training, float64 in L-BFGS); sums of losses are accumulated in float64.

    Parameters
    ----------
    alpha : float
        L2 penalty.
    total_weight : float
        Sum of the sample weights of the whole training set.
    """

    def __init__(self, alpha, total_weight):
        self.alpha = float(alpha)
        self.total_weight = float(total_weight)

    @classmethod
    def for_samples(cls, alpha, n_samples, sample_weight=None):
        """The loss of a training set of ``n_samples`` rows weighted by ``sample_weight``.

        Parameters
        ----------
        alpha : float
            L2 penalty.
        n_samples : int
        sample_weight : ndarray of shape (n_samples,) or None
            ``None`` is unit weights.

        Returns
        -------
        loss : SoftmaxLoss
            With ``total_weight`` the sum of the weights (``n_samples`` for unit weights).
        """
        total = float(n_samples) if sample_weight is None else float(np.sum(sample_weight))
        return cls(alpha, total)

    @property
    def l2(self):
        """The penalty's coefficient, ``alpha / total_weight``."""
        return self.alpha / self.total_weight

    def penalty(self, W):
        """``alpha / 2 * ||W||^2 / total_weight``.

        Parameters
        ----------
        W : ndarray of shape (n_features, n_classes)

        Returns
        -------
        penalty : float
        """
        flat = W.ravel()
        return 0.5 * self.l2 * float(np.dot(flat, flat))

    def objective(self, cross_entropy, W):
        """The objective at weights ``W`` whose weighted mean cross-entropy is ``cross_entropy``.

        Parameters
        ----------
        cross_entropy : float
            Weighted mean cross-entropy over the training set (or a running
            average of it over an epoch).
        W : ndarray of shape (n_features, n_classes)

        Returns
        -------
        objective : float
            ``cross_entropy + alpha / 2 * ||W||^2 / total_weight``.
        """
        return cross_entropy + self.penalty(W)

    def logit_gradient(self, logits, y, sample_weight=None):
        """Mean cross-entropy, accuracy and the gradient with respect to the logits.

        ``logits`` is overwritten by the gradient of the weighted mean
        cross-entropy, ``s_i / sum(s) * (softmax(z_i) - onehot(y_i))``.

        Parameters
        ----------
        logits : ndarray of shape (n_samples, n_classes)
            Overwritten.
        y : ndarray of shape (n_samples,)
            Class indices.
        sample_weight : ndarray of shape (n_samples,) or None
            ``None`` is unit weights (a faster path).

        Returns
        -------
        cross_entropy : float
            Weighted mean over the samples.
        accuracy : float
            Weighted fraction of samples whose largest logit is their class.
        grad_logits : ndarray of shape (n_samples, n_classes)
            ``logits``, overwritten.
        """
        rows = np.arange(len(y))
        z = logits
        correct = z.argmax(axis=1) == y
        z -= z.max(axis=1, keepdims=True)
        z_true = z[rows, y]
        p = np.exp(z, out=z)
        norm = p.sum(axis=1)
        cross_entropy = np.log(norm)
        cross_entropy -= z_true
        if sample_weight is None:
            total = float(len(y))
            loss = float(cross_entropy.sum(dtype=np.float64)) / total
            accuracy = float(correct.sum()) / total
            share = z.dtype.type(1.0 / total)
        else:
            weight = np.asarray(sample_weight, dtype=np.float64)
            total = float(weight.sum())
            loss = float(np.dot(weight, cross_entropy)) / total
            accuracy = float(np.dot(weight, correct)) / total
            share = (weight / total).astype(z.dtype)
        p *= (share / norm)[:, None]
        p[rows, y] -= share
        return loss, accuracy, p

    def weight_gradient(self, X, grad_logits, W, out=None):
        """Gradient with respect to ``W``: ``X.T @ grad_logits + l2 * W``.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
        grad_logits : ndarray of shape (n_samples, n_classes)
        W : ndarray of shape (n_features, n_classes)
        out : ndarray of shape (n_features, n_classes), default=None

        Returns
        -------
        grad_W : ndarray of shape (n_features, n_classes)
        """
        grad = np.matmul(X.T, grad_logits, out=out)
        grad += W.dtype.type(self.l2) * W
        return grad

    def batch_gradient(self, W, b, X, y, sample_weight=None, out=None):
        """A mini-batch's cross-entropy and accuracy, and the gradients of the objective at ``(W, b)``.

        The stochastic step's quantities: the penalty's gradient is included,
        its value is not (an epoch's running objective adds it once, at the
        epoch's end, through :meth:`objective`).

        Parameters
        ----------
        W : ndarray of shape (n_features, n_classes)
        b : ndarray of shape (n_classes,)
        X : ndarray of shape (n_samples, n_features)
        y : ndarray of shape (n_samples,)
            Class indices.
        sample_weight : ndarray of shape (n_samples,) or None
        out : ndarray of shape (n_features, n_classes), default=None
            Where to write ``grad_W``.

        Returns
        -------
        cross_entropy : float
            Weighted mean over the samples, without the penalty.
        accuracy : float
        grad_W : ndarray of shape (n_features, n_classes)
            Penalty included.
        grad_b : ndarray of shape (n_classes,)
        """
        z = X @ W
        z += b
        loss, accuracy, G = self.logit_gradient(z, y, sample_weight)
        return loss, accuracy, self.weight_gradient(X, G, W, out=out), G.sum(axis=0)

    def loss_gradient(self, W, b, X, y, sample_weight=None, out=None):
        """The objective (penalty included), accuracy and gradients at ``(W, b)``.

        Parameters
        ----------
        W : ndarray of shape (n_features, n_classes)
        b : ndarray of shape (n_classes,)
        X : ndarray of shape (n_samples, n_features)
            The whole training set.
        y : ndarray of shape (n_samples,)
            Class indices.
        sample_weight : ndarray of shape (n_samples,) or None
        out : ndarray of shape (n_features, n_classes), default=None
            Where to write ``grad_W``.

        Returns
        -------
        objective : float
        accuracy : float
        grad_W : ndarray of shape (n_features, n_classes)
        grad_b : ndarray of shape (n_classes,)
        """
        cross_entropy, accuracy, grad_W, grad_b = self.batch_gradient(W, b, X, y, sample_weight, out)
        return self.objective(cross_entropy, W), accuracy, grad_W, grad_b

    def cross_entropy(self, logits, y, sample_weight=None):
        """Weighted mean cross-entropy and accuracy of ``logits`` (not overwritten).

        Parameters
        ----------
        logits : ndarray of shape (n_samples, n_classes)
        y : ndarray of shape (n_samples,)
        sample_weight : ndarray of shape (n_samples,) or None

        Returns
        -------
        cross_entropy, accuracy : float
        """
        loss, accuracy, _ = self.logit_gradient(np.array(logits, copy=True), y, sample_weight)
        return loss, accuracy

    def directional_derivatives(self, logits, direction, y, sample_weight=None):
        """First and second derivative of the mean cross-entropy along logits ``direction``.

        For ``f(c) = mean CE(logits + c * direction)`` at ``c = 0``:
        ``f' = sum_i s_i (E_p[a_i] - a_iy) / sum s`` and
        ``f'' = sum_i s_i Var_p[a_i] / sum s``, ``p`` the softmax of the logits.

        Parameters
        ----------
        logits, direction : ndarray of shape (n_samples, n_classes)
        y : ndarray of shape (n_samples,)
        sample_weight : ndarray of shape (n_samples,) or None

        Returns
        -------
        first, second : float
        """
        p = np.exp(log_softmax(logits))
        mean = np.sum(p * direction, axis=1)
        variance = np.sum(p * direction * direction, axis=1) - mean**2
        first = mean - direction[np.arange(len(y)), y]
        if sample_weight is None:
            return float(first.mean()), float(variance.mean())
        w = np.asarray(sample_weight, np.float64) / float(np.sum(sample_weight))
        return float(np.dot(w, first)), float(np.dot(w, variance))

    def line(self, direction_logits, direction_W, y, sample_weight=None):
        """The objective's derivatives along the ray ``c * (direction_W, direction_b)`` from zero weights.

        Parameters
        ----------
        direction_logits : ndarray of shape (n_samples, n_classes)
            The logits of a unit step, ``X @ direction_W + direction_b``.
        direction_W : ndarray of shape (n_features, n_classes)
            The step's weights (their penalty; the intercept is not penalised).
        y : ndarray of shape (n_samples,)
        sample_weight : ndarray of shape (n_samples,) or None

        Returns
        -------
        derivatives : callable
            ``derivatives(c)`` is ``(f'(c), f''(c))`` for ``f(c)``, the objective at
            ``c`` times the step; ``f`` is convex.
        """
        curvature = self.alpha * float(np.sum(direction_W.astype(np.float64) ** 2)) / self.total_weight

        def derivatives(c):
            logits = c * direction_logits
            first, second = self.directional_derivatives(logits, direction_logits, y, sample_weight)
            return first + curvature * c, second + curvature

        return derivatives

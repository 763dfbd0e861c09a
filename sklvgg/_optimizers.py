"""Stochastic optimisers of the softmax head, one class per solver.

Each optimiser owns its update rule (:meth:`BaseOptimizer.update_params`, in
place, in preallocated buffers) and the step-size schedule shared by all of
them: :meth:`BaseOptimizer.trigger_stopping` divides the step size by 5 and
says when it has fallen below its floor, ``1e-4 * learning_rate_init``.
:func:`make_optimizer` builds one from plain values (the estimator maps its
parameters onto them), as ``MLPClassifier`` builds ``AdamOptimizer``. The
estimator's training loop only asks an optimiser for updates and tells it when
an epoch stalled or was undone, as scikit-learn's
``neural_network/_stochastic_optimizers.py``.
"""

import numpy as np

from .exceptions import InputError

__all__ = ["AdamOptimizer", "BaseOptimizer", "RMSpropOptimizer", "SGDOptimizer", "make_optimizer"]


class BaseOptimizer:
    """Base class of the head's optimisers: the step-size schedule.

    Parameters
    ----------
    learning_rate_init : float
        The initial step size.
    decay : float, default=5.0
        What :meth:`trigger_stopping` divides the step size by.
    min_ratio : float, default=1e-4
        The floor: training stops once the step size falls below
        ``min_ratio * learning_rate_init``.

    Attributes
    ----------
    learning_rate : float
        The current step size.
    t : int
        Number of updates since the start or the last :meth:`reset`.
    """

    def __init__(self, learning_rate_init, *, decay=5.0, min_ratio=1e-4):
        self.learning_rate_init = float(learning_rate_init)
        self.learning_rate = float(learning_rate_init)
        self.decay = decay
        self.min_ratio = min_ratio
        self.t = 0

    # -------------------------------------------------------------- schedule

    @property
    def min_learning_rate(self):
        """The step-size floor, ``min_ratio * learning_rate_init``."""
        return self.min_ratio * self.learning_rate_init

    @property
    def below_floor(self):
        """Whether the step size has fallen below its floor (training should stop)."""
        return self.learning_rate < self.min_learning_rate

    def trigger_stopping(self):
        """Divide the step size by ``decay``; return whether it fell below the floor.

        Returns
        -------
        is_stopping : bool
        """
        self.learning_rate /= self.decay
        return self.below_floor

    def epoch_stalled(self, n_stalled):
        """The adaptive schedule: every second stalled epoch in a row divides the step.

        Parameters
        ----------
        n_stalled : int
            Number of consecutive epochs without improvement, this one included.

        Whether the step size then lies below its floor is :attr:`below_floor`.
        """
        if n_stalled and n_stalled % 2 == 0:
            self.trigger_stopping()

    def undo(self, params):
        """After the weights were sent back to an earlier point: fresh moments, smaller step.

        Parameters
        ----------
        params : list of ndarray
            The (restored) parameters.

        Whether the step size then lies below its floor is :attr:`below_floor`.
        """
        self.reset(params)
        self.trigger_stopping()

    # -------------------------------------------------------------- updates

    def reset(self, params):
        """Zero the moments (reshaped like ``params``) and the update count; keep the step size.

        Parameters
        ----------
        params : list of ndarray
        """
        self.t = 0
        self._tmp = [np.empty_like(p) for p in params]
        self._init_state(params)

    def _init_state(self, params):
        pass

    def update_params(self, params, grads):
        """Update ``params`` in place with one step along ``grads``.

        Parameters
        ----------
        params : list of ndarray
        grads : list of ndarray
            Gradients, in the same order and shapes as ``params``.
        """
        if not hasattr(self, "_tmp"):  # unpickled: scratch space only, the moments are kept
            self._tmp = [np.empty_like(p) for p in params]
        self.t += 1
        for i, (p, g) in enumerate(zip(params, grads)):
            self._update(i, p, g, self._tmp[i])

    def _update(self, i, param, grad, tmp):
        raise NotImplementedError

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_tmp", None)  # scratch space, rebuilt on the next update
        return state


class SGDOptimizer(BaseOptimizer):
    """Stochastic gradient descent with (Nesterov) momentum.

    ``v <- momentum * v - lr * g``; then ``p <- p + momentum * v - lr * g``
    (Nesterov) or ``p <- p + v`` (classical momentum), as scikit-learn's
    ``SGDOptimizer``.

    Parameters
    ----------
    learning_rate_init : float
    momentum : float, default=0.9
    nesterov : bool, default=True
    **schedule : dict
        ``decay`` and ``min_ratio`` of :class:`BaseOptimizer`.
    """

    def __init__(self, learning_rate_init, *, momentum=0.9, nesterov=True, **schedule):
        super().__init__(learning_rate_init, **schedule)
        self.momentum = momentum
        self.nesterov = nesterov

    def _init_state(self, params):
        self.velocities = [np.zeros_like(p) for p in params]

    def _update(self, i, param, grad, tmp):
        v = self.velocities[i]
        v *= self.momentum
        np.multiply(grad, self.learning_rate, out=tmp)
        v -= tmp
        if self.nesterov:
            param -= tmp
            np.multiply(v, self.momentum, out=tmp)
            param += tmp
        else:
            param += v


class AdamOptimizer(BaseOptimizer):
    """Adam (Kingma and Ba, 2015).

    ``m <- beta_1 m + (1 - beta_1) g``, ``v <- beta_2 v + (1 - beta_2) g^2``,
    ``p <- p - lr_t m / (sqrt(v) + epsilon)`` with the bias-corrected step
    ``lr_t = lr sqrt(1 - beta_2^t) / (1 - beta_1^t)``, as scikit-learn's and
    Keras' ``Adam``.

    Parameters
    ----------
    learning_rate_init : float
    beta_1 : float, default=0.9
    beta_2 : float, default=0.999
    epsilon : float, default=1e-8
    **schedule : dict
        ``decay`` and ``min_ratio`` of :class:`BaseOptimizer`.
    """

    def __init__(self, learning_rate_init, *, beta_1=0.9, beta_2=0.999, epsilon=1e-8, **schedule):
        super().__init__(learning_rate_init, **schedule)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon

    def _init_state(self, params):
        self.ms = [np.zeros_like(p) for p in params]
        self.vs = [np.zeros_like(p) for p in params]

    def _update(self, i, param, grad, tmp):
        m, v = self.ms[i], self.vs[i]
        m *= self.beta_1
        np.multiply(grad, 1 - self.beta_1, out=tmp)
        m += tmp
        v *= self.beta_2
        np.multiply(grad, grad, out=tmp)
        tmp *= 1 - self.beta_2
        v += tmp
        lr = self.learning_rate * np.sqrt(1 - self.beta_2**self.t) / (1 - self.beta_1**self.t)
        np.sqrt(v, out=tmp)
        tmp += self.epsilon
        np.divide(m, tmp, out=tmp)
        tmp *= lr
        param -= tmp


class RMSpropOptimizer(BaseOptimizer):
    """RMSprop (Tieleman and Hinton, 2012), as Keras' ``RMSprop`` without momentum.

    ``v <- rho v + (1 - rho) g^2``, ``p <- p - lr g / (sqrt(v) + epsilon)``.

    Parameters
    ----------
    learning_rate_init : float
    rho : float, default=0.9
    epsilon : float, default=1e-7
    **schedule : dict
        ``decay`` and ``min_ratio`` of :class:`BaseOptimizer`.
    """

    def __init__(self, learning_rate_init, *, rho=0.9, epsilon=1e-7, **schedule):
        super().__init__(learning_rate_init, **schedule)
        self.rho = rho
        self.epsilon = epsilon

    def _init_state(self, params):
        self.vs = [np.zeros_like(p) for p in params]

    def _update(self, i, param, grad, tmp):
        v = self.vs[i]
        v *= self.rho
        np.multiply(grad, grad, out=tmp)
        tmp *= 1 - self.rho
        v += tmp
        np.sqrt(v, out=tmp)
        tmp += self.epsilon
        np.divide(grad, tmp, out=tmp)
        tmp *= self.learning_rate
        param -= tmp


def make_optimizer(
    solver, params, learning_rate_init, *, momentum=0.9, nesterov=True, beta_1=0.9, beta_2=0.999, epsilon=None
):
    """The optimiser of ``solver`` from plain values, its moments shaped like ``params``.

    Each optimiser takes the hyper-parameters of its own rule and ignores the
    others, as ``MLPClassifier`` builds its optimisers.

    Parameters
    ----------
    solver : {"sgd", "adam", "rmsprop"}
    params : list of ndarray
        The parameters the optimiser will update.
    learning_rate_init : float
        The initial step size.
    momentum : float, default=0.9
        ``"sgd"``'s momentum.
    nesterov : bool, default=True
        ``"sgd"``: Nesterov's momentum.
    beta_1, beta_2 : float, default=0.9, 0.999
        ``"adam"``'s decay rates.
    epsilon : float, default=None
        ``"adam"``'s and ``"rmsprop"``'s numerical-stability term; ``None``
        keeps the optimiser's default (1e-8 for Adam, 1e-7 for RMSprop).

    Returns
    -------
    optimizer : BaseOptimizer
    """
    stability = {} if epsilon is None else {"epsilon": epsilon}
    if solver == "sgd":
        optimizer = SGDOptimizer(learning_rate_init, momentum=momentum, nesterov=nesterov)
    elif solver == "adam":
        optimizer = AdamOptimizer(learning_rate_init, beta_1=beta_1, beta_2=beta_2, **stability)
    elif solver == "rmsprop":
        optimizer = RMSpropOptimizer(learning_rate_init, **stability)
    else:
        raise InputError(f"The {solver!r} solver has no stochastic optimizer.")
    optimizer.reset(params)
    return optimizer

"""Each optimiser's update rule against its formula, and the shared step schedule."""

import pickle

import numpy as np
import pytest

from sklvgg._optimizers import AdamOptimizer, RMSpropOptimizer, SGDOptimizer


@pytest.fixture
def params_grads(rng):
    params = [rng.normal(size=(4, 3)), rng.normal(size=3)]
    grads = [[rng.normal(size=(4, 3)), rng.normal(size=3)] for _ in range(3)]
    return params, grads


def _run(optimizer, params, grads):
    params = [p.copy() for p in params]
    optimizer.reset(params)
    history = []
    for g in grads:
        optimizer.update_params(params, g)
        history.append([p.copy() for p in params])
    return history


@pytest.mark.parametrize("momentum", [0.0, 0.5, 0.9])
def test_sgd_nesterov_update(params_grads, momentum):
    params, grads = params_grads
    lr = 0.1
    history = _run(SGDOptimizer(lr, momentum=momentum, nesterov=True), params, grads)
    expected, velocity = [p.copy() for p in params], [np.zeros_like(p) for p in params]
    for step, g in enumerate(grads):
        for i in range(2):
            velocity[i] = momentum * velocity[i] - lr * g[i]
            expected[i] = expected[i] + momentum * velocity[i] - lr * g[i]
            np.testing.assert_allclose(history[step][i], expected[i], rtol=1e-12)


@pytest.mark.parametrize("momentum", [0.0, 0.5, 0.9])
def test_sgd_classical_momentum_update(params_grads, momentum):
    params, grads = params_grads
    lr = 0.1
    history = _run(SGDOptimizer(lr, momentum=momentum, nesterov=False), params, grads)
    expected, velocity = [p.copy() for p in params], [np.zeros_like(p) for p in params]
    for step, g in enumerate(grads):
        for i in range(2):
            velocity[i] = momentum * velocity[i] - lr * g[i]
            expected[i] = expected[i] + velocity[i]
            np.testing.assert_allclose(history[step][i], expected[i], rtol=1e-12)


def test_nesterov_differs_from_classical_momentum(params_grads):
    params, grads = params_grads
    nesterov = _run(SGDOptimizer(0.1, momentum=0.9, nesterov=True), params, grads)
    classical = _run(SGDOptimizer(0.1, momentum=0.9, nesterov=False), params, grads)
    assert not np.allclose(nesterov[0][0], classical[0][0])


@pytest.mark.parametrize("beta_1, beta_2, epsilon", [(0.9, 0.999, 1e-8), (0.5, 0.9, 1e-3)])
def test_adam_update(params_grads, beta_1, beta_2, epsilon):
    params, grads = params_grads
    lr = 0.01
    history = _run(AdamOptimizer(lr, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon), params, grads)
    expected = [p.copy() for p in params]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    for t, g in enumerate(grads, start=1):
        lr_t = lr * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
        for i in range(2):
            m[i] = beta_1 * m[i] + (1 - beta_1) * g[i]
            v[i] = beta_2 * v[i] + (1 - beta_2) * g[i] ** 2
            expected[i] = expected[i] - lr_t * m[i] / (np.sqrt(v[i]) + epsilon)
            np.testing.assert_allclose(history[t - 1][i], expected[i], rtol=1e-12)


@pytest.mark.parametrize("rho, epsilon", [(0.9, 1e-7), (0.5, 1e-2)])
def test_rmsprop_update(params_grads, rho, epsilon):
    params, grads = params_grads
    lr = 0.01
    history = _run(RMSpropOptimizer(lr, rho=rho, epsilon=epsilon), params, grads)
    expected = [p.copy() for p in params]
    v = [np.zeros_like(p) for p in params]
    for step, g in enumerate(grads):
        for i in range(2):
            v[i] = rho * v[i] + (1 - rho) * g[i] ** 2
            expected[i] = expected[i] - lr * g[i] / (np.sqrt(v[i]) + epsilon)
            np.testing.assert_allclose(history[step][i], expected[i], rtol=1e-12)


@pytest.mark.parametrize(
    "optimizer",
    [SGDOptimizer(0.1), AdamOptimizer(0.1), RMSpropOptimizer(0.1)],
    ids=["sgd", "adam", "rmsprop"],
)
def test_every_rule_descends_along_the_gradient(optimizer):
    """A first step moves each parameter against its gradient's sign."""
    p = [np.array([1.0, -1.0, 0.5])]
    g = [np.array([2.0, -3.0, 0.1])]
    optimizer.reset(p)
    optimizer.update_params(p, g)
    assert np.all(np.sign(p[0] - [1.0, -1.0, 0.5]) == -np.sign(g[0]))


def test_trigger_stopping_divides_by_five_down_to_the_floor():
    optimizer = AdamOptimizer(1.0)
    assert optimizer.min_learning_rate == pytest.approx(1e-4)
    stops = [optimizer.trigger_stopping() for _ in range(7)]
    # 5 ** -5 = 3.2e-4 is above the floor 1e-4, 5 ** -6 = 6.4e-5 below
    assert stops == [False] * 5 + [True] * 2
    assert optimizer.learning_rate == pytest.approx(5.0**-7)
    assert optimizer.below_floor


def test_epoch_stalled_divides_every_second_stalled_epoch():
    optimizer = SGDOptimizer(1.0)
    rates = []
    for n_stalled in [0, 1, 2, 3, 4, 0, 1, 2]:
        optimizer.epoch_stalled(n_stalled)
        rates.append(optimizer.learning_rate)
    assert rates == pytest.approx([1, 1, 0.2, 0.2, 0.04, 0.04, 0.04, 0.008])


@pytest.mark.parametrize("cls", [SGDOptimizer, AdamOptimizer, RMSpropOptimizer])
def test_undo_restarts_moments_with_a_smaller_step(cls, params_grads):
    params, grads = params_grads
    optimizer = cls(0.1)
    _run(optimizer, params, grads)
    fresh = cls(0.02)
    optimizer.undo(params)
    assert optimizer.t == 0 and optimizer.learning_rate == pytest.approx(0.02)
    a, b = [p.copy() for p in params], [p.copy() for p in params]
    fresh.reset(b)
    optimizer.update_params(a, grads[0])
    fresh.update_params(b, grads[0])
    np.testing.assert_allclose(a[0], b[0], rtol=1e-12)


@pytest.mark.parametrize("cls", [SGDOptimizer, AdamOptimizer, RMSpropOptimizer])
def test_pickle_keeps_the_state(cls, params_grads):
    params, grads = params_grads
    optimizer = cls(0.1)
    a = [p.copy() for p in params]
    optimizer.reset(a)
    optimizer.update_params(a, grads[0])
    optimizer.trigger_stopping()
    copy = pickle.loads(pickle.dumps(optimizer))
    b = [p.copy() for p in a]
    for g in grads[1:]:
        optimizer.update_params(a, g)
        copy.update_params(b, g)
    for x, z in zip(a, b):
        np.testing.assert_array_equal(x, z)


@pytest.mark.parametrize(
    "solver, expected",
    [
        ("sgd", {"momentum": 0.8, "nesterov": False}),
        ("adam", {"beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-6}),
        ("rmsprop", {"epsilon": 1e-6, "rho": 0.9}),
    ],
)
def test_head_passes_its_parameters_to_the_optimizer(solver, expected):
    """Each solver's optimiser gets the head's step size and its own hyper-parameters."""
    from sklvgg import SoftmaxHeadClassifier

    head = SoftmaxHeadClassifier(
        solver=solver, learning_rate_init=0.0123, momentum=0.8, nesterovs_momentum=False,
        beta_1=0.8, beta_2=0.99, epsilon=1e-6,
    )  # fmt: skip
    params = [np.zeros((3, 2)), np.zeros(3)]
    optimizer = head._new_optimizer(params)
    cls = {"sgd": SGDOptimizer, "adam": AdamOptimizer, "rmsprop": RMSpropOptimizer}[solver]
    assert type(optimizer) is cls
    assert optimizer.learning_rate == optimizer.learning_rate_init == 0.0123
    assert optimizer.t == 0
    for name, value in expected.items():
        assert getattr(optimizer, name) == value, name


def test_make_optimizer_from_plain_values():
    """Each optimiser takes its own hyper-parameters and ignores the others."""
    from sklvgg._optimizers import make_optimizer

    params = [np.zeros((3, 2)), np.zeros(2)]
    adam = make_optimizer("adam", params, 0.5, momentum=0.1, beta_1=0.7, epsilon=1e-3)
    assert type(adam) is AdamOptimizer and adam.learning_rate == 0.5
    assert (adam.beta_1, adam.beta_2, adam.epsilon) == (0.7, 0.999, 1e-3)
    assert adam.ms[0].shape == (3, 2) and adam.t == 0
    assert make_optimizer("rmsprop", params, 0.5).epsilon == 1e-7  # None: the optimiser's default
    assert make_optimizer("adam", params, 0.5).epsilon == 1e-8
    sgd = make_optimizer("sgd", params, 0.5, momentum=0.3, nesterov=False, beta_1=0.1)
    assert (sgd.momentum, sgd.nesterov) == (0.3, False)
    with pytest.raises(ValueError, match="'lbfgs' solver has no stochastic optimizer"):
        make_optimizer("lbfgs", params, 0.5)

import pickle
import warnings

import numpy as np
import pytest
import sklearn
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklvgg import SoftmaxHeadClassifier, VGG16FeatureTransformer

# Mini-batch training visits repeated samples in other batches than weighted ones, so integer
# weights equal repetition only in expectation (sklearn marks SGDClassifier the same); stopped at
# tol=1e-4 the results agree to about 1e-3, not the check's 1e-7. solver="lbfgs" passes it in full.
EXPECTED_FAILED_CHECKS = {
    "check_sample_weight_equivalence_on_dense_data": (
        "mini-batch training: weights match repetition only in expectation; solver='lbfgs' passes"
    ),
}


@parametrize_with_checks(
    [SoftmaxHeadClassifier(random_state=0), SoftmaxHeadClassifier(solver="lbfgs")],
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS if est.solver != "lbfgs" else {},
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.fixture
def blobs():
    X, y = make_classification(
        n_samples=400, n_features=30, n_informative=10, n_classes=4, class_sep=2.0, random_state=0
    )
    return X, y


def test_curves_and_attributes(blobs):
    X, y = blobs
    head = SoftmaxHeadClassifier(max_iter=15, learning_rate_init=0.05, random_state=0)
    with pytest.warns(sklearn.exceptions.ConvergenceWarning):
        head.fit(X[:300], y[:300], X_val=X[300:], y_val=y[300:])
    assert head.n_iter_ == 15
    for curve in ("loss_curve_", "accuracy_curve_", "validation_loss_curve_", "validation_accuracy_curve_"):
        assert len(getattr(head, curve)) == 15
    assert head.loss_curve_[-1] < head.loss_curve_[0]
    assert head.validation_accuracy_curve_[-1] > 0.8
    assert head.coef_.shape == (4, 30) and head.intercept_.shape == (4,)
    # validation accuracy of the last epoch is what score() says
    assert head.validation_accuracy_curve_[-1] == pytest.approx(head.score(X[300:], y[300:]))
    np.testing.assert_allclose(head.decision_function(X), X @ head.coef_.T + head.intercept_)


def test_matches_logistic_regression_objective(blobs):
    """Same objective as StandardScaler + LogisticRegression(C=1/alpha): same optimum."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = blobs
    alpha = 1.0
    head = SoftmaxHeadClassifier(
        alpha=alpha,
        max_iter=2000,
        batch_size=400,
        tol=1e-9,
        n_iter_no_change=100,
        random_state=0,
        shuffle=False,
    ).fit(X, y)
    lr = make_pipeline(StandardScaler(), LogisticRegression(C=1 / alpha, max_iter=5000, tol=1e-10))
    lr.fit(X, y)
    np.testing.assert_allclose(head.predict_proba(X), lr.predict_proba(X), atol=5e-4)


@pytest.mark.parametrize("n_samples", [40, 300])
def test_row_space_solver_matches_logistic_regression(rng, n_samples):
    """n_features >= 2 n_samples trains in the span of the rows: same optimum as lbfgs."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    d = 2000
    y = np.arange(n_samples) % 4
    X = np.maximum(rng.normal(0, 1, (4, d))[y] + rng.normal(0, 3, (n_samples, d)), 0)
    head = SoftmaxHeadClassifier(
        max_iter=3000, tol=1e-10, n_iter_no_change=50, batch_size=n_samples, random_state=0
    ).fit(X, y)
    lr = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000, tol=1e-10)).fit(X, y)
    np.testing.assert_allclose(head.predict_proba(X), lr.predict_proba(X), atol=1e-3)
    # the weights (in the standardised space) lie in the span of the standardised rows
    Z = (X - X.mean(axis=0)) / X.std(axis=0)
    W = head.coef_.T * X.std(axis=0)[:, None]
    residual = W - Z.T @ np.linalg.lstsq(Z.T, W, rcond=None)[0]
    assert np.linalg.norm(residual) < 1e-3 * np.linalg.norm(W)


def test_stops_on_logistic_regression_gradient_test(blobs):
    """tol also bounds the largest gradient entry, as lbfgs's: a loose tol stops at once."""
    X, y = blobs
    loose = SoftmaxHeadClassifier(tol=1.0, n_iter_no_change=50, random_state=0).fit(X, y)
    tight = SoftmaxHeadClassifier(tol=1e-6, n_iter_no_change=50, random_state=0).fit(X, y)
    assert loose.n_iter_ == 1 < tight.n_iter_
    # the criterion is the real gradient: at the loose solution it is below 1, not below 1e-6
    Z = (X - X.mean(axis=0)) / X.std(axis=0)
    P = loose.predict_proba(X)
    P[np.arange(len(y)), y] -= 1
    W = loose.coef_.T * X.std(axis=0)[:, None]
    gradient = np.abs(Z.T @ P / len(y) + loose.alpha * W / len(y)).max()
    assert 1e-6 < gradient <= 1.0


def test_row_space_basis_only_when_training_goes_on(rng, monkeypatch):
    from sklvgg import _training

    built = []
    original = _training.RowSpace.__init__

    def counting(self, Z):
        built.append(Z.shape)
        original(self, Z)

    monkeypatch.setattr(_training.RowSpace, "__init__", counting)
    y = np.arange(60) % 3
    X = np.maximum(rng.normal(0, 1, (3, 500))[y] + rng.normal(0, 2, (60, 500)), 0)
    SoftmaxHeadClassifier(tol=10.0, random_state=0).fit(X, y)  # converged at the start
    assert built == []
    head = SoftmaxHeadClassifier(tol=1e-6, random_state=0).fit(X, y)
    assert built == [(60, 500)] and head.n_iter_ > 1 and head.coef_.shape == (3, 500)
    SoftmaxHeadClassifier(tol=1e-6, random_state=0).fit(X[:, :100], y)  # 100 < 2 * 60
    assert len(built) == 1


def test_adaptive_schedule_undoes_harmful_epochs(blobs):
    """A far too large step cannot leave the model worse than its starting point."""
    X, y = blobs

    def objective(head):
        p = np.clip(head.predict_proba(X)[np.arange(len(y)), y], 1e-300, None)
        W = head.coef_ * head.scaler_scale_
        return -np.mean(np.log(p)) + 0.5 * head.alpha * np.sum(W**2) / len(y)

    start = SoftmaxHeadClassifier(learning_rate="constant", learning_rate_init=1e-12, max_iter=1)
    with pytest.warns(sklearn.exceptions.ConvergenceWarning):
        start.fit(X, y)
    wild = dict(learning_rate_init=50.0, max_iter=30, random_state=0)
    adaptive = SoftmaxHeadClassifier(**wild).fit(X, y)
    with pytest.warns(sklearn.exceptions.ConvergenceWarning):
        constant = SoftmaxHeadClassifier(learning_rate="constant", **wild).fit(X, y)
    assert objective(adaptive) <= objective(start) + 1e-6
    assert objective(constant) > objective(start)  # what the undo prevents
    assert adaptive.score(X, y) >= start.score(X, y) - 0.01


def test_raw_large_scale_sparse_features_train_with_defaults(rng):
    """VGG-like features: non-negative, sparse, scale ~ 100, no scaler in front."""
    n_classes, n, d = 10, 600, 500
    centers = rng.gamma(0.5, 40, (n_classes, d)) * (rng.random((n_classes, d)) < 0.3)
    y = rng.integers(0, n_classes, n)
    X = np.maximum(centers[y] + rng.normal(0, 30, (n, d)), 0) * 3
    head = SoftmaxHeadClassifier(random_state=0)
    acc = cross_val_score(head, X, y, cv=3).mean()
    lr = cross_val_score(LogisticRegression(max_iter=3000), X, y, cv=3).mean()
    assert acc > 0.9 and acc >= lr - 0.02


def test_deterministic_and_pickles(blobs):
    X, y = blobs
    a = SoftmaxHeadClassifier(random_state=3, max_iter=20).fit(X, y)
    b = SoftmaxHeadClassifier(random_state=3, max_iter=20).fit(X, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    assert a._W.flags.c_contiguous  # the mini-batch products are slower on F-ordered weights
    blob = pickle.dumps(a)
    assert b"tensorflow" not in blob
    np.testing.assert_array_equal(pickle.loads(blob).predict_proba(X), a.predict_proba(X))


def test_string_labels_and_binary(blobs):
    X, y = blobs
    names = np.array(["cat", "dog", "emu", "fox"])[y]
    head = SoftmaxHeadClassifier(random_state=0).fit(X, names)
    assert set(head.predict(X)) <= set(names) and list(head.classes_) == ["cat", "dog", "emu", "fox"]
    yb = np.where(y < 2, "no", "yes")
    binary = SoftmaxHeadClassifier(random_state=0).fit(X, yb)
    assert binary.coef_.shape == (2, 30)
    d = binary.decision_function(X)
    assert d.shape == (400,)
    np.testing.assert_allclose(binary.predict_proba(X)[:, 1], 1 / (1 + np.exp(-d)))


def test_early_stopping_keeps_best_epoch(blobs):
    X, y = blobs
    head = SoftmaxHeadClassifier(
        early_stopping=True, n_iter_no_change=5, learning_rate_init=0.05, random_state=0
    ).fit(X, y)
    best = head.best_epoch_
    assert head.validation_loss_curve_[best - 1] == min(head.validation_loss_curve_)
    assert head.n_iter_ < 200 and head.n_iter_ >= best
    assert len(head.validation_loss_curve_) == head.n_iter_
    # the held-out 10% is stratified
    assert len(head.accuracy_curve_) == head.n_iter_


@pytest.mark.parametrize("learning_rate_init, before_switch", [(0.01, True), (0.05, False)])
def test_early_stopping_in_the_row_space_keeps_best_weights(rng, learning_rate_init, before_switch):
    """Best weights found before or after the switch to the rows' span come back lifted."""
    y = np.arange(120) % 4
    centers = rng.normal(0, 1, (4, 600))
    X = np.maximum(centers[y] + rng.normal(0, 3, (120, 600)), 0)
    yv = np.arange(80) % 4
    Xv = np.maximum(centers[yv] + rng.normal(0, 3, (80, 600)), 0)
    head = SoftmaxHeadClassifier(
        early_stopping=True,
        n_iter_no_change=4,
        tol=1e-6,
        learning_rate_init=learning_rate_init,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sklearn.exceptions.ConvergenceWarning)
        head.fit(X, y, X_val=Xv, y_val=yv)
    best = head.best_epoch_
    assert (best == 1) == before_switch  # epoch 1 runs in feature space, the rest in the span
    assert head.validation_loss_curve_[best - 1] == min(head.validation_loss_curve_)
    proba = head.predict_proba(Xv)[np.arange(80), yv]
    assert -np.mean(np.log(proba)) == pytest.approx(head.validation_loss_curve_[best - 1], rel=1e-4)
    assert head.coef_.shape == (4, 600)


def test_partial_fit_and_warm_start(blobs):
    X, y = blobs
    head = SoftmaxHeadClassifier(learning_rate_init=0.05, random_state=0)
    with pytest.raises(ValueError, match="classes must be passed"):
        head.partial_fit(X, y)
    for _ in range(20):
        head.partial_fit(X[:200], y[:200], classes=np.unique(y))
    assert head.n_iter_ == 20 and len(head.loss_curve_) == 20
    assert head.score(X, y) > 0.8
    warm = SoftmaxHeadClassifier(warm_start=True, max_iter=5, random_state=0)
    with pytest.warns(sklearn.exceptions.ConvergenceWarning):
        warm.fit(X, y)
        coef = warm.coef_.copy()
        warm.fit(X, y)
    assert warm.n_iter_ == 10 and not np.allclose(coef, warm.coef_)


def test_class_weight_balanced(rng):
    X = rng.normal(size=(300, 5))
    y = (X[:, 0] > 1.2).astype(int)  # ~12% positives
    plain = SoftmaxHeadClassifier(random_state=0).fit(X, y)
    balanced = SoftmaxHeadClassifier(class_weight="balanced", random_state=0).fit(X, y)
    assert balanced.predict(X).sum() > plain.predict(X).sum()


@pytest.mark.parametrize(
    "fit_kwargs, match",
    [
        (dict(X_val=np.zeros((2, 30))), "X_val and y_val must be given together"),
        (dict(y_val=np.zeros(2)), "X_val and y_val must be given together"),
        (dict(X_val=np.zeros((2, 29)), y_val=np.zeros(2)), "29 features"),
    ],
)
def test_bad_validation_input(blobs, fit_kwargs, match):
    X, y = blobs
    with pytest.raises(ValueError, match=match):
        SoftmaxHeadClassifier(max_iter=2).fit(X, y, **fit_kwargs)


def test_bad_input(blobs):
    X, y = blobs
    bad = X.copy()
    bad[3, 4] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        SoftmaxHeadClassifier().fit(bad, y)
    with pytest.raises(ValueError, match="at least 2 classes"):
        SoftmaxHeadClassifier().fit(X, np.zeros(len(X)))
    head = SoftmaxHeadClassifier(max_iter=3).fit(X, y)
    with pytest.raises(ValueError, match="X has 5 features"):
        head.predict(X[:, :5])


def test_pipeline_routes_validation_images_through_vgg(rng):
    X = rng.integers(0, 256, (24, 32, 32, 3), dtype=np.uint8)
    y = np.repeat([0, 1, 2], 8)
    for c in range(3):
        X[y == c, :, c * 10 : c * 10 + 10] = 255
    with sklearn.config_context(enable_metadata_routing=True):
        head = SoftmaxHeadClassifier(max_iter=20, random_state=0).set_fit_request(X_val=True, y_val=True)
        pipe = Pipeline(
            [("vgg", VGG16FeatureTransformer(weights=None, layer="block3_pool", pooling="avg",
                                             input_size=32, random_state=0)),
             ("head", head)],
            transform_input=["X_val"],
        )  # fmt: skip
        pipe.fit(X[::2], y[::2], X_val=X[1::2], y_val=y[1::2])
    fitted = pipe[-1]
    assert len(fitted.validation_accuracy_curve_) == fitted.n_iter_ <= 20
    assert fitted.validation_accuracy_curve_[-1] == pytest.approx(pipe.score(X[1::2], y[1::2]))
    assert clone(pipe).get_params()["head__max_iter"] == 20


# ---------------------------------------------------------------- parameters


@pytest.mark.parametrize("param", sorted(SoftmaxHeadClassifier._parameter_constraints))
def test_invalid_parameter_is_rejected(blobs, param):
    """One check per constrained parameter, its bad value generated from the constraints."""
    from sklearn.utils._param_validation import (
        InvalidParameterError,
        generate_invalid_param_val,
        make_constraint,
    )

    X, y = blobs
    for constraint in SoftmaxHeadClassifier._parameter_constraints[param]:
        try:
            bad = generate_invalid_param_val(make_constraint(constraint))
        except NotImplementedError:
            continue
        head = SoftmaxHeadClassifier(**{param: bad})
        with pytest.raises(InvalidParameterError, match=f"The '{param}' parameter of SoftmaxHeadClassifier"):
            head.fit(X, y)
        break
    else:
        head = SoftmaxHeadClassifier(**{param: object()})
        with pytest.raises(InvalidParameterError, match=f"The '{param}' parameter"):
            head.fit(X, y)


def test_every_parameter_is_constrained():
    assert set(SoftmaxHeadClassifier().get_params()) == set(SoftmaxHeadClassifier._parameter_constraints)


# ---------------------------------------------------------------- solvers


@pytest.fixture(scope="module")
def convex():
    """A convex problem and LogisticRegression's optimum of the head's objective on it."""
    from sklearn.preprocessing import StandardScaler

    X, y = make_classification(
        n_samples=300, n_features=20, n_informative=8, n_classes=3, class_sep=1.0, random_state=0
    )
    Z = StandardScaler().fit_transform(X)
    lr = LogisticRegression(C=1.0, tol=1e-10, max_iter=10000).fit(Z, y)
    return X, y, _objective(Z, y, lr.coef_, lr.intercept_)


def _objective(Z, y, coef, intercept, alpha=1.0, sample_weight=None):
    sw = np.ones(len(y)) if sample_weight is None else sample_weight
    z = Z @ coef.T + intercept
    z -= z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return -np.sum(sw * logp[np.arange(len(y)), y]) / sw.sum() + 0.5 * alpha * np.sum(coef**2) / sw.sum()


def _head_objective(head, X, y, sample_weight=None):
    """The head's objective in its standardised space, from coef_ and intercept_."""
    Z = (X - head.scaler_mean_) / head.scaler_scale_
    coef = head.coef_ * head.scaler_scale_
    intercept = head.intercept_ + head.coef_ @ head.scaler_mean_
    return _objective(Z, y, coef, intercept, head.alpha, sample_weight)


@pytest.mark.parametrize(
    "solver, params, gap",
    [
        ("adam", {}, 1e-4),
        ("sgd", {}, 1e-4),
        ("sgd", {"nesterovs_momentum": False}, 1e-4),
        ("rmsprop", {}, 1e-4),
        ("lbfgs", {"tol": 1e-6}, 1e-8),
    ],
)
def test_each_solver_reaches_the_logistic_regression_optimum(convex, solver, params, gap):
    X, y, optimum = convex
    stochastic = {} if solver == "lbfgs" else dict(batch_size=len(y), tol=1e-7, n_iter_no_change=50)
    head = SoftmaxHeadClassifier(solver=solver, max_iter=3000, random_state=0, **stochastic, **params)
    head.fit(X, y)
    assert 0 <= _head_objective(head, X, y) - optimum < gap
    assert len(head.loss_curve_) == head.n_iter_
    assert head.loss_curve_[-1] == pytest.approx(_head_objective(head, X, y), rel=1e-3)


def test_lbfgs_has_no_partial_fit(blobs):
    head = SoftmaxHeadClassifier(solver="lbfgs")
    assert not hasattr(head, "partial_fit")
    assert hasattr(SoftmaxHeadClassifier(), "partial_fit")


def test_lbfgs_curves_and_validation(blobs):
    X, y = blobs
    head = SoftmaxHeadClassifier(solver="lbfgs").fit(X[:300], y[:300], X_val=X[300:], y_val=y[300:])
    assert len(head.loss_curve_) == len(head.validation_loss_curve_) == head.n_iter_ > 1
    assert np.all(np.diff(head.loss_curve_) <= 1e-12)  # L-BFGS-B's line search only descends
    assert head.validation_accuracy_curve_[-1] == pytest.approx(head.score(X[300:], y[300:]))


# ---------------------------------------------------------------- the training loop's features


def test_shuffle(blobs):
    """Shuffled epochs depend on the seed; unshuffled ones visit the rows in order."""
    X, y = blobs
    kw = dict(max_iter=5, tol=None, batch_size=50)
    a, b = (SoftmaxHeadClassifier(random_state=s, **kw).fit(X, y) for s in (0, 1))
    assert not np.allclose(a.coef_, b.coef_)
    c, d = (SoftmaxHeadClassifier(random_state=s, shuffle=False, **kw).fit(X, y) for s in (0, 1))
    np.testing.assert_array_equal(c.coef_, d.coef_)
    # in order means in order: reversing the rows changes the unshuffled result only
    e = SoftmaxHeadClassifier(random_state=0, shuffle=False, **kw).fit(X[::-1], y[::-1])
    assert not np.allclose(c.coef_, e.coef_)


def _stratification_data(rng):
    """100 samples of 3 classes (50/30/20); the first 3 features are the one-hot class."""
    y = np.repeat([0, 1, 2], [50, 30, 20])
    X = np.hstack([np.eye(3)[y], rng.normal(size=(100, 4))])
    return X, y


@pytest.mark.parametrize("fraction", [0.1, 0.2, 0.3])
def test_validation_fraction_and_stratification(rng, fraction):
    """The scaler is fitted on the training part: its mean of the one-hot columns gives the
    class shares there, its size shows in the samples seen per epoch."""
    X, y = _stratification_data(rng)
    head = SoftmaxHeadClassifier(early_stopping=True, validation_fraction=fraction, max_iter=3, tol=None)
    head.fit(X, y)
    n_val = int(np.ceil(fraction * 100))
    assert head.t_ == head.n_iter_ * (100 - n_val)
    np.testing.assert_allclose(head.scaler_mean_[:3], [0.5, 0.3, 0.2], atol=1e-6)  # stratified


def test_early_stopping_restores_the_best_weights(rng):
    """The kept model's validation loss is the best epoch's, and training went on past it."""
    centers = rng.normal(0, 1, (4, 60))
    y, yv = np.arange(80) % 4, np.arange(200) % 4
    X = centers[y] + rng.normal(0, 3, (80, 60))
    Xv = centers[yv] + rng.normal(0, 3, (200, 60))
    head = SoftmaxHeadClassifier(
        early_stopping=True, alpha=1e-4, learning_rate_init=0.05, n_iter_no_change=8, random_state=0
    )
    head.fit(X, y, X_val=Xv, y_val=yv)
    best = head.best_epoch_
    assert best < head.n_iter_
    assert head.validation_loss_curve_[best - 1] == min(head.validation_loss_curve_)
    assert head.validation_loss_curve_[-1] > head.validation_loss_curve_[best - 1] + 1e-3
    proba = head.predict_proba(Xv)[np.arange(len(yv)), yv]
    assert -np.mean(np.log(proba)) == pytest.approx(head.validation_loss_curve_[best - 1], rel=1e-5)
    assert head.score(Xv, yv) == pytest.approx(head.validation_accuracy_curve_[best - 1])
    # it stopped on the epoch that made n_iter_no_change in a row without improvement by tol
    best_so_far, stalled = np.inf, []
    for value in head.validation_loss_curve_:
        stalled.append(0 if value < best_so_far - head.tol else stalled[-1] + 1 if stalled else 1)
        best_so_far = min(best_so_far, value)
    assert stalled[-1] == head.n_iter_no_change
    assert max(stalled[:-1]) < head.n_iter_no_change


def test_step_size_floor_stops_training(blobs):
    """With no other stopping rule able to fire, training ends once the step falls below
    1e-4 x learning_rate_init."""
    X, y = blobs
    head = SoftmaxHeadClassifier(learning_rate_init=50.0, tol=0.0, n_iter_no_change=10_000, max_iter=3000)
    head.fit(X, y)
    assert head.n_iter_ < 3000
    floor = 1e-4 * head.learning_rate_init
    assert head._optimizer.learning_rate < floor <= 5 * head._optimizer.learning_rate


def test_undo_and_schedule_follow_the_rules(blobs):
    """An epoch that raises the objective is undone: the curve records the start's objective."""
    X, y = blobs
    start = SoftmaxHeadClassifier(learning_rate_init=1e-12, learning_rate="constant", max_iter=1, tol=None)
    start.fit(X, y)
    with pytest.warns(sklearn.exceptions.ConvergenceWarning):
        wild = SoftmaxHeadClassifier(learning_rate_init=1e3, max_iter=1).fit(X, y)
    # the first epoch is undone: the model is the start, at a step 5 times smaller
    np.testing.assert_allclose(wild.coef_, start.coef_, rtol=1e-4, atol=1e-6)
    assert wild.loss_curve_[0] == pytest.approx(_head_objective(start, X, y), rel=1e-4)
    assert wild._optimizer.learning_rate == pytest.approx(200.0)


def test_a_diverging_epoch_is_abandoned_early(blobs):
    """Once an epoch's running loss passes twice the start's, its remaining batches are skipped
    (the epoch is undone anyway): with 20 batches, far fewer than 400 samples are seen."""
    X, y = blobs
    with pytest.warns(sklearn.exceptions.ConvergenceWarning):
        wild = SoftmaxHeadClassifier(learning_rate_init=1e3, max_iter=1, batch_size=20).fit(X, y)
    assert wild.n_iter_ == 1
    assert 0 < wild.t_ <= 100


@pytest.mark.parametrize("n_iter_no_change", [2, 3])
def test_undone_epochs_count_as_stalled(blobs, n_iter_no_change):
    """Every epoch diverges and is undone: each divides the step by 5 and counts towards
    ``n_iter_no_change``, which stops training after exactly that many epochs."""
    X, y = blobs
    head = SoftmaxHeadClassifier(learning_rate_init=1e6, n_iter_no_change=n_iter_no_change, batch_size=20)
    head.fit(X, y)
    assert head.n_iter_ == n_iter_no_change
    assert head._optimizer.learning_rate == pytest.approx(1e6 / 5**n_iter_no_change)
    assert len(set(head.loss_curve_)) == 1  # the start's objective, each time


# ---------------------------------------------------------------- weights


def test_class_weight_dict_is_keyed_by_labels(rng):
    X = rng.normal(size=(200, 4))
    y = np.where(X[:, 0] + 0.5 * rng.normal(size=200) > 0, 2, 1)
    kw = dict(solver="lbfgs", tol=1e-8)
    by_dict = SoftmaxHeadClassifier(class_weight={1: 3.0}, **kw).fit(X, y)
    by_weight = SoftmaxHeadClassifier(**kw).fit(X, y, sample_weight=np.where(y == 1, 3.0, 1.0))
    plain = SoftmaxHeadClassifier(**kw).fit(X, y)
    np.testing.assert_allclose(by_dict.predict_proba(X), by_weight.predict_proba(X), rtol=1e-5)
    assert (by_dict.predict(X) == 1).sum() > (plain.predict(X) == 1).sum()
    names = np.where(y == 1, "one", "two")
    by_name = SoftmaxHeadClassifier(class_weight={"one": 3.0}, **kw).fit(X, names)
    np.testing.assert_allclose(by_name.predict_proba(X), by_dict.predict_proba(X), rtol=1e-6)
    with pytest.raises(ValueError, match="class_weight has labels that are not classes: \\[3\\]"):
        SoftmaxHeadClassifier(class_weight={3: 2.0}).fit(X, y)


def test_class_weight_dict_in_any_key_order(rng):
    """Three classes, the dict's keys in another order than ``classes_``: the same fit as
    per-sample weights looked up by label."""
    X = rng.normal(size=(300, 5))
    y = np.array([10, 20, 30])[np.argmax(X[:, :3] + 0.7 * rng.normal(size=(300, 3)), axis=1)]
    class_weight = {30: 0.5, 10: 4.0, 20: 2.0}
    kw = dict(solver="lbfgs", tol=1e-8)
    by_dict = SoftmaxHeadClassifier(class_weight=class_weight, **kw).fit(X, y)
    by_weight = SoftmaxHeadClassifier(**kw).fit(X, y, sample_weight=[class_weight[label] for label in y])
    np.testing.assert_allclose(by_dict.predict_proba(X), by_weight.predict_proba(X), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_sample_weight_equals_repetition(rng, solver):
    """Integer weights train as repeated rows: exactly with lbfgs, to the optimum otherwise."""
    X, y = make_classification(n_samples=120, n_features=8, n_classes=3, n_informative=5, random_state=1)
    sw = rng.integers(0, 4, len(y))
    kw = dict(solver=solver, random_state=0, max_iter=3000)
    if solver != "lbfgs":
        kw.update(batch_size=len(y) * 4, tol=1e-7, n_iter_no_change=50)
    weighted = SoftmaxHeadClassifier(**kw).fit(X, y, sample_weight=sw)
    repeated = SoftmaxHeadClassifier(**kw).fit(X.repeat(sw, axis=0), y.repeat(sw))
    plain = SoftmaxHeadClassifier(**kw).fit(X, y)
    atol = 1e-6 if solver == "lbfgs" else 5e-3
    np.testing.assert_allclose(weighted.predict_proba(X), repeated.predict_proba(X), atol=atol)
    assert np.abs(weighted.predict_proba(X) - plain.predict_proba(X)).max() > 10 * atol
    # the weighted standardisation is that of the repeated rows
    np.testing.assert_allclose(weighted.scaler_mean_, repeated.scaler_mean_, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(weighted.scaler_scale_, repeated.scaler_scale_, rtol=1e-5)


def test_bad_weights_and_features_are_rejected(blobs):
    X, y = blobs
    sw = np.ones(len(y))
    sw[3] = -1
    with pytest.raises(ValueError, match="Negative values in data passed to `sample_weight`"):
        SoftmaxHeadClassifier().fit(X, y, sample_weight=sw)
    huge = X.copy()
    huge[0, 0] = 1e39
    with pytest.raises(ValueError, match="beyond the float32 range"):
        SoftmaxHeadClassifier().fit(huge, y)
    with pytest.raises(ValueError, match="beyond the float32 range"):
        SoftmaxHeadClassifier().fit(X, y, X_val=huge, y_val=y)
    inf = X.copy()
    inf[0, 0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        SoftmaxHeadClassifier().fit(inf, y)


# ---------------------------------------------------------------- continuing training


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_each_fit_starts_a_fresh_optimizer(blobs):
    """warm_start keeps the weights, not the previous fit's decayed step size."""
    X, y = blobs
    relabelled = (y + 1) % 4
    cold = SoftmaxHeadClassifier(random_state=0).fit(X, relabelled)
    warm = SoftmaxHeadClassifier(warm_start=True, random_state=0, learning_rate_init=1.0)
    warm.fit(X, y)
    n_first = warm.n_iter_
    assert warm._optimizer.learning_rate < 1e-3  # the first fit decayed its step
    warm.set_params(learning_rate_init=0.01).fit(X, relabelled)
    assert warm.n_iter_ - n_first > 1
    assert warm.score(X, relabelled) >= cold.score(X, relabelled) - 0.02


@pytest.mark.parametrize("how", ["partial_fit", "warm_start"])
def test_pickled_head_continues_exactly(blobs, how):
    X, y = blobs
    head = SoftmaxHeadClassifier(random_state=0, warm_start=how == "warm_start", max_iter=5, tol=None)
    if how == "partial_fit":
        for _ in range(3):
            head.partial_fit(X, y, classes=np.unique(y))
    else:
        head.fit(X, y)
    copy = pickle.loads(pickle.dumps(head))
    for model in (head, copy):
        if how == "partial_fit":
            for _ in range(3):
                model.partial_fit(X, y)
        else:
            model.fit(X, y)
    np.testing.assert_array_equal(copy.coef_, head.coef_)
    np.testing.assert_array_equal(copy.intercept_, head.intercept_)


def test_partial_fit_continues_the_optimizer(blobs):
    """Three partial_fit epochs are one run: same as one head trained three epochs in a row."""
    X, y = blobs
    a = SoftmaxHeadClassifier(random_state=0, shuffle=False)
    b = SoftmaxHeadClassifier(random_state=0, shuffle=False, max_iter=3, tol=None, init="class_means")
    for _ in range(3):
        a.partial_fit(X, y, classes=np.unique(y))
    b.partial_fit(X, y, classes=np.unique(y))
    state = pickle.dumps(b._optimizer)
    b.partial_fit(X, y)
    assert pickle.dumps(b._optimizer) != state  # moments moved on
    b.partial_fit(X, y)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-6)
    assert a._optimizer.t == 3 * int(np.ceil(len(y) / 200))


# ---------------------------------------------------------------- Keras-like training


def test_tol_none_trains_exactly_max_iter_epochs(blobs):
    X, y = blobs
    with warnings.catch_warnings():
        warnings.simplefilter("error", sklearn.exceptions.ConvergenceWarning)
        head = SoftmaxHeadClassifier(tol=None, max_iter=7, random_state=0).fit(X, y)
    assert head.n_iter_ == len(head.loss_curve_) == 7
    assert head._optimizer.learning_rate == head.learning_rate_init  # constant step


def test_standardize_false_trains_on_raw_features(blobs):
    X, y = blobs
    kw = dict(solver="lbfgs", tol=1e-8, max_iter=5000)
    on = [SoftmaxHeadClassifier(**kw).fit(X * s, y).predict_proba(X * s) for s in (1.0, 50.0)]
    np.testing.assert_allclose(on[0], on[1], atol=1e-5)  # standardised: the scale does not matter
    off = [SoftmaxHeadClassifier(standardize=False, **kw).fit(X * s, y) for s in (1.0, 50.0)]
    assert np.abs(off[0].predict_proba(X) - off[1].predict_proba(X * 50.0)).max() > 1e-2
    np.testing.assert_array_equal(off[0].scaler_mean_, 0.0)
    np.testing.assert_array_equal(off[0].scaler_scale_, 1.0)
    # the raw-feature model is the LogisticRegression of the raw features
    lr = LogisticRegression(C=1.0, tol=1e-10, max_iter=5000).fit(X, y)
    np.testing.assert_allclose(off[0].predict_proba(X), lr.predict_proba(X), atol=1e-4)


def test_glorot_uniform_start_is_seeded_and_keras_like(blobs):
    X, y = blobs
    kw = dict(init="glorot_uniform", learning_rate_init=1e-12, learning_rate="constant", tol=None, max_iter=1)
    kw.update(standardize=False)
    a, b, c = (SoftmaxHeadClassifier(random_state=s, **kw).fit(X, y) for s in (0, 0, 1))
    np.testing.assert_array_equal(a.coef_, b.coef_)
    assert not np.allclose(a.coef_, c.coef_)
    limit = np.sqrt(6 / (30 + 4))
    assert np.abs(a.coef_).max() <= limit and np.abs(a.coef_).max() > 0.8 * limit
    assert np.abs(a.coef_.mean()) < 0.1 * limit
    np.testing.assert_allclose(a.intercept_, 0.0, atol=1e-9)


def test_study_head_preset(blobs):
    from sklvgg import study_head

    X, y = blobs
    head = study_head(random_state=0)
    assert isinstance(head, SoftmaxHeadClassifier)
    params = head.get_params()
    assert params["solver"] == "adam" and params["learning_rate_init"] == 1e-3
    assert params["batch_size"] == 32 and params["max_iter"] == 16 and params["shuffle"]
    assert params["alpha"] == 0 and not params["standardize"] and params["init"] == "glorot_uniform"
    with warnings.catch_warnings():
        warnings.simplefilter("error", sklearn.exceptions.ConvergenceWarning)
        head.fit(X[:300], y[:300], X_val=X[300:], y_val=y[300:])
    for curve in ("loss_curve_", "accuracy_curve_", "validation_loss_curve_", "validation_accuracy_curve_"):
        assert len(getattr(head, curve)) == 16
    assert head.n_iter_ == 16 and head.t_ == 16 * 300
    assert head.loss_curve_[-1] < head.loss_curve_[0]
    assert study_head(max_iter=3).max_iter == 3


def test_lbfgs_stops_at_max_iter_and_warns(blobs):
    X, y = blobs
    with pytest.warns(sklearn.exceptions.ConvergenceWarning):
        head = SoftmaxHeadClassifier(solver="lbfgs", max_iter=3, tol=1e-10).fit(X, y)
    assert head.n_iter_ == 3 and len(head.loss_curve_) == 3


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_head_under_temperature_scaling_divides_its_logits():
    from scipy.special import softmax
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator

    from sklvgg import study_head

    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 6)).astype(np.float32)
    y = np.repeat(["a", "b", "c"], 40)
    X[y == "a", 0] += 1.5
    X[y == "b", 1] += 1.5
    head = SoftmaxHeadClassifier(max_iter=200, random_state=0).fit(X[::2], y[::2])
    calibrated = CalibratedClassifierCV(FrozenEstimator(head), method="temperature").fit(X[1::2], y[1::2])
    beta = float(calibrated.calibrated_classifiers_[0].calibrators[0].beta_)
    # the calibrated probabilities are the head's softmax at temperature 1 / beta
    np.testing.assert_allclose(
        calibrated.predict_proba(X), softmax(head.decision_function(X) * beta, axis=1), rtol=1e-5, atol=1e-7
    )
    np.testing.assert_array_equal(calibrated.classes_, head.classes_)
    for method in ("temperature", "sigmoid"):
        cv = CalibratedClassifierCV(study_head(max_iter=3, random_state=0), method=method, cv=3).fit(X, y)
        proba = cv.predict_proba(X)
        assert proba.shape == (120, 3)
        np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-6)


@pytest.mark.parametrize("how", ["fit", "partial_fit"])
def test_one_class_refused_with_one_message_by_fit_and_partial_fit(blobs, how):
    X, _ = blobs
    y = np.full(len(X), "cat")
    head = SoftmaxHeadClassifier(max_iter=2)
    call = head.fit if how == "fit" else lambda X, y: head.partial_fit(X, y, classes=["cat"])
    with pytest.raises(ValueError, match=r"needs at least 2 classes; got 1 class: \['cat'\]"):
        call(X, y)
    assert not hasattr(head, "classes_")


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_unit_weights_fit_exactly_as_no_weights(solver):
    """Weights that are all 1 (given, or balanced classes) are the unweighted problem, bit for bit.

    On more than 2**22 feature values the unweighted scaler sums in float32 blocks and the
    weighted one in float64: unit weights must take the unweighted path.
    """
    rng = np.random.default_rng(0)
    y = np.arange(1040) % 4
    X = (rng.normal(0, 1, (4, 4096))[y] + rng.normal(0, 3, (1040, 4096))).astype(np.float32)
    kw = dict(solver=solver, random_state=0, max_iter=2, tol=None)
    plain = SoftmaxHeadClassifier(**kw).fit(X, y)
    ones = SoftmaxHeadClassifier(**kw).fit(X, y, sample_weight=np.ones(len(y)))
    balanced = SoftmaxHeadClassifier(class_weight="balanced", **kw).fit(X, y)
    for head in (ones, balanced):
        np.testing.assert_array_equal(head.scaler_scale_, plain.scaler_scale_)
        np.testing.assert_array_equal(head.coef_, plain.coef_)
        np.testing.assert_array_equal(head.intercept_, plain.intercept_)


def test_early_stopping_trains_on_the_weights_of_its_training_part(rng):
    """The validation split keeps each training row's weight: zero-weight rows shape nothing."""
    y = np.arange(200) % 2
    X = rng.normal(0, 1, (200, 5)).astype(np.float32)
    X[:, 1] += 2 * y
    sw = np.ones(200)
    sw[::4] = 0  # every fourth row weighs nothing: an outlier there must not move the scaler
    X[::4, 0] = 1000.0
    head = SoftmaxHeadClassifier(early_stopping=True, random_state=0, max_iter=5).fit(X, y, sample_weight=sw)
    assert abs(head.scaler_mean_[0]) < 1.0
    assert head.scaler_scale_[0] < 2.0


# ----------------------------------------------------------------- parameters: every bad value refused at fit


HEAD_BAD = {
    "alpha": [-1, "x"],
    "solver": ["newton-cg", None],
    "learning_rate": ["invscaling"],
    "learning_rate_init": [0, -0.1],
    "batch_size": [0, "big"],
    "max_iter": [0, 1.5],
    "tol": [-1e-3],
    "n_iter_no_change": [0],
    "early_stopping": ["yes", 1],
    "validation_fraction": [0, 1, 1.5],
    "shuffle": ["no"],
    "class_weight": ["auto", 3],
    "warm_start": ["no"],
    "random_state": ["seed"],
    "verbose": ["loud"],
}


@pytest.mark.parametrize("name, value", [(k, v) for k, vs in HEAD_BAD.items() for v in vs], ids=str)
def test_every_bad_head_parameter(name, value, rng):
    X = rng.normal(size=(20, 3))
    with pytest.raises((ValueError, TypeError), match=f"'{name}' parameter of SoftmaxHeadClassifier must be"):
        SoftmaxHeadClassifier(**{name: value}).fit(X, np.arange(20) % 2)


@pytest.mark.parametrize(
    "class_weight, match",
    [
        ({0: -1.0}, r"class_weight\[0\] = -1.0: class weights must be finite, non-negative"),
        ({1: float("nan")}, r"class_weight\[1\] = nan"),
        ({2: float("inf")}, r"class_weight\[2\] = inf"),
        ({0: "heavy"}, r"class_weight\[0\] = 'heavy'"),
        ({0: 0, 1: 0.0, 2: 0}, "all zero: there is nothing to train on"),
    ],
)
def test_class_weight_values_are_checked(class_weight, match):
    X = np.random.default_rng(0).normal(size=(30, 4))
    y = np.repeat([0, 1, 2], 10)
    with pytest.raises(ValueError, match=match):
        SoftmaxHeadClassifier(class_weight=class_weight).fit(X, y)
    with pytest.raises(ValueError, match="Sample weights must contain at least one non-zero"):
        SoftmaxHeadClassifier().fit(X, y, sample_weight=np.zeros(30))  # scikit-learn's own check


def test_lbfgs_with_tol_none_runs_at_most_max_iter():
    X = np.random.default_rng(0).normal(size=(60, 5))
    y = (X[:, 0] > 0).astype(int)
    head = SoftmaxHeadClassifier(solver="lbfgs", tol=None, max_iter=3).fit(X, y)
    assert head.n_iter_ == 3 == len(head.loss_curve_)

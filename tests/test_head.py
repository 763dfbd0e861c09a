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

# Mini-batch SGD visits repeated samples in different batches than weighted ones, so
# integer weights equal repetition only in expectation (sklearn marks SGDClassifier the same).
EXPECTED_FAILED_CHECKS = {
    "check_sample_weight_equivalence_on_dense_data": (
        "mini-batch training: weights match repetition only in expectation"
    ),
}


@parametrize_with_checks(
    [SoftmaxHeadClassifier(random_state=0)],
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS,
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


def test_line_search_start_is_the_minimum_along_the_direction(rng):
    from scipy.optimize import minimize_scalar

    from sklvgg._head import _exact_line_search

    y = rng.integers(0, 5, 60)
    A = np.eye(5)[y] + rng.normal(0, 0.7, (60, 5))  # a descent direction, noisy
    sw = rng.uniform(0.5, 2, 60)
    c = _exact_line_search(A, y, sw, penalty=0.3)

    def f(t):
        z = t * A - (t * A).max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return -np.average(logp[np.arange(60), y], weights=sw) + 0.15 * t * t

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
    from sklvgg import _head

    built = []
    original = _head._RowSpace.__init__

    def counting(self, Z):
        built.append(Z.shape)
        original(self, Z)

    monkeypatch.setattr(_head._RowSpace, "__init__", counting)
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

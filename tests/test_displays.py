"""The Display objects of sklvgg.plotting: their data, and the axes they draw."""

import copy
import inspect
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from sklvgg import SoftmaxHeadClassifier
from sklvgg.plotting import (
    ClassActivationDisplay,
    CurvesBySettingDisplay,
    ImagesPerClassDisplay,
    LayerCutsDisplay,
    TemperatureSweepDisplay,
    TrainingCurvesDisplay,
)
from sklvgg.plotting._base import _BaseDisplay

mpl = pytest.importorskip("matplotlib")
mpl.use("Agg")


@pytest.fixture
def pyplot():
    """matplotlib.pyplot, every figure closed before and after the test (as scikit-learn's fixture)."""
    import matplotlib.pyplot as plt

    plt.close("all")
    yield plt
    plt.close("all")


def _data(seed=0, n=80, n_val=40):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n + n_val, 5))
    y = (X[:, 0] + 0.5 * rng.normal(size=n + n_val) > 0).astype(int)
    return X[:n], y[:n], X[n:], y[n:]


def _fit(**params):
    X, y, X_val, y_val = _data()
    params = {"max_iter": 6, "n_iter_no_change": 20, "random_state": 0, **params}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # maximum iterations reached
        return SoftmaxHeadClassifier(**params).fit(X, y, X_val=X_val, y_val=y_val)


@pytest.fixture(scope="module")
def head():
    return _fit(batch_size=16)


def _legend_labels(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


# --------------------------------------------------------------------------- TrainingCurvesDisplay


def test_training_curves_from_estimator(pyplot, head):
    display = TrainingCurvesDisplay.from_estimator(head)
    assert_array_equal(display.loss, head.loss_curve_)
    assert_array_equal(display.accuracy, head.accuracy_curve_)
    assert_array_equal(display.validation_loss, head.validation_loss_curve_)
    assert_array_equal(display.validation_accuracy, head.validation_accuracy_curve_)
    assert display.best_epoch is None
    assert_array_equal(display.batches_per_epoch, [5] * 6)  # 80 samples, batches of 16

    assert display.axes_.shape == (2,) and display.ax_ is None
    assert display.figure_ is display.axes_[0].figure and len(display.figure_.axes) == 2
    ax_loss, ax_acc = display.axes_
    assert [ax.get_xlabel() for ax in display.axes_] == ["epoch", "epoch"]
    assert [ax.get_ylabel() for ax in display.axes_] == ["cross-entropy loss", "accuracy"]
    assert [ax.get_title() for ax in display.axes_] == ["Loss", "Accuracy"]
    assert ax_acc.get_ylim() == (0, 1.02)
    for quantity, ax in zip(("loss", "accuracy"), display.axes_):
        assert len(ax.lines) == 2 and display.lines_[quantity] == list(ax.lines)
        assert_array_equal(ax.lines[0].get_xdata(), np.arange(1, 7))
        assert _legend_labels(ax) == ["training", "validation"]
    assert_allclose(ax_acc.lines[1].get_ydata(), head.validation_accuracy_curve_)
    assert display.best_epoch_lines_ == []


def test_training_curves_of_a_pipeline_reads_its_last_step(pyplot, head):
    pipe = Pipeline([("scale", "passthrough"), ("head", head)])
    display = TrainingCurvesDisplay.from_estimator(pipe, quantities="accuracy")
    assert_array_equal(display.accuracy, head.accuracy_curve_)
    with pytest.raises(ValueError, match="SoftmaxHeadClassifier"):
        TrainingCurvesDisplay.from_estimator(object())


def test_training_curves_one_quantity_in_given_axes(pyplot, head):
    fig, (ax_a, ax_b) = pyplot.subplots(1, 2)
    display = TrainingCurvesDisplay.from_estimator(head, ax=ax_b, quantities="loss", title="Fig. 1")
    assert display.ax_ is ax_b and display.figure_ is fig
    assert list(display.lines_) == ["loss"]
    assert len(ax_b.lines) == 2 and len(ax_a.lines) == 0
    assert ax_b.get_title() == "Fig. 1" and ax_b.get_ylabel() == "cross-entropy loss"
    assert fig._suptitle is None

    display.plot(ax=ax_a, quantities=["accuracy"])  # the same data, again, elsewhere
    assert display.ax_ is ax_a and ax_a.get_ylabel() == "accuracy"


def test_training_curves_two_quantities_in_given_axes(pyplot, head):
    fig, axes = pyplot.subplots(2, 1)
    display = TrainingCurvesDisplay.from_estimator(head, ax=axes, quantities=("accuracy", "loss"), title="t")
    assert list(display.axes_) == list(axes)
    assert [ax.get_ylabel() for ax in axes] == ["accuracy", "cross-entropy loss"]
    assert fig._suptitle.get_text() == "t"
    with pytest.raises(ValueError, match="draws 2 axes; ax holds 1"):
        display.plot(ax=axes[0])


def test_training_curves_against_iterations(pyplot, head):
    display = TrainingCurvesDisplay.from_estimator(head, quantities="loss", x_unit="iteration")
    assert display.ax_.get_xlabel() == "iteration (mini-batch step)"
    assert_array_equal(display.lines_["loss"][0].get_xdata(), 5 * np.arange(1, 7))
    assert head.n_batches_per_epoch_ == 5  # 80 samples in batches of 16; 'auto' is min(200, n) per batch
    assert_array_equal(TrainingCurvesDisplay.from_estimator(_fit()).batches_per_epoch, [1] * 6)
    lbfgs = _fit(solver="lbfgs")
    assert_array_equal(TrainingCurvesDisplay.from_estimator(lbfgs).batches_per_epoch, [1] * lbfgs.n_iter_)

    display = TrainingCurvesDisplay([1.0, 0.5, 0.2], [0.4, 0.6, 0.9], best_epoch=2)
    assert display.validation_loss is None and display.batches_per_epoch is None
    with pytest.raises(ValueError, match="needs batches_per_epoch"):
        display.plot(x_unit="iteration")
    with pytest.raises(ValueError, match="x_unit must be one of"):
        display.plot(x_unit="batch")
    with pytest.raises(ValueError, match="quantities must be one of"):
        display.plot(quantities="error")


def test_training_curves_against_iterations_after_warm_starts_on_other_sample_counts(pyplot):
    """Every fit's epochs stay on the curves: each is drawn at the steps its own fit took."""
    X, y, _, _ = _data(n=70, n_val=0)
    head = SoftmaxHeadClassifier(batch_size=10, max_iter=3, tol=None, warm_start=True, random_state=0)
    head.fit(X[:20], y[:20])  # 3 epochs of 2 steps
    head.fit(X, y)  # 3 more of 7 steps
    assert head.n_batches_curve_ == [2, 2, 2, 7, 7, 7] and head.n_batches_per_epoch_ == 7
    display = TrainingCurvesDisplay.from_estimator(head, quantities="loss", x_unit="iteration")
    assert_array_equal(display.lines_["loss"][0].get_xdata(), [2, 4, 6, 13, 20, 27])
    display = TrainingCurvesDisplay(
        [1.0, 0.5, 0.2], [0.4, 0.6, 0.9], best_epoch=3, batches_per_epoch=[2, 2, 7]
    )
    display.plot(x_unit="iteration", quantities="loss")
    assert display.best_epoch_lines_[0].get_xdata()[0] == 11
    with pytest.raises(ValueError, match="batches_per_epoch has 2 epochs' steps; the curves have 3 epochs"):
        TrainingCurvesDisplay([1.0, 0.5, 0.2], [0.4, 0.6, 0.9], batches_per_epoch=[2, 2]).plot(
            x_unit="iteration"
        )
    head.partial_fit(X[:30], y[:30])  # one more epoch, of 3 steps
    assert head.n_batches_curve_[-1] == 3 and len(head.n_batches_curve_) == len(head.loss_curve_)
    head.set_params(warm_start=False).fit(X[:20], y[:20])  # a fresh fit: fresh curves
    assert head.n_batches_curve_ == [2, 2, 2]


def test_training_curves_best_epoch_and_no_validation(pyplot):
    display = TrainingCurvesDisplay([1.0, 0.5, 0.2], [0.4, 0.6, 0.9], best_epoch=2, batches_per_epoch=10)
    display.plot()
    for ax in display.axes_:
        assert len(ax.lines) == 2  # training and the best epoch
        assert _legend_labels(ax) == ["training", "best epoch"]
    assert [line.get_xdata()[0] for line in display.best_epoch_lines_] == [2, 2]
    display.plot(x_unit="iteration", quantities="accuracy")
    assert display.best_epoch_lines_[0].get_xdata()[0] == 20

    head = _fit(max_iter=40, early_stopping=True, n_iter_no_change=2)
    display = TrainingCurvesDisplay.from_estimator(head)
    assert display.best_epoch == head.best_epoch_
    assert len(display.best_epoch_lines_) == 2


# --------------------------------------------------------------------------- ImagesPerClassDisplay


def test_images_per_class_data_and_default_plot(pyplot):
    display = ImagesPerClassDisplay(
        [1, 2, 4], [[0.9, 1.0], [1.0, 1.0], [1.0, 1.0]], [[0.2, 0.3], [0.4, 0.5], [0.6, 0.6]],
        reference={"study": {1: 0.1, 2: 0.2, 4: 0.5}},
    )  # fmt: skip
    assert display.reference == {"study": {1: 0.1, 2: 0.2, 4: 0.5}} and display.comparable

    assert display.plot() is display
    ax = display.ax_
    assert display.figure_ is ax.figure
    assert ax.get_xscale() == "log" and ax.xaxis.get_transform().base == 2
    assert_array_equal(ax.get_xticks(), [1, 2, 4])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "4"]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("training images per class", "accuracy")
    assert ax.get_title() == "Accuracy vs. training images per class"
    assert_allclose(display.errorbar_.lines[0].get_ydata(), [0.25, 0.45, 0.6])
    assert [line.get_label() for line in display.lines_] == ["sklvgg (training)", "study"]
    assert sorted(_legend_labels(ax)) == ["sklvgg (training)", "sklvgg (validation)", "study"]


def test_images_per_class_linear_axis_in_given_axes(pyplot):
    fig, ax = pyplot.subplots()
    display = ImagesPerClassDisplay([1, 2, 4, 8], None, [0.2, 0.4, 0.5, 0.6], reference={1: 0.1}, name="run")
    display.plot(ax=ax, xscale="linear", references=False, title="Fig. 3")
    assert display.ax_ is ax and display.figure_ is fig
    assert ax.get_xscale() == "linear" and ax.get_title() == "Fig. 3"
    assert_array_equal(ax.get_xticks(), [1, 2, 4, 8])
    assert_allclose(display.errorbar_.lines[0].get_ydata(), [0.2, 0.4, 0.5, 0.6])  # 1-D: one fold
    assert display.lines_ == [] and _legend_labels(ax) == ["run (validation)"]
    display.plot()  # a bare {x: y} reference is labelled "reference"
    assert [line.get_label() for line in display.lines_] == ["reference"]
    with pytest.raises(ValueError, match="xscale must be one of"):
        display.plot(xscale="log")


def test_images_per_class_reference_not_comparable(pyplot):
    display = ImagesPerClassDisplay.from_learning_curve(
        [10, 20, 40], [[0.9], [1.0], [1.0]], [[0.2], [0.4], [0.6]], n_classes=10,
        reference={"report": {1: 0.1, 4: 0.5}}, comparable=False,
    )  # fmt: skip
    assert_array_equal(display.images_per_class, [1, 2, 4])
    assert len(display.lines_) == 1  # the training line; the reference as grey points
    grey = [line for line in display.ax_.lines if line.get_label().startswith("report")]
    assert len(grey) == 1 and grey[0].get_color() == "0.6"
    assert "report\nnot comparable with this run" in _legend_labels(display.ax_)


def test_images_per_class_from_results(pyplot):
    results = {
        "per_class": [1, 2, 4],
        "per_class_accuracy": [0.2, 0.4, 0.6],
        "per_class_train_accuracy": [1.0, 1.0, 1.0],
        "reference": {"series": {"report": {1: 0.1, 2: 0.3}}, "comparable": True},
    }
    display = ImagesPerClassDisplay.from_results(results, xscale="linear")
    assert display.test_scores is results["per_class_accuracy"]
    assert display.reference is results["reference"]["series"]
    assert_allclose(display.errorbar_.lines[0].get_ydata(), results["per_class_accuracy"])
    assert display.ax_.get_xscale() == "linear"
    assert display.comparable and [line.get_label() for line in display.lines_] == [
        "sklvgg (training)",
        "report",
    ]
    display = ImagesPerClassDisplay.from_results({**results, "reference": None})
    assert display.reference is None and len(display.lines_) == 1
    display = ImagesPerClassDisplay.from_results(results, curves="training", references=False, title="F10")
    assert display.errorbar_ is None and _legend_labels(display.ax_) == ["sklvgg (training)"]
    assert display.ax_.get_title() == "F10"


# --------------------------------------------------------------------------- TemperatureSweepDisplay


@pytest.fixture(scope="module")
def search():
    X, y, _, _ = _data(n=60, n_val=0)
    search = GridSearchCV(SoftmaxHeadClassifier(max_iter=5), {"alpha": [0.1, 1.0, 10.0]}, cv=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return search.fit(X, y)


def test_temperature_sweep_from_search(pyplot, search):
    display = TemperatureSweepDisplay.from_search(search, param="alpha", note="random weights")
    assert_array_equal(display.temperatures, [0.1, 1.0, 10.0])
    assert display.cv_scores.shape == (3, 2) and display.max_scores is None
    assert_allclose(display.cv_scores.mean(axis=1), search.cv_results_["mean_test_score"])
    assert display.best_temperature == search.best_params_["alpha"]

    ax = display.ax_
    assert display.lines_ == [] and display.errorbar_ is not None
    assert_allclose(display.errorbar_.lines[0].get_ydata(), search.cv_results_["mean_test_score"])
    assert display.best_line_.get_xdata()[0] == display.best_temperature
    assert ax.get_xscale() == "log" and ax.xaxis.get_transform().base == 2
    assert_array_equal(ax.get_xticks(), [0.1, 1.0, 10.0])
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("temperature T", "accuracy")
    assert _legend_labels(ax) == [
        f"best T = {display.best_temperature:g}",
        "final validation accuracy (CV mean)",
    ]
    assert display.note_.get_text() == "random weights" and display.note_ in ax.texts


def test_temperature_sweep_both_quantities(pyplot, search):
    scores = {10.0: (0.7, 0.2), 0.1: (0.5, 0.4), 1.0: (0.6, 0.5)}
    display = TemperatureSweepDisplay.from_search(search, param="alpha", final_scores=scores, title="Fig. 20")
    assert_array_equal(display.max_scores, [0.5, 0.6, 0.7])
    assert_array_equal(display.final_scores, [0.4, 0.5, 0.2])
    assert display.errorbar_ is None and display.note_ is None
    assert [line.get_label() for line in display.lines_] == [
        "maximum validation accuracy",
        "final validation accuracy",
    ]
    assert len(display.ax_.lines) == 3 and display.ax_.get_title() == "Fig. 20"
    assert display.best_line_.get_xdata()[0] == display.best_temperature
    with pytest.raises(ValueError, match="final_scores has temperatures"):
        TemperatureSweepDisplay.from_search(search, param="alpha", final_scores={0.1: (0.5, 0.4)})


def test_temperature_sweep_max_and_final_in_separate_axes(pyplot):
    display = TemperatureSweepDisplay(
        [4.0, 1.0, 2.0], [0.55, 0.5, 0.6], [0.3, 0.45, 0.4], best_temperature=2.0,
        baseline={"max": 0.52, "final": 0.42, "layer": "fc2"},
    )  # fmt: skip
    fig, (ax_max, ax_final) = pyplot.subplots(1, 2)
    display.plot(ax=ax_max, quantity="max")
    assert display.ax_ is ax_max and display.figure_ is fig
    (line,) = display.lines_
    assert_array_equal(line.get_xdata(), [1.0, 2.0, 4.0])  # drawn in order of temperature
    assert_array_equal(line.get_ydata(), [0.5, 0.6, 0.55])
    assert display.best_line_.get_label() == "best T = 2 (maximum)"
    assert [b.get_ydata()[0] for b in display.baseline_lines_] == [0.52]
    assert len(ax_max.lines) == 3

    display.plot(ax=ax_final, quantity="final")
    assert display.best_line_.get_xdata()[0] == 1.0 and display.best_line_.get_label() == "best T = 1 (final)"
    assert _legend_labels(ax_final) == [
        "final validation accuracy",
        "best T = 1 (final)",
        "this run: fc2 final",
    ]

    display.plot(quantity="both")  # a new figure: both, the search's best, both baselines
    assert len(display.lines_) == 2 and len(display.baseline_lines_) == 2
    assert display.best_line_.get_label() == "best T = 2"


def test_temperature_sweep_never_marks_a_nan_score_as_best(pyplot):
    display = TemperatureSweepDisplay([1.0, 2.0, 4.0], [np.nan, 0.6, 0.7], [0.5, np.nan, 0.4])
    display.plot(quantity="max")  # argmax would pick the NaN at T = 1
    assert (
        display.best_line_.get_xdata()[0] == 4.0 and display.best_line_.get_label() == "best T = 4 (maximum)"
    )
    display.plot(quantity="final")
    assert display.best_line_.get_xdata()[0] == 1.0

    nan = TemperatureSweepDisplay([1.0, 2.0], [np.nan, np.nan], [np.nan, np.nan])
    with pytest.warns(UserWarning, match="every maximum validation accuracy is NaN; no best temperature"):
        nan.plot(quantity="max")
    assert nan.best_line_ is None and not any(label.startswith("best T") for label in _legend_labels(nan.ax_))


def test_temperature_sweep_from_a_search_whose_fits_all_failed_marks_no_best(pyplot, search):
    failed = copy.copy(search)
    failed.cv_results_ = {key: np.full(3, np.nan) if key.endswith("_test_score") else value
                          for key, value in search.cv_results_.items()}  # fmt: skip
    with pytest.warns(UserWarning, match="every cross-validated score is NaN"):
        display = TemperatureSweepDisplay.from_search(failed, param="alpha")
    assert display.best_temperature is None and display.best_line_ is None


def test_temperature_sweep_checks_and_float_baseline(pyplot):
    display = TemperatureSweepDisplay([1.0, 2.0], None, [0.3, 0.4], baseline=0.35)
    with pytest.raises(ValueError, match="needs max_scores"):
        display.plot(quantity="max")
    with pytest.raises(ValueError, match="needs cv_scores"):
        display.plot()  # "auto": no maximum, so the cross-validated scores
    with pytest.raises(ValueError, match="quantity must be one of"):
        display.plot(quantity="mean")
    display.plot(quantity="final")
    assert [b.get_label() for b in display.baseline_lines_] == ["baseline"]


# --------------------------------------------------------------------------- CurvesBySettingDisplay


def test_curves_by_setting(pyplot):
    curves = {1.0: [0.1, 0.2, 0.3], 1.49: [0.2, 0.3, 0.25], "fc2": [0.3, 0.3, 0.3]}
    display = CurvesBySettingDisplay(curves, setting_name="T", note="random weights").plot()
    assert display.curves is curves
    ax = display.ax_
    assert len(display.lines_) == len(ax.lines) == 3
    assert _legend_labels(ax) == ["T = 1", "T = 1.49", "fc2"]
    assert_array_equal(display.lines_[0].get_xdata(), [1, 2, 3])
    assert len({tuple(line.get_color()) for line in display.lines_}) == 3
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("epoch", "validation accuracy")
    assert ax.get_title() == "Validation accuracy per epoch" and ax.get_ylim() == (0, 1.02)
    assert display.note_.get_text() == "random weights"
    assert ax.get_legend()._ncols == 1

    many = CurvesBySettingDisplay({float(t): [0.5] for t in range(9)}).plot()
    assert many.ax_.get_legend()._ncols == 2 and many.note_ is None


def test_curves_by_setting_from_estimators_in_given_axes(pyplot):
    heads = {0.1: _fit(alpha=0.1), 10.0: _fit(alpha=10.0)}
    fig, ax = pyplot.subplots()
    display = CurvesBySettingDisplay.from_estimators(heads, setting_name="alpha", ax=ax)
    assert display.ax_ is ax and display.figure_ is fig
    assert display.curves == {key: list(h.validation_accuracy_curve_) for key, h in heads.items()}
    assert _legend_labels(ax) == ["alpha = 0.1", "alpha = 10"]
    display = CurvesBySettingDisplay.from_estimators(heads, curve="loss")
    assert display.ax_.get_ylabel() == "training loss"
    assert_allclose(display.lines_[1].get_ydata(), heads[10.0].loss_curve_)
    with pytest.raises(ValueError, match="curve must be one of"):
        CurvesBySettingDisplay.from_estimators(heads, curve="val_accuracy")


# --------------------------------------------------------------------------- LayerCutsDisplay


_CUT_ROWS = [
    {"layer": "block4_pool", "pooling": "flatten", "n_classes": 32,
     "final_training_accuracy": 1.0, "final_validation_accuracy": 0.05},
    {"layer": "block5_pool", "pooling": "avg", "n_classes": 32,
     "final_training_accuracy": 0.9, "final_validation_accuracy": 0.25},
    {"layer": "fc2", "pooling": "-", "n_classes": 32,
     "final_training_accuracy": 0.8, "final_validation_accuracy": 0.5},
]  # fmt: skip


def test_layer_cuts_from_plain_arrays(pyplot):
    layers, pooling = np.array(["block4_pool", "block5_pool", "fc2"]), ("flatten", "avg", "-")
    train, test = np.array([1.0, 0.9, 0.8]), [0.05, 0.25, 0.5]
    display = LayerCutsDisplay(layers, train, test, pooling=pooling, n_classes=32).plot()
    assert display.layers is layers and display.train_scores is train and display.pooling is pooling
    ax = display.ax_
    train, validation = display.bars_
    assert len(train) == len(validation) == 3 and len(ax.patches) == 6
    assert_allclose([bar.get_height() for bar in train], [1.0, 0.9, 0.8])
    assert_allclose([bar.get_height() for bar in validation], [0.05, 0.25, 0.5])
    assert [t.get_text() for t in ax.texts] == ["1.00", "0.90", "0.80", "0.05", "0.25", "0.50"]
    assert display.chance_line_.get_ydata()[0] == 1 / 32
    assert [t.get_text() for t in ax.get_xticklabels()] == [
        "block4_pool\nflatten",
        "block5_pool\navg",
        "fc2\n-",
    ]
    assert _legend_labels(ax) == ["chance (1/32)", "training, last epoch", "validation, last epoch"]
    assert ax.get_ylabel() == "accuracy" and ax.get_title() == "Softmax head on VGG16 cuts, 32 classes"

    fig, given = pyplot.subplots()
    display.plot(ax=given, title="Fig. 15")
    assert display.ax_ is given and display.figure_ is fig and given.get_title() == "Fig. 15"


def test_layer_cuts_without_pooling_or_classes(pyplot):
    display = LayerCutsDisplay(["block4_pool", "block5_pool"], [1.0, 0.9], [0.1, 0.3]).plot()
    assert display.chance_line_ is None and display.ax_.get_title() == "Softmax head on VGG16 cuts"
    assert [t.get_text() for t in display.ax_.get_xticklabels()] == ["block4_pool", "block5_pool"]
    assert _legend_labels(display.ax_) == ["training, last epoch", "validation, last epoch"]
    with pytest.raises(ValueError, match=r"validation scores must hold one value per layer \(2\)"):
        LayerCutsDisplay(["block4_pool", "block5_pool"], [1.0, 0.9], [0.1]).plot()
    with pytest.raises(ValueError, match=r"pooling must hold one entry per layer \(2\); got 1"):
        LayerCutsDisplay(["block4_pool", "block5_pool"], [1.0, 0.9], [0.1, 0.3], pooling=["avg"]).plot()


def test_layer_cuts_from_results_reads_the_experiments_rows(pyplot):
    """``layer_cuts``' rows give the same bars, ticks and chance line as the arrays."""
    display = LayerCutsDisplay.from_results({"rows": _CUT_ROWS}, title="cuts")
    assert list(display.layers) == ["block4_pool", "block5_pool", "fc2"]
    assert list(display.pooling) == ["flatten", "avg", "-"] and display.n_classes == 32
    assert_allclose([bar.get_height() for bar in display.bars_[1]], [0.05, 0.25, 0.5])
    assert display.chance_line_.get_ydata()[0] == 1 / 32 and display.ax_.get_title() == "cuts"
    assert display.ax_.get_xticklabels()[1].get_text() == "block5_pool\navg"


# --------------------------------------------------------------------------- every Display (_BaseDisplay)


def _one_of_each():
    """``(Display, constructor kwargs, what its plot draws: (title, grid, legend))``, plain lists in."""
    return [
        (TrainingCurvesDisplay,
         {"loss": [1.0, 0.5], "accuracy": [0.4, 0.6], "validation_loss": [1.1, 0.8],
          "validation_accuracy": [0.3, 0.5], "best_epoch": 2, "batches_per_epoch": [3, 3]},
         ("Loss", True, True)),
        (ImagesPerClassDisplay,
         {"images_per_class": [1, 2], "train_scores": [[0.9], [1.0]], "test_scores": [0.2, 0.4],
          "reference": {1: 0.1}},
         ("Accuracy vs. training images per class", True, True)),
        (TemperatureSweepDisplay,
         {"temperatures": [1.0, 2.0], "max_scores": [0.5, 0.6], "final_scores": [0.4, 0.5],
          "cv_scores": [[0.4, 0.5], [0.5, 0.6]], "best_temperature": 2.0, "baseline": {"max": 0.3},
          "note": "random weights"},
         ("Accuracy vs. softmax temperature", True, True)),
        (CurvesBySettingDisplay, {"curves": {1.0: [0.1, 0.2], 2.0: [0.2, 0.3]}, "setting_name": "T"},
         ("Validation accuracy per epoch", True, True)),
        (LayerCutsDisplay,
         {"layers": ["block4_pool"], "train_scores": [1.0], "test_scores": [0.2], "pooling": ["flatten"],
          "n_classes": 4},
         ("Softmax head on VGG16 cuts, 4 classes", False, True)),
        (ClassActivationDisplay,
         {"images": np.zeros((1, 8, 8, 3)), "maps": np.ones((1, 8, 8)), "labels": ["cat"],
          "probabilities": [0.9], "true_labels": ["dog"]},
         ("cat (90%)\ntrue: dog", False, False)),
    ]  # fmt: skip


_DISPLAY_NAMES = [cls.__name__ for cls, _, _ in _one_of_each()]


def _plot_kw(cls):
    return {"quantities": "loss"} if cls is TrainingCurvesDisplay else {}


@pytest.mark.parametrize(("cls", "kwargs", "drawn"), _one_of_each(), ids=_DISPLAY_NAMES)
def test_constructor_stores_its_arguments_as_given(pyplot, cls, kwargs, drawn):
    """As scikit-learn's Displays: no conversion or computation in ``__init__``, nor in ``plot``."""
    display = cls(**kwargs)
    parameters = inspect.signature(cls).parameters
    assert set(vars(display)) == set(parameters)  # one attribute per parameter, nothing derived
    for name, value in kwargs.items():
        assert vars(display)[name] is value, name
    for name in set(parameters) - set(kwargs):
        assert vars(display)[name] is parameters[name].default, name
    display.plot(**_plot_kw(cls))
    for name, value in kwargs.items():
        assert vars(display)[name] is value, name  # drawing reads them, never replaces them


@pytest.mark.parametrize(("cls", "kwargs", "drawn"), _one_of_each(), ids=_DISPLAY_NAMES)
def test_plot_makes_its_axes_and_draws_title_grid_legend(pyplot, cls, kwargs, drawn):
    title, grid, legend = drawn
    n_figures = len(pyplot.get_fignums())
    display = cls(**kwargs)
    assert display.plot(**_plot_kw(cls)) is display
    assert len(pyplot.get_fignums()) == n_figures + 1  # a new pyplot figure (notebooks show it)
    (ax,) = display.axes_
    assert display.ax_ is ax and display.figure_ is ax.figure and display.figure_.axes == [ax]
    assert display.figure_.get_layout_engine() is not None  # constrained, as the Displays always drew
    assert ax.get_title() == title
    assert ax.xaxis.get_gridlines()[0].get_visible() is grid
    assert (ax.get_legend() is not None) is legend


@pytest.mark.parametrize(("cls", "kwargs", "drawn"), _one_of_each(), ids=_DISPLAY_NAMES)
def test_plot_draws_into_given_axes(pyplot, cls, kwargs, drawn):
    fig, ax = pyplot.subplots()
    n_figures = len(pyplot.get_fignums())
    display = cls(**kwargs).plot(ax=ax, **_plot_kw(cls))
    assert len(pyplot.get_fignums()) == n_figures  # no figure of its own
    assert display.ax_ is ax and list(display.axes_) == [ax] and display.figure_ is fig
    assert fig.axes == [ax] and ax.has_data()
    with pytest.raises(ValueError, match=f"{cls.__name__}.plot draws 1 axes; ax holds 2"):
        cls(**kwargs).plot(ax=pyplot.subplots(1, 2)[1], **_plot_kw(cls))


def test_base_lays_out_several_axes_and_titles_the_figure(pyplot):
    class Grid(_BaseDisplay):
        def plot(self, ax=None, *, n=3, n_cols=None, title=None):
            axes, fig = self._make_axes(ax, n, figsize=(4, 3), n_cols=n_cols)
            for i, axis in enumerate(axes):
                axis.plot([0, 1], [i, i], label=f"line {i}")
                self._decorate(axis, title=f"axes {i}", grid=i == 0, legend=i == 1, legend_kw={"fontsize": 5})
            return self._finish(axes, fig, title=title)

    display = Grid().plot(n=3, n_cols=2, title="figure title")
    assert display.axes_.shape == (3,) and display.ax_ is None
    assert len(display.figure_.axes) == 4 and not display.figure_.axes[3].axison  # the spare one, off
    assert tuple(display.figure_.get_size_inches()) == (4, 3)
    assert display.figure_.get_suptitle() == "figure title"
    assert [ax.get_title() for ax in display.axes_] == ["axes 0", "axes 1", "axes 2"]
    assert [ax.get_legend() is not None for ax in display.axes_] == [False, True, False]
    assert display.axes_[1].get_legend().get_texts()[0].get_fontsize() == 5
    assert [ax.xaxis.get_gridlines()[0].get_visible() for ax in display.axes_] == [True, False, False]
    assert [ax.get_subplotspec().colspan.start for ax in display.axes_] == [0, 1, 0]  # two per row

    one = Grid().plot(n=1, title="over the axes")
    assert one.ax_ is one.axes_[0] and one.ax_.get_title() == "over the axes"
    assert one.figure_.get_suptitle() == ""
    fig, axes = pyplot.subplots(2, 2)
    given = Grid().plot(ax=axes, n=4)
    assert given.figure_ is fig and list(given.axes_) == list(axes.ravel())

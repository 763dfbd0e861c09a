"""``sklvgg.experiments``: the protocol, the runs' plain results, the report's rows and figures.

The experiments run on numbers instead of images (a ``FunctionTransformer`` in
VGG16's place), so that what is tested is the experiment, not the network.
"""

import re
import warnings

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
import sklearn
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils import Bunch

from sklvgg import InputError, SoftmaxHeadClassifier, experiments

matplotlib.use("Agg")

N_CLASSES = 21  # > 20 samples at one image per class: scikit-learn's "50%" warning fires

# --------------------------------------------------------------------------- experiments


def _numeric_pipeline():
    """The experiments' pipeline with features instead of VGG16, for speed."""
    with sklearn.config_context(enable_metadata_routing=True):
        head = SoftmaxHeadClassifier(max_iter=5, random_state=0)
        head = head.set_fit_request(X_val=True, y_val=True, sample_weight=False)
    return Pipeline([("features", FunctionTransformer()), ("head", head)], transform_input=["X_val"])


@pytest.fixture
def numeric_data(rng):
    y = np.repeat(np.arange(N_CLASSES), 3)
    return Bunch(filenames=rng.normal(size=(len(y), 4)) + y[:, None], target=y)


@pytest.mark.parametrize("comparable", [True, False])
def test_learning_curves_reference_and_warnings(numeric_data, comparable):
    reference, _ = experiments.study_reference(dataset="caltech256", weights="imagenet", layer="fc2")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = experiments.training_and_learning_curves(
            numeric_data, _numeric_pipeline(), n_train=2, n_test=1, per_class=[1, 2],
            reference=reference, comparable=comparable,
        )  # fmt: skip
    assert not [w for w in caught if "number of unique classes" in str(w.message)]
    assert results["reference"]["comparable"] is comparable
    assert "figures" not in results  # plain results: the figures are drawn apart
    (ax,) = experiments.experiment_figures("caltech256", results)["images_per_class"].axes
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    (label,) = [text for text in labels if text.startswith("report: ~65% at 16/class")]
    assert "Caltech-256, ImageNet weights, fc2" in label
    assert ("not comparable" in label) is not comparable

    plt.close("all")


def test_study_reference_is_comparable_only_in_its_setting():
    setting = {"dataset": "caltech256", "weights": "imagenet", "layer": "fc2"}
    assert experiments.study_reference(**setting)[1]
    for key, other in [("dataset", "embedded default"), ("weights", None), ("layer", "block4_pool")]:
        assert not experiments.study_reference(**{**setting, key: other})[1]
    downloaded = "/data/vgg16_weights_tf_dim_ordering_tf_kernels.h5"  # Keras' ImageNet file
    assert experiments.study_reference(**{**setting, "weights": downloaded})[1]
    assert not experiments.study_reference(**{**setting, "weights": "/data/mine.weights.h5"})[1]
    assert not experiments.study_reference(**setting, input_size=112)[1]  # as the table: other feature maps
    assert not experiments.study_reference(**setting, preprocessing="caffe")[1]
    assert experiments.study_reference(**setting, input_size=224, preprocessing="none")[1]


def test_only_expected_warnings_are_silenced():
    from sklearn.utils.multiclass import check_classification_targets

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with experiments._expected_warnings_ignored():
            check_classification_targets(np.arange(30))  # 30 classes, 30 samples
            warnings.warn("a real problem", UserWarning, stacklevel=1)
            warnings.warn("The number of unique classes is greater than 50%", RuntimeWarning, stacklevel=1)
    assert [str(w.message) for w in caught] == [
        "a real problem",
        "The number of unique classes is greater than 50%",
    ]


# --------------------------------------------------------------------------- the study's protocol


def test_holdout_split_is_stratified_and_round_robin():
    y = np.repeat([0, 1, 2, 3], [10, 20, 30, 40])
    train, test = experiments.holdout_split(y, test_size=0.2, random_state=0)
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(len(y)))
    np.testing.assert_array_equal(np.bincount(y[test]), [2, 4, 6, 8])  # 20% of every class
    assert list(y[train[:8]]) == [0, 1, 2, 3] * 2  # k of every class first
    assert not np.array_equal(train[y[train] == 3], np.sort(train[y[train] == 3]))  # shuffled
    other, _ = experiments.holdout_split(y, test_size=0.2, random_state=1)
    assert set(other) != set(train)


def test_first_classes_and_report_temperatures():
    data = Bunch(filenames=np.arange(12), target=np.repeat([5, 2, 9], 4), DESCR="d.")
    sub = experiments.first_classes(data, 2)
    assert sorted(set(sub.target)) == [2, 5] and len(sub.filenames) == 8
    assert experiments.first_classes(data, 3) is data
    grid = experiments.REPORT_TEMPERATURES
    assert {1.0, 1.22, 1.49, 1.81} <= set(grid)  # the report's values (section 3.6)
    np.testing.assert_allclose(np.diff(np.log(grid)), np.log(2) * 2 / 7, atol=0.02)


def test_study_head_on_features_records_every_epoch(numeric_data):
    with sklearn.config_context(enable_metadata_routing=True):
        head = experiments.make_head("study", epochs=3, random_state=0)
        head = head.set_fit_request(X_val=True, y_val=True, sample_weight=False)
    pipe = Pipeline([("features", FunctionTransformer()), ("head", head)], transform_input=["X_val"])
    res = experiments.training_and_learning_curves(numeric_data, pipe, n_train=2, n_test=1, per_class=[1, 2])
    assert res["epochs"] == 3
    assert all(len(res[c]) == 3 for c in ("loss_curve", "accuracy_curve", "validation_loss_curve"))
    assert [r["epoch"] for r in res["tables"]["curves"]] == [1, 2, 3]
    assert experiments.make_head("tuned").get_params()["standardize"] is True

    plt.close("all")


def _fake_results(experiment):
    if experiment == "caltech256":
        return {"final_training_loss": 0.01, "final_validation_loss": 2.9, "final_training_accuracy": 1.0,
                "test_accuracy": 0.66, "images_per_class_trained": 16}  # fmt: skip
    sweep = {"temperatures": [1.0, 1.49], "max": [0.4, 0.45], "final": [0.42, 0.4],
             "best_max_temperature": 1.49, "best_final_temperature": 1.0,
             "baseline": {"layer": "fc2", "max": 0.6, "final": 0.58}}  # fmt: skip
    return {"sweeps": {"64": sweep, "256": sweep}}


@pytest.mark.parametrize("experiment", ["caltech256", "temperature"])
def test_report_table_cites_the_report(experiment):
    setting = experiments.REPORT_SETTINGS[experiment]
    run = {
        k: setting.get(k)
        for k in ("dataset", "weights", "layer", "protocol", "temperature_on")
        if k in setting
    }
    table = experiments.compare_with_report(_fake_results(experiment), experiment, **run)
    assert table["comparable"] and "NOT COMPARABLE" not in table["text"]
    assert table["text"].startswith(f"Report vs. this run ({experiment})")
    assert all(re.search(r"(section|Figure) \d", row["source"]) for row in table["rows"])
    reports = [row["report"] for row in table["rows"]]
    if experiment == "caltech256":
        (row,) = [r for r in table["rows"] if r["report"].startswith("~65%")]
        assert "66.0%" in row["this run"]
    else:
        assert reports[:4] == ["1.81", "1.49", "almost 45% (T 1.49)", "1.22"]
        assert "temperature worse" in table["rows"][-1]["this run"]
    other = experiments.compare_with_report(_fake_results(experiment), experiment, **{**run, "weights": None})
    assert not other["comparable"] and "the comparison is not meaningful" in other["text"]
    for extra, words in (({"input_size": 112}, "112 x 112 images, the report 224 x 224"),
                         ({"preprocessing": "caffe"}, "preprocesses with 'caffe'")):  # fmt: skip
        other = experiments.compare_with_report(_fake_results(experiment), experiment, **run, **extra)
        assert not other["comparable"] and words in other["text"]
    same = experiments.compare_with_report(_fake_results(experiment), experiment, **run, input_size=224,
                                           preprocessing="none")  # fmt: skip
    assert same["comparable"]


def test_imagenet_weights_are_recognised_by_their_values(notop_weights_files, imagenet_conv_weights):
    assert experiments._imagenet(str(imagenet_conv_weights)) == "imagenet"  # not by its name
    assert experiments._imagenet(str(notop_weights_files["keras3"])) != "imagenet"
    assert experiments._imagenet("hed-bsds500") == "hed-bsds500"


def _sweep(maximum, baseline_max=0.6):
    """A temperature sweep's results at two temperatures, as ``temperature_sweep`` returns them."""
    return {"temperatures": [1.0, 1.49], "max": [maximum - 0.05, maximum], "final": [0.42, 0.4],
            "best_temperature": 1.0, "best_max_temperature": 1.49, "best_final_temperature": 1.0,
            "curves": {"1": [0.3, maximum - 0.05], "1.49": [0.35, maximum]}, "n_train": 16, "n_test": 4,
            "baseline": {"layer": "fc2", "max": baseline_max, "final": 0.58,
                         "curve": [0.5, baseline_max]}}  # fmt: skip


def test_temperature_rows_compare_their_own_class_count():
    """--n-classes 4 8: the 64- and 256-class rows say "not run"; each sweep's figure gets its fc2 line."""
    results = {"sweeps": {"4": _sweep(0.45), "8": _sweep(0.45, baseline_max=0.3)}}
    setting = dict(dataset="caltech256", weights="imagenet", layer="predictions", protocol="study")
    table = experiments.compare_with_report(results, "temperature", **setting, temperature_on="fc2")
    by_quantity = {row["quantity"]: row["this run"] for row in table["rows"]}
    assert by_quantity["best T, 64 classes"] == "not run (this run's class counts: 4, 8)"
    assert by_quantity["best maximum accuracy, 256 classes"].startswith("not run")
    assert by_quantity["temperature vs. fc2, 4 classes (best maximum accuracy)"].endswith("temperature worse")
    assert by_quantity["temperature vs. fc2, 8 classes (best maximum accuracy)"].endswith(
        "temperature not worse"
    )
    only64 = experiments.compare_with_report({"sweeps": {"64": _sweep(0.5)}}, "temperature", **setting)
    by_quantity = {row["quantity"]: row["this run"] for row in only64["rows"]}
    assert by_quantity["best T, 64 classes"] == "1.49 (maximum), 1 (final)"
    assert by_quantity[
        "T near 2 helps, 64 classes (best maximum accuracy at the T nearest 2 vs. at T = 1)"
    ] == ("50.0% at T 1.49 vs. 45.0% at T 1: helps")
    assert by_quantity["best maximum accuracy, 256 classes"] == "not run (this run's class counts: 64)"
    for style in ("combined", "report"):
        figures = experiments.experiment_figures("temperature", results, style=style, table=table)
        sweeps = [name for name in figures if not re.search("curves", name)]
        assert len(sweeps) == 2, figures
        for name in sweeps:
            labels = [line.get_label() for line in figures[name].axes[0].lines]
            assert "this run: fc2 maximum" in labels, name
            assert not any(label.startswith("report:") for label in labels)  # the report's 64/256 values
    plt.close("all")


def test_report_references_are_drawn_on_their_own_class_count():
    results = {"sweeps": {"64": _sweep(0.5), "256": _sweep(0.45)}}
    setting = dict(dataset="caltech256", weights="imagenet", layer="predictions", protocol="study")
    table = experiments.compare_with_report(results, "temperature", **setting, temperature_on="fc2")
    for style, names in (("combined", ("temperature_64", "temperature_256")),
                         ("report", ("figure_20_temperature_64", "figure_21_temperature_256"))):  # fmt: skip
        figures = experiments.experiment_figures("temperature", results, style=style, table=table)
        labels = {name: [line.get_label() for line in figures[name].axes[0].lines] for name in names}
        assert "report: best T 1.81, 64 classes (Fig. 20)" in labels[names[0]]
        assert not any("Fig. 21" in label for label in labels[names[0]])
        assert "report: best maximum at T 1.49 (Fig. 21)" in labels[names[1]]
    plt.close("all")


def test_qualitative_claims_are_answered_by_numbers():
    """Accuracy against log2(images per class): slope and R^2; T near 2 at 64 classes; T above 1.5 at 256."""
    fit = experiments.log2_fit([1, 2, 4, 8, 16], [0.1, 0.2, 0.3, 0.4, 0.5])
    assert fit["slope"] == pytest.approx(0.1) and fit["r2"] == pytest.approx(1.0)
    assert experiments.log2_fit([1, 2], [0.1, 0.2]) is None
    results = dict(_fake_results("caltech256"), per_class=[1, 2, 4, 8, 16],
                   per_class_accuracy=[0.12, 0.21, 0.34, 0.50, 0.63])  # fmt: skip
    table = experiments.compare_with_report(results, "caltech256", dataset="caltech256", weights="imagenet",
                                            layer="fc2", protocol="study")  # fmt: skip
    (row,) = [r for r in table["rows"] if r["quantity"] == "accuracy vs. images per class"]
    assert row["this run"] == "13.1% per doubling, R^2 0.99 against log2(images per class)"
    temperatures = [0.5, 1.0, 1.81, 2.0, 3.0]
    sweep64 = {"temperatures": temperatures, "max": [0.3, 0.4, 0.45, 0.5, 0.2], "final": [0.3] * 5,
               "best_max_temperature": 2.0, "best_final_temperature": 1.0}  # fmt: skip
    sweep256 = dict(sweep64, max=[0.4, 0.45, 0.3, 0.2, 0.1])
    table = experiments.compare_with_report({"sweeps": {"64": sweep64, "256": sweep256}}, "temperature",
                                            dataset="caltech256", weights="imagenet", layer="predictions",
                                            protocol="study", temperature_on="fc2")  # fmt: skip
    rows = {r["quantity"].split(" (")[0]: r["this run"] for r in table["rows"]}
    assert rows["T near 2 helps, 64 classes"] == "50.0% at T 2 vs. 40.0% at T 1: helps"
    assert rows["T above 1.5 hurts, 256 classes"] == "20.0% vs. 42.5%: hurts"


# --------------------------------------------------------------------------- one file per report figure


@pytest.fixture
def learning_results(numeric_data):
    with sklearn.config_context(enable_metadata_routing=True):
        head = experiments.make_head("study", epochs=3, random_state=0)
        head = head.set_fit_request(X_val=True, y_val=True, sample_weight=False)
    pipe = Pipeline([("features", FunctionTransformer()), ("head", head)], transform_input=["X_val"])
    return experiments.training_and_learning_curves(numeric_data, pipe, n_train=2, n_test=1, per_class=[1, 2])


def test_report_style_caltech256_has_the_reports_axes(learning_results):
    res = learning_results
    # 21 classes x 2 images = 42 training rows, batches of 32: 2 iterations per epoch
    assert res["iterations_per_epoch"] == 2
    figures = experiments.experiment_figures("caltech256", res, style="report")
    assert set(figures) == {"figure_01_loss", "figure_02_accuracy", "figure_03_accuracy_vs_samples"}
    for name, ylabel in (("figure_01_loss", "loss"), ("figure_02_accuracy", "accuracy")):
        (ax,) = figures[name].axes
        assert ax.get_xlabel().startswith("iteration") and ylabel in ax.get_ylabel()
        training, validation = ax.lines[:2]
        np.testing.assert_array_equal(training.get_xdata(), [2, 4, 6])  # epochs x iterations per epoch
        assert (training.get_label(), validation.get_label()) == ("training", "validation")
    (ax,) = figures["figure_03_accuracy_vs_samples"].axes
    assert ax.get_xscale() == "linear" and "per class" in ax.get_xlabel()
    combined = experiments.experiment_figures("caltech256", res)
    assert combined["images_per_class"].axes[0].get_xscale() == "log"
    assert combined["training_curves"].axes[0].get_xlabel() == "epoch"
    plt.close("all")


def test_report_style_urban_tribes_one_quantity_per_figure(learning_results):
    res = dict(learning_results)
    curves = {k: res[k] for k in ("loss_curve", "accuracy_curve", "validation_loss_curve",
                                  "validation_accuracy_curve", "iterations_per_epoch")}  # fmt: skip
    res["cut"] = {"rows": [], "cuts": {"block3_pool": curves}}
    figures = experiments.experiment_figures("urban-tribes", res, style="report")
    expected = {stem for n, (exp, stem, _, _) in experiments.REPORT_FIGURES.items()
                if exp == "urban-tribes" and n not in (12, 13)}  # fmt: skip
    assert set(figures) == expected
    for n in (6, 7, 8, 9, 14, 15, 16, 17):
        stem, what = experiments.REPORT_FIGURES[n][1], experiments.REPORT_FIGURES[n][2]
        (ax,) = figures[stem].axes
        (line,) = ax.lines  # one quantity, one curve: the report's figure
        assert line.get_label() == ("training" if "training" in what else "validation"), stem
        assert ax.get_xlabel().startswith("iteration")
    for n in (10, 11):
        (ax,) = figures[experiments.REPORT_FIGURES[n][1]].axes
        assert ax.get_xscale() == "linear"
    plt.close("all")


def test_report_figure_files_say_which_file_is_which_figure(learning_results, tmp_path):
    figures = experiments.experiment_figures("caltech256", learning_results, style="report")
    files = experiments.report_figure_files("caltech256", learning_results, figures, style="report")
    assert files == {1: "figure_01_loss", 2: "figure_02_accuracy", 3: "figure_03_accuracy_vs_samples",
                     4: None, 5: None}  # fmt: skip
    combined = experiments.report_figure_files("caltech256", learning_results, ["training_curves"])
    assert combined[1] == combined[2] == "training_curves" and combined[3] is None
    results = dict(learning_results)
    results["report_vs_run"] = experiments.compare_with_report(
        results, "caltech256", dataset="caltech256", weights="imagenet", layer="fc2", protocol="study"
    )
    written = experiments.save_results(results, tmp_path, "caltech256", figures=figures, report_figures=files)
    names = {p.name for p in written}
    assert {"figure_01_loss.png", "figure_02_accuracy.png", "figure_03_accuracy_vs_samples.png"} <= names
    text = (tmp_path / "caltech256_report_vs_run.md").read_text()
    assert "- Figure 1 (training and validation loss; x: iterations): `figure_01_loss.png`" in text
    assert "- Figure 4 (the first conv layer's 64 maps): not drawn by this run" in text
    text = experiments._output.figure_files_markdown("caltech256", {1: "training_curves", 2: None})
    assert "`caltech256_training_curves.png`" in text  # a combined figure keeps the experiment's prefix
    plt.close("all")


def test_temperature_stand_ins():
    stand_ins = experiments._figures.temperature_stand_ins
    assert stand_ins(["64", "256"]) == {64: 64, 256: 256}
    assert stand_ins([4, 8]) == {64: 4, 256: 8}
    assert stand_ins([8]) == {64: 8}
    assert stand_ins([64, 8, 100]) == {64: 64, 256: 100}


def test_example_setup_generates_the_embedded_default(tmp_path, monkeypatch):
    import sys

    monkeypatch.setattr(sys, "argv", ["plot_x.py", "--out", str(tmp_path), "--n-classes", "3"])
    args, data = experiments.example_setup("An example.", n_classes=5)
    assert args.out == str(tmp_path) and args.weights == "hed-bsds500" and args.input_size == 224
    assert len(set(data.target)) == 3 and all(str(tmp_path) in str(f) for f in data.filenames)


def test_run_experiment_class_counts(fake_network, tmp_path):
    """One count for the learning curves (a list refused), one sweep per count for the temperature."""
    from sklvgg.datasets import load_caltech256, make_shapes_dataset

    data = load_caltech256(
        make_shapes_dataset(tmp_path / "d", n_classes=3, n_per_class=6, layout="caltech256")
    )
    with pytest.raises(InputError, match="one class count"):
        experiments.run_experiment("caltech256", data, dataset="x", weights=None, n_classes=[2, 3])
    res = experiments.run_experiment(
        "temperature", data, dataset="x", weights=None, n_train=2, n_test=1, epochs=1, temperatures=[1.0],
        memory=tmp_path / "cache", verbose=0,
    )  # fmt: skip
    assert sorted(res["sweeps"]) == ["3"]  # the default (64, 256), capped at the 3 classes there are
    assert res["setting"]["n_classes"] == [3] and res["note"].startswith(
        "a random 1000-way top (random non-zero bias) on random conv layers"
    )
    plt.close("all")


def test_report_rows_never_take_a_nan_score_for_the_best_temperature():
    """A failed fit scores NaN (``error_score=nan``): the best is among the other temperatures."""
    sweep = {"temperatures": [1.0, 2.0, 4.0], "max": [float("nan"), 0.6, 0.7], "final": [0.5, 0.55, 0.4],
             "best_temperature": 2.0, "best_max_temperature": 4.0, "best_final_temperature": 2.0}  # fmt: skip
    rows, _ = experiments.report_rows("temperature", {"sweeps": {"256": sweep}})
    this_run = {row["quantity"]: row["this run"] for row in rows}
    assert this_run["best maximum accuracy, 256 classes"] == "70.0% (T 4)"
    failed = {**sweep, "max": [float("nan")] * 3, "best_max_temperature": None, "best_temperature": None}
    rows, _ = experiments.report_rows("temperature", {"sweeps": {"256": failed}})
    this_run = {row["quantity"]: row["this run"] for row in rows}
    assert this_run["T of the best maximum accuracy, 256 classes"] == "none (every score NaN)"
    assert this_run["best maximum accuracy, 256 classes"] == "-"


def test_report_figures_draw_each_epoch_at_its_own_fits_iterations(learning_results):
    """The per-epoch steps a head kept (after a warm start on more samples) place the curves' points."""
    assert learning_results["batches_per_epoch"] == [2, 2, 2]
    res = {**learning_results, "batches_per_epoch": [2, 2, 7]}
    figures = experiments.experiment_figures("caltech256", res, style="report")
    (ax,) = figures["figure_01_loss"].axes
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), [2, 4, 11])
    plt.close("all")


def test_report_figure_files_of_the_combined_temperature_figures_show_each_figures_axes():
    """Figures 18-19 are per-epoch curves, 20-21 accuracy vs. T: each number maps to a file drawing that."""

    def sweep(scale):
        return {"temperatures": [1.0, 2.0], "max": [0.5 * scale, 0.6], "final": [0.4, 0.5],
                "curves": {"1": [0.3, 0.5], "2": [0.4, 0.6]}, "best_temperature": 2.0,
                "best_max_temperature": 2.0, "best_final_temperature": 2.0, "baseline": None,
                "n_train": 2, "n_test": 1}  # fmt: skip

    res = {"sweeps": {"4": sweep(1.0), "8": sweep(0.5)}, "rows": [], "tables": {}, "note": None}
    figures = experiments.experiment_figures("temperature", res)  # combined: the run's 4 and 8 stand in
    files = experiments.report_figure_files("temperature", res, figures)
    assert set(files) == {18, 19, 20, 21} and None not in files.values()
    xlabels = {n: figures[name].axes[0].get_xlabel() for n, name in files.items()}
    assert xlabels == {18: "epoch", 19: "epoch", 20: "temperature T", 21: "temperature T"}
    assert files[18].endswith("_4") and files[20].endswith("_4")  # 64 classes: the smaller count
    assert files[19].endswith("_8") and files[21].endswith("_8")
    plt.close("all")

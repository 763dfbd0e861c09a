"""``sklvgg.experiments``: the protocol, the runs' plain results, the report's rows and figures.

The experiments run on numbers instead of images (a ``FunctionTransformer`` in
VGG16's place), so that what is tested is the experiment, not the network.
"""

import re
import warnings
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
import sklearn
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils import Bunch

from sklvgg import InputError, SoftmaxHeadClassifier, experiments
from sklvgg.experiments._protocol import expected_warnings_ignored

matplotlib.use("Agg")

N_CLASSES = 21  # > 20 samples at one image per class: scikit-learn's "50%" warning fires


# Each experiment's run in the report's setting (the class counts it states; ImageNet named, not read).
_REPORT_RUNS = {
    "caltech256": (256, dict(dataset="caltech256", weights="imagenet")),
    "urban-tribes": (11, dict(dataset="urban-tribes", weights="imagenet", split="holdout")),
    "layers": (256, dict(dataset="caltech256", weights="imagenet", n_classes=32)),
    "temperature": (256, dict(dataset="caltech256", weights="imagenet")),
}


def _run(experiment, *, per_class=20, **changes):
    """The :class:`RunSetting` of a run in the report's setting, with ``changes``."""
    k, options = _REPORT_RUNS[experiment]
    data = Bunch(target=np.repeat(np.arange(k), per_class))
    return experiments.resolve_setting(experiment, data, **{**options, **changes})


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
    reference, _ = experiments.study_reference(_run("caltech256"))
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
    assert experiments.study_reference(_run("caltech256"))[1]
    for change in (dict(dataset="embedded default"), dict(weights=None), dict(layer="block4_pool"),
                   dict(input_size=112, layer="block5_pool"), dict(n_classes=3),
                   dict(n_train=8)):  # fmt: skip
        assert not experiments.study_reference(_run("caltech256", **change))[1], change
    assert experiments.study_reference(_run("caltech256", preprocessing="caffe"))[1]  # an assumption only
    assert experiments.study_reference(_run("caltech256", epochs=2))[1]


# Each field the report states, changed alone: (experiment, change, the words naming it).
_STATED_CHANGES = [
    ("caltech256", dict(dataset="folder"), "this run's data is folder, the report's Caltech-256"),
    ("caltech256", dict(weights=None), "without ImageNet weights"),
    ("caltech256", dict(layer="fc1"), "this run's layer is fc1, the report's fc2"),
    ("caltech256", dict(protocol="tuned"), "--protocol tuned"),
    ("caltech256", dict(n_classes=10), "this run has 10 classes, the report 256"),
    ("caltech256", dict(n_train=8), "8 training images per class, the report 16"),
    ("caltech256", dict(n_test=2), "2 validation images per class, the report 4"),
    ("caltech256", dict(split="holdout"), "this run's split is holdout, the report's per-class"),
    ("urban-tribes", dict(n_classes=3), "this run has 3 classes, the report 11"),
    ("urban-tribes", dict(split="per-class"), "this run's split is per-class, the report's holdout"),
    ("urban-tribes", dict(cut_layer="block4_pool"), "flattened cut is block4_pool, the report's block3_pool"),
    ("urban-tribes", dict(cut_layer=None), "flattened cut is none"),
    ("layers", dict(n_classes=10), "this run has 10 classes, the report 32"),
    ("layers", dict(n_train=8), "8 training images per class, the report 16"),
    ("layers", dict(pooling="avg"), "pools the conv cuts with avg, the report flattened them"),
    (
        "layers",
        dict(layers=["block3_pool"]),
        "cuts at block3_pool, the report at block4_pool and block5_pool",
    ),
    ("layers", dict(input_size=112), "112 x 112 images, the report 224 x 224"),
    ("temperature", dict(n_classes=[3]), "this run has 3 classes, the report 64 and 256"),
    ("temperature", dict(epochs=2), "this run's epochs is 2, the report's 16"),
    ("temperature", dict(temperature_on="logits"), "divides the logits by T"),
    ("temperature", dict(n_test=2), "2 validation images per class, the report 4"),
]


@pytest.mark.parametrize("experiment, change, words", _STATED_CHANGES)
def test_a_run_differing_in_a_stated_field_is_not_comparable_and_names_it(experiment, change, words):
    reasons, _ = experiments.compare_settings(experiments.report_setting(experiment), _run(experiment))
    assert reasons == []
    reasons, _ = experiments.compare_settings(
        experiments.report_setting(experiment), _run(experiment, **change)
    )
    assert len(reasons) == 1 and words in reasons[0], reasons
    table = experiments.compare_with_report(_fake_results(experiment), _run(experiment, **change))
    assert not table["comparable"] and table["reasons"] == reasons
    assert f"NOT COMPARABLE: {reasons[0]}" in table["text"]


@pytest.mark.parametrize(
    "experiment, change, words",
    [("caltech256", dict(preprocessing="caffe"), "preprocessing: this run 'caffe', sklvgg assumes 'none'"),
     ("caltech256", dict(epochs=2), "epochs: this run 2, sklvgg assumes 16"),
     ("layers", dict(epochs=30), "epochs: this run 30, sklvgg assumes 16"),
     ("urban-tribes", dict(holdout=0.3), "holdout: this run 0.3, sklvgg assumes 0.2"),
     ("urban-tribes", dict(preprocessing="caffe"), "preprocessing: this run 'caffe'"),
     ("temperature", dict(preprocessing="caffe"), "preprocessing: this run 'caffe'")],
)  # fmt: skip
def test_a_run_differing_only_in_an_assumption_is_comparable_with_the_caveat(experiment, change, words):
    table = experiments.compare_with_report(_fake_results(experiment), _run(experiment, **change))
    assert table["comparable"] and table["reasons"] == []
    assert any(words in caveat for caveat in table["caveats"]), table["caveats"]
    assert "Comparable, with caveats (where the report is silent): " in table["text"]
    assert "NOT COMPARABLE" not in table["text"]


def test_readings_of_the_report_are_caveats_of_every_run():
    """Iterations read as mini-batch steps; Urban Tribes' preprocessing never stated; the fc2 form."""
    caveats = experiments.compare_settings(experiments.report_setting("caltech256"), _run("caltech256"))[1]
    assert any("one iteration read as one mini-batch step" in c for c in caveats)
    caveats = experiments.compare_settings(experiments.report_setting("urban-tribes"), _run("urban-tribes"))[
        1
    ]
    assert any("never says how its Urban Tribes images were preprocessed" in c for c in caveats)
    caveats = experiments.compare_settings(experiments.report_setting("temperature"), _run("temperature"))[1]
    assert any("exp(a_i / T)" in c for c in caveats)


def test_the_setting_is_resolved_once_and_frozen():
    import dataclasses

    setting = _run("caltech256", layer="block5_pool")
    assert (setting.pooling, setting.pooling_label, setting.n_classes, setting.epochs) == (
        "avg",
        "avg",
        256,
        16,
    )
    assert setting.to_dict()["pooling"] == "avg" and _run("caltech256").pooling_label == "dense"
    assert _run("layers").pooling_label == "flatten" and _run("layers").n_classes == 32
    with pytest.raises(dataclasses.FrozenInstanceError):
        setting.epochs = 2
    assert _run("caltech256", weights="hed-bsds500").layer == "block4_pool"  # the weights' default layer


@pytest.mark.parametrize(
    "experiment, change, words",
    [("caltech256", dict(layer="fc2", pooling="avg"), "pooling='avg' has no effect on layer 'fc2'"),
     ("layers", dict(layers=["block5_pool", "fc2"], pooling="max"), "'fc2'], each cut alone)"),
     ("caltech256", dict(layer="fc1", input_size=112), "input_size=224"),
     ("temperature", dict(input_size=112), "input_size=224"),
     ("layers", dict(layers=["block5_pool", "block5_pool"]), "block5_pool is given twice")],
)  # fmt: skip
def test_the_cut_rules_are_checked_once_at_the_entry(experiment, change, words):
    with pytest.raises(InputError, match=re.escape(words)):
        _run(experiment, **change)


def test_only_expected_warnings_are_silenced():
    from sklearn.utils.multiclass import check_classification_targets

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with expected_warnings_ignored():
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
    if experiment == "urban-tribes":
        return {"final_training_accuracy": 0.6, "max_test_accuracy": 0.3}
    if experiment == "layers":
        return {"rows": [{"layer": "block4_pool", "pooling": "flatten", "final_validation_accuracy": 0.05,
                          "chance": 1 / 32, "n_classes": 32}]}  # fmt: skip
    sweep = {"temperatures": [1.0, 1.49], "max": [0.4, 0.45], "final": [0.42, 0.4],
             "best_max_temperature": 1.49, "best_final_temperature": 1.0,
             "baseline": {"layer": "fc2", "max": 0.6, "final": 0.58}}  # fmt: skip
    return {"sweeps": {"64": sweep, "256": sweep}}


@pytest.mark.parametrize("experiment", ["caltech256", "temperature"])
def test_report_table_cites_the_report(experiment):
    table = experiments.compare_with_report(_fake_results(experiment), _run(experiment))
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


def test_layer_rows_show_the_runs_classes_and_images_per_class():
    table = experiments.compare_with_report(_fake_results("layers"), _run("layers", n_train=8))
    (row,) = table["rows"]
    assert row["report"] == "no learning (32 classes, 16/class)"
    assert "32 classes, 8/class" in row["this run"] and not table["comparable"]


def test_imagenet_weights_are_recognised_by_their_values(notop_weights_files, imagenet_conv_weights):
    from sklvgg._weights import weight_facts

    assert weight_facts(str(imagenet_conv_weights)).is_imagenet  # not by its name
    assert not weight_facts(str(imagenet_conv_weights)).has_top
    assert weight_facts(str(imagenet_conv_weights)).default_layer == "block4_pool"
    assert not weight_facts(str(notop_weights_files["keras3"])).is_imagenet
    assert not weight_facts("hed-bsds500").is_imagenet and weight_facts("imagenet").is_imagenet
    facts = weight_facts({"conv": str(imagenet_conv_weights), "top": "random"})
    assert facts.has_top and facts.conv_is_imagenet and not facts.is_imagenet


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
    setting = _run("temperature", n_classes=[4, 8])
    table = experiments.compare_with_report(results, setting)
    by_quantity = {row["quantity"]: row["this run"] for row in table["rows"]}
    assert by_quantity["best T, 64 classes"] == "not run (this run's class counts: 4, 8)"
    assert by_quantity["best maximum accuracy, 256 classes"].startswith("not run")
    assert by_quantity["temperature vs. fc2, 4 classes (best maximum accuracy)"].endswith("temperature worse")
    assert by_quantity["temperature vs. fc2, 8 classes (best maximum accuracy)"].endswith(
        "temperature not worse"
    )
    only64 = experiments.compare_with_report(
        {"sweeps": {"64": _sweep(0.5)}}, _run("temperature", n_classes=[64])
    )
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
    setting = _run("temperature")
    table = experiments.compare_with_report(results, setting)
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
    table = experiments.compare_with_report(results, _run("caltech256"))
    (row,) = [r for r in table["rows"] if r["quantity"] == "accuracy vs. images per class"]
    assert row["this run"] == "13.1% per doubling, R^2 0.99 against log2(images per class)"
    temperatures = [0.5, 1.0, 1.81, 2.0, 3.0]
    sweep64 = {"temperatures": temperatures, "max": [0.3, 0.4, 0.45, 0.5, 0.2], "final": [0.3] * 5,
               "best_max_temperature": 2.0, "best_final_temperature": 1.0}  # fmt: skip
    sweep256 = dict(sweep64, max=[0.4, 0.45, 0.3, 0.2, 0.1])
    table = experiments.compare_with_report({"sweeps": {"64": sweep64, "256": sweep256}}, _run("temperature"))
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
    results["report_vs_run"] = experiments.compare_with_report(results, _run("caltech256"))
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
    assert args.dataset == "embedded default"  # never called Caltech-256 for the comparison
    folder = tmp_path / "101"  # Caltech-101's layout: a folder per class, not Caltech-256's NNN.name
    for name in ("Faces", "ant"):
        (folder / name).mkdir(parents=True)
        for f in data.filenames[:2]:
            (folder / name / Path(f).name).write_bytes(Path(f).read_bytes())
    monkeypatch.setattr(sys, "argv", ["plot_x.py", "--out", str(tmp_path), "--data", str(folder)])
    args, _ = experiments.example_setup("An example.")
    assert args.dataset == "folder"


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


def test_a_second_run_in_the_same_folder_leaves_none_of_the_first_runs_files(tmp_path):
    """Each run owns what --out shows: the previous run's files (its manifest) go; others' stay."""
    fig = plt.figure()
    results = {
        "rows": [{"a": 1}],
        "figures": {"figure_14_cut_training_accuracy": fig, "figure_06_training_loss": fig},
    }
    first = experiments.save_results(results, tmp_path, "urban-tribes")
    assert (tmp_path / "figure_14_cut_training_accuracy.png").exists()
    assert (tmp_path / "urban-tribes_manifest.json").name in {p.name for p in first}
    (tmp_path / "mine.png").write_bytes(b"not sklvgg's")
    experiments.save_results({"figures": {"figure_06_training_loss": fig}}, tmp_path, "urban-tribes")
    names = {p.name for p in tmp_path.iterdir()}
    assert names == {
        "figure_06_training_loss.png",
        "urban-tribes.json",
        "urban-tribes_manifest.json",
        "mine.png",
    }
    experiments.save_results({}, tmp_path, "caltech256")  # another experiment's files are not this run's
    assert "figure_06_training_loss.png" in {p.name for p in tmp_path.iterdir()}
    plt.close("all")


def test_report_figures_say_which_training_accuracy_and_which_cut(learning_results):
    """Figures 2/8 (batch mean) and 3/10 (after the fit) name their measure; 14-17 name the cut."""
    figures = experiments.experiment_figures("caltech256", learning_results, style="report")
    assert "mean over each epoch's mini-batches" in figures["figure_02_accuracy"].axes[0].get_title()
    assert "after the fit" in figures["figure_03_accuracy_vs_samples"].axes[0].get_title()
    cut = {"rows": [], "cuts": {"block3_pool": {k: learning_results[k] for k in (
        "loss_curve", "accuracy_curve", "validation_loss_curve", "validation_accuracy_curve",
        "iterations_per_epoch")}}}  # fmt: skip
    figures = experiments.experiment_figures("urban-tribes", dict(learning_results, cut=cut), style="report")
    for n in (14, 15, 16, 17):
        stem = experiments.REPORT_FIGURES[n][1]
        assert figures[stem].axes[0].get_title().startswith("Flattened block3_pool: ")
    assert "mini-batches" in figures["figure_08_training_accuracy"].axes[0].get_title()
    assert "after the fit" in figures["figure_10_training_accuracy_vs_samples"].axes[0].get_title()
    plt.close("all")


def test_the_offline_note_fits_on_the_temperature_figures():
    note = ("a random 1000-way top (random non-zero bias) on the given conv layers: these numbers mean "
            "nothing until --weights imagenet")  # fmt: skip
    sweeps = {"3": _sweep(0.4), "5": _sweep(0.45)}
    figures = experiments.experiment_figures("temperature", {"sweeps": sweeps, "note": note}, style="report")
    for name, fig in figures.items():
        fig.set_dpi(90)  # as save_results writes them
        fig.canvas.draw()
        (text,) = [t for t in fig.axes[0].texts if "mean nothing" in t.get_text()]
        box, axes = text.get_window_extent(fig.canvas.get_renderer()), fig.axes[0].get_window_extent()
        assert box.x0 >= axes.x0 and box.x1 <= axes.x1, name  # within its axes, clear of the edges
    plt.close("all")


def test_figures_take_the_verdict_of_the_setting(learning_results):
    """One judgement: the references on the figures are grey exactly when compare_settings finds a reason."""
    for setting, comparable in ((_run("caltech256"), True), (_run("caltech256", n_train=8), False),
                                (_run("caltech256", preprocessing="caffe"), True)):  # fmt: skip
        table = experiments.compare_with_report(learning_results, setting)
        assert table["comparable"] is comparable
        figures = experiments.experiment_figures("caltech256", learning_results, style="report", table=table)
        labels = [line.get_label() for line in figures["figure_01_loss"].axes[0].lines]
        (label,) = [label for label in labels if label.startswith("report: validation loss")]
        assert ("not comparable" in label) is not comparable
    plt.close("all")


# ----------------------------------------------------------------------------- the holdout split


def test_holdout_fraction_bounds_are_ones_that_work():
    from sklvgg.experiments import holdout_split

    y = np.repeat(np.arange(11), [4] * 4 + [3] * 7)  # 37 images, 11 classes
    with pytest.raises(ValueError, match=r"Use a fraction from ([\d.]+) to ([\d.]+)\.") as info:
        holdout_split(y, test_size=0.9)
    import re

    low, high = map(float, re.search(r"from ([\d.]+) to ([\d.]+)\.", str(info.value)).groups())
    for fraction in (low, high):
        train, test = holdout_split(y, test_size=fraction)
        assert len(np.unique(y[train])) == len(np.unique(y[test])) == 11
    with pytest.raises(ValueError, match="too few images per class"):
        holdout_split(np.arange(11).repeat(1), test_size=0.5)

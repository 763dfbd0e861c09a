"""``python -m sklvgg``: one-line errors with exit statuses, --min-images, help, figures.

Each subprocess imports scikit-learn (and, past the checks, TensorFlow), so the
runs are few and small: a generated folder of 8 x 8 images, 32-pixel input,
random weights, 2 training and 1 test image per class.
"""

import csv
import json
import os
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest
import sklearn
from PIL import Image
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils import Bunch
from sklearn.utils._param_validation import InvalidParameterError

from sklvgg import SoftmaxHeadClassifier, VGG16FeatureTransformer, experiments
from sklvgg.__main__ import _EXPERIMENTS, main
from sklvgg._architecture import LAYER_NAMES

N_CLASSES = 21  # > 20 samples at one image per class: scikit-learn's "50%" warning fires
SHORT = "c05"  # the one class with 2 images, below --n-train 2 + --n-test 1
SMALL = ["--input-size", "32", "--n-train", "2", "--n-test", "1"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """``root/<class>/image_NNNN.jpg``: 21 classes of 3 images, plus one of 2."""
    root = tmp_path_factory.mktemp("cli") / "101_ObjectCategories"
    rng = np.random.default_rng(0)
    for c in range(N_CLASSES + 1):
        name = f"c{c:02d}"
        (root / name).mkdir(parents=True)
        for i in range(2 if name == SHORT else 3):
            pixels = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / name / f"image_{i + 1:04d}.jpg")
    return root


def sklvgg_process(args, cwd, **extra_env):
    """Run ``python -m sklvgg ARGS`` in a new process; return the completed process."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", MPLBACKEND="Agg")
    env.pop("SKLVGG_DEBUG", None)
    env.update(extra_env)
    return subprocess.run(
        [sys.executable, "-m", "sklvgg", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


@pytest.fixture
def sklvgg(monkeypatch, capsys):
    """Run ``main(ARGS)`` in this process, in ``cwd``; return its status, stdout and stderr.

    The same exit statuses and messages as ``python -m sklvgg`` (whose process
    boundary :func:`test_unwritable_out` and :func:`test_weights_unavailable`
    check), without a new Python and TensorFlow per test.
    """

    def run(args, cwd, **extra_env):
        monkeypatch.chdir(cwd)
        monkeypatch.delenv("SKLVGG_DEBUG", raising=False)
        for name, value in extra_env.items():
            monkeypatch.setenv(name, value)
        capsys.readouterr()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                status = main(args)
            except SystemExit as exc:
                status = exc.code
        out, err = capsys.readouterr()
        # as a process prints them: every warning on stderr
        err += "".join(warnings.formatwarning(w.message, w.category, w.filename, w.lineno) for w in caught)
        return subprocess.CompletedProcess(args, status, out, err)

    return run


def error_line(proc, status):
    """Check a user error's shape; return its message."""
    assert proc.returncode == status, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    lines = [line for line in proc.stderr.splitlines() if "error:" in line]
    assert len(lines) == 1 and lines[0].startswith("sklvgg: error: "), proc.stderr[-3000:]
    assert proc.stderr.rstrip("\n").splitlines()[-1] == lines[0]  # the last word
    return lines[0].removeprefix("sklvgg: error: ")


# --------------------------------------------------------------------------- errors


def test_layer_is_checked_by_argparse_in_network_order(tmp_path, sklvgg):
    proc = sklvgg(["reproduce", "caltech256", "--layer", "block9_pool"], tmp_path)
    message = error_line(proc, 2)
    assert message.startswith("argument --layer: invalid choice: 'block9_pool'")
    assert re.findall(r"'(\w+)'", message.split("choose from")[1]) == list(LAYER_NAMES)
    assert not (tmp_path / "sklvgg_output").exists()


def test_estimator_lists_layers_in_network_order():
    with pytest.raises(InvalidParameterError, match="'layer' parameter") as info:
        VGG16FeatureTransformer(layer="block9_pool").fit(np.zeros((1, 32, 32, 3)))
    listed = re.search(r"among \{(.*)\}", str(info.value)).group(1)
    assert re.findall(r"'(\w+)'", listed) == list(LAYER_NAMES)


def test_estimator_parameter_error(folder, tmp_path, sklvgg):
    args = ["reproduce", "caltech256", "--data", str(folder), "--weights", "none", "--layer", "block5_pool"]
    proc = sklvgg([*args, *SMALL, "--input-size", "16"], tmp_path)
    message = error_line(proc, 2)
    assert message.startswith("The 'input_size' parameter of VGG16FeatureTransformer must be")


@pytest.mark.slow  # a process with TensorFlow and a refused download
def test_weights_unavailable(folder, tmp_path):
    offline = "http://127.0.0.1:9"  # nothing listens: every download is refused at once
    proc = sklvgg_process(
        ["reproduce", "caltech256", "--data", str(folder), "--weights", "imagenet", "--layer", "block5_pool",
         *SMALL, "--out", "o"],
        tmp_path, KERAS_HOME=str(tmp_path / "keras"),
        http_proxy=offline, https_proxy=offline, HTTP_PROXY=offline, HTTPS_PROXY=offline, no_proxy="",
    )  # fmt: skip
    message = error_line(proc, 1)
    assert message.startswith("The ImageNet weights for VGG16 are not in the Keras cache")
    assert "weights='hed-bsds500'" in message


def test_unwritable_out(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    proc = sklvgg_process(["demo", "--out", "file/out"], tmp_path)
    message = error_line(proc, 1)
    assert message.startswith("--out ") and "cannot create the folder" in message


@pytest.mark.parametrize("how", ["--debug", "SKLVGG_DEBUG=1"])
def test_debug_shows_the_traceback(tmp_path, how, monkeypatch):
    (tmp_path / "file").write_text("not a folder")
    monkeypatch.chdir(tmp_path)
    args = ["demo", "--out", "file/out"]
    if how == "--debug":
        args.append("--debug")
    else:
        monkeypatch.setenv("SKLVGG_DEBUG", "1")
    with pytest.raises(OSError, match="cannot create the folder"):  # raised whole, not one line
        main(args)


def test_bad_data_folder(tmp_path, sklvgg):
    message = error_line(sklvgg(["reproduce", "layers", "--data", "absent"], tmp_path), 2)
    assert message.startswith("Could not read --data 'absent' in any known layout")


# --------------------------------------------------------------------------- short classes


def test_min_images_below_the_split(folder, tmp_path, sklvgg):
    proc = sklvgg(["reproduce", "caltech256", "--data", str(folder), *SMALL, "--min-images", "2"], tmp_path)
    message = error_line(proc, 2)
    assert message.startswith("--min-images 2 keeps classes too small") and "needs 3 images" in message


def test_every_class_short(folder, tmp_path, sklvgg):
    proc = sklvgg(["reproduce", "caltech256", "--data", str(folder), *SMALL, "--n-train", "5"], tmp_path)
    message = error_line(proc, 2)
    assert "no class under" in message and "has min_images=6 images or more" in message
    assert "lower --n-train and --n-test" in message


def test_short_classes_dropped_expected_warning_silenced(folder, tmp_path, sklvgg):
    """The issue's run: a folder with a short class, learning curve from 1 image per class."""
    proc = sklvgg(
        ["reproduce", "caltech256", "--data", str(folder), "--layout", "folder", "--weights", "none",
         "--layer", "block5_pool", *SMALL, "--out", "o"],
        tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (
        f"Left out 1 of {N_CLASSES + 1} classes with fewer than 3 images (--min-images 3): {SHORT} (2)"
        in proc.stdout
    )
    assert "number of unique classes" not in proc.stderr
    res = json.loads((tmp_path / "o" / "caltech256.json").read_text())
    assert res["n_classes"] == N_CLASSES and res["per_class"] == [1, 2]
    assert res["reference"]["comparable"] is False
    (label,) = res["reference"]["series"]
    assert "Caltech-256" in label and "ImageNet" in label and "fc2" in label


# --------------------------------------------------------------------------- help


def test_experiment_help_shows_examples(tmp_path, sklvgg):
    proc = sklvgg(["reproduce", "caltech256", "--help"], tmp_path)
    assert proc.returncode == 0
    assert "python -m sklvgg reproduce caltech256 --data ~/data/256_ObjectCategories" in proc.stdout
    assert "python -m sklvgg reproduce caltech256 --out results/" in proc.stdout


@pytest.mark.parametrize("experiment", list(_EXPERIMENTS))
def test_each_experiment_help(experiment, capsys):
    with pytest.raises(SystemExit) as info:
        main(["reproduce", experiment, "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    lines = [line.strip() for line in text.split("Examples:")[1].splitlines()]
    commands = [line for line in lines if line.startswith(f"python -m sklvgg reproduce {experiment}")]
    assert any("--data" in c for c in commands)  # real data
    assert f"python -m sklvgg reproduce {experiment} --out results/" in commands  # embedded default
    assert "--debug" in text and "Exit status" in text


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
    (ax,) = results["figures"]["images_per_class"].axes
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    (label,) = [text for text in labels if text.startswith("report: ~65% at 16/class")]
    assert "Caltech-256, ImageNet weights, fc2" in label
    assert ("not comparable" in label) is not comparable
    import matplotlib.pyplot as plt

    plt.close("all")


def test_study_reference_is_comparable_only_in_its_setting():
    setting = {"dataset": "caltech256", "weights": "imagenet", "layer": "fc2"}
    assert experiments.study_reference(**setting)[1]
    for key, other in [("dataset", "embedded default"), ("weights", None), ("layer", "block4_pool")]:
        assert not experiments.study_reference(**{**setting, key: other})[1]
    downloaded = "/data/vgg16_weights_tf_dim_ordering_tf_kernels.h5"  # Keras' ImageNet file
    assert experiments.study_reference(**{**setting, "weights": downloaded})[1]
    assert not experiments.study_reference(**{**setting, "weights": "/data/mine.weights.h5"})[1]


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
    import matplotlib.pyplot as plt

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


# --------------------------------------------------------------------------- reproduce, in process


def _reproduce(experiment, out, *args):
    assert main(["reproduce", experiment, "--out", str(out), "--weights", "none", *args]) == 0
    return json.loads((out / f"{experiment}.json").read_text())


def _written(out, experiment, figures):
    names = {p.name for p in out.iterdir()}
    expected = {f"{experiment}_{f}.png" for f in figures} | {
        f"{experiment}.json",
        f"{experiment}_report_vs_run.md",
        f"{experiment}_report_vs_run.csv",
    }
    assert expected <= names, expected - names
    for png in expected:
        if png.endswith(".png"):
            assert (out / png).stat().st_size > 1000
    text = (out / f"{experiment}_report_vs_run.md").read_text()
    assert text.startswith(f"Report vs. this run ({experiment})") and "not meaningful" in text
    return names


def test_reproduce_caltech256_study_epochs_and_figures(tmp_path, capsys):
    small = [
        "--input-size",
        "32",
        "--n-train",
        "2",
        "--n-test",
        "1",
        "--n-classes",
        "3",
        "--layer",
        "block5_pool",
    ]
    res = _reproduce("caltech256", tmp_path, *small, "--epochs", "3")
    assert res["setting"]["protocol"] == "study"
    assert res["epochs"] == 3  # the study preset: exactly --epochs epochs, one point each
    for curve in ("loss_curve", "accuracy_curve", "validation_loss_curve", "validation_accuracy_curve"):
        assert len(res[curve]) == 3
    names = _written(tmp_path, "caltech256", [
        "training_curves", "images_per_class", "filters_block1_conv1", "activations_block1_conv1",
        "filters_block5_conv3", "activations_block5_conv3",
    ])  # fmt: skip
    assert {"caltech256_curves.csv", "caltech256_images_per_class.csv"} <= names
    assert res["activations"]["shapes"]["block5_conv3"] == [2, 2, 512]
    rows = list(csv.DictReader(open(tmp_path / "caltech256_activations.csv")))
    assert sum(row["layer"] == "block5_conv3" for row in rows) == 512  # all of them
    assert "Report vs. this run (caltech256)" in capsys.readouterr().out


def test_reproduce_urban_tribes_holdout(tmp_path):
    res = _reproduce("urban-tribes", tmp_path, "--input-size", "32", "--n-classes", "3", "--epochs", "2",
                     "--layer", "block5_pool")  # fmt: skip
    split = res["split"]
    assert split["split"] == "holdout" and split["holdout_fraction"] == 0.2
    assert split["n_test"] == 12 and split["test_fraction"] == 0.2  # 3 classes x 20 images
    assert split["test_per_class"] == {"min": 4, "max": 4}  # stratified
    assert res["per_class"] == [1, 2, 4, 8, 16]
    (cut,) = res["cut"]["rows"]
    assert (cut["layer"], cut["pooling"], cut["epochs"]) == ("block3_pool", "flatten", 2)
    _written(tmp_path, "urban-tribes", ["training_curves", "images_per_class", "cut_block3_pool",
                                        "activations_block5_conv3"])  # fmt: skip
    text = (tmp_path / "urban-tribes_report_vs_run.md").read_text()
    assert "| flattened block3_pool: validation accuracy, last epoch | 9% |" in text


def test_reproduce_holdout_refuses_per_class_sizes(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["reproduce", "urban-tribes", "--out", str(tmp_path), "--n-train", "8"])
    assert info.value.code == 2
    assert "--n-train apply to --split per-class" in capsys.readouterr().err


@pytest.mark.parametrize("protocol, option, expected", [("study", None, "none"), ("tuned", None, "caffe"),
                                                         ("study", "samplewise", "samplewise")])  # fmt: skip
def test_reproduce_preprocessing(tmp_path, monkeypatch, protocol, option, expected):
    """The study protocol feeds RGB 0-255 as the report's ImageDataGenerator did; the option overrides."""
    import sklvgg.experiments as experiments_module

    made = []
    real = experiments_module.make_pipeline
    monkeypatch.setattr(experiments_module, "make_pipeline", lambda **kw: made.append(real(**kw)) or made[-1])
    args = ["--input-size", "32", "--n-train", "2", "--n-test", "1", "--n-classes", "3", "--epochs", "1",
            "--protocol", protocol] + (["--preprocessing", option] if option else [])  # fmt: skip
    res = _reproduce("layers", tmp_path, *args)
    assert res["setting"]["preprocessing"] == expected
    assert made and all(pipe[0].preprocessing == expected for pipe in made)


def test_reproduce_layers(tmp_path):
    res = _reproduce("layers", tmp_path, "--input-size", "32", "--n-train", "2", "--n-test", "1",
                     "--n-classes", "3", "--epochs", "2")  # fmt: skip
    assert [(r["layer"], r["pooling"], r["epochs"], r["n_classes"]) for r in res["rows"]] == [
        ("block4_pool", "flatten", 2, 3), ("block5_pool", "flatten", 2, 3)
    ]  # fmt: skip
    _written(tmp_path, "layers", ["cut_block4_pool", "cut_block5_pool", "layers"])
    assert len(list(csv.DictReader(open(tmp_path / "layers_curves.csv")))) == 4
    # the model summaries: VGG16's conv part to block4_pool has 7,635,264 parameters, to block5_pool
    # 14,714,688; flattened at 32 px the maps are 2 x 2 x 512 and 1 x 1 x 512, then a 3-class softmax
    summaries = res["model_summary"]
    assert [(s["frozen"], s["trainable"]) for s in summaries.values()] == [
        (7_635_264, 2048 * 3 + 3), (14_714_688, 512 * 3 + 3)
    ]  # fmt: skip
    text = (tmp_path / "layers_model_summary.md").read_text()
    assert "| block4_pool | MaxPooling2D | (None, 2, 2, 512) | 0 | no |" in text


@pytest.mark.slow  # the full 224 px network with its top
def test_reproduce_temperature(tmp_path, capsys):
    res = _reproduce("temperature", tmp_path, "--n-train", "2", "--n-test", "1", "--n-classes", "2", "3",
                     "--epochs", "2", "--temperatures", "1", "1.49")  # fmt: skip
    assert res["setting"]["temperature_on"] == "fc2" and res["note"]
    assert set(res["sweeps"]) == {"2", "3"}
    for sweep in res["sweeps"].values():
        assert sweep["temperatures"] == [1.0, 1.49] and all(len(c) == 2 for c in sweep["curves"].values())
        assert sweep["baseline"]["layer"] == "fc2"
    _written(tmp_path, "temperature", ["temperature_curves_2", "temperature_curves_3", "temperature_2",
                                       "temperature_3"])  # fmt: skip
    assert "mean nothing" in capsys.readouterr().out
    assert [s["trainable"] for s in res["model_summary"].values()] == [1000 * 2 + 2, 1000 * 3 + 3]
    assert all(s["frozen"] == 4_097_000 for s in res["model_summary"].values())


# --------------------------------------------------------------------------- verbosity


@pytest.mark.parametrize("flag", ["-q", None, "-v"])
def test_quiet_default_and_verbose(tmp_path, sklvgg, flag):
    args = ["demo", "--out", "o", "--n-classes", "2", "--input-size", "32", "--weights", "none"]
    proc = sklvgg(args + ([flag] if flag else []), tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "| 16 |" in proc.stdout  # the result, whatever the verbosity
    summaries = [line for line in proc.stdout.splitlines() if line.startswith("cache: ")]
    lines = proc.stdout.splitlines()
    per_fit = [line for line in lines if line.startswith("[VGG16FeatureTransformer] cache")]
    bars = "VGG16 block4_pool (avg pooled), 32 px" in proc.stderr
    if flag == "-q":
        assert (summaries, per_fit, bars) == ([], [], False)
        assert "embedded default" not in proc.stdout
    elif flag is None:
        assert len(summaries) == 1 and per_fit == [] and bars
        assert summaries[0].startswith("cache: 40 images computed, ")
    else:  # the library's verbose=1, fit by fit
        assert summaries == [] and len(per_fit) > 2 and bars
        assert per_fit[0].endswith(": 0 hits, 32 misses (32 images computed)")  # the 16 + 16 training images
        assert all(line.endswith(" 0 misses (0 images computed)") for line in per_fit[2:])  # read back


def test_tensorflow_log_level_of_the_user_is_kept(monkeypatch):
    from sklvgg.__main__ import _quiet_tensorflow_logs

    for level in ("0", "1"):
        monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", level)
        _quiet_tensorflow_logs(0)
        assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == level
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL")
    _quiet_tensorflow_logs(1)  # -v: TensorFlow speaks
    assert "TF_CPP_MIN_LOG_LEVEL" not in os.environ
    _quiet_tensorflow_logs(0)
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "3"


def test_quiet_import_drops_only_tensorflows_info_lines(tmp_path):
    """A fake ``tensorflow`` writing INFO, warning and fatal lines to fd 2 while it is imported."""
    fake = tmp_path / "fake" / "tensorflow"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(
        "import os\n"
        "os.write(2, b'WARNING: All log messages before absl::InitializeLog() is called are written "
        "to STDERR\\n')\n"
        "os.write(2, b'I0000 00:00:1 cudart_stub.cc:31] Could not find cuda drivers\\n')\n"
        "os.write(2, b'F0000 00:00:1 cpu_feature_guard.cc:1] this CPU lacks AVX\\n')\n"
        "os.write(2, b'E0000 00:00:1 some.cc:2] an error\\n')\n"
    )
    code = (
        f"import sys; sys.path.insert(0, {str(fake.parent)!r})\n"
        "import os; os.environ.pop('TF_CPP_MIN_LOG_LEVEL', None)\n"
        "from sklvgg.__main__ import _quiet_tensorflow_logs; _quiet_tensorflow_logs(0)\n"
        "import sys; sys.stderr.write('after\\n')\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "KERAS_BACKEND")}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    fatal, error = (
        "F0000 00:00:1 cpu_feature_guard.cc:1] this CPU lacks AVX",
        "E0000 00:00:1 some.cc:2] an error",
    )
    assert lines == [fatal, error, "after"], lines


def test_min_images_above_the_embedded_default_generates_enough(tmp_path):
    """Without --data, --min-images 25 asks for more images than the generated set's 20: it generates 25."""
    res = _reproduce("layers", tmp_path, "--min-images", "25", "--n-classes", "2", "--input-size", "32",
                     "--n-train", "2", "--n-test", "1", "--epochs", "1")  # fmt: skip
    assert res["rows"] and len(list((tmp_path / "data").rglob("*.jpg"))) == 10 * 25


def test_the_one_cache_line_adds_up_the_per_fit_lines(tmp_path, sklvgg):
    """The default's single line is the sum of what -v prints fit by fit (a fresh cache each run)."""
    args = ["demo", "--n-classes", "2", "--input-size", "32", "--weights", "none"]
    quiet = sklvgg([*args, "--out", "a"], tmp_path)
    loud = sklvgg([*args, "--out", "b", "-v"], tmp_path)
    per_fit = [
        line for line in loud.stdout.splitlines() if line.startswith("[VGG16FeatureTransformer] cache")
    ]
    hits = sum(int(re.search(r": (\d+) hits", line).group(1)) for line in per_fit)
    computed = sum(int(re.search(r"\((\d+) images computed", line).group(1)) for line in per_fit)
    (summary,) = [line for line in quiet.stdout.splitlines() if line.startswith("cache: ")]
    assert (
        summary
        == f"cache: {computed} images computed, {hits} feature rows read back ({len(per_fit)} transforms)"
    )
    assert computed == 40 and hits > computed


def test_temperature_rows_compare_their_own_class_count():
    """--n-classes 4 8: the 64- and 256-class rows say "not run"; each sweep's figure gets its fc2 line."""
    import matplotlib.pyplot as plt

    sweep = _fake_results("temperature")["sweeps"]["64"]
    figures = {f"temperature_{k}": plt.subplots(1, 2)[0] for k in ("4", "8")}
    results = {"sweeps": {"4": sweep, "8": dict(sweep, baseline={"layer": "fc2", "max": 0.3, "final": 0.3})},
               "figures": figures}  # fmt: skip
    setting = dict(dataset="caltech256", weights="imagenet", layer="predictions", protocol="study")
    table = experiments.compare_with_report(results, "temperature", **setting, temperature_on="fc2")
    by_quantity = {row["quantity"]: row["this run"] for row in table["rows"]}
    assert by_quantity["best T, 64 classes"] == "not run (this run's class counts: 4, 8)"
    assert by_quantity["best maximum accuracy, 256 classes"].startswith("not run")
    assert by_quantity["temperature vs. fc2, 4 classes (best maximum accuracy)"].endswith("temperature worse")
    assert by_quantity["temperature vs. fc2, 8 classes (best maximum accuracy)"].endswith(
        "temperature not worse"
    )
    for k, fig in figures.items():
        labels = [line.get_label() for line in fig.axes[0].lines]
        assert "this run: fc2 maximum" in labels, k
        assert not any(
            label.startswith("report:") for label in labels
        )  # the report's 64/256 values: not here
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

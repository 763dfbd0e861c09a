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
from PIL import Image
from sklearn.utils._param_validation import InvalidParameterError

from sklvgg import VGG16FeatureTransformer, experiments
from sklvgg._architecture import LAYER_NAMES
from sklvgg._cli import main
from sklvgg._cli._parser import _EXPERIMENTS

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
    """A folder with a short class, a learning curve from 1 image per class.

    The short class is left out and named; scikit-learn's expected warning is silenced.
    """
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
    import sklvgg.experiments._reproduce as experiments_module  # where run_experiment looks it up

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
    from sklvgg._cli._console import quiet_tensorflow_logs as _quiet_tensorflow_logs

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
        "from sklvgg._cli._console import quiet_tensorflow_logs; quiet_tensorflow_logs(0)\n"
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


def test_misspelt_keras_backend_is_one_line_naming_the_variable(tmp_path):
    args = ["demo", "--out", "o", "--n-classes", "2", "--input-size", "32", "--weights", "none"]
    proc = sklvgg_process(args, tmp_path, KERAS_BACKEND="tensorfow")
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    (line,) = [line for line in proc.stderr.splitlines() if "KERAS_BACKEND" in line]
    assert line.startswith("sklvgg: error: KERAS_BACKEND='tensorfow' is not a backend Keras can import")
    assert "['tensorflow', 'jax', 'torch']" in line


def _fake_tensorflow(tmp_path, body):
    """A ``tensorflow`` package whose import runs ``body``; the code that imports it quietly, then says so."""
    fake = tmp_path / "fake" / "tensorflow"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("import os\n" + body)
    code = (
        f"import sys; sys.path.insert(0, {str(fake.parent)!r})\n"
        "import os; os.environ.pop('TF_CPP_MIN_LOG_LEVEL', None)\n"
        "from sklvgg._cli._console import quiet_tensorflow_logs; quiet_tensorflow_logs(0)\n"
        "print('imported', 'tensorflow' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "KERAS_BACKEND")}
    return code, env


def test_quiet_import_passes_on_the_fatal_line_of_an_import_that_aborts(tmp_path):
    """TensorFlow's fatal check writes its line to fd 2 and aborts: the line must reach the user."""
    fatal = "F0000 00:00:1 cpu_feature_guard.cc:1] this CPU lacks AVX"
    code, env = _fake_tensorflow(tmp_path, f"os.write(2, b'{fatal}\\n')\nos.abort()\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode != 0 and "imported" not in proc.stdout
    assert fatal in proc.stderr.splitlines(), proc.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="closes fd 2 through a POSIX shell")
def test_quiet_import_with_stderr_closed_imports_plainly(tmp_path):
    """``python -m sklvgg ... 2>&-``: ``sys.stderr`` is None, fd 2 closed; the import still happens."""
    code, env = _fake_tensorflow(
        tmp_path, "try:\n    os.write(2, b'E0000 an error\\n')\nexcept OSError:\n    pass\n"
    )
    proc = subprocess.run(["sh", "-c", 'exec "$0" -c "$1" 2>&-', sys.executable, code],
                          capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
    assert (proc.returncode, proc.stdout) == (0, "imported True\n"), proc.stderr


def test_quiet_import_with_stderr_not_a_file_descriptor_imports_plainly(tmp_path):
    """``sys.stderr`` a capture (pytest, a notebook: ``fileno()`` raises): a plain import, nothing lost."""
    info, error = (
        "I0000 00:00:1 cudart_stub.cc:31] Could not find cuda drivers",
        "E0000 00:00:1 some.cc:2] an error",
    )
    code, env = _fake_tensorflow(tmp_path, f"os.write(2, b'{info}\\n{error}\\n')\n")
    code = "import io, sys; sys.stderr = io.StringIO()\n" + code
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert (proc.returncode, proc.stdout) == (0, "imported True\n"), proc.stderr
    assert proc.stderr.splitlines() == [
        info,
        error,
    ]  # fd 2 untouched: TensorFlow's own lines, as without sklvgg


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


# --------------------------------------------------------------------------- options that cannot apply


@pytest.mark.parametrize(
    "args, words",
    [
        (["temperature", "--input-size", "112"], "needs input_size=224"),
        (["caltech256", "--layer", "fc2", "--pooling", "avg"], "pooling='avg' has no effect on layer 'fc2'"),
        (
            ["urban-tribes", "--layer", "predictions", "--pooling", "max"],
            "pooling='max' has no effect on layer 'predictions'",
        ),
    ],
)
def test_options_that_cannot_apply_are_refused(tmp_path, sklvgg, args, words):
    proc = sklvgg(["reproduce", *args, "--out", "o", "--weights", "none"], tmp_path)
    assert words in error_line(proc, 2)
    assert not (tmp_path / "o").exists()  # refused before any work


def test_reproduce_figures_report(tmp_path):
    res = _reproduce("caltech256", tmp_path, *SMALL, "--n-classes", "3", "--epochs", "2", "--layer",
                     "block5_pool", "--figures", "report")  # fmt: skip
    names = {p.name for p in tmp_path.iterdir()}
    stems = [stem for exp, stem, _, _ in experiments.REPORT_FIGURES.values() if exp == "caltech256"]
    assert {f"{stem}.png" for stem in stems} <= names  # Figures 1-5, one file each
    assert not {"caltech256_training_curves.png", "caltech256_images_per_class.png"} & names
    assert res["report_figures"] == {str(n): stem for n, stem in zip(range(1, 6), stems)}
    text = (tmp_path / "caltech256_report_vs_run.md").read_text()
    for n, stem in enumerate(stems, 1):
        assert re.search(rf"- Figure {n} \(.*\): `{stem}\.png`", text)


@pytest.mark.parametrize("conv", ["none", "file"])
def test_reproduce_temperature_offline_says_what_it_ran(
    tmp_path, capsys, fake_network, notop_weights_files, conv
):
    """Offline: the conv layers given under a random 1000-way top with a non-zero bias, said everywhere."""
    weights = "none" if conv == "none" else str(notop_weights_files["keras3"])
    assert main(["reproduce", "temperature", "--out", str(tmp_path), "--weights", weights, "--n-train", "2",
                 "--n-test", "1", "--n-classes", "2", "3", "--epochs", "2", "--temperatures", "1", "1.49",
                 "--figures", "report"]) == 0  # fmt: skip
    res = json.loads((tmp_path / "temperature.json").read_text())
    parts = res["setting"]["weights"]
    assert (
        parts["fully connected top"].startswith("random (seed") and "N(0, 1)" in parts["fully connected top"]
    )
    assert (weights in parts["conv layers"]) if conv == "file" else parts["conv layers"].startswith("random")
    assert "+random-top:" in res["setting"]["weights_id"]
    assert res["setting"]["input_size"] == 224 and res["setting"]["n_classes"] == [2, 3]
    assert set(res["setting"]["seeds"]) == {"transformer", "head", "split"}
    out = capsys.readouterr().out
    assert "WARNING: a random 1000-way top (random non-zero bias) on " in out
    assert "mean nothing until --weights imagenet" in out
    text = (tmp_path / "temperature_report_vs_run.md").read_text()
    assert "This run: weights: conv layers: " in text and "fully connected top: random" in text
    assert "NOT COMPARABLE" in text and "the comparison is not meaningful" in text
    for n, stem in ((18, "figure_18_temperature_curves_64"), (19, "figure_19_temperature_curves_256"),
                    (20, "figure_20_temperature_64"), (21, "figure_21_temperature_256")):  # fmt: skip
        assert (tmp_path / f"{stem}.png").stat().st_size > 1000
        assert f"- Figure {n} (" in text and f"`{stem}.png`" in text
    assert "`figure_18_temperature_curves_64.png` (this run's 2 classes; the report's 64)" in text


def test_an_output_that_cannot_be_written_is_one_line(tmp_path, sklvgg, monkeypatch):
    """A folder without write access, and a write that fails after the work: one line, exit status 1."""
    import sklvgg.experiments as experiments_module

    monkeypatch.setattr(os, "access", lambda path, mode: False)  # root may write anywhere: pretend not
    message = error_line(sklvgg(["demo", "--out", "o", "--weights", "none", "--n-classes", "2"], tmp_path), 1)
    assert message == "--out 'o': the folder is not writable."
    monkeypatch.undo()

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device", "o/demo.json")

    monkeypatch.setattr(experiments_module, "save_results", full)
    proc = sklvgg(
        ["demo", "--out", "o", "--weights", "none", "--n-classes", "2", "--input-size", "32"], tmp_path
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr  # (the demo's head warns on the way)
    assert "sklvgg: error: --out 'o': cannot write o/demo.json (No space left on device).\n" in proc.stderr


@pytest.mark.parametrize(
    "args, words",
    [
        (["layers", "--figures", "report"], "--figures report cannot apply to the layers experiment"),
        (
            ["caltech256", "--holdout-fraction", "0.3"],
            "--holdout-fraction 0.3 cannot apply to --split per-class",
        ),
        (
            ["layers", "--layers", "block5_pool", "fc2", "--pooling", "avg"],
            "pooling='avg' has no effect on layer 'fc2': its output is a vector, with no spatial maps "
            "to pool (among the layers ['block5_pool', 'fc2'], each cut alone)",
        ),
        (["caltech256", "--pooling", "max"], "to pool (the default layer of weights None)"),
    ],
)
def test_more_options_that_cannot_apply(tmp_path, sklvgg, args, words):
    proc = sklvgg(["reproduce", *args, "--out", "o", "--weights", "none"], tmp_path)
    assert words in error_line(proc, 2)
    assert not (tmp_path / "o").exists()


def test_the_same_cut_twice_is_refused_at_parse_time(tmp_path, sklvgg):
    proc = sklvgg(["reproduce", "layers", "--layers", "block5_pool", "block5_pool", "--out", "o"], tmp_path)
    line = error_line(proc, 2)
    assert line.startswith("argument --layers: each cut once; block5_pool is given twice")
    assert not (tmp_path / "o").exists()


def test_a_run_records_the_pooling_it_used(tmp_path):
    """The default --pooling is avg for a conv cut, and none (recorded as "dense") for a dense one."""
    common = ["--n-classes", "2", "--epochs", "1", "--n-train", "2", "--n-test", "1"]
    res = _reproduce("caltech256", tmp_path / "a", *common, "--input-size", "32", "--layer", "block5_pool")
    assert res["setting"]["pooling"] == "avg" and "pooling: avg" in res["report_vs_run"]["text"]
    assert res["setting"]["weights"]["fully connected top"] == "not used: every cut is in the conv part"
    res = _reproduce("caltech256", tmp_path / "b", *common, "--input-size", "224", "--layer", "fc1")
    assert res["setting"]["pooling"] == "dense"
    assert res["setting"]["weights"]["fully connected top"].startswith("random (seed")


def test_a_run_records_the_precision_it_resolved(tmp_path, monkeypatch):
    """``reproduce`` runs in ``precision="auto"``: the record says what it resolved to on this machine."""
    import sklvgg._backends as backends_module

    monkeypatch.setattr(backends_module, "has_native_bfloat16", lambda: False)
    common = ["--n-classes", "2", "--epochs", "1", "--n-train", "2", "--n-test", "1", "--input-size", "32"]
    res = _reproduce("caltech256", tmp_path / "a", *common, "--layer", "block5_pool")
    assert res["setting"]["precision"] == "float32"
    assert "precision: float32" in res["report_vs_run"]["text"]


# --------------------------------------------------------------------------- options whose values cannot work


def test_command_line_refuses_unrepresentable_temperatures(tmp_path, capsys):
    from sklvgg._cli import main

    with pytest.raises(SystemExit) as info:
        main(["reproduce", "temperature", "--out", str(tmp_path), "--temperatures", "1", "1e-320"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "--temperatures" in err and "1e-320" in err


def test_command_line_min_images_and_holdout_fraction_name_their_option(tmp_path, capsys):
    from sklvgg._cli import main

    def error(args):
        with pytest.raises(SystemExit) as info:
            main(args)
        assert info.value.code == 2
        return capsys.readouterr().err.strip().splitlines()[-1]

    folder = tmp_path / "data"
    for c in range(3):
        for i in range(4):
            (folder / f"c{c}").mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (8, 8), (c * 80, i * 50, 0)).save(folder / f"c{c}" / f"{i}.png")
    message = error(["reproduce", "layers", "--data", str(folder), "--layout", "folder", "--n-train", "2",
                     "--n-test", "1", "--min-images", "9", "--out", str(tmp_path / "o")])  # fmt: skip
    assert "lower --min-images 9" in message and "--n-train" not in message
    message = error(["reproduce", "urban-tribes", "--data", str(folder), "--layout", "folder",
                     "--holdout-fraction", "0.9", "--out", str(tmp_path / "o")])  # fmt: skip
    assert "--holdout-fraction" in message and "fewer than the 3 classes" in message

"""Every gallery example and command runs at its smallest settings; outputs checked."""

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("plot_*.py"))
SMALL = ["--input-size", "32", "--n-classes", "3"]


def run(args, cwd, *, as_user=False):
    """Run ``python ARGS``; return its stdout (and stderr with ``as_user``).

    ``as_user``: the environment a new user has, TensorFlow's log level unset.
    """
    env = dict(os.environ, MPLBACKEND="Agg")
    if as_user:
        env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    else:
        env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    proc = subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return (proc.stdout, proc.stderr) if as_user else proc.stdout


def test_every_example_is_listed():
    names = {p.stem for p in EXAMPLES}
    assert names == {
        "plot_caltech256", "plot_layer_cut", "plot_temperature_sweep",
        "plot_urban_tribes", "plot_filters_activations", "plot_caltech101_hed",
        "plot_layer_combinations", "plot_strongest_features", "plot_class_activation_maps",
    }  # fmt: skip


@pytest.mark.slow  # a subprocess with TensorFlow per example; the docs build runs them too
@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_example_runs(example, tmp_path):
    out = tmp_path / "out"
    # the study's preprocessing ("none") on the offline conv weights learns little from 32 px images
    small = [*SMALL[:1], "64", *SMALL[2:]] if example.stem == "plot_caltech256" else SMALL
    stdout = run([str(example), "--out", str(out), *small], tmp_path)
    pngs = list(out.glob("*.png"))
    if example.stem == "plot_caltech101_hed" and "Skipped" in stdout:
        pytest.skip("../shared/data not present")
    assert pngs, stdout
    for js in out.glob("*.json"):
        json.loads(js.read_text())
    if example.stem in ("plot_caltech256", "plot_urban_tribes"):
        res = json.loads(next(p for p in out.glob("*.json") if "manifest" not in p.name).read_text())
        assert res["per_class"] == [1, 2, 4, 8, 16]
        assert all(0 <= a <= 1 for a in res["per_class_accuracy"])
        assert res["per_class_accuracy"][-1] > 1 / 3 + 0.15  # above chance
    if example.stem == "plot_temperature_sweep":
        assert "mean nothing" in stdout
    if example.stem == "plot_layer_combinations":
        n_images = int(stdout.split(" images,", 1)[0].split()[-1])
        # a fresh cache: one pass over every image, then the grid and a single layer read it back
        assert f"images pushed through VGG16: {n_images} " in stdout
        assert "alone: 0 images computed, same: True" in stdout
        with open(out / "layer_combinations.csv") as f:
            rows = list(csv.DictReader(f))
        assert len(rows) == 10 and {r["power"] for r in rows} == {"none", "signed sqrt"}
        for row in rows:
            assert row["passes_layer_list"] == "1"
            assert int(row["passes_feature_union"]) == row["layers"].count(" + ") + 1
            assert 0 <= float(row["accuracy"]) <= 1
    if example.stem == "plot_strongest_features":
        with open(out / "strongest_features.csv") as f:
            rows = list(csv.DictReader(f))
        assert len(rows) == 16 and {r["passes_per_image"] for r in rows} == {"1", "2", "4"}
        assert all(0 <= float(r["accuracy"]) <= 1 for r in rows)
        # the first transform filled the cache with every view; the search computed nothing more
        assert "views per image: 4;" in stdout
    if example.stem == "plot_class_activation_maps":
        assert {p.name for p in pngs} >= {"class_activation_maps.png", "reliability.png"}
        # the exact decomposition: each map's mean is its class's logit
        gap = float(stdout.split("max |map mean - logit|: ", 1)[1].split()[0])
        assert "method: cam;" in stdout and gap < 1e-3
    if example.stem == "plot_caltech101_hed":
        res = json.loads((out / "caltech101_hed.json").read_text())
        assert res["hed-bsds500, tuned head"]["16"] > 0.05  # 100 classes, 32 px


def test_demo_command(tmp_path):
    """The README's first command: its result, and nothing but sklvgg's own lines around it."""
    demo = ["-m", "sklvgg", "demo", "--out", "o", "--n-classes", "3", "--input-size", "32"]
    stdout, stderr = run(demo, tmp_path, as_user=True)
    # TensorFlow's C++ log lines ("I0000 00:00:... cudart_stub.cc:31] ...", absl's preamble) hidden
    assert not re.search(r"^[IWEF]\d{4} |absl::|cudart_stub|oneDNN", stderr, re.MULTILINE), stderr[-3000:]
    # one cache line for the command: 60 images (48 train + 12 test) once, every later fit read back
    cache_lines = [line for line in stdout.splitlines() if "cache" in line.lower() and "hits" in line]
    assert cache_lines == []  # no per-fit line
    (summary_line,) = [line for line in stdout.splitlines() if line.startswith("cache: ")]
    assert summary_line.startswith("cache: 60 images computed, ")
    read_back = int(summary_line.split(", ")[1].split()[0])
    assert read_back > 60  # the learning curve's fits
    # the progress bars (stderr), labelled with what they compute
    assert "VGG16 block4_pool (avg pooled), 32 px" in stderr
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["test_accuracy"] > summary["chance"] + 0.15
    assert set(summary["accuracy_by_images_per_class"]) == {"1", "2", "4", "8", "16"}
    assert (tmp_path / "o" / "demo_training_curves.png").stat().st_size > 1000
    assert "| 16 |" in stdout


# Each reproduce experiment writes its figures and table: tests/test_cli.py, in process.


def test_reproduce_help_and_bad_data(tmp_path):
    assert "Experiments:" in run(["-m", "sklvgg", "reproduce", "--help"], tmp_path)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run(
        [sys.executable, "-m", "sklvgg", "reproduce", "layers", "--data", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0 and "Could not read --data" in proc.stderr

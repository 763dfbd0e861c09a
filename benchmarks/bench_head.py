"""SoftmaxHeadClassifier against scikit-learn's linear classifiers, on the same features.

Targets: accuracy within 1 point of the best of LogisticRegression, MLPClassifier
(hidden_layer_sizes=()) and SGDClassifier(log_loss); fit time <= 0.5 x
LogisticRegression's and <= 1 x MLPClassifier's at equal epochs.

Feature sets:

- real: hed-bsds500 ``block5_pool`` average-pooled features of
  ``../shared/data/caltech101-20`` (100 classes, 16 train + 4 validation each);
  skipped when the folder is absent;
- fc2-like: 5,120 x 4,096 (256 classes x 20 images), generated;
- block4_pool: 512 x 100,352, real flattened hed-bsds500 ``block4_pool`` maps of
  the first 32 classes of ``../shared/data/caltech101-20`` (12 train + 4
  validation each) at 224 px; generated (32 classes x 16 images) when the
  folder is absent or another input size is asked for.

Generated features imitate VGG activations: non-negative, sparse after a ReLU,
of large scale, with class structure. Usage::

    python benchmarks/bench_head.py [--input-size 224] [--skip-large] [--skip-sgd] [--against REV]

``--skip-sgd`` leaves out ``SGDClassifier``, which takes most of the run (minutes
on the large sets). ``--against REV`` adds the head of an earlier git revision
(its ``sklvgg`` package extracted with ``git archive`` and imported under another
name), fitted in turns with today's head on the same features, for refactors whose
target is "equal or better accuracy, fit time within 10%".

Writes ``benchmarks/results/head.md``.
"""

import argparse
import importlib
import io
import os
import subprocess
import sys
import tarfile
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import SHARED, write_report  # noqa: E402


def vgg_like(n_classes, n_per_class, n_features, n_train_per_class, seed=0):
    """Non-negative sparse features with class structure; first images train."""
    rng = np.random.default_rng(seed)
    centers = rng.gamma(0.6, 6.0, (n_classes, n_features)).astype(np.float32)
    centers *= rng.random((n_classes, n_features)) < 0.25
    shared = rng.gamma(0.6, 6.0, n_features).astype(np.float32)
    y = np.repeat(np.arange(n_classes), n_per_class)
    X = np.empty((len(y), n_features), np.float32)
    for i, c in enumerate(y):
        noise = rng.normal(0, 9.0, n_features).astype(np.float32)
        X[i] = np.maximum(0.35 * centers[c] + shared + noise - 4.0, 0)
    position = np.tile(np.arange(n_per_class), n_classes)
    train = position < n_train_per_class
    return X[train], y[train], X[~train], y[~train]


def real_features(input_size, memory):
    from sklvgg import VGG16FeatureTransformer
    from sklvgg.datasets import load_image_folder
    from sklvgg.model_selection import PerClassSplit

    data = load_image_folder(SHARED)
    train, val = next(PerClassSplit(16, 4).split(data.filenames, data.target))
    vgg = VGG16FeatureTransformer(
        weights="hed-bsds500", layer="block5_pool", pooling="avg", input_size=input_size,
        batch_size=64, verbose=1, memory=memory,
    )  # fmt: skip
    F = vgg.fit_transform(data.filenames)
    return F[train], data.target[train], F[val], data.target[val]


def real_block4_features(input_size, memory, n_classes=32, n_train=12, n_val=4):
    """Flattened hed-bsds500 ``block4_pool`` maps (14 x 14 x 512 = 100,352 at 224 px)."""
    from sklvgg import VGG16FeatureTransformer
    from sklvgg.datasets import load_image_folder
    from sklvgg.model_selection import PerClassSplit

    data = load_image_folder(SHARED)
    keep = np.isin(data.target, np.unique(data.target)[:n_classes])
    filenames, target = np.asarray(data.filenames)[keep], data.target[keep]
    train, val = next(PerClassSplit(n_train, n_val).split(filenames, target))
    vgg = VGG16FeatureTransformer(
        weights="hed-bsds500", layer="block4_pool", input_size=input_size,
        batch_size=32, verbose=1, memory=memory,
    )  # fmt: skip
    F = vgg.fit_transform(filenames[np.concatenate([train, val])])
    return F[: len(train)], target[train], F[len(train) :], target[val]


def fit_score(model, Xtr, ytr, Xva, yva, repeat=3, repeat_below=10.0):
    """Validation accuracy and fit time: the best of ``repeat`` fits when one takes
    under ``repeat_below`` seconds (the same rule for every model; fits are
    deterministic, so only the time varies)."""
    times = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        while len(times) < (repeat if not times or times[0] < repeat_below else 1):
            model = clone(model)
            start = time.perf_counter()
            model.fit(Xtr, ytr)
            times.append(time.perf_counter() - start)
    return model.score(Xva, yva), min(times), model


def head_at_revision(revision):
    """``SoftmaxHeadClassifier`` of the ``sklvgg`` package at a git revision."""
    archive = subprocess.run(
        ["git", "-C", str(HERE.parent), "archive", revision, "sklvgg"], capture_output=True, check=True
    ).stdout
    folder = Path(tempfile.mkdtemp(prefix="sklvgg-at-"))
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    name = "sklvgg_at_" + "".join(c if c.isalnum() else "_" for c in revision)
    (folder / "sklvgg").rename(folder / name)
    sys.path.insert(0, str(folder))
    return importlib.import_module(name).SoftmaxHeadClassifier


def run(name, Xtr, ytr, Xva, yva, lines, skip_sgd=False, against=None):
    from sklvgg import SoftmaxHeadClassifier

    print(f"\n{name}: train {Xtr.shape}, validation {Xva.shape}", flush=True)
    *score, head = fit_score(SoftmaxHeadClassifier(random_state=0), Xtr, ytr, Xva, yva)
    results = {"SoftmaxHeadClassifier (defaults, no scaler)": tuple(score)}
    reference_label = None
    if against is not None:
        revision, reference = against
        # in turns with today's head, best of three rounds, so that drift hits both alike
        ref_times, ref_acc = [], None
        for round_ in range(3):
            ref_acc, t, _ = fit_score(reference(random_state=0), Xtr, ytr, Xva, yva)
            ref_times.append(t)
            if round_ < 2:
                score[1] = min(
                    score[1], fit_score(SoftmaxHeadClassifier(random_state=0), Xtr, ytr, Xva, yva)[1]
                )
        results["SoftmaxHeadClassifier (defaults, no scaler)"] = tuple(score)
        reference_label = f"SoftmaxHeadClassifier at {revision} (defaults)"
        results[reference_label] = (ref_acc, min(ref_times))
        print(f"  head at {revision}: {ref_acc:.4f} in {min(ref_times):.2f}s", flush=True)
    epochs = head.n_iter_
    alpha = head.alpha
    print(f"  SoftmaxHeadClassifier: {score[0]:.4f} in {score[1]:.2f}s, {epochs} epochs", flush=True)
    others = {
        "StandardScaler + LogisticRegression(lbfgs, C=1/alpha)": make_pipeline(
            StandardScaler(), LogisticRegression(C=1 / alpha, max_iter=1000)
        ),
        f"StandardScaler + MLPClassifier((), max_iter={epochs}, equal epochs)": make_pipeline(
            StandardScaler(),
            MLPClassifier(
                hidden_layer_sizes=(), max_iter=epochs, n_iter_no_change=epochs + 1, random_state=0
            ),
        ),
        "StandardScaler + SGDClassifier(log_loss, n_jobs=-1)": make_pipeline(
            StandardScaler(), SGDClassifier(loss="log_loss", random_state=0, n_jobs=-1)
        ),
    }
    if skip_sgd:
        others = {label: model for label, model in others.items() if "SGD" not in label}
    for label, model in others.items():
        *score, model = fit_score(model, Xtr, ytr, Xva, yva)
        results[label] = tuple(score)
        if "Logistic" in label:
            lbfgs_iterations = int(model[-1].n_iter_.max())
        print(f"  {label}: {results[label][0]:.4f} in {results[label][1]:.2f}s", flush=True)
    head_acc, head_time = results["SoftmaxHeadClassifier (defaults, no scaler)"]
    best_other = max(acc for label, (acc, _) in results.items() if "Softmax" not in label)
    t_lr = next(t for label, (_, t) in results.items() if "Logistic" in label)
    t_mlp = next(t for label, (_, t) in results.items() if "MLP" in label)
    lines += [
        f"### {name}",
        "",
        f"Train {Xtr.shape[0]} x {Xtr.shape[1]}, validation {Xva.shape[0]}, "
        f"{len(np.unique(ytr))} classes; the head ran {epochs} epochs, "
        f"LogisticRegression {lbfgs_iterations} lbfgs iterations. Fit times: the best of 3 fits "
        "for fits under 10 s, else one.",
        "",
        "| model | validation accuracy | fit time (s) |",
        "|---|---:|---:|",
    ]
    lines += [f"| {label} | {acc:.4f} | {t:.2f} |" for label, (acc, t) in results.items()]
    lines += [
        "",
        f"Head minus best other: {100 * (head_acc - best_other):+.2f} points (target >= -1); "
        f"fit time / LogisticRegression: {head_time / t_lr:.2f} (target <= 0.5); "
        f"/ MLPClassifier at equal epochs: {head_time / t_mlp:.2f} (target <= 1).",
        "",
    ]
    if reference_label is not None:
        acc, t = results[reference_label]
        lines += [
            f"Head against the head at {against[0]}: "
            f"accuracy {100 * (head_acc - acc):+.2f} points (target >= 0), fit time ratio "
            f"{head_time / t:.2f} (target <= 1.10; each the best of three rounds in turns).",
            "",
        ]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--input-size", type=int, default=224)
    parser.add_argument("--skip-large", action="store_true")
    parser.add_argument("--skip-sgd", action="store_true", help="leave out SGDClassifier (the slowest)")
    parser.add_argument(
        "--memory", default=str(HERE / ".cache"),
        help="per-image feature cache, so reruns skip VGG16 (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument("--against", metavar="REV", help="also fit the head of this git revision")
    parser.add_argument("--out", default=str(HERE / "results" / "head.md"))
    args = parser.parse_args(argv)
    against = (args.against, head_at_revision(args.against)) if args.against else None
    lines = [
        "# Softmax head against scikit-learn's linear classifiers",
        "",
        f"Command: `python benchmarks/bench_head.py --input-size {args.input_size}"
        f"{' --skip-large' if args.skip_large else ''}{' --skip-sgd' if args.skip_sgd else ''}"
        f"{f' --against {args.against}' if args.against else ''}` "
        f"on {os.cpu_count()} CPUs.",
        "",
    ]
    if SHARED.is_dir():
        run(f"Real: hed-bsds500 block5_pool avg, Caltech-101 photos at {args.input_size} px",
            *real_features(args.input_size, args.memory), lines, args.skip_sgd, against)  # fmt: skip
    else:
        lines += ["Real features skipped: ../shared/data/caltech101-20 not present.", ""]
    if not args.skip_large:
        run(
            "fc2-like: 5,120 x 4,096, 256 classes (generated)",
            *vgg_like(256, 20, 4096, 16),
            lines,
            args.skip_sgd,
            against,
        )
        if SHARED.is_dir() and args.input_size == 224:
            features = real_block4_features(args.input_size, args.memory)
            run("Real block4_pool: hed-bsds500, flattened, 32 Caltech-101 classes at 224 px",
                *features, lines, args.skip_sgd, against)  # fmt: skip
        else:
            run("block4_pool-like: 512 x 100,352, 32 classes (generated)",
                *vgg_like(32, 16, 100352, 12), lines, args.skip_sgd, against)  # fmt: skip
    write_report(lines, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Calibration of the softmax heads on the shared photos, before and after temperature scaling.

The photos of ``../shared/data/caltech101-20`` (100 classes x 20) through the
ImageNet conv weights (``block5_pool``, average-pooled, 224 px, features cached
in ``--memory``), in 5 folds: in each class, fold ``k`` scores images
``4k+1 .. 4k+4`` and trains on the other 16, so all 2,000 photos are scored once
by a head that never saw them. Heads: ``SoftmaxHeadClassifier()`` (the default)
and ``study_head()``, each as it is and under scikit-learn's
``CalibratedClassifierCV(method="temperature")`` (the temperature fitted by
internal 4-fold cross-validation on the 16 training images per class). Reported:
accuracy, log loss and the expected calibration error (top-label, 15 equal-width
bins of confidence), and the fitted temperatures. Usage::

    python benchmarks/bench_calibration.py [--memory DIR] [--out FILE]

Writes ``benchmarks/results/calibration.md``.
"""

import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.metrics import log_loss

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import IMAGENET_CONV, SHARED, machine_description, real_photo_options, write_report  # noqa: E402

from sklvgg import SoftmaxHeadClassifier, VGG16FeatureTransformer, study_head  # noqa: E402
from sklvgg.datasets import load_image_folder  # noqa: E402

HEADS = {
    "default head": lambda: SoftmaxHeadClassifier(random_state=0),
    "study head": lambda: study_head(random_state=0),
}


def expected_calibration_error(y_true, proba, classes, n_bins=15):
    """Top-label ECE: sum over equal-width confidence bins of |accuracy - confidence| x share of samples."""
    confidence = proba.max(axis=1)
    correct = classes[proba.argmax(axis=1)] == y_true
    bins = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        inside = bins == b
        if inside.any():
            ece += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(ece)


def folds(y, n_folds=5, per_fold=4):
    """``(train, test)`` indices: in each class, the ``k``-th run of ``per_fold`` images tests."""
    position = np.zeros(len(y), dtype=int)
    for label in np.unique(y):
        members = np.flatnonzero(y == label)
        position[members] = np.arange(len(members))
    for k in range(n_folds):
        test = (position >= k * per_fold) & (position < (k + 1) * per_fold)
        yield np.flatnonzero(~test), np.flatnonzero(test)


def main():
    args = real_photo_options(__doc__, "calibration.md")
    if args is None:
        return 0
    data = load_image_folder(SHARED, min_images=20)
    y = data.target
    start = time.perf_counter()
    vgg = VGG16FeatureTransformer(
        weights=str(IMAGENET_CONV), layer="block5_pool", pooling="avg", input_size=224, memory=args.memory,
        n_jobs=2, verbose=1,
    )  # fmt: skip
    X = vgg.fit_transform(data.filenames)
    featurize = time.perf_counter() - start
    proba = {name: np.zeros((len(y), len(np.unique(y)))) for name in HEADS}
    proba.update({f"{name} + temperature": np.zeros_like(proba[name]) for name in HEADS})
    temperatures = {name: [] for name in HEADS}
    classes = np.unique(y)
    for train, test in folds(y):
        for name, head in HEADS.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the study head's fixed 16 epochs; convergence notes
                fitted = head().fit(X[train], y[train])
                proba[name][test] = fitted.predict_proba(X[test])
                calibrated = CalibratedClassifierCV(head(), method="temperature", cv=4).fit(
                    X[train], y[train]
                )
            proba[f"{name} + temperature"][test] = calibrated.predict_proba(X[test])
            temperatures[name] += [
                1 / float(c.calibrators[0].beta_) for c in calibrated.calibrated_classifiers_
            ]
    rows = []
    for name, p in proba.items():
        accuracy = float(np.mean(classes[p.argmax(axis=1)] == y))
        ece = expected_calibration_error(y, p, classes)
        loss = log_loss(y, np.clip(p, 1e-15, 1), labels=classes)
        confidence = float(p.max(axis=1).mean())
        rows.append(f"| {name} | {accuracy:.3f} | {confidence:.3f} | {ece:.3f} | {loss:.3f} |")
    lines = [
        "# Calibration of the softmax heads (temperature scaling)",
        "",
        f"{len(y)} photos, {len(classes)} classes of `../shared/data/caltech101-20`; ImageNet conv weights, "
        "`block5_pool` average-pooled at 224 px; 5 folds, each scoring 4 images per class with a head "
        "trained on the other 16 (every photo scored once). Temperature scaling: "
        '`CalibratedClassifierCV(head, method="temperature", cv=4)` on the 16 training images per class. '
        "ECE: top-label, 15 equal-width confidence bins.",
        "",
        "| head | accuracy | mean confidence | ECE | log loss |",
        "|---|---|---|---|---|",
        *rows,
        "",
        "Fitted temperatures (T = 1 / beta_, each of the 4 internal folds x 5 outer folds): "
        + "; ".join(
            f"{name}: median {np.median(t):.2f} (range {min(t):.2f}-{max(t):.2f})"
            for name, t in temperatures.items()
        ),
        "",
        f"Features: {featurize:.0f} s (cache `{args.memory}`: {vgg.cache_hits_} hits, "
        f"{vgg.cache_misses_} misses); total {time.perf_counter() - start:.0f} s.",
        "",
        f"Machine: {machine_description()}.",
        "",
        "Command: `python benchmarks/bench_calibration.py --memory /work/bench-cache`",
    ]
    write_report(lines, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

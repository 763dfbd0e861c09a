"""Flattened or average-pooled conv maps, for both heads, at full size on the shared photos.

The study cut VGG16 at ``block4_pool`` and ``block5_pool`` and flattened the maps
(100,352 and 25,088 features at 224 px); sklvgg's examples average-pool them (512
features). Which is better depends on the head, so this script measures every
combination on the 2,000 shared Caltech-101 photos (``../shared/data/caltech101-20``:
images 1-16 of each class train, 17-20 validate) with the study's own network (the
ImageNet-trained conv layers, ``../shared/data/vgg16-imagenet-conv``), 224 px:

- cuts ``block4_pool`` and ``block5_pool``, flattened (``pooling=None``) and
  average-pooled (the flattened maps averaged over their positions, which is what
  ``pooling="avg"`` computes, up to float rounding: one network pass serves both);
- the default head (``SoftmaxHeadClassifier()``) and the study head (``study_head()``:
  raw features, Adam at 1e-3, batch 32, 16 epochs);
- on all 100 classes and on the first 32 (the class count of the report's layer-cut
  experiment);
- ``--preprocessing`` (default ``caffe``, what the weights expect; ``none`` is the
  study protocol's RGB 0-255).

The features are cached in ``--memory`` (default ``benchmarks/.cache``; about 1 GB), so a
rerun only trains heads. No floors: this measures a claim, whatever it shows. Usage::

    python benchmarks/bench_pooling.py [--preprocessing caffe] [--memory DIR]

Writes ``benchmarks/results/pooling.md`` and ``pooling.json``.
"""

import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from _common import IMAGENET_CONV, SHARED, machine_description, real_photo_options, write_report

from sklvgg import SoftmaxHeadClassifier, VGG16FeatureTransformer, collect_transforms, study_head
from sklvgg.datasets import load_image_folder
from sklvgg.experiments import first_classes
from sklvgg.model_selection import PerClassSplit

LAYERS = ("block4_pool", "block5_pool")
HEADS = {
    "default head": lambda: SoftmaxHeadClassifier(random_state=0),
    "study head": lambda: study_head(random_state=0),
}


def flattened_maps(filenames, preprocessing, memory):
    """``{layer: (n, positions, channels)}``: the flattened maps of every photo (one pass, cached)."""
    vgg = VGG16FeatureTransformer(
        weights=str(IMAGENET_CONV), layer=list(LAYERS), pooling=None, input_size=224,
        preprocessing=preprocessing, memory=memory, n_jobs=2, verbose=1,
    )  # fmt: skip
    X = vgg.fit_transform(filenames)
    # Keras flattens (height, width, channels) row-major: channels vary fastest
    return {layer: X[:, columns].reshape(len(X), -1, 512) for layer, columns in vgg.feature_slices_.items()}


def score(head, X, y, train, test):
    """Validation and training accuracy of a fresh head on the split."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the study head stops at 16 epochs by design
        model = head().fit(X[train], y[train])
    return float(model.score(X[test], y[test])), float(model.score(X[train], y[train]))


def main():
    args = real_photo_options(
        __doc__, "pooling.md", **{"--preprocessing": dict(default="caffe", choices=["caffe", "none"])}
    )
    if args is None:
        return 0
    data = load_image_folder(SHARED, min_images=20)
    start = time.perf_counter()
    with collect_transforms() as tally:
        maps = flattened_maps(data.filenames, args.preprocessing, args.memory)
    network_seconds = time.perf_counter() - start
    rows = []
    for n_classes in (len(data.target_names), 32):
        subset = first_classes(data, n_classes)
        keep = np.isin(data.filenames, subset.filenames)
        y = subset.target
        train, test = next(PerClassSplit(16, 4).split(subset.filenames, y))
        for layer in LAYERS:
            kept = maps[layer][keep]
            by_pooling = {"flatten": kept.reshape(len(kept), -1), "avg": kept.mean(axis=1)}
            for pooling, X in by_pooling.items():
                for head_name, head in HEADS.items():
                    tic = time.perf_counter()
                    val, fit = score(head, X, y, train, test)
                    rows.append(dict(n_classes=n_classes, layer=layer, pooling=pooling, n_features=X.shape[1],
                                     head=head_name, validation_accuracy=val, training_accuracy=fit,
                                     seconds=round(time.perf_counter() - tic, 1)))  # fmt: skip
                    print(f"{n_classes:4d} {layer} {pooling:8s} {head_name:12s} validation {val:.3f}, "
                          f"training {fit:.3f}")  # fmt: skip
    lines = [
        "# Flattened or average-pooled maps, both heads",
        "",
        f"`python benchmarks/bench_pooling.py --preprocessing {args.preprocessing}` on "
        f"{machine_description()}.",
        "ImageNet conv weights (`../shared/data/vgg16-imagenet-conv`), 224 px, float32, "
        f"preprocessing `{args.preprocessing}`; the first 16 images of each class train, images 17-20 "
        f"validate. Average pooling = the flattened maps averaged over positions. {tally.summary()}; "
        f"network {network_seconds:.0f} s, {time.perf_counter() - start:.0f} s in all.",
        "",
        "| classes | layer | pooling | features | head | validation | training | fit s |",
        "|---:|---|---|---:|---|---:|---:|---:|",
    ]
    lines += [
        f"| {r['n_classes']} | {r['layer']} | {r['pooling']} | {r['n_features']:,} | {r['head']} | "
        f"{r['validation_accuracy']:.3f} | {r['training_accuracy']:.3f} | {r['seconds']:g} |"
        for r in rows
    ]
    write_report(lines, args.out)
    Path(args.out).with_suffix(".json").write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

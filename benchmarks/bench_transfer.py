"""Transfer accuracy of frozen VGG16 features on the shared photos, by weights, cut and head.

The setting of the study's Caltech-256 experiment on the 2,000 shared Caltech-101
photos (``../shared/data/caltech101-20``: 100 classes, the first 16 images of each
class train, images 17-20 validate), 224 px, average pooling, every cut of
``--layers`` (and all of them together) with:

- ``imagenet-conv``: the ImageNet-trained conv layers, the study's network
  (``../shared/data/vgg16-imagenet-conv``);
- ``hed-bsds500``: the same architecture fine-tuned for edge detection (the
  offline default);

each with the default head (``SoftmaxHeadClassifier()``) and the study head
(``study_head()``: raw features, Adam, 16 epochs), and, for the ImageNet network at
``block5_pool``, the three input preprocessings (``caffe``, ``none``, ``samplewise``)
with both heads: the report's finding that no normalisation beats samplewise
normalisation, tested on its own network.

Floors (the script exits 1 when one fails): the ImageNet conv features beat
``hed-bsds500`` at every cut with the default head; ``block5_pool`` average-pooled
with the default head reaches 80% (a held-out measurement of the same pipeline gave
83.5%).

Each image goes through the network once per weights, preprocessing and layer
list: the features are cached in ``--memory`` (default ``benchmarks/.cache``), so a
rerun only trains heads. Usage::

    python benchmarks/bench_transfer.py [--layers block4_pool block5_pool] [--memory DIR]

Writes ``benchmarks/results/transfer.md`` and ``transfer.json``.
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
from sklvgg.model_selection import PerClassSplit

HEADS = {
    "default head": lambda: SoftmaxHeadClassifier(random_state=0),
    "study head": lambda: study_head(random_state=0),
}


def features(weights, layers, preprocessing, filenames, memory):
    """Average-pooled features of every photo at each of ``layers`` (one pass, cached)."""
    vgg = VGG16FeatureTransformer(
        weights=weights, layer=list(layers), pooling="avg", input_size=224, preprocessing=preprocessing,
        memory=memory, n_jobs=2, verbose=1,
    )  # fmt: skip
    X = vgg.fit_transform(filenames)
    return {layer: X[:, columns] for layer, columns in vgg.feature_slices_.items()}


def score(head, X, y, train, test):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the study head's fixed 16 epochs warn of nothing; others may
        return float(head().fit(X[train], y[train]).score(X[test], y[test]))


def main():
    args = real_photo_options(
        __doc__, "transfer.md", **{"--layers": dict(nargs="+", default=["block4_pool", "block5_pool"])}
    )
    if args is None:
        return 0
    data = load_image_folder(SHARED, min_images=20)
    y = data.target
    train, test = next(PerClassSplit(16, 4).split(data.filenames, y))
    combos = [(layer,) for layer in args.layers] + ([tuple(args.layers)] if len(args.layers) > 1 else [])
    rows, start = [], time.perf_counter()
    runs = [("imagenet-conv", str(IMAGENET_CONV), "caffe"), ("hed-bsds500", "hed-bsds500", "caffe")]
    runs += [("imagenet-conv", str(IMAGENET_CONV), p) for p in ("none", "samplewise")]
    with collect_transforms() as tally:
        for name, weights, preprocessing in runs:
            by_layer = features(weights, args.layers, preprocessing, data.filenames, args.memory)
            wanted = combos if preprocessing == "caffe" else [("block5_pool",)]
            for combo in wanted:
                X = np.hstack([by_layer[layer] for layer in combo])
                for head_name, head in HEADS.items():
                    acc = score(head, X, y, train, test)
                    rows.append(dict(weights=name, preprocessing=preprocessing, layers=" + ".join(combo),
                                     head=head_name, accuracy=acc))  # fmt: skip
                    print(f"{name:14s} {preprocessing:10s} {' + '.join(combo):25s} {head_name:12s} {acc:.4f}")
    seconds = time.perf_counter() - start

    def acc(weights, layers, head="default head", preprocessing="caffe"):
        wanted = (weights, layers, head, preprocessing)
        return next(
            r["accuracy"]
            for r in rows
            if (r["weights"], r["layers"], r["head"], r["preprocessing"]) == wanted
        )

    floors = []
    for combo in combos:
        layers = " + ".join(combo)
        ours, theirs = acc("imagenet-conv", layers), acc("hed-bsds500", layers)
        floors.append((f"imagenet-conv beats hed-bsds500 at {layers} (default head)", ours > theirs,
                       f"{ours:.3f} vs {theirs:.3f}"))  # fmt: skip
    b5 = acc("imagenet-conv", "block5_pool")
    floors.append(("imagenet-conv block5_pool avg, default head >= 0.80", b5 >= 0.80, f"{b5:.3f}"))

    lines = [
        "# Transfer accuracy on the shared photos",
        "",
        f"`python benchmarks/bench_transfer.py --layers {' '.join(args.layers)}` on {machine_description()}.",
        f"{len(np.unique(y))} classes of `../shared/data/caltech101-20`, images 1-16 of each class train, "
        f"17-20 validate ({len(train)} + {len(test)}); 224 px, average pooling, float32. "
        f"{tally.summary()}; {seconds:.0f} s in all.",
        "",
        "| weights | preprocessing | layers | default head | study head |",
        "|---|---|---|---:|---:|",
    ]
    for name, _, preprocessing in runs:
        for combo in combos if preprocessing == "caffe" else [("block5_pool",)]:
            layers = " + ".join(combo)
            default, study = (acc(name, layers, head, preprocessing) for head in HEADS)
            lines.append(f"| {name} | {preprocessing} | {layers} | {default:.3f} | {study:.3f} |")
    lines += ["", "| floor | met | measured |", "|---|---|---|"]
    lines += [f"| {what} | {'yes' if ok else 'NO'} | {value} |" for what, ok, value in floors]
    write_report(lines, args.out)
    Path(args.out).with_suffix(".json").write_text(json.dumps(rows, indent=1))
    return 0 if all(ok for _, ok, _ in floors) else 1


if __name__ == "__main__":
    sys.exit(main())

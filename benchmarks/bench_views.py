"""The strongest frozen-VGG16 features on the shared photos, every image scored once.

A ``GridSearchCV`` over the VGG authors' transfer recipe, step by step, with the
ImageNet conv weights (``../shared/data/vgg16-imagenet-conv``), sklvgg's default
head and five folds of the 100 classes of ``../shared/data/caltech101-20``
(``StratifiedKFold(5)`` in file order: within each class, images 1-4, 5-8, ...,
17-20 are scored in turn by a head trained on the other 16, so each of the 2,000
photos is scored once; the fifth fold is the study's split):

- ``vgg__flip``: the image alone, or its mirror image averaged in (not with
  ``--no-flip``);
- ``vgg__scales``: the base size, or the base and ``--extra-scale`` averaged
  (each scale's maps pooled; only with ``--extra-scale``);
- ``vgg__layer``: ``block5_pool``, or with ``--with-block4`` also ``block4_pool``
  and ``block5_pool`` together;
- ``power``: none, or the signed square root (:class:`sklvgg.descriptors.SignedPower`);
- ``norm``: none, or L2 (``sklearn.preprocessing.Normalizer``).

Every view is cached apart (``--memory``): one transform with all the views fills
the cache (or reads it back), the candidates read it back. Each candidate's
accuracy is its mean over the five folds (400 photos each, one photo = 0.25
points) with its spread (standard deviation over the folds). A candidate is
recommended over the simple recipe (``block5_pool``, signed square root + L2, one
size, one pass) only where its mean beats the simple recipe's by more than the
larger of the two spreads.

Usage::

    python benchmarks/bench_views.py [--extra-scale 288] [--with-block4] [--no-flip] [--precision auto]
        [--memory DIR]

Writes ``benchmarks/results/views.md`` and ``views.json``.
"""

import json
import sys
import time
import warnings

import numpy as np
from _common import IMAGENET_CONV, SHARED, machine_description, real_photo_options, write_report
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import Normalizer

from sklvgg import SoftmaxHeadClassifier, VGG16FeatureTransformer, collect_transforms
from sklvgg.datasets import load_image_folder
from sklvgg.descriptors import SignedPower

N_FOLDS = 5


def main():
    args = real_photo_options(
        __doc__,
        "views.md",
        **{
            "--base": dict(type=int, default=224),
            "--extra-scale": dict(type=int, default=None),
            "--with-block4": dict(action="store_true"),
            "--no-flip": dict(action="store_true", help="the plain view only (half the network cost)"),
            "--precision": dict(default="auto", choices=["auto", "float32", "bfloat16"]),
        },
    )
    if args is None:
        return 0
    base = args.base
    data = load_image_folder(SHARED, min_images=20)
    X, y = np.asarray(data.filenames), data.target
    layers = ["block4_pool", "block5_pool"] if args.with_block4 else ["block5_pool"]
    scales = [base] if args.extra_scale is None else [base, args.extra_scale]
    start = time.perf_counter()
    vgg = VGG16FeatureTransformer(
        weights=str(IMAGENET_CONV), layer=layers, pooling="avg", input_size=base, flip=not args.no_flip,
        scales=scales, memory=args.memory, n_jobs=2, precision=args.precision,
    )  # fmt: skip
    with collect_transforms() as tally:
        vgg.fit_transform(X)  # every view of every image, once (or read back)
        precision = vgg.precision_
        pipe = Pipeline(
            [("vgg", vgg), ("power", "passthrough"), ("norm", "passthrough"),
             ("head", SoftmaxHeadClassifier(random_state=0))]
        )  # fmt: skip
        grid = {
            "vgg__layer": [["block5_pool"]] + ([layers] if args.with_block4 else []),
            "vgg__flip": [False] if args.no_flip else [False, True],
            "vgg__scales": [[base]] + ([scales] if len(scales) > 1 else []),
            "power": ["passthrough", SignedPower(0.5)],
            "norm": ["passthrough", Normalizer()],
        }
        cv = StratifiedKFold(N_FOLDS)  # file order: fold k scores images 4k+1..4k+4 of each class
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            search = GridSearchCV(pipe, grid, cv=cv, refit=False).fit(X, y)
    seconds = time.perf_counter() - start
    res = search.cv_results_
    rows = []
    for i, params in enumerate(res["params"]):
        scales_i, mirrors = params["vgg__scales"], 2 if params["vgg__flip"] else 1
        rows.append(
            {
                "layers": " + ".join(params["vgg__layer"]),
                "flip": bool(params["vgg__flip"]),
                "scales": " + ".join(map(str, scales_i)),
                "power": "signed sqrt" if params["power"] != "passthrough" else "none",
                "norm": "l2" if params["norm"] != "passthrough" else "none",
                "accuracy": float(res["mean_test_score"][i]),
                "spread": float(res["std_test_score"][i]),
                "folds": [float(res[f"split{k}_test_score"][i]) for k in range(N_FOLDS)],
                "passes_per_image": len(scales_i) * mirrors,
                "cost_224px_passes": round(mirrors * sum((s / 224) ** 2 for s in scales_i), 2),
            }
        )

    def find(**want):
        return next(r for r in rows if all(r[k] == v for k, v in want.items()))

    simple = find(layers="block5_pool", flip=False, scales=str(base), power="signed sqrt", norm="l2")
    plain = find(layers="block5_pool", flip=False, scales=str(base), power="none", norm="none")
    for r in rows:
        diffs = np.subtract(r["folds"], simple["folds"])
        r["vs_simple"] = float(diffs.mean())
        r["vs_simple_spread"] = float(diffs.std())
        r["beats_simple"] = bool(r["vs_simple"] > max(r["spread"], simple["spread"]))
    winners = [r for r in rows if r["beats_simple"]]
    n = len(X)
    lines = [
        "# The strongest offline features: views, power and L2 normalisation (every photo scored once)",
        "",
        "`python benchmarks/bench_views.py"
        + (f" --extra-scale {args.extra_scale}" if args.extra_scale else "")
        + (" --with-block4" if args.with_block4 else "")
        + (" --no-flip" if args.no_flip else "")
        + f" --precision {args.precision} --memory {args.memory}` on {machine_description()}; "
        f"network in {precision}. ImageNet conv weights, average pooling, `SoftmaxHeadClassifier()`, "
        f"100 classes of the shared photos, {N_FOLDS} folds (`StratifiedKFold({N_FOLDS})` in file order: "
        f"16 train / 4 scored per class and fold), so each of the {n} photos is scored once ({n} "
        f"predictions, {n // N_FOLDS} per fold: one photo is 0.25 points of a fold). {tally.summary()}; "
        f"{seconds:.0f} s in all.",
        "",
        "Accuracy is the mean over the folds, spread their standard deviation; the last column is the "
        "mean per-fold gain over the simple recipe (block5_pool, signed sqrt + L2, one size, one pass) "
        "with its own standard deviation.",
        "",
        "| layers | flip | scales | power | norm | accuracy | spread | folds | passes / image "
        "| cost (224-px passes) | vs simple |",
        "|---|---|---|---|---|---:|---:|---|---:|---:|---:|",
    ]
    for r in sorted(rows, key=lambda r: -r["accuracy"]):
        folds = " ".join(f"{s:.4f}" for s in r["folds"])
        lines.append(
            f"| {r['layers']} | {'yes' if r['flip'] else 'no'} | {r['scales']} | {r['power']} | {r['norm']} "
            f"| {r['accuracy']:.4f} | {r['spread']:.4f} | {folds} | {r['passes_per_image']} "
            f"| {r['cost_224px_passes']} | {r['vs_simple']:+.4f} ± {r['vs_simple_spread']:.4f} |"
        )
    lines += [
        "",
        f"Simple recipe: **{simple['accuracy']:.4f}** ± {simple['spread']:.4f} at one pass per image, "
        f"against {plain['accuracy']:.4f} ± {plain['spread']:.4f} for block5_pool average-pooled alone.",
    ]
    if winners:
        lines.append(
            "Beat it by more than the spread: "
            + "; ".join(
                f"{r['layers']}, flip {'yes' if r['flip'] else 'no'}, scales {r['scales']}, {r['power']}, "
                f"{r['norm']} ({r['accuracy']:.4f}, {r['vs_simple']:+.4f})"
                for r in winners
            )
            + "."
        )
    else:
        lines.append(
            "No candidate beats it by more than the spread: the recommendation is the simple recipe."
        )
    write_report(lines, args.out)
    with open(args.out.replace(".md", ".json"), "w") as f:
        json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

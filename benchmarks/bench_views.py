"""The strongest frozen-VGG16 features on the shared photos: views, pooling, normalisation.

A ``GridSearchCV`` over the VGG authors' transfer recipe, step by step, with the
ImageNet conv weights (``../shared/data/vgg16-imagenet-conv``), sklvgg's default
head and the study's split (100 classes of ``../shared/data/caltech101-20``, images
1-16 of each class train, 17-20 score):

- ``vgg__layer``: ``block5_pool``, or ``block4_pool`` and ``block5_pool`` together;
- ``vgg__flip``: the image alone, or its mirror image averaged in;
- ``vgg__scales``: 224 px, or 224 and 288 px averaged (each scale's maps pooled);
- ``power``: none, or the signed square root (:class:`sklvgg.preprocessing.SignedPower`);
- ``norm``: none, or L2 (``sklearn.preprocessing.Normalizer``).

Every view is cached apart (``--memory``, default ``benchmarks/.cache``): one
transform with all the views fills the cache, the 32 candidates read it back. Each
candidate's cost is given in network passes per image and in 224-px pass
equivalents (a pass at ``s`` px costs about ``(s / 224) ** 2`` of one at 224).

Floor (exit status 1 if missed): the best candidate reaches 88%, against
``block5_pool`` average-pooled alone (the first row). Usage::

    python benchmarks/bench_views.py [--scales 224 288] [--memory DIR]

Writes ``benchmarks/results/views.md`` and ``views.json``.
"""

import json
import sys
import time
import warnings

import numpy as np
from _common import IMAGENET_CONV, SHARED, machine_description, real_photo_options, write_report
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import Normalizer

from sklvgg import SoftmaxHeadClassifier, VGG16FeatureTransformer, collect_transforms
from sklvgg.datasets import load_image_folder
from sklvgg.model_selection import PerClassSplit
from sklvgg.preprocessing import SignedPower


def main():
    args = real_photo_options(
        __doc__,
        "views.md",
        **{"--scales": dict(nargs=2, type=int, default=[224, 288], metavar=("BASE", "EXTRA"))},
    )
    if args is None:
        return 0
    base, extra = args.scales
    data = load_image_folder(SHARED, min_images=20)
    X, y = np.asarray(data.filenames), data.target
    start = time.perf_counter()
    vgg = VGG16FeatureTransformer(
        weights=str(IMAGENET_CONV), layer=["block4_pool", "block5_pool"], pooling="avg", input_size=base,
        flip=True, scales=[base, extra], memory=args.memory, n_jobs=2,
    )  # fmt: skip
    with collect_transforms() as tally:
        vgg.fit_transform(X)  # every view of every image, once (or read back)
        pipe = Pipeline(
            [("vgg", vgg), ("power", "passthrough"), ("norm", "passthrough"),
             ("head", SoftmaxHeadClassifier(random_state=0))]
        )  # fmt: skip
        grid = {
            "vgg__layer": ["block5_pool", ["block4_pool", "block5_pool"]],
            "vgg__flip": [False, True],
            "vgg__scales": [[base], [base, extra]],
            "power": ["passthrough", SignedPower(0.5)],
            "norm": ["passthrough", Normalizer()],
        }
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            search = GridSearchCV(pipe, grid, cv=PerClassSplit(16, 4), refit=False).fit(X, y)
    seconds = time.perf_counter() - start
    rows = []
    for params, score in zip(search.cv_results_["params"], search.cv_results_["mean_test_score"]):
        layers = params["vgg__layer"]
        scales, mirrors = params["vgg__scales"], 2 if params["vgg__flip"] else 1
        rows.append(
            {
                "layers": layers if isinstance(layers, str) else " + ".join(layers),
                "flip": bool(params["vgg__flip"]),
                "scales": " + ".join(map(str, scales)),
                "power": "signed sqrt" if params["power"] != "passthrough" else "none",
                "norm": "l2" if params["norm"] != "passthrough" else "none",
                "accuracy": float(score),
                "passes_per_image": len(scales) * mirrors,
                "cost_224px_passes": round(mirrors * sum((s / 224) ** 2 for s in scales), 2),
            }
        )
    baseline = rows[0]  # block5_pool, no flip, one scale, no power, no norm
    best = max(rows, key=lambda r: r["accuracy"])
    lines = [
        "# The strongest offline features: views, power and L2 normalisation",
        "",
        f"`python benchmarks/bench_views.py --scales {base} {extra}` on {machine_description()}. "
        "ImageNet conv "
        f"weights, average pooling, `SoftmaxHeadClassifier()`, 100 classes of the shared photos, images 1-16 "
        f"train, 17-20 score. {tally.summary()}; {seconds:.0f} s in all.",
        "",
        "| layers | flip | scales | power | norm | accuracy | passes / image | cost (224-px passes) |",
        "|---|---|---|---|---|---:|---:|---:|",
    ]
    for r in sorted(rows, key=lambda r: -r["accuracy"]):
        lines.append(
            f"| {r['layers']} | {'yes' if r['flip'] else 'no'} | {r['scales']} | {r['power']} | {r['norm']} "
            f"| {r['accuracy']:.4f} | {r['passes_per_image']} | {r['cost_224px_passes']} |"
        )
    met = best["accuracy"] >= 0.88
    lines += [
        "",
        f"Best: {best['layers']}, flip {'yes' if best['flip'] else 'no'}, scales {best['scales']}, power "
        f"{best['power']}, norm {best['norm']}: **{best['accuracy']:.4f}** at "
        f"{best['passes_per_image']} passes "
        f"per image ({best['cost_224px_passes']} in 224-px passes), against {baseline['accuracy']:.4f} for "
        f"block5_pool average-pooled alone. Floor >= 0.88: {'met' if met else 'NOT MET'}.",
    ]
    write_report(lines, args.out)
    with open(args.out.replace(".md", ".json"), "w") as f:
        json.dump(rows, f, indent=1)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())

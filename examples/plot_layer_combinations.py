"""
=====================================================
Several layers in one pass, and power normalisation
=====================================================

The study cuts VGG16 at one layer at a time. ``layer`` also takes a list: one
forward pass computes every listed layer, pools each over space and concatenates
them in the order given. Here single layers and their combinations are compared
on the shared Caltech-101 photos (100 classes, the first 16 images of each class
train, images 17-20 score), each with and without a signed square root on the
pooled values (power normalisation, a ``FunctionTransformer``), with the
``hed-bsds500`` conv weights (offline) and sklvgg's default head.

The point of the list is cost: a ``FeatureUnion`` of ``k`` single-layer
transformers runs the network ``k`` times, a list runs it once. With a cache,
one pass with every layer of the grid fills it for all candidates: the grid
search below costs no VGG16 pass at all.

Measured at 224 x 224 on the shared photos (``python
examples/plot_layer_combinations.py --input-size 224``; 2 CPU cores, 7 min 16 s
with ``block4_pool`` and ``block5_pool`` already cached, one pass cut at
``block3_pool`` for the rest), accuracy on images 17-20 of each class:

=========================================  =========  ==================
layers (average-pooled)                    as pooled  signed square root
=========================================  =========  ==================
block3_pool                                0.352      0.362
block4_pool                                0.507      0.502
block5_pool                                0.403      0.410
block4_pool + block5_pool                  0.527      0.520
block3_pool + block4_pool + block5_pool    0.515      0.520
=========================================  =========  ==================

The pair beats the best single layer by 2 points; the square root, which helped
in the issue's measurement, changes little here (within a point either way).
Without the photos the example falls back to the embedded generated set; the
documentation build runs it at 32 x 32 pixels on the first 10 classes, where the
numbers mean little.
"""

# %%
from pathlib import Path

import numpy as np

from sklvgg.datasets import load_image_folder
from sklvgg.experiments import example_setup, first_classes

args, data = example_setup("Several layers in one pass, and power normalisation", input_size=224)
here = Path(globals().get("__file__", "plot_layer_combinations.py")).resolve()  # sphinx-gallery: no __file__
shared = here.parents[2] / "shared/data/caltech101-20/101_ObjectCategories"
if not args.data and shared.is_dir():
    data = load_image_folder(shared)
    if args.input_size < 128:  # the gallery's small settings: 10 classes are enough to show the steps
        data = first_classes(data, 10)
X, y = np.asarray(data.filenames), data.target
print(f"{len(X)} images, {len(np.unique(y))} classes")

# %%
# One pass fills the cache for every candidate
# --------------------------------------------
# Each layer of a list is cached apart, under the key a single-layer
# transformer uses, so the single layers and every sub-list read it back.
from sklvgg import VGG16FeatureTransformer

cache = f"{args.out}/cache"
layers = ["block3_pool", "block4_pool", "block5_pool"]
vgg = VGG16FeatureTransformer(
    weights=args.weights, layer=layers, pooling="avg", input_size=args.input_size, memory=cache
)
features = vgg.fit_transform(X)
print(f"{features.shape[1]} features: " + ", ".join(f"{k} {s}" for k, s in vgg.feature_slices_.items()))
print(f"images pushed through VGG16: {vgg.cache_misses_} (one pass over {len(X)} images, or none if cached)")

# %%
# Single layers vs. combinations, with and without a signed square root
# ---------------------------------------------------------------------
# A ``GridSearchCV`` over ``vgg__layer`` (lists are candidates like any value)
# and over the power step (``"passthrough"`` or the signed square root);
# ``PerClassSplit(16, 4)`` is the one train/score split.
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from sklvgg import SoftmaxHeadClassifier
from sklvgg.model_selection import PerClassSplit


def signed_sqrt(features):
    """Power normalisation: sign(x) * sqrt(|x|), element-wise."""
    return np.sign(features) * np.sqrt(np.abs(features))


pipe = Pipeline(
    [
        ("vgg", vgg),
        ("power", "passthrough"),
        ("head", SoftmaxHeadClassifier(random_state=0)),
    ]
)
candidates = [["block3_pool"], ["block4_pool"], ["block5_pool"], ["block4_pool", "block5_pool"], layers]
grid = {
    "vgg__layer": [c[0] if len(c) == 1 else c for c in candidates],
    "power": ["passthrough", FunctionTransformer(signed_sqrt)],
}
search = GridSearchCV(pipe, grid, cv=PerClassSplit(16, 4), refit=False).fit(X, y)

# %%
# Accuracy, and what each candidate costs in VGG16 passes on its own: a list is
# one pass (to its deepest layer), a ``FeatureUnion`` of the same layers is one
# pass per layer. This grid search itself read every feature from the cache.
import matplotlib.pyplot as plt

rows = []
for params, score in zip(search.cv_results_["params"], search.cv_results_["mean_test_score"]):
    chosen = params["vgg__layer"]
    chosen = [chosen] if isinstance(chosen, str) else list(chosen)
    rows.append(
        {
            "layers": " + ".join(chosen),
            "power": "signed sqrt" if params["power"] != "passthrough" else "none",
            "accuracy": round(float(score), 4),
            "passes_layer_list": 1,
            "passes_feature_union": len(chosen),
        }
    )
print(f"{'layers':40s} {'power':12s} accuracy  passes (list / FeatureUnion)")
for row in rows:
    print(
        f"{row['layers']:40s} {row['power']:12s} {row['accuracy']:.3f}     "
        f"{row['passes_layer_list']} / {row['passes_feature_union']}"
    )

names = [" + ".join(c).replace("_pool", "") for c in candidates]
plain = [r["accuracy"] for r in rows if r["power"] == "none"]
power = [r["accuracy"] for r in rows if r["power"] != "none"]
fig, ax = plt.subplots(figsize=(8, 4), layout="constrained")
where = np.arange(len(names))
ax.bar_label(ax.bar(where - 0.2, plain, 0.4, label="pooled"), fmt="%.2f")
ax.bar_label(ax.bar(where + 0.2, power, 0.4, label="pooled, signed sqrt"), fmt="%.2f")
ax.set_xticks(where, names, rotation=15)
ax.set(ylabel="accuracy on images 17-20 of each class", ylim=(0, 1.05), title="Layer combinations")
ax.legend(loc="upper left")

# %%
# Picking a block back out: ``feature_slices_`` gives each layer's columns, and
# a single-layer transformer on the same cache reads the same values back.
from sklearn.base import clone

block5 = features[:, vgg.feature_slices_["block5_pool"]]
alone = clone(vgg).set_params(layer="block5_pool").fit(X)
same = np.array_equal(alone.transform(X), block5)
print(f"block5_pool: {block5.shape[1]} columns; alone: {alone.cache_misses_} images computed, same: {same}")

# %%
# Saving the figure and numbers (plumbing)
from sklvgg.experiments import save_results

save_results({"figures": {"layer_combinations": fig}, "rows": rows}, args.out, "layer_combinations")

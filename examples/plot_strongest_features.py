"""
=================================================================
The strongest frozen-VGG16 features: views and normalisation
=================================================================

The study cuts VGG16 at one layer and shows the network one 224 x 224 view of
each image. The VGG authors' own transfer results (Simonyan and Zisserman 2014,
section 4: Caltech-101 and -256 with VGG-16 and -19 combined) come from more:
the image isotropically rescaled to several sizes with the network run densely
over it, the horizontally flipped image averaged in, the last conv maps pooled
globally, and L2-normalised descriptors; Razavian et al. and Chatfield et al.
(2014) add a signed square root ("power normalisation"). Each of these steps is
a parameter here, so one ``GridSearchCV`` measures what each buys:

- ``vgg__flip``: the mirror image's features averaged in (``flip=True``);
- ``vgg__scales``: several image sizes, each pooled, then averaged;
- ``power``: :class:`sklvgg.descriptors.SignedPower`, the signed square root;
- ``norm``: scikit-learn's ``Normalizer`` (L2).

Power and norm are pipeline steps, not transformer parameters: they change
nothing the network computes, so the cache serves every candidate and a search
over them costs no network pass. Every view (size, mirrored or not) is cached
apart: the first transform with all the views fills the cache, the search reads
it back. A candidate's cost is its number of views, in network passes per image.

Measured at full size on the shared photos with the ImageNet conv weights (100
classes, images 1-16 of each class train, 17-20 score):
``python benchmarks/bench_views.py``, whose table is on the benchmarks page
(``benchmarks/results/views.md``). The documentation build runs this example at
32 x 32 pixels on the first 10 classes, where the numbers mean little;
``--input-size 224`` runs it on all 100 classes at full size.
"""

# %%
from pathlib import Path

import numpy as np

from sklvgg.datasets import load_image_folder
from sklvgg.experiments import example_setup, first_classes

args, data = example_setup("The strongest frozen-VGG16 features", input_size=224)
here = Path(globals().get("__file__", "plot_strongest_features.py")).resolve()  # sphinx-gallery: no __file__
shared = here.parents[2] / "shared" / "data"
photos = shared / "caltech101-20" / "101_ObjectCategories"
imagenet_conv = shared / "vgg16-imagenet-conv" / "vgg16_imagenet_notop.weights.h5"
if not args.data and photos.is_dir():
    data = load_image_folder(photos)
    if args.input_size < 128:  # the gallery's small settings: 10 classes are enough to show the steps
        data = first_classes(data, 10)
weights = str(imagenet_conv) if imagenet_conv.is_file() else args.weights  # the study's network if at hand
X, y = np.asarray(data.filenames), data.target
base = args.input_size
extra = int(round(base * 9 / 7 / 16)) * 16  # 288 for 224: the next size up
print(
    f"{len(X)} images, {len(np.unique(y))} classes; weights {Path(str(weights)).name}; sizes {base}, {extra}"
)

# %%
# Every view of every image, once
# -------------------------------
from sklvgg import VGG16FeatureTransformer

vgg = VGG16FeatureTransformer(
    weights=weights, layer="block5_pool", pooling="avg", input_size=base, flip=True, scales=[base, extra],
    memory=f"{args.out}/cache",
)  # fmt: skip
vgg.fit_transform(X)
print(f"views per image: {len(vgg.views_)}; images pushed through VGG16: {vgg.cache_misses_}")

# %%
# The search: flip x scales x power x norm
# ----------------------------------------
import warnings

from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import Normalizer

from sklvgg import SoftmaxHeadClassifier
from sklvgg.descriptors import SignedPower
from sklvgg.model_selection import PerClassSplit

pipe = Pipeline(
    [
        ("vgg", vgg),
        ("power", "passthrough"),
        ("norm", "passthrough"),
        ("head", SoftmaxHeadClassifier(random_state=0)),
    ]
)
grid = {
    "vgg__flip": [False, True],
    "vgg__scales": [[base], [base, extra]],
    "power": ["passthrough", SignedPower(0.5)],
    "norm": ["passthrough", Normalizer()],
}
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # tiny settings: heads may stop before converging
    search = GridSearchCV(pipe, grid, cv=PerClassSplit(16, 4), refit=False).fit(X, y)

rows = []
for params, score in zip(search.cv_results_["params"], search.cv_results_["mean_test_score"]):
    views = len(params["vgg__scales"]) * (2 if params["vgg__flip"] else 1)
    recipe = ", ".join(
        [
            f"flip {'yes' if params['vgg__flip'] else 'no'}",
            "scales " + "+".join(map(str, params["vgg__scales"])),
        ]
        + ["signed sqrt"] * (params["power"] != "passthrough")
        + ["L2"] * (params["norm"] != "passthrough")
    )
    rows.append({"recipe": recipe, "accuracy": round(float(score), 4), "passes_per_image": views})
rows.sort(key=lambda r: -r["accuracy"])
for row in rows:
    print(f"{row['recipe']:45s} {row['accuracy']:.3f}  ({row['passes_per_image']} passes per image)")

# %%
# Accuracy against cost
# ---------------------
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
for row in rows:
    ax.scatter(row["passes_per_image"], row["accuracy"], color="C1" if "L2" in row["recipe"] else "C0")
best = rows[0]
ax.annotate(best["recipe"], (best["passes_per_image"], best["accuracy"]), fontsize=8, ha="right", va="bottom")
ax.set(
    xlabel="network passes per image (views)", ylabel="accuracy on images 17-20 of each class",
    xticks=[1, 2, 4], title="block5_pool average-pooled, by view and normalisation (orange: L2)",
)  # fmt: skip

# %%
# Saving the figure and numbers (plumbing)
from sklvgg.experiments import save_results

save_results({"figures": {"strongest_features": fig}, "rows": rows}, args.out, "strongest_features")

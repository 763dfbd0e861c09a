"""
====================================================
Where to cut VGG16: flattened vs. pooled conv layers
====================================================

The study cut VGG16 at ``block4_pool`` and ``block5_pool``, flattened the maps
(100,352 and 25,088 values at 224 x 224), trained its softmax layer on 32 classes
and saw no learning; on Urban Tribes, flattened ``block3_pool`` gave 9%.
Average-pooling the same maps over space gives 512 values. A ``GridSearchCV``
over the cut and the pooling puts both in the same head; the per-epoch curves
of one cut show how it trains.

Offline it runs at 112 x 112 on the embedded default with ``hed-bsds500`` (no
fully connected layers). ``--data DIR --weights imagenet --input-size 224``
gives the study's setting.
"""

# %%
from sklvgg.experiments import example_setup

args, data = example_setup("Where to cut VGG16: flattened vs. pooled conv layers", input_size=112)
X, y = data.filenames, data.target

# %%
# One grid over the cut and the pooling
# -------------------------------------
# ``pooling=None`` flattens; the study's split, the first 16 images of each class
# against the next 4, is the one "fold". The cache keeps each cut's features.
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from sklvgg import VGG16FeatureTransformer, study_head
from sklvgg.model_selection import PerClassSplit

vgg = VGG16FeatureTransformer(
    weights=args.weights, input_size=args.input_size, memory=f"{args.out}/cache", random_state=0
)
pipe = Pipeline([("vgg", vgg), ("head", study_head(random_state=0))])
grid = {"vgg__layer": ["block3_pool", "block4_pool", "block5_pool"], "vgg__pooling": [None, "avg"]}
search = GridSearchCV(pipe, grid, cv=PerClassSplit(16, 4)).fit(X, y)
import matplotlib.pyplot as plt

labels = [f"{p['vgg__layer']}\n{p['vgg__pooling'] or 'flatten'}" for p in search.cv_results_["params"]]
fig, ax = plt.subplots(figsize=(8, 4), layout="constrained")
bars = ax.bar(labels, search.cv_results_["mean_test_score"], color=["C0", "C1"] * 3)
ax.bar_label(bars, fmt="%.2f")
ax.set(
    ylabel="validation accuracy (16 per class)", ylim=(0, 1.05), title="Flattened (blue) vs. average-pooled"
)

# %%
# The flattened cut, epoch by epoch
# ---------------------------------
# The report's runs: loss and accuracy per epoch of the head on a flattened cut.
import sklearn

from sklvgg.plotting import TrainingCurvesDisplay

sklearn.set_config(enable_metadata_routing=True)
flat = sklearn.clone(vgg).set_params(layer="block4_pool", pooling=None)
head = study_head(random_state=0).set_fit_request(X_val=True, y_val=True)
cut = Pipeline([("vgg", flat), ("head", head)], transform_input=["X_val"])
train, test = next(PerClassSplit(16, 4).split(X, y))
cut.fit(X[train], y[train], X_val=X[test], y_val=y[test])
title = f"block4_pool flattened ({cut[0].n_features_out_:,} features)"
curves = TrainingCurvesDisplay.from_estimator(cut, title=title).figure_

# %%
# Saving the figures and numbers (plumbing)
from sklvgg.experiments import save_results

rows = [
    {"layer": p["vgg__layer"], "pooling": p["vgg__pooling"] or "flatten", "accuracy": float(s)}
    for p, s in zip(search.cv_results_["params"], search.cv_results_["mean_test_score"])
]
save_results({"figures": {"layers": fig, "cut_block4_pool": curves}, "rows": rows}, args.out, "layers")

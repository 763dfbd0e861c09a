"""
==============================
Urban Tribes: 11 social groups
==============================

The same protocol on the Urban Tribes set: 11 classes of group photos (bikers,
clubbers, goths, hipsters, ...) in one flat folder,
``pictures_all/<tribe>_group_picNNNNN.jpg``. As in the report, the whole set is
shuffled and a stratified fifth held out; the head is the report's Keras layer
(:func:`~sklvgg.study_head`).

Offline it runs on the embedded default written in the Urban Tribes layout.
``--data DIR/pictures_all --weights imagenet`` runs it on the real photos.
"""

# %%
from sklvgg.experiments import example_setup

args, data = example_setup("Urban Tribes: 11 social groups", layout="urban-tribes", n_classes=11)
X, y = data.filenames, data.target
print(data.DESCR)

# %%
# Holdout split and pipeline
# --------------------------
# :func:`~sklvgg.experiments.holdout_split` is ``train_test_split(...,
# stratify=y, shuffle=True)`` with the training indices interleaved by class.
import sklearn
from sklearn.pipeline import Pipeline

from sklvgg import VGG16FeatureTransformer, study_head
from sklvgg.experiments import holdout_split

sklearn.set_config(enable_metadata_routing=True)
train, test = holdout_split(y, test_size=0.2, random_state=0)
layer = "fc2" if args.weights == "imagenet" else "block4_pool"
vgg = VGG16FeatureTransformer(
    weights=args.weights,
    layer=layer,
    pooling="avg",
    input_size=args.input_size,
    memory=f"{args.out}/cache",
    random_state=0,
)
head = study_head(random_state=0).set_fit_request(X_val=True, y_val=True)
pipe = Pipeline([("vgg", vgg), ("head", head)], transform_input=["X_val"])

# %%
# Loss and accuracy per epoch (the report's Figures 6-9)
# ------------------------------------------------------
from sklvgg.plotting import TrainingCurvesDisplay

pipe.fit(X[train], y[train], X_val=X[test], y_val=y[test])
print(f"held-out accuracy: {pipe[-1].validation_accuracy_curve_[-1]:.3f} (chance {1 / len(set(y)):.3f})")
title = f"{len(train)} training images, {len(test)} held out"
curves = TrainingCurvesDisplay.from_estimator(pipe, title=title).figure_

# %%
# Accuracy vs. images per class (Figures 10-11)
# ---------------------------------------------
# One split given as a list ``cv=[(train, test)]``; the first ``k * n_classes``
# training indices hold ``k`` images of every class.
import numpy as np
from sklearn.model_selection import learning_curve

from sklvgg.plotting import ImagesPerClassDisplay

n_classes = len(set(y))
smallest = np.unique(y[train], return_counts=True)[1].min()  # training images of the smallest class
sizes, train_scores, test_scores = learning_curve(
    pipe, X, y, train_sizes=[k * n_classes for k in (1, 2, 4, 8, 16) if k <= smallest],
    cv=[(train, test)], shuffle=False,
)  # fmt: skip
per_class = ImagesPerClassDisplay.from_learning_curve(sizes, train_scores, test_scores, n_classes=n_classes)
per_class = per_class.figure_

# %%
# Saving the figures and numbers (plumbing)
from sklvgg.experiments import save_results

numbers = {
    "per_class": (sizes // n_classes).tolist(),
    "per_class_accuracy": test_scores.mean(axis=1).tolist(),
}
save_results(
    {"figures": {"training_curves": curves, "images_per_class": per_class}, **numbers}, args.out, "urban"
)

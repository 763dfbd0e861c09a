"""
=================================================
Caltech-256: training curves and images per class
=================================================

The study's main experiment: VGG16 frozen and cut at ``fc2``, a new softmax layer
trained on the first 16 images of each class and validated on the next 4, then the
accuracy as a function of the number of training images per class (1, 2, 4, 8, 16).
The head is :func:`~sklvgg.study_head`, the report's Keras ``Dense`` softmax layer
trained for 16 epochs on the raw features.

The run is resolved once into a :class:`~sklvgg.experiments.RunSetting` (the cut
the weights allow, the study's reading of the report's preprocessing, ``"none"``):
the transformer is built from it, and the verdict beside the report is
:func:`~sklvgg.experiments.compare_settings`', as on the command line. The data is
called Caltech-256 only when ``--data`` reads in Caltech-256's layout.

By default this runs offline on the embedded generated set (classes of shapes and
textures in Caltech-256's layout) with the ``hed-bsds500`` conv weights cut at
``block4_pool`` and average-pooled: not comparable with the report. On the real
Caltech-256 with ImageNet weights, in the report's setting::

    python examples/plot_caltech256.py --data ~/data/256_ObjectCategories --weights imagenet
"""

# %%
# Data
# ----
# File paths and labels (``--data``, or the embedded default); VGG16 reads the
# files itself, in batches.
from sklvgg.experiments import example_setup

args, data = example_setup("Caltech-256: training curves and images per class")
X, y = data.filenames, data.target
print(data.DESCR)

# %%
# The pipeline
# ------------
# The head asks for the validation data (``set_fit_request``) and the pipeline
# pushes ``X_val`` through VGG16 too (``transform_input``), so that the head
# records validation curves. ``memory`` is the per-image feature cache: each
# image goes through VGG16 once, however many fits follow.
import sklearn
from sklearn.pipeline import Pipeline

from sklvgg import VGG16FeatureTransformer, study_head
from sklvgg.experiments import compare_settings, report_setting, resolve_setting

setting = resolve_setting(
    "caltech256", data, dataset=args.dataset, weights=args.weights, input_size=args.input_size
)  # the cut the weights allow (fc2, or block4_pool for conv layers alone), preprocessing "none"
reasons, caveats = compare_settings(report_setting("caltech256"), setting)
print("comparable with the report" if not reasons else "NOT COMPARABLE: " + "; ".join(reasons))

sklearn.set_config(enable_metadata_routing=True)
vgg = VGG16FeatureTransformer(
    weights=setting.weights,
    layer=setting.layer,
    pooling=setting.pooling,
    input_size=setting.input_size,
    preprocessing=setting.preprocessing,
    memory=f"{args.out}/cache",
    random_state=0,
)
head = study_head(random_state=0).set_fit_request(X_val=True, y_val=True)
pipe = Pipeline([("vgg", vgg), ("head", head)], transform_input=["X_val"])

# %%
# Loss and accuracy per epoch (the report's Figures 1-2)
# ------------------------------------------------------
# :class:`~sklvgg.model_selection.PerClassSplit` is the study's split: the first
# 16 images of each class train, the next 4 validate.
from sklvgg.model_selection import PerClassSplit
from sklvgg.plotting import TrainingCurvesDisplay

train, test = next(PerClassSplit(16, 4).split(X, y))
pipe.fit(X[train], y[train], X_val=X[test], y_val=y[test])
print(f"validation accuracy after {pipe[-1].n_iter_} epochs: {pipe[-1].validation_accuracy_curve_[-1]:.3f}")
display = TrainingCurvesDisplay.from_estimator(pipe, title="16 training images per class")
curves = display.figure_

# %%
# Accuracy vs. images per class (Figure 3)
# ----------------------------------------
# ``PerClassSplit`` lists the training images round-robin by class, so
# ``learning_curve`` with ``train_sizes = k * n_classes`` and ``shuffle=False``
# trains on exactly the first ``k`` images of every class. The report's ~65% at
# 16 per class is drawn beside, greyed unless this run has its setting.
from sklearn.model_selection import learning_curve

from sklvgg.experiments import study_reference
from sklvgg.plotting import ImagesPerClassDisplay

n_classes = len(set(y))
sizes, train_scores, test_scores = learning_curve(
    pipe, X, y, train_sizes=[k * n_classes for k in (1, 2, 4, 8, 16)], cv=PerClassSplit(16, 4), shuffle=False
)
reference, comparable = study_reference(setting)
per_class = ImagesPerClassDisplay.from_learning_curve(
    sizes, train_scores, test_scores, n_classes=n_classes, reference=reference, comparable=comparable
).figure_
for k, acc in zip(sizes // n_classes, test_scores.mean(axis=1)):
    print(f"{k:3d} images per class: {acc:.3f}")

# %%
# Saving the figures and numbers (plumbing)
from sklvgg.experiments import save_results

numbers = {
    "per_class": (sizes // n_classes).tolist(),
    "per_class_accuracy": test_scores.mean(axis=1).tolist(),
}
save_results(
    {"figures": {"training_curves": curves, "images_per_class": per_class}, **numbers}, args.out, "caltech256"
)

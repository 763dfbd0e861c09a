"""The experiments of the transfer-learning study, each a few lines of scikit-learn.

Every function takes a dataset :class:`~sklearn.utils.Bunch` from
:mod:`sklvgg.datasets` (file paths and labels), runs the experiment with plain
``Pipeline``, ``learning_curve`` and ``GridSearchCV`` on sklvgg estimators, and
returns a dict of numbers and matplotlib figures. With ``out`` set, the figures
are saved as PNG and the numbers as JSON and CSV. ``python -m sklvgg reproduce``
and the gallery examples call them.

All of them share the per-image feature cache (``memory``), so each image goes
through VGG16 once per layer, however many fits the experiment makes.
"""

import csv
import json
import os
from pathlib import Path

import numpy as np
import sklearn
from sklearn.model_selection import GridSearchCV, learning_curve
from sklearn.pipeline import Pipeline

from ._head import SoftmaxHeadClassifier
from ._transformer import VGG16FeatureTransformer
from ._vgg16 import TOP_LAYERS
from .model_selection import PerClassSplit

__all__ = [
    "default_layer",
    "example_arguments",
    "example_data",
    "layer_comparison",
    "make_pipeline",
    "save_results",
    "temperature_sweep",
    "training_and_learning_curves",
    "filters_and_activations",
]

#: The study's accuracy at 1-16 Caltech-256 images per class (fc2, ImageNet).
#: Only the 16-per-class figure (about 65%) is stated in the study's summary.
STUDY_REFERENCE = {16: 0.65}


def default_layer(weights):
    """``fc2`` as in the study, or ``block4_pool`` for weights without the top."""
    return "block4_pool" if weights == "hed-bsds500" else "fc2"


def make_pipeline(
    weights="imagenet", layer=None, pooling="avg", input_size=224, memory=None,
    temperature=1.0, head=None, verbose=0, random_state=0, precision="float32",
):  # fmt: skip
    """``Pipeline([("vgg", VGG16FeatureTransformer), ("head", SoftmaxHeadClassifier)])``.

    The head requests ``X_val``/``y_val`` and the pipeline transforms ``X_val``
    with VGG16 (``transform_input=["X_val"]``), so that, with metadata routing
    enabled, ``pipe.fit(X, y, X_val=..., y_val=...)`` records validation curves.

    Parameters
    ----------
    weights, layer, pooling, input_size, memory, temperature, verbose, random_state, precision
        Passed to :class:`VGG16FeatureTransformer` (``layer=None``: see
        :func:`default_layer`).
    head : SoftmaxHeadClassifier, optional
        Defaults to ``SoftmaxHeadClassifier(random_state=random_state)``.

    Returns
    -------
    pipe : Pipeline
    """
    layer = layer or default_layer(weights)
    vgg = VGG16FeatureTransformer(
        weights=weights, layer=layer, pooling=pooling, input_size=input_size,
        memory=memory, temperature=temperature, verbose=verbose, random_state=random_state,
        precision=precision,
    )  # fmt: skip
    head = head if head is not None else SoftmaxHeadClassifier(random_state=random_state)
    with sklearn.config_context(enable_metadata_routing=True):
        head = head.set_fit_request(X_val=True, y_val=True, sample_weight=False)
    return Pipeline([("vgg", vgg), ("head", head)], transform_input=["X_val"])


def _split(data, n_train, n_test):
    return next(PerClassSplit(n_train, n_test).split(data.filenames, data.target))


def training_and_learning_curves(
    data, pipe, *, n_train=16, n_test=4, per_class=(1, 2, 4, 8, 16), reference=None
):
    """Training curves at ``n_train`` per class and accuracy vs. images per class.

    Parameters
    ----------
    data : Bunch
        From a :mod:`sklvgg.datasets` loader.
    pipe : Pipeline
        From :func:`make_pipeline`.
    n_train, n_test : int, default=16, 4
        The study's protocol: the first 16 images of each class train, the
        next 4 test.
    per_class : sequence of int
        Training images per class for the learning curve (<= ``n_train``).
    reference : dict, optional
        Published ``{images_per_class: accuracy}`` to draw beside.

    Returns
    -------
    results : dict
        ``test_accuracy``, the epoch curves, ``per_class`` and
        ``per_class_accuracy``; ``figures``: ``training_curves`` and
        ``images_per_class``.
    """
    from .plotting import plot_learning_curve_per_class, plot_training_curves

    train, test = _split(data, n_train, n_test)
    X, y = data.filenames, data.target
    n_classes = len(np.unique(y))
    with sklearn.config_context(enable_metadata_routing=True):
        pipe.fit(X[train], y[train], X_val=X[test], y_val=y[test])
        head = pipe[-1]
        sizes = [k * n_classes for k in per_class if k <= n_train]
        _, train_scores, test_scores = learning_curve(
            pipe, X, y, train_sizes=sizes, cv=PerClassSplit(n_train, n_test), shuffle=False
        )
    return {
        "n_classes": n_classes,
        "test_accuracy": float(head.validation_accuracy_curve_[-1]),
        "max_test_accuracy": float(max(head.validation_accuracy_curve_)),
        "epochs": head.n_iter_,
        "loss_curve": head.loss_curve_,
        "accuracy_curve": head.accuracy_curve_,
        "validation_loss_curve": head.validation_loss_curve_,
        "validation_accuracy_curve": head.validation_accuracy_curve_,
        "per_class": [s // n_classes for s in sizes],
        "per_class_accuracy": test_scores.mean(axis=1).tolist(),
        "figures": {
            "training_curves": plot_training_curves(
                pipe, title=f"{n_classes} classes, {n_train} training images per class"
            ),
            "images_per_class": plot_learning_curve_per_class(
                sizes, test_scores, n_classes, train_scores=train_scores, reference=reference
            ),
        },
    }


def layer_comparison(data, pipe, *, layers=None, n_train=16, n_test=4):
    """Accuracy at ``n_train`` per class for each cut, flattened vs. average-pooled.

    Parameters
    ----------
    data : Bunch
    pipe : Pipeline
        From :func:`make_pipeline`; its ``vgg`` step is re-cut for each layer.
    layers : sequence of str, optional
        Default: ``block3_pool``, ``block4_pool``, ``block5_pool`` (each
        flattened, as the study did, and average-pooled), then ``fc1`` and
        ``fc2`` when the weights have the fully connected top.

    Returns
    -------
    results : dict
        ``rows``: list of ``{"layer", "pooling", "n_features", "accuracy"}``;
        ``figures``: ``layers`` (a bar chart).
    """
    from .plotting._plots import _figure

    weights = pipe.get_params()["vgg__weights"]
    if layers is None:
        layers = ["block3_pool", "block4_pool", "block5_pool"]
        if weights != "hed-bsds500":
            layers += ["fc1", "fc2"]
    train, test = _split(data, n_train, n_test)
    X, y = data.filenames, data.target
    rows = []
    for layer in layers:
        for pooling in [None, "avg"] if layer not in TOP_LAYERS else [None]:
            if layer in TOP_LAYERS and pipe.get_params()["vgg__input_size"] != 224:
                continue
            model = sklearn.base.clone(pipe).set_params(vgg__layer=layer, vgg__pooling=pooling)
            with sklearn.config_context(enable_metadata_routing=True):
                model.fit(X[train], y[train])
            rows.append({
                "layer": layer,
                "pooling": pooling or ("flatten" if layer not in TOP_LAYERS else "-"),
                "n_features": model[0].n_features_out_,
                "accuracy": float(model.score(X[test], y[test])),
            })  # fmt: skip
    fig = _figure(figsize=(8, 4), layout="constrained")
    ax = fig.subplots()
    labels = [f"{r['layer']}\n{r['pooling']}" for r in rows]
    colours = {"flatten": "C0", "avg": "C1"}
    bars = ax.bar(
        labels, [r["accuracy"] for r in rows], color=[colours.get(r["pooling"], "C2") for r in rows]
    )
    ax.bar_label(bars, fmt="%.2f")
    ax.set(ylabel=f"test accuracy ({n_train} per class)", ylim=(0, 1.05),
           title="Where to cut VGG16: flattened (blue), average-pooled (orange), fc (green)")  # fmt: skip
    return {"rows": rows, "figures": {"layers": fig}}


def temperature_sweep(
    data, pipe, *, temperatures=(0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 8.0), class_counts=(64, 256),
    n_train=16, n_test=4, note=None,
):  # fmt: skip
    """``GridSearchCV`` over ``vgg__temperature`` on the 1000 ImageNet outputs.

    For each number of classes (the first ``k`` classes of ``data``; all of
    them when it has fewer), the search scores every temperature on the
    study's split; then the head is refitted per temperature with the
    validation images to read the maximum and final validation accuracy. The
    logits come from the cache, so the whole sweep costs one VGG16 pass.

    Parameters
    ----------
    data : Bunch
    pipe : Pipeline
        From :func:`make_pipeline` with ``layer="predictions"``.
    temperatures : sequence of float
    class_counts : sequence of int
    note : str, optional
        Drawn on the figures (e.g. that the weights are random).

    Returns
    -------
    results : dict
        ``{"sweeps": {k: {"best_temperature", "temperatures", "max", "final"}},
        "figures": {"temperature_k": Figure, ...}}``.
    """
    from .plotting import plot_temperature_sweep

    available = len(np.unique(data.target))
    counts = sorted({min(k, available) for k in class_counts})
    sweeps, figures = {}, {}
    for k in counts:
        keep = np.flatnonzero(data.target < k)
        X, y = data.filenames[keep], data.target[keep]
        cv = PerClassSplit(n_train, n_test)
        with sklearn.config_context(enable_metadata_routing=True):
            search = GridSearchCV(pipe, {"vgg__temperature": list(temperatures)}, cv=cv)
            search.fit(X, y)
            train, test = next(cv.split(X, y))
            curves = {}
            for t in temperatures:
                model = sklearn.base.clone(pipe).set_params(vgg__temperature=t)
                model.fit(X[train], y[train], X_val=X[test], y_val=y[test])
                acc = model[-1].validation_accuracy_curve_
                curves[float(t)] = (float(max(acc)), float(acc[-1]))
        sweeps[k] = {
            "best_temperature": float(search.best_params_["vgg__temperature"]),
            "temperatures": [float(t) for t in temperatures],
            "max": [curves[float(t)][0] for t in temperatures],
            "final": [curves[float(t)][1] for t in temperatures],
        }
        figures[f"temperature_{k}"] = plot_temperature_sweep(
            search, final_scores=curves, note=note,
            title=f"Temperature sweep, {k} classes, {n_train} images per class",
        )  # fmt: skip
    return {"sweeps": sweeps, "figures": figures}


def filters_and_activations(vgg, image, *, layers=("block1_conv1", "block5_conv3")):
    """First and last conv layers: filters (first layer) and activation maps.

    Parameters
    ----------
    vgg : fitted VGG16FeatureTransformer
    image : array-like or path-like
        One image.
    layers : pair of str

    Returns
    -------
    results : dict
        ``figures``: ``filters_<first>``, ``activations_<first>`` and
        ``activations_<last>``; ``shapes``: the maps' shapes.
    """
    from .plotting import plot_activation_maps, plot_conv_filters

    first, last = layers
    X = [image] if isinstance(image, (str, os.PathLike)) else np.asarray(image)[None]
    figures = {
        f"filters_{first}": plot_conv_filters(vgg, layer=first),
        f"activations_{first}": plot_activation_maps(vgg, X, layer=first),
        f"activations_{last}": plot_activation_maps(vgg, X, layer=last, max_maps=64),
    }
    shapes = {layer: list(vgg.activation_maps(X, layer=layer).shape[1:]) for layer in layers}
    return {"shapes": shapes, "figures": figures}


def example_data(args, *, layout="caltech256", n_classes=10):
    """The dataset of a gallery example: ``--data`` or the embedded default.

    Parameters
    ----------
    args : argparse.Namespace
        From :func:`example_arguments`.
    layout : {"caltech256", "urban-tribes"}
    n_classes : int
        Classes of the embedded default (``args.n_classes`` wins when set).

    Returns
    -------
    data : Bunch
    """
    from .datasets import load_caltech256, load_image_folder, load_urban_tribes, make_shapes_dataset

    if args.data:
        loader = {"caltech256": load_caltech256, "urban-tribes": load_urban_tribes}[layout]
        try:
            return loader(args.data)
        except ValueError:
            return load_image_folder(args.data)
    n = args.n_classes or n_classes
    root = make_shapes_dataset(Path(args.out) / f"data-{layout}-{n}", n_classes=n, layout=layout)
    loader = load_caltech256 if layout == "caltech256" else load_urban_tribes
    return loader(root)


def example_arguments(description, *, input_size=224, weights="hed-bsds500"):
    """Command-line options shared by the gallery examples.

    ``--data DIR`` (the real dataset; default: the embedded generated set),
    ``--weights`` (default ``hed-bsds500``, offline), ``--input-size``,
    ``--n-classes`` (embedded default only), ``--out`` (figures and cache).
    Unknown arguments are ignored, so sphinx-gallery can run the scripts.

    Returns
    -------
    args : argparse.Namespace
    """
    import argparse

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data", default=None, help="dataset folder (default: embedded generated set)")
    parser.add_argument("--weights", default=weights, help="imagenet, hed-bsds500, none or a weights file")
    parser.add_argument("--input-size", type=int, default=input_size)
    parser.add_argument("--n-classes", type=int, default=None, help="classes of the embedded default")
    parser.add_argument("--out", default=os.environ.get("SKLVGG_EXAMPLES_OUT", "sklvgg_examples_output"))
    args, _ = parser.parse_known_args()
    if args.weights in ("none", "None"):
        args.weights = None
    return args


def save_results(results, out, name):
    """Write ``results``' figures as PNG and its numbers as JSON (and CSV rows).

    Parameters
    ----------
    results : dict
        With an optional ``figures`` dict and, optionally, ``rows`` (a list of
        dicts written as ``<name>.csv``).
    out : path-like
    name : str

    Returns
    -------
    paths : list of pathlib.Path
        The files written.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for key, fig in results.get("figures", {}).items():
        path = out / f"{name}_{key}.png"
        fig.savefig(path, dpi=90)
        written.append(path)
    numbers = {k: v for k, v in results.items() if k != "figures"}
    path = out / f"{name}.json"
    path.write_text(json.dumps(numbers, indent=2, default=str))
    written.append(path)
    if results.get("rows"):
        path = out / f"{name}.csv"
        with open(path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(results["rows"][0]))
            writer.writeheader()
            writer.writerows(results["rows"])
        written.append(path)
    return written

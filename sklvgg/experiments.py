"""The experiments of the transfer-learning study, each a few lines of scikit-learn.

Every function takes a dataset :class:`~sklearn.utils.Bunch` from
:mod:`sklvgg.datasets` (file paths and labels), runs the experiment with plain
``Pipeline``, ``learning_curve`` and ``GridSearchCV`` on sklvgg estimators, and
returns a dict of numbers and matplotlib figures. :func:`save_results` writes
the figures as PNG and the numbers as JSON and CSV; :func:`compare_with_report`
sets the report's numbers beside the run's. ``python -m sklvgg reproduce``
calls them.

Two heads (``protocol``): ``"study"``, the report's Keras ``Dense`` softmax
layer on the raw features, fit for a fixed number of epochs
(:func:`~sklvgg.study_head`); ``"tuned"``, :class:`~sklvgg.SoftmaxHeadClassifier`'s
defaults (standardised features, L2, a class-mean start, stopping on
convergence).

All of them share the per-image feature cache (``memory``), so each image goes
through VGG16 once per layer, however many fits the experiment makes.
"""

import csv
import json
import math
import os
import re
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import sklearn
from sklearn.model_selection import GridSearchCV, learning_curve, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.utils import Bunch

from ._architecture import TOP_LAYERS
from ._head import SoftmaxHeadClassifier, study_head
from ._transformer import VGG16FeatureTransformer
from .model_selection import PerClassSplit

__all__ = [
    "HOLDOUT_FRACTION",
    "REPORT_TEMPERATURES",
    "compare_with_report",
    "default_layer",
    "default_preprocessing",
    "example_setup",
    "filters_and_activations",
    "first_classes",
    "holdout_split",
    "layer_cuts",
    "log2_fit",
    "make_head",
    "make_pipeline",
    "save_results",
    "study_reference",
    "temperature_sweep",
    "training_and_learning_curves",
]

#: The study's accuracy at 1-16 Caltech-256 images per class (fc2, ImageNet).
#: Only the 16-per-class figure (about 65%) is stated in the study's summary.
STUDY_REFERENCE = {16: 0.65}

#: What :data:`STUDY_REFERENCE` was measured with: the report's section 1.4 (b)
#: and Figure 2, validation accuracy levelling out "around .65" with 16
#: Caltech-256 images per class, ImageNet weights, the softmax head on ``fc2``.
STUDY_REFERENCE_SETTING = {"dataset": "caltech256", "weights": "imagenet", "layer": "fc2"}

#: The fraction of Urban Tribes held out for validation. The report (section
#: 2.1 (c)) shuffles the whole set and takes "a portion" as the holdout set
#: without saying how much; 0.2 is the proportion of its Caltech-256 protocol
#: (4 of 16 + 4 images per class).
HOLDOUT_FRACTION = 0.2

#: The temperatures of the sweep: ``2 ** (2k / 7)`` from 1/4 to 4, 15 values of
#: ratio about 1.22, rounded to two decimals. The report names 1.22, 1.49 and
#: 1.81 (section 3.6, Figures 20-21) but not its grid; this one holds those
#: three and 1.0 (``1.22 ** 3`` would round to 1.82, ``2 ** (6/7)`` is 1.811).
REPORT_TEMPERATURES = tuple(float(t) for t in np.round(np.logspace(-2, 2, 15, base=2), 2))

# Warnings that the study's protocol raises by construction, as (message regex, category).
_EXPECTED_WARNINGS = [
    # One image per class: as many classes as samples, which looks like regression to
    # scikit-learn's type_of_target.
    (re.escape("The number of unique classes is greater than 50% of the number of samples"), UserWarning),
]


@contextmanager
def _expected_warnings_ignored():
    """Silence the warnings in ``_EXPECTED_WARNINGS``, and no other."""
    with warnings.catch_warnings():
        for message, category in _EXPECTED_WARNINGS:
            warnings.filterwarnings("ignore", message=message, category=category)
        yield


def default_layer(weights):
    """``fc2`` as in the study, or ``block4_pool`` for weights without the top.

    Parameters
    ----------
    weights : str, path-like or None

    Returns
    -------
    layer : str
    """
    return "block4_pool" if weights == "hed-bsds500" else "fc2"


def default_preprocessing(protocol):
    """The input preprocessing of a protocol: ``"none"`` for the study's, ``"caffe"`` otherwise.

    The report never names a preprocessing function. It reads the images with
    Keras' ``ImageDataGenerator`` (section 1.1 (a)), tried samplewise
    normalisation first and "achieved much better results" without any
    normalisation (1.1 (b)), and, surprised by that, suspected that Keras'
    VGG16 "might be different than the original one" (after Figure 3). Had
    it used ``preprocess_input`` (the "caffe" BGR mean subtraction the
    weights expect) it would have had no reason for surprise: its final runs
    fed the generator's RGB 0-255 values as they were, ``"none"``.

    Parameters
    ----------
    protocol : {"study", "tuned"}

    Returns
    -------
    preprocessing : {"none", "caffe"}
    """
    return "none" if protocol == "study" else "caffe"


def make_head(protocol="study", *, epochs=None, random_state=0):
    """The softmax head of a protocol.

    Parameters
    ----------
    protocol : {"study", "tuned"}, default="study"
        ``"study"``: :func:`~sklvgg.study_head`, the report's Keras layer
        (raw features, Glorot-uniform start, Adam at 1e-3, batch 32, exactly
        ``epochs`` epochs). ``"tuned"``: ``SoftmaxHeadClassifier()``'s defaults,
        which stop on convergence.
    epochs : int, optional
        Epochs of the study head (default 16), or the most epochs of the tuned
        one (``max_iter``, default 200).
    random_state : int, default=0

    Returns
    -------
    head : SoftmaxHeadClassifier
        Unfitted.
    """
    if protocol not in ("study", "tuned"):
        raise ValueError(f"protocol must be 'study' or 'tuned'; got {protocol!r}.")
    extra = {} if epochs is None else {"max_iter": int(epochs)}
    if protocol == "study":
        return study_head(random_state=random_state, **extra)
    return SoftmaxHeadClassifier(random_state=random_state, **extra)


def make_pipeline(
    weights="imagenet", layer=None, pooling="avg", input_size=224, memory=None,
    temperature=1.0, head=None, verbose=0, random_state=0, precision="float32",
    protocol="tuned", epochs=None, temperature_on=None, preprocessing=None,
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
        Defaults to ``make_head(protocol, epochs=epochs, random_state=random_state)``.
    protocol : {"tuned", "study"}, default="tuned"
        See :func:`make_head`.
    epochs : int, optional
        See :func:`make_head`.
    temperature_on : {"logits", "fc2"}, optional
        Passed to :class:`VGG16FeatureTransformer` when given: where the
        temperature divides (``"fc2"`` is the report's form).
    preprocessing : {"caffe", "none", "samplewise"}, optional
        Passed to :class:`VGG16FeatureTransformer`; by default
        :func:`default_preprocessing` of ``protocol``.

    Returns
    -------
    pipe : Pipeline
    """
    layer = layer or default_layer(weights)
    extra = {} if temperature_on is None else {"temperature_on": temperature_on}
    vgg = VGG16FeatureTransformer(
        weights=weights, layer=layer, pooling=pooling, input_size=input_size,
        memory=memory, temperature=temperature, verbose=verbose, random_state=random_state,
        precision=precision, preprocessing=preprocessing or default_preprocessing(protocol), **extra,
    )  # fmt: skip
    if head is None:
        head = make_head(protocol, epochs=epochs, random_state=random_state)
    with sklearn.config_context(enable_metadata_routing=True):
        head = head.set_fit_request(X_val=True, y_val=True, sample_weight=False)
    return Pipeline([("vgg", vgg), ("head", head)], transform_input=["X_val"])


# --------------------------------------------------------------------------- data and splits


def first_classes(data, n_classes=None):
    """The images of the first ``n_classes`` classes (by label) of a dataset.

    Parameters
    ----------
    data : Bunch
        From a :mod:`sklvgg.datasets` loader.
    n_classes : int, optional
        All of them when None or larger than the number of classes.

    Returns
    -------
    data : Bunch
        The same fields, ``filenames`` and ``target`` restricted; labels kept.
    """
    classes = np.unique(data.target)
    if n_classes is None or n_classes >= len(classes):
        return data
    keep = np.isin(data.target, classes[:n_classes])
    subset = Bunch(**data)
    subset.filenames, subset.target = data.filenames[keep], data.target[keep]
    subset.DESCR = f"{data.DESCR} First {n_classes} of its {len(classes)} classes: {keep.sum()} images."
    return subset


def _round_robin(indices, labels):
    """``indices`` reordered: the first of every class, the second of every class, ..."""
    _, y_idx = np.unique(labels, return_inverse=True)
    rank = np.empty(len(labels), dtype=np.intp)
    for c in range(y_idx.max() + 1 if len(y_idx) else 0):
        members = np.flatnonzero(y_idx == c)
        rank[members] = np.arange(len(members))
    return np.asarray(indices)[np.lexsort((y_idx, rank))]


def holdout_split(y, *, test_size=HOLDOUT_FRACTION, random_state=0):
    """The report's Urban Tribes split: shuffle everything, hold out a stratified fraction.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
    test_size : float, default=HOLDOUT_FRACTION
        Fraction held out, in every class alike (``train_test_split(...,
        stratify=y)``).
    random_state : int, default=0
        Seeds the shuffle.

    Returns
    -------
    train : ndarray
        Shuffled within each class, then interleaved by class (as
        :class:`~sklvgg.model_selection.PerClassSplit`'s), so that its first
        ``k * n_classes`` indices hold ``k`` images of every class: a
        ``learning_curve`` with ``shuffle=False`` trains on ``k`` per class.
    test : ndarray
        Sorted.

    Examples
    --------
    >>> import numpy as np
    >>> from sklvgg.experiments import holdout_split
    >>> y = np.repeat([0, 1, 2], 10)
    >>> train, test = holdout_split(y, test_size=0.2)
    >>> np.bincount(y[test]), y[train[:3]]
    (array([2, 2, 2]), array([0, 1, 2]))
    """
    y = np.asarray(y)
    n, n_classes = len(y), len(np.unique(y))
    n_test = math.ceil(test_size * n)  # as train_test_split rounds
    if min(n_test, n - n_test) < n_classes:
        part = "validation" if n_test < n_classes else "training"
        what = (
            f"A holdout fraction of {test_size:g} (test_size; --holdout-fraction on the command "
            f"line) leaves {min(n_test, n - n_test)} of the {n} images for {part}, fewer than the "
            f"{n_classes} classes: every class needs one in each part."
        )
        if n < 2 * n_classes:
            raise ValueError(f"{what} With {n} images no fraction can: too few images per class.")
        low, high = math.ceil(n_classes / n * 1000) / 1000, math.floor((n - n_classes) / n * 1000) / 1000
        raise ValueError(f"{what} Use a fraction from {low:g} to {high:g}.")
    train, test = train_test_split(
        np.arange(len(y)), test_size=test_size, stratify=y, shuffle=True, random_state=random_state
    )
    return _round_robin(train, y[train]), np.sort(test)


def _train_test(y, split, n_train, n_test, holdout, random_state):
    if split == "per-class":
        return next(PerClassSplit(n_train, n_test).split(np.zeros(len(y)), y))
    if split == "holdout":
        return holdout_split(y, test_size=holdout, random_state=random_state)
    raise ValueError(f"split must be 'per-class' or 'holdout'; got {split!r}.")


def _split_summary(y, train, test, split, holdout):
    counts = np.unique(y[test], return_counts=True)[1]
    summary = {
        "split": split,
        "n_train": int(len(train)),
        "n_test": int(len(test)),
        "test_fraction": round(len(test) / (len(train) + len(test)), 4),
        "test_per_class": {"min": int(counts.min()), "max": int(counts.max())},
    }
    if split == "holdout":
        summary["holdout_fraction"] = holdout
    return summary


def _curves(head):
    """The per-epoch numbers of a fitted head, for JSON and CSV."""
    curves = {
        "epochs": int(head.n_iter_),
        "loss_curve": [float(v) for v in head.loss_curve_],
        "accuracy_curve": [float(v) for v in head.accuracy_curve_],
    }
    if hasattr(head, "validation_loss_curve_"):
        curves["validation_loss_curve"] = [float(v) for v in head.validation_loss_curve_]
        curves["validation_accuracy_curve"] = [float(v) for v in head.validation_accuracy_curve_]
    return curves


def _curve_rows(curves, **columns):
    """One CSV row per epoch."""
    names = ["loss_curve", "accuracy_curve", "validation_loss_curve", "validation_accuracy_curve"]
    present = [n for n in names if n in curves]
    return [
        {**columns, "epoch": e + 1, **{n.removesuffix("_curve"): curves[n][e] for n in present}}
        for e in range(len(curves["loss_curve"]))
    ]


# --------------------------------------------------------------------------- the report's numbers

#: The setting each experiment's numbers were measured in by the report.
REPORT_SETTINGS = {
    "caltech256": {"dataset": "caltech256", "weights": "imagenet", "layer": "fc2", "protocol": "study"},
    "urban-tribes": {"dataset": "urban-tribes", "weights": "imagenet", "layer": "fc2", "protocol": "study"},
    "layers": {"dataset": "caltech256", "weights": "imagenet", "protocol": "study"},
    "temperature": {
        "dataset": "caltech256", "weights": "imagenet", "layer": "predictions", "protocol": "study",
        "temperature_on": "fc2",
    },
}  # fmt: skip


#: The first biases of ImageNet-trained VGG16's first and last conv layers, as Keras
#: and MatConvNet publish them: a weights file that holds both is the ImageNet
#: network (a fine-tuned one keeps the first, rarely the last).
IMAGENET_BIASES = {"block1_conv1": (0.73429835, 0.09340367, 0.06775674),
                   "block5_conv3": (0.18837857, -0.50036746, 0.5422234)}  # fmt: skip


def _imagenet(weights):
    """``"imagenet"`` for Keras' published files, or any file of the ImageNet-trained network.

    A file is recognised by its values (the first biases of its first and last conv layers),
    whatever its name: Keras' downloads, the ImageNet conv layers written as a
    Keras 3 file.
    """
    from ._weights import IMAGENET_FILES, _weight_pairs

    if weights is None or weights in ("imagenet", "hed-bsds500"):
        return weights
    path = Path(weights)
    if path.name in {url.rsplit("/", 1)[1] for url, _ in IMAGENET_FILES.values()}:
        return "imagenet"
    try:
        pairs = _weight_pairs(path, load=set(IMAGENET_BIASES))
    except (OSError, ValueError):
        return weights
    same = all(np.allclose(pairs[layer][1][:3], bias, rtol=1e-6) for layer, bias in IMAGENET_BIASES.items())
    return "imagenet" if same else weights


def _why_not_comparable(experiment, run):
    """Reasons (words) why ``run`` is not in the setting of the report's ``experiment``."""
    setting = REPORT_SETTINGS[experiment]
    reasons = []
    if _imagenet(run.get("weights")) != "imagenet":
        reasons.append(
            f"without ImageNet weights (this run: {run.get('weights')}) the comparison is not meaningful"
        )
    if run.get("dataset") != setting["dataset"]:
        names = {"caltech256": "Caltech-256", "urban-tribes": "Urban Tribes"}
        reasons.append(f"this run's data is {run.get('dataset')}, the report's {names[setting['dataset']]}")
    if "layer" in setting and run.get("layer") != setting["layer"]:
        reasons.append(f"this run cuts at {run.get('layer')}, the report at {setting['layer']}")
    if run.get("protocol") is not None and run["protocol"] != setting["protocol"]:
        reasons.append(
            f"this run's head is --protocol {run['protocol']}, the report's a Keras Dense layer (study)"
        )
    if "temperature_on" in run and run["temperature_on"] != setting["temperature_on"]:
        reasons.append(f"this run divides the {run['temperature_on']} by T, the report the fc2 activations")
    if run.get("input_size") not in (None, 224):
        reasons.append(
            f"this run feeds {run['input_size']} x {run['input_size']} images, the report 224 x 224 "
            f"(other feature maps, other feature counts)"
        )
    if run.get("preprocessing") not in (None, "none"):
        reasons.append(
            f"this run preprocesses with {run['preprocessing']!r}, the report fed RGB 0-255 as it was "
            f"('none': sklvgg's reading of its section 1.1 (b))"
        )
    return reasons


def study_reference(*, dataset, weights, layer, experiment="caltech256", protocol=None, temperature_on=None):
    """The study's reference point, labelled, and whether a run can be compared with it.

    Parameters
    ----------
    dataset : str
        What the run uses: ``"caltech256"`` for the real Caltech-256,
        ``"urban-tribes"`` for Urban Tribes (any other value, such as
        ``"embedded default"`` or ``"folder"``, is another dataset).
    weights : str, path-like or None
        The run's VGG16 weights; a path to one of Keras' published ImageNet
        files counts as ``"imagenet"``.
    layer : str
        The run's cut.
    experiment : {"caltech256", "urban-tribes", "layers", "temperature"}, default="caltech256"
        Whose setting (:data:`REPORT_SETTINGS`) to compare with.
    protocol : {"study", "tuned"}, optional
        The run's head; not checked when None.
    temperature_on : {"logits", "fc2"}, optional
        The run's temperature form; not checked when None.

    Returns
    -------
    reference : dict
        ``{label: {images_per_class: accuracy}}`` for the accuracy-vs-images
        curve: the report's ~65% at 16 per class (Caltech-256, ImageNet,
        ``fc2``) for ``"caltech256"``; empty for the others, whose report
        states no such point.
    comparable : bool
        Whether the run has the report's setting; pass it to
        :func:`training_and_learning_curves` and :func:`compare_with_report`.

    Examples
    --------
    >>> from sklvgg.experiments import study_reference
    >>> reference, comparable = study_reference(dataset="caltech256", weights="imagenet", layer="fc2")
    >>> comparable, list(reference.values())
    (True, [{16: 0.65}])
    """
    run = {"dataset": dataset, "weights": weights, "layer": layer, "protocol": protocol}
    if temperature_on is not None:
        run["temperature_on"] = temperature_on
    reference = {}
    if experiment == "caltech256":
        label = "report: ~65% at 16/class\n(Caltech-256, ImageNet weights, fc2)"
        reference = {label: dict(STUDY_REFERENCE)}
    return reference, not _why_not_comparable(experiment, run)


def _pct(value):
    return "-" if value is None else f"{100 * value:.1f}%"


def log2_fit(images_per_class, accuracy):
    """Least-squares line of accuracy against log2(images per class): slope, intercept, R^2.

    Parameters
    ----------
    images_per_class, accuracy : sequence of float

    Returns
    -------
    fit : dict or None
        ``{"slope", "intercept", "r2"}`` (the slope in accuracy per doubling),
        or None for fewer than three sizes.
    """
    x, y = np.log2(np.asarray(images_per_class, dtype=float)), np.asarray(accuracy, dtype=float)
    if len(x) < 3:
        return None
    slope, intercept = np.polyfit(x, y, 1)
    residual = y - (slope * x + intercept)
    total = float(((y - y.mean()) ** 2).sum())
    return {"slope": float(slope), "intercept": float(intercept),
            "r2": 1.0 - float((residual**2).sum()) / total if total else 1.0}  # fmt: skip


def _compare_temperatures(sweep, near):
    """Words and numbers: the best maximum accuracy at the T nearest ``near`` vs. at T = 1."""
    temperatures = np.asarray(sweep["temperatures"], dtype=float)
    if 1.0 not in temperatures:
        return "no T = 1 in this sweep"
    there, one = int(np.argmin(np.abs(temperatures - near))), int(np.flatnonzero(temperatures == 1.0)[0])
    helps = sweep["max"][there] > sweep["max"][one]
    return (f"{_pct(sweep['max'][there])} at T {temperatures[there]:g} vs. {_pct(sweep['max'][one])} at T 1: "
            f"{'helps' if helps else 'does not help'}")  # fmt: skip


def _above_below(sweep, threshold):
    """Words and numbers: mean maximum accuracy of the temperatures above ``threshold`` vs. the others."""
    temperatures, best = np.asarray(sweep["temperatures"], dtype=float), np.asarray(sweep["max"], dtype=float)
    above, below = best[temperatures > threshold], best[temperatures <= threshold]
    if not len(above) or not len(below):
        return f"this sweep has no T on both sides of {threshold:g}"
    hurts = above.mean() < below.mean()
    return f"{_pct(above.mean())} vs. {_pct(below.mean())}: {'hurts' if hurts else 'does not hurt'}"


def _report_rows(experiment, results):
    """``[(row, draw)]``: the report's numbers beside this run's, and where to draw each."""
    rows = []

    def row(quantity, report, this_run, source, draw=None):
        rows.append(({"quantity": quantity, "report": report, "this run": this_run, "source": source}, draw))

    if experiment in ("caltech256", "urban-tribes"):
        n_train = results.get("images_per_class_trained")
        if experiment == "caltech256":
            row(
                "training loss, last epoch",
                '~0 ("decreased to almost 0")',
                f"{results['final_training_loss']:.3f}",
                "section 1.4 (a), Figure 1",
                ("training_curves", 0, {"y": 0.0, "label": "report: training loss ~0 (Fig. 1)"}),
            )
            row(
                "validation loss, last epoch",
                "~3",
                f"{results['final_validation_loss']:.3f}",
                "section 1.4 (a), Figure 1",
                ("training_curves", 0, {"y": 3.0, "label": "report: validation loss ~3 (Fig. 1)"}),
            )
            row(
                "training accuracy, last epoch",
                '~100% ("neared 1")',
                _pct(results["final_training_accuracy"]),
                "section 1.4 (b), Figure 2",
            )
            row(
                f"validation accuracy, last epoch ({n_train}/class)",
                "~65% (16/class)",
                _pct(results["test_accuracy"]),
                "section 1.4 (b), Figure 2; section 1.4 (d)",
                ("training_curves", 1, {"y": 0.65, "label": "report: validation ~65% (Fig. 2)"}),
            )
            fit = log2_fit(results.get("per_class", []), results.get("per_class_accuracy", []))
            row(
                "accuracy vs. images per class",
                '"increased logarithmically", diminishing returns',
                "too few sizes to fit"
                if fit is None
                else f"{_pct(fit['slope'])} per doubling, R^2 {fit['r2']:.2f} against log2(images per class)",
                "section 1.4 (d), Figure 3",
            )
        else:
            row(
                "training accuracy, last epoch",
                "~60%",
                _pct(results["final_training_accuracy"]),
                "section 2.4 (d), Figure 8",
                ("training_curves", 1, {"y": 0.60, "label": "report: training ~60% (Fig. 8)"}),
            )
            row(
                "validation accuracy, maximum over epochs",
                "at most ~30%",
                _pct(results["max_test_accuracy"]),
                "section 2.4 (d), Figure 9",
                ("training_curves", 1, {"y": 0.30, "label": "report: validation at most ~30% (Fig. 9)"}),
            )
            for cut in results.get("cut", {}).get("rows", []):
                if cut["layer"] == "block3_pool" and cut["pooling"] == "flatten":
                    row(
                        "flattened block3_pool: validation accuracy, last epoch",
                        "9%",
                        f"{_pct(cut['final_validation_accuracy'])} (chance {_pct(cut['chance'])})",
                        "section 2.5 (c), Figure 15",
                        ("cut_block3_pool", 1, {"y": 0.09, "label": "report: validation 9% (Fig. 15)"}),
                    )
    elif experiment == "layers":
        for cut in results["rows"]:
            if cut["layer"] in ("block4_pool", "block5_pool") and cut["pooling"] == "flatten":
                learns = cut["final_validation_accuracy"] > 2 * cut["chance"]
                row(
                    f"flattened {cut['layer']}, {cut['n_classes']} classes: validation accuracy, last epoch",
                    "no learning (32 classes, 16/class)",
                    f"{_pct(cut['final_validation_accuracy'])} (chance {_pct(cut['chance'])}): "
                    + ("learns (above twice chance)" if learns else "no learning (at most twice chance)"),
                    "section 1.5 (b)",
                )
    elif experiment == "temperature":
        sweeps = results["sweeps"]
        ran = ", ".join(sorted(sweeps, key=int))
        not_run = f"not run (this run's class counts: {ran})"
        sweep = sweeps.get("64")  # each report row against the run of its own class count, or "not run"
        row(
            "best T, 64 classes",
            "1.81",
            not_run
            if sweep is None
            else f"{sweep['best_max_temperature']:g} (maximum), {sweep['best_final_temperature']:g} (final)",
            "section 3.6, Figure 20",
            ("temperature_64", 0, {"x": 1.81, "label": "report: best T 1.81, 64 classes (Fig. 20)"}),
        )
        sweep = sweeps.get("256")
        best = None if sweep is None else int(np.argmax(sweep["max"]))
        row(
            "T of the best maximum accuracy, 256 classes",
            "1.49",
            not_run if sweep is None else f"{sweep['best_max_temperature']:g}",
            "section 3.6, Figure 21",
            ("temperature_256", 0, {"x": 1.49, "label": "report: best maximum at T 1.49 (Fig. 21)"}),
        )
        row(
            "best maximum accuracy, 256 classes",
            "almost 45% (T 1.49)",
            not_run if sweep is None else f"{_pct(sweep['max'][best])} (T {sweep['temperatures'][best]:g})",
            "section 3.6, Figure 21",
            ("temperature_256", 0, {"points": {1.49: 0.45}, "label": "report: ~45% at T 1.49 (Fig. 21)"}),
        )
        row(
            "T of the best final accuracy (after the last epoch), 256 classes",
            "1.22",
            not_run if sweep is None else f"{sweep['best_final_temperature']:g}",
            "section 3.6, Figure 21",
            ("temperature_256", 0, {"x": 1.22, "label": "report: best final at T 1.22 (Fig. 21)"}),
        )
        sweep = sweeps.get("64")
        row(
            "T near 2 helps, 64 classes (best maximum accuracy at the T nearest 2 vs. at T = 1)",
            "helps",
            not_run if sweep is None else _compare_temperatures(sweep, 2.0),
            "section 3.6",
        )
        sweep = sweeps.get("256")
        row(
            "T above 1.5 hurts, 256 classes (mean maximum accuracy above vs. at or below 1.5)",
            "hurts",
            not_run if sweep is None else _above_below(sweep, 1.5),
            "section 3.6",
        )
        for k in sorted(sweeps, key=int):  # every sweep against its own fc2 head, drawn on its figure
            sweep, base = sweeps[k], sweeps[k].get("baseline")
            if not base:
                continue
            worse = max(sweep["max"]) < base["max"]
            row(
                f"temperature vs. {base['layer']}, {k} classes (best maximum accuracy)",
                "temperature worse than fc2",
                f"{_pct(max(sweep['max']))} vs. {_pct(base['max'])}: temperature "
                f"{'worse' if worse else 'not worse'}",
                "section 3.6, last paragraph",
                (f"temperature_{k}", 0, {"y": base["max"], "label": f"this run: {base['layer']} maximum"}),
            )
    return rows


def compare_with_report(
    results, experiment, *, dataset, weights, layer=None, protocol=None, temperature_on=None,
    input_size=None, preprocessing=None,
):  # fmt: skip
    """Set the report's numbers beside the run's, and draw them on its figures.

    Parameters
    ----------
    results : dict
        From the experiment's function (for ``"urban-tribes"``, with the
        flattened cut in ``results["cut"]``).
    experiment : {"caltech256", "urban-tribes", "layers", "temperature"}
    dataset, weights, layer, protocol, temperature_on
        The run's setting, as for :func:`study_reference`.
    input_size, preprocessing : optional
        The run's image side and preprocessing, when known: listed among the
        differences where they are not the report's (224, ``"none"``).

    Returns
    -------
    table : dict
        ``{"title", "comparable", "reasons", "rows", "text"}``: ``rows`` are
        ``{"quantity", "report", "this run", "source"}`` (the report's value
        with its figure or section), ``text`` the table in Markdown, headed
        "Report vs. this run" and, if the settings differ, why the numbers are
        not comparable. Also stored in ``results["report_vs_run"]`` (and its
        rows in ``results["tables"]["report_vs_run"]``, written as CSV by
        :func:`save_results`).

    Notes
    -----
    The report's values are drawn on the figures that show the same quantity
    (red, dashed), in grey and marked "not comparable with this run" when
    the settings differ.
    """
    from .plotting import draw_reference

    run = {"dataset": dataset, "weights": weights, "layer": layer, "protocol": protocol}
    run.update(input_size=input_size, preprocessing=preprocessing)
    if temperature_on is not None:
        run["temperature_on"] = temperature_on
    reasons = _why_not_comparable(experiment, run)
    pairs = _report_rows(experiment, results)
    figures = results.get("figures", {})
    for _, draw in pairs:
        if draw and draw[0] in figures:
            name, axis, spec = draw
            own = spec["label"].startswith("this run")
            draw_reference(figures[name].axes[axis], comparable=own or not reasons, **spec)
    rows = [r for r, _ in pairs]
    title = f"Report vs. this run ({experiment})"
    lines = [title, ""]
    if reasons:
        lines += [f"NOT COMPARABLE: {'; '.join(reasons)}.", ""]
    lines += ["| quantity | report | this run | source |", "|---|---|---|---|"]
    lines += [f"| {r['quantity']} | {r['report']} | {r['this run']} | {r['source']} |" for r in rows]
    table = {
        "title": title,
        "comparable": not reasons,
        "reasons": reasons,
        "rows": rows,
        "text": "\n".join(lines),
    }
    results["report_vs_run"] = table
    results.setdefault("tables", {})["report_vs_run"] = rows
    return table


# --------------------------------------------------------------------------- experiments


def training_and_learning_curves(
    data, pipe, *, n_train=16, n_test=4, per_class=(1, 2, 4, 8, 16), reference=None, comparable=True,
    split="per-class", holdout=HOLDOUT_FRACTION, random_state=0,
):  # fmt: skip
    """Training curves, and accuracy vs. images per class (the report's Figures 1-3, 6-11).

    Parameters
    ----------
    data : Bunch
        From a :mod:`sklvgg.datasets` loader.
    pipe : Pipeline
        From :func:`make_pipeline`.
    n_train, n_test : int, default=16, 4
        With ``split="per-class"``, the report's Caltech-256 protocol: the
        first 16 images of each class train, the next 4 validate.
    per_class : sequence of int
        Training images per class for the learning curve (at most ``n_train``,
        or, with ``split="holdout"``, the smallest class's training images).
    reference : dict, optional
        Published ``{label: {images_per_class: accuracy}}`` to draw beside
        (see :func:`study_reference`); a bare ``{images_per_class: accuracy}``
        is labelled "reference".
    comparable : bool, default=True
        Whether ``reference`` was measured in this run's setting (dataset,
        weights, layer). If not, it is drawn in grey and labelled "not
        comparable with this run".
    split : {"per-class", "holdout"}, default="per-class"
        ``"holdout"``: the report's Urban Tribes protocol (:func:`holdout_split`),
        the training curves on all the rest.
    holdout : float, default=HOLDOUT_FRACTION
        Fraction held out with ``split="holdout"``.
    random_state : int, default=0
        Seeds the holdout split.

    Returns
    -------
    results : dict
        ``test_accuracy`` (validation accuracy after the last epoch),
        ``max_test_accuracy``, the last epoch's training loss and accuracy and
        validation loss, the epoch curves, ``split`` (sizes and fractions),
        ``per_class``, ``per_class_accuracy`` and ``per_class_train_accuracy``;
        ``reference`` (``{"series": reference, "comparable": comparable}``,
        or None); ``tables``: ``curves`` (one row per epoch) and
        ``images_per_class``; ``figures``: ``training_curves`` and
        ``images_per_class``.

    Notes
    -----
    At one image per class a fit has as many classes as samples, which
    scikit-learn warns about (``y`` "could represent a regression problem");
    that warning is silenced here, where it is expected. Others pass.
    """
    from .plotting import plot_learning_curve_per_class, plot_training_curves

    X, y = data.filenames, data.target
    train, test = _train_test(y, split, n_train, n_test, holdout, random_state)
    n_classes = len(np.unique(y))
    largest = (
        n_train
        if split == "per-class"
        else int(np.bincount(np.unique(y[train], return_inverse=True)[1]).min())
    )
    if reference and not isinstance(next(iter(reference.values())), dict):
        reference = {"reference": reference}
    with sklearn.config_context(enable_metadata_routing=True), _expected_warnings_ignored():
        pipe.fit(X[train], y[train], X_val=X[test], y_val=y[test])
        head = pipe[-1]
        sizes = [k * n_classes for k in per_class if k <= largest]
        _, train_scores, test_scores = learning_curve(
            pipe, X, y, train_sizes=sizes, cv=[(train, test)], shuffle=False
        )
    figure = plot_learning_curve_per_class(
        sizes, test_scores, n_classes, train_scores=train_scores, reference=reference, comparable=comparable
    )
    curves = _curves(head)
    trained = len(train) // n_classes if split == "per-class" else round(len(train) / n_classes, 1)
    per_class_rows = [
        {"images_per_class": s // n_classes, "train_accuracy": float(a), "validation_accuracy": float(b)}
        for s, a, b in zip(sizes, train_scores.mean(axis=1), test_scores.mean(axis=1))
    ]
    return {
        "n_classes": n_classes,
        "split": _split_summary(y, train, test, split, holdout),
        "images_per_class_trained": trained,
        "reference": {"series": reference, "comparable": bool(comparable)} if reference else None,
        "test_accuracy": curves["validation_accuracy_curve"][-1],
        "max_test_accuracy": max(curves["validation_accuracy_curve"]),
        "final_training_loss": curves["loss_curve"][-1],
        "final_training_accuracy": curves["accuracy_curve"][-1],
        "final_validation_loss": curves["validation_loss_curve"][-1],
        **curves,
        "per_class": [s // n_classes for s in sizes],
        "per_class_accuracy": test_scores.mean(axis=1).tolist(),
        "per_class_train_accuracy": train_scores.mean(axis=1).tolist(),
        "tables": {"curves": _curve_rows(curves), "images_per_class": per_class_rows},
        "figures": {
            "training_curves": plot_training_curves(
                pipe, title=f"{n_classes} classes, {trained} training images per class"
            ),
            "images_per_class": figure,
        },
    }


def layer_cuts(
    data, pipe, *, layers=("block4_pool", "block5_pool"), pooling=None, n_classes=32, n_train=16, n_test=4,
    split="per-class", holdout=HOLDOUT_FRACTION, random_state=0,
):  # fmt: skip
    """The report's layer cuts: a softmax head on each (flattened) cut, with its epoch curves.

    The report trained its head on flattened ``block4_pool`` and
    ``block5_pool`` with 32 Caltech-256 classes and 16 images per class
    ("not able to achieve any learning", section 1.5) and on flattened
    ``block3_pool`` on Urban Tribes (9% validation accuracy, section 2.5).

    Parameters
    ----------
    data : Bunch
    pipe : Pipeline
        From :func:`make_pipeline`; its ``vgg`` step is re-cut for each layer.
    layers : sequence of str, default=("block4_pool", "block5_pool")
    pooling : {None, "avg", "max"}, default=None
        ``None`` flattens, as the report did.
    n_classes : int or None, default=32
        The first ``n_classes`` classes (see :func:`first_classes`).
    n_train, n_test, split, holdout, random_state
        As for :func:`training_and_learning_curves`.

    Returns
    -------
    results : dict
        ``rows``: one per cut, ``{"layer", "pooling", "n_features",
        "n_classes", "chance", "epochs", "final_training_accuracy",
        "final_validation_accuracy", "max_validation_accuracy"}``; ``cuts``:
        each cut's epoch curves; ``tables``: ``curves`` (one row per cut and
        epoch); ``figures``: ``cut_<layer>`` (loss and accuracy per epoch,
        training and validation) and ``layers`` (the last epoch's accuracies).
    """
    from .plotting import plot_training_curves
    from .plotting._plots import _figure

    data = first_classes(data, n_classes)
    X, y = data.filenames, data.target
    train, test = _train_test(y, split, n_train, n_test, holdout, random_state)
    k = len(np.unique(y))
    rows, cuts, figures, curve_rows = [], {}, {}, []
    for layer in layers:
        model = sklearn.base.clone(pipe).set_params(vgg__layer=layer, vgg__pooling=pooling)
        with sklearn.config_context(enable_metadata_routing=True), _expected_warnings_ignored():
            model.fit(X[train], y[train], X_val=X[test], y_val=y[test])
        how = "-" if layer in TOP_LAYERS else (pooling or "flatten")
        curves = _curves(model[-1])
        cuts[layer] = curves
        curve_rows += _curve_rows(curves, layer=layer, pooling=how)
        rows.append({
            "layer": layer, "pooling": how, "n_features": int(model[0].n_features_out_), "n_classes": k,
            "chance": 1 / k, "epochs": curves["epochs"],
            "final_training_accuracy": curves["accuracy_curve"][-1],
            "final_validation_accuracy": curves["validation_accuracy_curve"][-1],
            "max_validation_accuracy": max(curves["validation_accuracy_curve"]),
        })  # fmt: skip
        figures[f"cut_{layer}"] = plot_training_curves(
            model, title=f"{layer} ({how}, {model[0].n_features_out_:,} features), {k} classes"
        )
    fig = _figure(figsize=(max(5, 1.6 * len(rows) + 2), 4), layout="constrained")
    ax = fig.subplots()
    xs = np.arange(len(rows))
    for offset, key, label in [(-0.2, "final_training_accuracy", "training"),
                               (0.2, "final_validation_accuracy", "validation")]:  # fmt: skip
        bars = ax.bar(xs + offset, [r[key] for r in rows], width=0.4, label=f"{label}, last epoch")
        ax.bar_label(bars, fmt="%.2f")
    ax.axhline(1 / k, color="grey", ls=":", label=f"chance (1/{k})")
    ax.set_xticks(xs, [f"{r['layer']}\n{r['pooling']}" for r in rows])
    ax.set(ylabel="accuracy", ylim=(0, 1.05), title=f"Softmax head on VGG16 cuts, {k} classes")
    ax.legend(fontsize="small")
    figures["layers"] = fig
    return {"rows": rows, "cuts": cuts, "split": _split_summary(y, train, test, split, holdout),
            "tables": {"curves": curve_rows}, "figures": figures}  # fmt: skip


def temperature_sweep(
    data, pipe, *, temperatures=REPORT_TEMPERATURES, class_counts=(64, 256), n_train=16, n_test=4,
    note=None, baseline=None,
):  # fmt: skip
    """``GridSearchCV`` over ``vgg__temperature`` on the 1000 ImageNet outputs (Figures 18-21).

    For each number of classes (the first ``k`` classes of ``data``; all of
    them when it has fewer), the search scores every temperature on the
    study's split; then the head is refitted per temperature with the
    validation images, for its validation accuracy per epoch (Figures 18-19)
    and its maximum and final values (Figures 20-21). The logits come from
    the cache, so the whole sweep costs one VGG16 pass.

    Parameters
    ----------
    data : Bunch
    pipe : Pipeline
        From :func:`make_pipeline` with ``layer="predictions"`` (and, for the
        report's form, ``temperature_on="fc2"``).
    temperatures : sequence of float, default=REPORT_TEMPERATURES
    class_counts : sequence of int, default=(64, 256)
    n_train, n_test : int, default=16, 4
    note : str, optional
        Drawn on the figures (e.g. that the weights are random).
    baseline : Pipeline, optional
        Fitted on the same split for each ``k`` and drawn beside (the report
        compares the temperature head with the one on ``fc2``).

    Returns
    -------
    results : dict
        ``{"sweeps": {k: {"best_temperature", "best_max_temperature",
        "best_final_temperature", "temperatures", "max", "final", "curves",
        "baseline"}}, "rows", "tables", "figures"}``; ``figures`` has
        ``temperature_curves_k`` (validation accuracy per epoch, one curve
        per T) and ``temperature_k`` (maximum and final accuracy vs. T).
        ``best_temperature`` is the search's (by final accuracy).
    """
    from .plotting import plot_curves_by, plot_temperature_sweep

    available = len(np.unique(data.target))
    counts = sorted({min(k, available) for k in class_counts})
    sweeps, figures, rows, curve_rows = {}, {}, [], []
    temperatures = [float(t) for t in temperatures]
    for k in counts:
        subset = first_classes(data, k)
        X, y = subset.filenames, subset.target
        cv = PerClassSplit(n_train, n_test)
        with sklearn.config_context(enable_metadata_routing=True), _expected_warnings_ignored():
            search = GridSearchCV(pipe, {"vgg__temperature": temperatures}, cv=cv)
            search.fit(X, y)
            train, test = next(cv.split(X, y))
            curves = {}
            for t in temperatures:
                model = sklearn.base.clone(pipe).set_params(vgg__temperature=t)
                model.fit(X[train], y[train], X_val=X[test], y_val=y[test])
                curves[t] = [float(a) for a in model[-1].validation_accuracy_curve_]
            base = None
            if baseline is not None:
                model = sklearn.base.clone(baseline).fit(X[train], y[train], X_val=X[test], y_val=y[test])
                acc = [float(a) for a in model[-1].validation_accuracy_curve_]
                base = {"layer": model[0].layer, "max": max(acc), "final": acc[-1], "curve": acc}
        maxima, finals = [max(curves[t]) for t in temperatures], [curves[t][-1] for t in temperatures]
        sweeps[str(k)] = {
            "best_temperature": float(search.best_params_["vgg__temperature"]),
            "best_max_temperature": temperatures[int(np.argmax(maxima))],
            "best_final_temperature": temperatures[int(np.argmax(finals))],
            "temperatures": temperatures,
            "max": maxima,
            "final": finals,
            "curves": {f"{t:g}": curves[t] for t in temperatures},
            "baseline": base,
        }
        rows += [
            {"n_classes": k, "temperature": t, "max_validation_accuracy": m, "final_validation_accuracy": f}
            for t, m, f in zip(temperatures, maxima, finals)
        ]
        curve_rows += [{"n_classes": k, "temperature": t, "epoch": e + 1, "validation_accuracy": a}
                       for t in temperatures for e, a in enumerate(curves[t])]  # fmt: skip
        title = f"{k} classes, {n_train} images per class"
        figures[f"temperature_curves_{k}"] = plot_curves_by(
            curves, legend_title="T", title=f"Validation accuracy per epoch and temperature, {title}"
        )
        figures[f"temperature_{k}"] = plot_temperature_sweep(
            search, final_scores={t: (max(c), c[-1]) for t, c in curves.items()}, note=note,
            title=f"Temperature sweep, {title}",
        )  # fmt: skip
        if note:
            ax = figures[f"temperature_curves_{k}"].axes[0]
            ax.text(0.5, 0.5, note, transform=ax.transAxes, ha="center", va="center",
                    color="red", alpha=0.6, fontsize=11, wrap=True)  # fmt: skip
    return {"sweeps": sweeps, "rows": rows, "tables": {"curves": curve_rows}, "figures": figures}


def filters_and_activations(vgg, image, *, layers=("block1_conv1", "block5_conv3")):
    """Filters and activation maps of the first and last conv layers (Figures 4-5, 12-13).

    Parameters
    ----------
    vgg : fitted VGG16FeatureTransformer
    image : array-like or path-like
        One image.
    layers : pair of str, default=("block1_conv1", "block5_conv3")

    Returns
    -------
    results : dict
        ``figures``: ``filters_<layer>`` and ``activations_<layer>`` for both
        layers, every channel (64 and 512; hundreds of tiles are drawn as one
        image); ``shapes``: the maps' shapes; ``rows``: the mean and maximum
        of every map.
    """
    from .plotting import plot_activation_maps, plot_conv_filters

    X = [image] if isinstance(image, (str, os.PathLike)) else np.asarray(image)[None]
    figures, shapes, rows = {}, {}, []
    for layer in layers:
        maps = vgg.activation_maps(X, layer=layer)[0]
        shapes[layer] = list(maps.shape)
        rows += [
            {
                "layer": layer,
                "channel": c,
                "mean": float(maps[..., c].mean()),
                "max": float(maps[..., c].max()),
            }
            for c in range(maps.shape[-1])
        ]
        figures[f"filters_{layer}"] = plot_conv_filters(vgg, layer=layer)
        figures[f"activations_{layer}"] = plot_activation_maps(vgg, X, layer=layer)
    return {"shapes": shapes, "rows": rows, "figures": figures}


# --------------------------------------------------------------------------- output


def save_results(results, out, name):
    """Write ``results``' figures as PNG and its numbers as JSON and CSV.

    Parameters
    ----------
    results : dict
        With an optional ``figures`` dict, optionally ``rows`` (a list of
        dicts written as ``<name>.csv``), ``tables`` (``{key: rows}``, each
        written as ``<name>_<key>.csv``) and ``report_vs_run`` (from
        :func:`compare_with_report`, also written as ``<name>_report_vs_run.md``).
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
    numbers = {k: v for k, v in results.items() if k not in ("figures", "tables")}
    path = out / f"{name}.json"
    path.write_text(json.dumps(numbers, indent=2, default=str))
    written.append(path)
    tables = {"": results.get("rows"), **{f"_{k}": v for k, v in results.get("tables", {}).items()}}
    for suffix, rows in tables.items():
        if not rows:
            continue
        path = out / f"{name}{suffix}.csv"
        fields = list(dict.fromkeys(key for row in rows for key in row))
        with open(path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
        written.append(path)
    if results.get("report_vs_run"):
        path = out / f"{name}_report_vs_run.md"
        path.write_text(results["report_vs_run"]["text"] + "\n")
        written.append(path)
    return written


# --------------------------------------------------------------------------- gallery plumbing


def example_setup(description, *, layout="caltech256", n_classes=10, input_size=224, weights="hed-bsds500"):
    """Command-line options and data of a gallery example: the plumbing, in one call.

    Options: ``--data DIR`` (the real dataset; default: the embedded
    generated set), ``--weights`` (default ``hed-bsds500``, offline; ``none``
    for random weights), ``--input-size``, ``--n-classes`` (classes of the
    embedded default), ``--out`` (figures and cache; environment variable
    ``SKLVGG_EXAMPLES_OUT``). Unknown arguments are ignored, so sphinx-gallery
    can run the scripts.

    Parameters
    ----------
    description : str
    layout : {"caltech256", "urban-tribes"}, default="caltech256"
        Layout of ``--data`` and of the embedded default.
    n_classes : int, default=10
        Classes of the embedded default (``--n-classes`` wins).
    input_size : int, default=224
    weights : str or None, default="hed-bsds500"

    Returns
    -------
    args : argparse.Namespace
        ``data``, ``weights`` (None for ``none``), ``input_size``,
        ``n_classes``, ``out``.
    data : Bunch
        From :mod:`sklvgg.datasets`: ``filenames``, ``target``, ``DESCR``.
    """
    import argparse

    from .datasets import load_caltech256, load_image_folder, load_urban_tribes, make_shapes_dataset

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data", default=None, help="dataset folder (default: embedded generated set)")
    parser.add_argument("--weights", default=weights, help="imagenet, hed-bsds500, none or a weights file")
    parser.add_argument("--input-size", type=int, default=input_size)
    parser.add_argument("--n-classes", type=int, default=None, help="classes of the embedded default")
    parser.add_argument("--out", default=os.environ.get("SKLVGG_EXAMPLES_OUT", "sklvgg_examples_output"))
    args, _ = parser.parse_known_args()
    if args.weights in ("none", "None"):
        args.weights = None
    loader = {"caltech256": load_caltech256, "urban-tribes": load_urban_tribes}[layout]
    if args.data:
        try:
            return args, loader(args.data)
        except ValueError:
            return args, load_image_folder(args.data)
    n = args.n_classes or n_classes
    return args, loader(
        make_shapes_dataset(Path(args.out) / f"data-{layout}-{n}", n_classes=n, layout=layout)
    )

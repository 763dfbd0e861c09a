"""The study's protocol: its heads, its pipeline, its data subsets and splits."""

import math
import re
import warnings
from contextlib import contextmanager

import numpy as np
import sklearn
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.utils import Bunch

from .._head import SoftmaxHeadClassifier, study_head
from .._transformer import VGG16FeatureTransformer
from ..exceptions import InputError
from ..model_selection import PerClassSplit

#: The fraction of Urban Tribes held out for validation. The report (section
#: 2.1 (c)) shuffles the whole set and takes "a portion" as the holdout set
#: without saying how much; 0.2 is the proportion of its Caltech-256 protocol
#: (4 of 16 + 4 images per class).
HOLDOUT_FRACTION = 0.2

# Warnings that the study's protocol raises by construction, as (message regex, category).
_EXPECTED_WARNINGS = [
    # One image per class: as many classes as samples, which looks like regression to
    # scikit-learn's type_of_target.
    (re.escape("The number of unique classes is greater than 50% of the number of samples"), UserWarning),
]


@contextmanager
def expected_warnings_ignored():
    """Silence the warnings in ``_EXPECTED_WARNINGS``, and no other."""
    with warnings.catch_warnings():
        for message, category in _EXPECTED_WARNINGS:
            warnings.filterwarnings("ignore", message=message, category=category)
        yield


def default_layer(weights):
    """``fc2`` as in the study, or ``block4_pool`` for weights without the top.

    The weights answer (:func:`sklvgg._weights.weight_facts`): a file is read
    for its layer names.

    Parameters
    ----------
    weights : str, path-like, dict or None

    Returns
    -------
    layer : str
    """
    from .._weights import weight_facts

    return weight_facts(weights).default_layer


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
        raise InputError(f"protocol must be 'study' or 'tuned'; got {protocol!r}.")
    extra = {} if epochs is None else {"max_iter": int(epochs)}
    if protocol == "study":
        return study_head(random_state=random_state, **extra)
    return SoftmaxHeadClassifier(random_state=random_state, **extra)


def make_pipeline(
    weights="imagenet", layer=None, pooling="avg", input_size=224, memory=None,
    temperature=1.0, head=None, verbose=0, random_state=0, precision="auto",
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
        :func:`default_layer`). ``precision="auto"``: bfloat16 where this
        machine computes it natively, float32 elsewhere (see the user guide).
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
            raise InputError(f"{what} With {n} images no fraction can: too few images per class.")
        low, high = math.ceil(n_classes / n * 1000) / 1000, math.floor((n - n_classes) / n * 1000) / 1000
        raise InputError(f"{what} Use a fraction from {low:g} to {high:g}.")
    train, test = train_test_split(
        np.arange(len(y)), test_size=test_size, stratify=y, shuffle=True, random_state=random_state
    )
    return _round_robin(train, y[train]), np.sort(test)


def train_test_indices(y, split, n_train, n_test, holdout, random_state):
    if split == "per-class":
        return next(PerClassSplit(n_train, n_test).split(np.zeros(len(y)), y))
    if split == "holdout":
        return holdout_split(y, test_size=holdout, random_state=random_state)
    raise InputError(f"split must be 'per-class' or 'holdout'; got {split!r}.")


def split_summary(y, train, test, split, holdout):
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
